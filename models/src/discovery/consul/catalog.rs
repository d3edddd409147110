//! The catalog Consul's servers replicate: which instance serves which service on which node,
//! each instance's health, each node's health, and a modify index per service that blocking
//! queries wait on.
//!
//! Agents write whole-node snapshots ([`HealthCommand::SyncNode`], anti-entropy: the servers'
//! copy of a node becomes exactly what its agent holds, so services the agent no longer knows
//! are removed); the leader writes node health when an agent falls silent
//! ([`HealthCommand::NodeHealth`], Consul's `serfHealth` check). A write that changes nothing
//! leaves the indexes alone, so blocking queries wake only on real changes.

use super::super::resolve::{InstanceId, ServiceId};
use crate::raft::StateMachine;
use std::collections::BTreeMap;

/// A node's number (its agent's index).
pub type NodeId = u32;

/// The health of a check, an instance or a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    /// Healthy.
    Passing,
    /// Failing: not to be routed to.
    Critical,
}

/// One registration as an agent syncs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeService {
    /// The service.
    pub service: ServiceId,
    /// The instance.
    pub instance: InstanceId,
    /// Its check's status on the agent.
    pub health: Health,
}

/// A write or read of the catalog.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HealthCommand {
    /// Anti-entropy: the node's registrations are exactly `services` (and the node is alive).
    SyncNode {
        /// The node.
        node: NodeId,
        /// Everything its agent holds.
        services: Vec<NodeService>,
    },
    /// The leader's verdict on a node's liveness.
    NodeHealth {
        /// The node.
        node: NodeId,
        /// Its health.
        health: Health,
    },
    /// Reads a service's instances with their effective health.
    List {
        /// The service.
        service: ServiceId,
    },
}

/// The catalog's answer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HealthOutput {
    /// A write took effect; the catalog's index after it.
    Written {
        /// The catalog-wide index.
        index: u64,
    },
    /// A service's instances.
    Listed(Listing),
}

/// A service's instances with their effective health (critical if the instance's check or its
/// node is critical), and the service's modify index.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Listing {
    /// The service's modify index.
    pub index: u64,
    /// Instances, ascending, with effective health.
    pub instances: Vec<(InstanceId, Health)>,
}

impl Listing {
    /// The instances that pass.
    pub fn passing(&self) -> Vec<InstanceId> {
        self.instances
            .iter()
            .filter(|(_, h)| *h == Health::Passing)
            .map(|(i, _)| *i)
            .collect()
    }
}

/// One registration in the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The service.
    pub service: ServiceId,
    /// The node whose agent registered it.
    pub node: NodeId,
    /// Its check's status.
    pub health: Health,
}

/// The replicated catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthCatalog {
    /// Every registration by instance.
    pub registrations: BTreeMap<InstanceId, Registration>,
    /// Node health as the leader judged it (absent: passing).
    pub nodes: BTreeMap<NodeId, Health>,
    /// The catalog-wide index: bumped by every write that changes something.
    pub index: u64,
    /// Per service, the index of the last change that touched it.
    pub service_index: BTreeMap<ServiceId, u64>,
}

impl HealthCatalog {
    /// The modify index of `service` (0 if never touched).
    pub fn service_index(&self, service: ServiceId) -> u64 {
        self.service_index.get(&service).copied().unwrap_or(0)
    }

    /// A service's instances with their effective health.
    pub fn listing(&self, service: ServiceId) -> Listing {
        let instances = self
            .registrations
            .iter()
            .filter(|(_, r)| r.service == service)
            .map(|(&i, r)| {
                let node = self.nodes.get(&r.node).copied().unwrap_or(Health::Passing);
                (i, r.health.max(node))
            })
            .collect();
        Listing {
            index: self.service_index(service),
            instances,
        }
    }

    /// Whether `instance` is registered under `service` (whatever its health).
    pub fn lists(&self, service: ServiceId, instance: InstanceId) -> bool {
        self.registrations
            .get(&instance)
            .is_some_and(|r| r.service == service)
    }

    fn touch(&mut self, services: impl IntoIterator<Item = ServiceId>) {
        let mut touched = services.into_iter().peekable();
        if touched.peek().is_none() {
            return;
        }
        self.index += 1;
        for s in touched {
            self.service_index.insert(s, self.index);
        }
    }

    fn sync_node(&mut self, node: NodeId, services: &[NodeService]) {
        let mut changed: Vec<ServiceId> = Vec::new();
        let wanted: BTreeMap<InstanceId, &NodeService> = services.iter().map(|s| (s.instance, s)).collect();
        let stale: Vec<InstanceId> = self
            .registrations
            .iter()
            .filter(|(i, r)| r.node == node && !wanted.contains_key(i))
            .map(|(&i, _)| i)
            .collect();
        for i in stale {
            if let Some(r) = self.registrations.remove(&i) {
                changed.push(r.service);
            }
        }
        for s in services {
            let next = Registration {
                service: s.service,
                node,
                health: s.health,
            };
            let before = self.registrations.insert(s.instance, next);
            if before != Some(next) {
                changed.push(s.service);
                if let Some(b) = before {
                    changed.push(b.service);
                }
            }
        }
        // An agent that syncs is alive.
        if self.nodes.remove(&node) == Some(Health::Critical) {
            changed.extend(self.services_on(node));
        }
        changed.sort_unstable();
        changed.dedup();
        self.touch(changed);
    }

    fn services_on(&self, node: NodeId) -> Vec<ServiceId> {
        self.registrations
            .values()
            .filter(|r| r.node == node)
            .map(|r| r.service)
            .collect()
    }

    fn node_health(&mut self, node: NodeId, health: Health) {
        let before = self.nodes.get(&node).copied().unwrap_or(Health::Passing);
        if before == health {
            return;
        }
        if health == Health::Passing {
            self.nodes.remove(&node);
        } else {
            self.nodes.insert(node, health);
        }
        let mut services = self.services_on(node);
        services.sort_unstable();
        services.dedup();
        self.touch(services);
    }
}

const TAG_SYNC: u8 = 0;
const TAG_NODE: u8 = 1;
const TAG_LIST: u8 = 2;

fn health_byte(h: Health) -> u8 {
    match h {
        Health::Passing => 0,
        Health::Critical => 1,
    }
}

fn health_of(b: u8) -> Option<Health> {
    match b {
        0 => Some(Health::Passing),
        1 => Some(Health::Critical),
        _ => None,
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

impl StateMachine for HealthCatalog {
    type Command = HealthCommand;
    type Output = HealthOutput;

    fn apply(&mut self, command: &HealthCommand) -> HealthOutput {
        match command {
            HealthCommand::SyncNode { node, services } => self.sync_node(*node, services),
            HealthCommand::NodeHealth { node, health } => self.node_health(*node, *health),
            HealthCommand::List { service } => return HealthOutput::Listed(self.listing(*service)),
        }
        HealthOutput::Written { index: self.index }
    }

    fn read(&self, command: &HealthCommand) -> Option<HealthOutput> {
        match command {
            HealthCommand::List { service } => Some(HealthOutput::Listed(self.listing(*service))),
            HealthCommand::SyncNode { .. } | HealthCommand::NodeHealth { .. } => None,
        }
    }

    fn encode(command: &HealthCommand, out: &mut Vec<u8>) {
        match command {
            HealthCommand::SyncNode { node, services } => {
                out.push(TAG_SYNC);
                out.extend_from_slice(&node.to_le_bytes());
                out.extend_from_slice(&(services.len() as u32).to_le_bytes());
                for s in services {
                    out.extend_from_slice(&s.service.to_le_bytes());
                    out.extend_from_slice(&s.instance.to_le_bytes());
                    out.push(health_byte(s.health));
                }
            }
            HealthCommand::NodeHealth { node, health } => {
                out.push(TAG_NODE);
                out.extend_from_slice(&node.to_le_bytes());
                out.push(health_byte(*health));
            }
            HealthCommand::List { service } => {
                out.push(TAG_LIST);
                out.extend_from_slice(&service.to_le_bytes());
            }
        }
    }

    fn decode(bytes: &[u8]) -> Option<HealthCommand> {
        match *bytes.first()? {
            TAG_SYNC => {
                let node = u32_at(bytes, 1)?;
                let n = u32_at(bytes, 5)? as usize;
                if bytes.len() != 9 + 9 * n {
                    return None;
                }
                let services = (0..n)
                    .map(|k| {
                        let at = 9 + 9 * k;
                        Some(NodeService {
                            service: u32_at(bytes, at)?,
                            instance: u32_at(bytes, at + 4)?,
                            health: health_of(bytes[at + 8])?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(HealthCommand::SyncNode { node, services })
            }
            TAG_NODE if bytes.len() == 6 => Some(HealthCommand::NodeHealth {
                node: u32_at(bytes, 1)?,
                health: health_of(bytes[5])?,
            }),
            TAG_LIST if bytes.len() == 5 => Some(HealthCommand::List {
                service: u32_at(bytes, 1)?,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(service: ServiceId, instance: InstanceId, health: Health) -> NodeService {
        NodeService {
            service,
            instance,
            health,
        }
    }

    #[test]
    fn sync_replaces_a_nodes_registrations_and_bumps_only_touched_services() {
        let mut c = HealthCatalog::default();
        let sync = |services| HealthCommand::SyncNode { node: 1, services };
        c.apply(&sync(vec![
            svc(0, 10, Health::Passing),
            svc(1, 11, Health::Passing),
        ]));
        assert_eq!((c.index, c.service_index(0), c.service_index(1)), (1, 1, 1));
        // The same state again: nothing changes, blocking queries stay asleep.
        c.apply(&sync(vec![
            svc(0, 10, Health::Passing),
            svc(1, 11, Health::Passing),
        ]));
        assert_eq!(c.index, 1);
        // Instance 10 fails its check; 11 is no longer on the agent: removed.
        c.apply(&sync(vec![svc(0, 10, Health::Critical)]));
        assert_eq!((c.index, c.service_index(0), c.service_index(1)), (2, 2, 2));
        assert!(!c.lists(1, 11));
        assert_eq!(c.listing(0).instances, vec![(10, Health::Critical)]);
        assert!(c.listing(0).passing().is_empty());
    }

    #[test]
    fn a_critical_node_makes_its_instances_critical_until_its_agent_syncs() {
        let mut c = HealthCatalog::default();
        c.apply(&HealthCommand::SyncNode {
            node: 2,
            services: vec![svc(0, 7, Health::Passing)],
        });
        c.apply(&HealthCommand::NodeHealth {
            node: 2,
            health: Health::Critical,
        });
        assert_eq!(c.listing(0).passing(), Vec::<InstanceId>::new());
        let index = c.index;
        c.apply(&HealthCommand::NodeHealth {
            node: 2,
            health: Health::Critical,
        });
        assert_eq!(c.index, index, "no change, no bump");
        c.apply(&HealthCommand::SyncNode {
            node: 2,
            services: vec![svc(0, 7, Health::Passing)],
        });
        assert_eq!(c.listing(0).passing(), vec![7]);
        assert!(c.index > index);
    }

    #[test]
    fn commands_round_trip_and_torn_ones_do_not_decode() {
        for command in [
            HealthCommand::SyncNode {
                node: 3,
                services: vec![svc(1, 9, Health::Critical), svc(0, 8, Health::Passing)],
            },
            HealthCommand::SyncNode {
                node: 0,
                services: vec![],
            },
            HealthCommand::NodeHealth {
                node: 4,
                health: Health::Critical,
            },
            HealthCommand::List { service: 6 },
        ] {
            let mut bytes = Vec::new();
            HealthCatalog::encode(&command, &mut bytes);
            assert_eq!(HealthCatalog::decode(&bytes), Some(command.clone()));
            for cut in 0..bytes.len() {
                assert_eq!(
                    HealthCatalog::decode(&bytes[..cut]),
                    None,
                    "{command:?} cut at {cut}"
                );
            }
        }
    }
}
