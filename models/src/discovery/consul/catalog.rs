//! The catalog Consul's servers replicate: per node, which instances it runs (service and check
//! health) and the node's own health (`serfHealth`); a modify index per service that blocking
//! queries wait on.
//!
//! Agents write whole-node snapshots ([`HealthCommand::SyncNode`], anti-entropy: the servers'
//! copy of a node becomes exactly what its agent holds), deregister single instances
//! ([`HealthCommand::Deregister`]) and read their node back ([`HealthCommand::ReadNode`]) to
//! find what anti-entropy must fix; the leader writes node health from the SWIM pool's verdicts
//! ([`HealthCommand::NodeHealth`]). A write that changes nothing leaves the indexes alone, so
//! blocking queries wake only on real changes.
//!
//! Every command touches one node, and a node's part of the catalog changes only through
//! commands on it, so the same step ([`NodeState::apply`]) is the replicas' state machine and
//! the linearizability specification ([`HealthSpec`]), which checks one node at a time.

use super::super::resolve::{InstanceId, ServiceId};
use crate::linearizability::Specification;
use crate::raft::StateMachine;
use std::collections::BTreeMap;

/// A node's number (its agent's index).
pub type NodeId = u32;

/// The health of a check, an instance or a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    /// Healthy.
    #[default]
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

/// A write or read of the catalog; each touches one node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HealthCommand {
    /// Anti-entropy: the node's registrations become exactly `services`.
    SyncNode {
        /// The node.
        node: NodeId,
        /// Everything its agent holds.
        services: Vec<NodeService>,
    },
    /// An agent removes one of its instances.
    Deregister {
        /// The node.
        node: NodeId,
        /// The instance.
        instance: InstanceId,
    },
    /// The leader's verdict on a node's liveness (Consul's `serfHealth` check).
    NodeHealth {
        /// The node.
        node: NodeId,
        /// Its health.
        health: Health,
    },
    /// Reads a node's registrations and health (what anti-entropy compares with).
    ReadNode {
        /// The node.
        node: NodeId,
    },
}

impl HealthCommand {
    /// The node the command touches.
    pub fn node(&self) -> NodeId {
        match *self {
            HealthCommand::SyncNode { node, .. }
            | HealthCommand::Deregister { node, .. }
            | HealthCommand::NodeHealth { node, .. }
            | HealthCommand::ReadNode { node } => node,
        }
    }
}

/// The catalog's answer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HealthOutput {
    /// A sync or node-health write took effect; whether it changed the node.
    Written {
        /// False when the node already was exactly so.
        changed: bool,
    },
    /// A deregistration took effect; whether the instance was registered on the node.
    Deregistered(bool),
    /// The node as the catalog holds it.
    Node(NodeState),
}

/// One node's part of the catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeState {
    /// Its instances: service and check health.
    pub services: BTreeMap<InstanceId, (ServiceId, Health)>,
    /// Its health as the leader judged it.
    pub health: Health,
}

impl NodeState {
    /// The node's registrations as an agent would sync them.
    pub fn snapshot(&self) -> Vec<NodeService> {
        self.services
            .iter()
            .map(|(&instance, &(service, health))| NodeService {
                service,
                instance,
                health,
            })
            .collect()
    }

    /// Applies `command` (which must be about this node): the answer, and the services whose
    /// listing changed.
    pub fn apply(&mut self, command: &HealthCommand) -> (HealthOutput, Vec<ServiceId>) {
        let mut touched = Vec::new();
        let out = match command {
            HealthCommand::SyncNode { services, .. } => {
                let wanted: BTreeMap<InstanceId, (ServiceId, Health)> = services
                    .iter()
                    .map(|s| (s.instance, (s.service, s.health)))
                    .collect();
                for (i, &(service, _)) in &self.services {
                    if wanted.get(i) != self.services.get(i) {
                        touched.push(service);
                    }
                }
                for (i, &(service, _)) in &wanted {
                    if self.services.get(i) != wanted.get(i) {
                        touched.push(service);
                    }
                }
                let changed = self.services != wanted;
                self.services = wanted;
                HealthOutput::Written { changed }
            }
            HealthCommand::Deregister { instance, .. } => {
                let removed = self.services.remove(instance);
                touched.extend(removed.map(|(s, _)| s));
                HealthOutput::Deregistered(removed.is_some())
            }
            HealthCommand::NodeHealth { health, .. } => {
                let changed = self.health != *health;
                if changed {
                    self.health = *health;
                    touched.extend(self.services.values().map(|&(s, _)| s));
                }
                HealthOutput::Written { changed }
            }
            HealthCommand::ReadNode { .. } => HealthOutput::Node(self.clone()),
        };
        touched.sort_unstable();
        touched.dedup();
        (out, touched)
    }
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

/// The replicated catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthCatalog {
    /// Every node the catalog has heard of.
    pub nodes: BTreeMap<NodeId, NodeState>,
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
        let mut instances: Vec<(InstanceId, Health)> = self
            .nodes
            .values()
            .flat_map(|n| {
                n.services
                    .iter()
                    .filter(move |(_, (s, _))| *s == service)
                    .map(move |(&i, &(_, h))| (i, h.max(n.health)))
            })
            .collect();
        instances.sort_unstable();
        Listing {
            index: self.service_index(service),
            instances,
        }
    }

    /// Whether `instance` is registered under `service` on some node (whatever its health).
    pub fn lists(&self, service: ServiceId, instance: InstanceId) -> bool {
        self.nodes
            .values()
            .any(|n| n.services.get(&instance).is_some_and(|&(s, _)| s == service))
    }

    /// The node's health as the catalog holds it (passing if never judged).
    pub fn node_health(&self, node: NodeId) -> Health {
        self.nodes.get(&node).map_or(Health::Passing, |n| n.health)
    }

    fn touch(&mut self, services: Vec<ServiceId>) {
        if services.is_empty() {
            return;
        }
        self.index += 1;
        for s in services {
            self.service_index.insert(s, self.index);
        }
    }
}

const TAG_SYNC: u8 = 0;
const TAG_NODE: u8 = 1;
const TAG_READ: u8 = 2;
const TAG_DEREGISTER: u8 = 3;

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
        let node = self.nodes.entry(command.node()).or_default();
        let (out, touched) = node.apply(command);
        self.touch(touched);
        out
    }

    fn read(&self, command: &HealthCommand) -> Option<HealthOutput> {
        match command {
            HealthCommand::ReadNode { node } => Some(HealthOutput::Node(
                self.nodes.get(node).cloned().unwrap_or_default(),
            )),
            HealthCommand::SyncNode { .. }
            | HealthCommand::Deregister { .. }
            | HealthCommand::NodeHealth { .. } => None,
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
            HealthCommand::ReadNode { node } => {
                out.push(TAG_READ);
                out.extend_from_slice(&node.to_le_bytes());
            }
            HealthCommand::Deregister { node, instance } => {
                out.push(TAG_DEREGISTER);
                out.extend_from_slice(&node.to_le_bytes());
                out.extend_from_slice(&instance.to_le_bytes());
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
            TAG_READ if bytes.len() == 5 => Some(HealthCommand::ReadNode {
                node: u32_at(bytes, 1)?,
            }),
            TAG_DEREGISTER if bytes.len() == 9 => Some(HealthCommand::Deregister {
                node: u32_at(bytes, 1)?,
                instance: u32_at(bytes, 5)?,
            }),
            _ => None,
        }
    }
}

/// The catalog's sequential specification, one node at a time: the replicas' own step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HealthSpec;

impl Specification for HealthSpec {
    type State = NodeState;
    type Input = HealthCommand;
    type Output = HealthOutput;
    type Key = NodeId;

    fn initial(&self) -> NodeState {
        NodeState::default()
    }
    fn step(&self, state: &NodeState, input: &HealthCommand) -> (NodeState, HealthOutput) {
        let mut next = state.clone();
        let (out, _) = next.apply(input);
        (next, out)
    }
    fn key(&self, input: &HealthCommand) -> NodeId {
        input.node()
    }
    fn is_read_only(&self, input: &HealthCommand) -> bool {
        matches!(input, HealthCommand::ReadNode { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::{CheckOptions, History, Outcome, check};

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
        let out = c.apply(&sync(vec![
            svc(0, 10, Health::Passing),
            svc(1, 11, Health::Passing),
        ]));
        assert_eq!(out, HealthOutput::Written { changed: true });
        assert_eq!((c.index, c.service_index(0), c.service_index(1)), (1, 1, 1));
        // The same state again: nothing changes, blocking queries stay asleep.
        let out = c.apply(&sync(vec![
            svc(0, 10, Health::Passing),
            svc(1, 11, Health::Passing),
        ]));
        assert_eq!(out, HealthOutput::Written { changed: false });
        assert_eq!(c.index, 1);
        // Instance 10 fails its check; 11 is no longer on the agent: removed.
        c.apply(&sync(vec![svc(0, 10, Health::Critical)]));
        assert_eq!((c.index, c.service_index(0), c.service_index(1)), (2, 2, 2));
        assert!(!c.lists(1, 11));
        assert_eq!(c.listing(0).instances, vec![(10, Health::Critical)]);
        assert!(c.listing(0).passing().is_empty());
    }

    #[test]
    fn a_critical_node_makes_its_instances_critical_until_marked_passing() {
        let mut c = HealthCatalog::default();
        c.apply(&HealthCommand::SyncNode {
            node: 2,
            services: vec![svc(0, 7, Health::Passing)],
        });
        let critical = HealthCommand::NodeHealth {
            node: 2,
            health: Health::Critical,
        };
        c.apply(&critical);
        assert_eq!(c.listing(0).passing(), Vec::<InstanceId>::new());
        let index = c.index;
        assert_eq!(c.apply(&critical), HealthOutput::Written { changed: false });
        assert_eq!(c.index, index, "no change, no bump");
        // A sync from the node's agent does not override the leader's verdict.
        c.apply(&HealthCommand::SyncNode {
            node: 2,
            services: vec![svc(0, 7, Health::Passing)],
        });
        assert!(c.listing(0).passing().is_empty());
        c.apply(&HealthCommand::NodeHealth {
            node: 2,
            health: Health::Passing,
        });
        assert_eq!(c.listing(0).passing(), vec![7]);
        assert!(c.index > index);
    }

    #[test]
    fn deregistration_removes_one_instance_and_says_whether_it_was_there() {
        let mut c = HealthCatalog::default();
        c.apply(&HealthCommand::SyncNode {
            node: 0,
            services: vec![svc(0, 4, Health::Passing), svc(0, 5, Health::Passing)],
        });
        let gone = HealthCommand::Deregister { node: 0, instance: 4 };
        assert_eq!(c.apply(&gone), HealthOutput::Deregistered(true));
        assert_eq!(c.listing(0).passing(), vec![5]);
        let index = c.index;
        assert_eq!(c.apply(&gone), HealthOutput::Deregistered(false));
        assert_eq!(c.index, index);
        // Instance 5 lives on node 0, not node 1.
        assert_eq!(
            c.apply(&HealthCommand::Deregister { node: 1, instance: 5 }),
            HealthOutput::Deregistered(false)
        );
        assert_eq!(
            c.read(&HealthCommand::ReadNode { node: 0 }),
            Some(HealthOutput::Node(NodeState {
                services: [(5, (0, Health::Passing))].into_iter().collect(),
                health: Health::Passing,
            }))
        );
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
            HealthCommand::ReadNode { node: 6 },
            HealthCommand::Deregister {
                node: 2,
                instance: 11,
            },
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

    fn node_with(instances: &[InstanceId]) -> NodeState {
        NodeState {
            services: instances.iter().map(|&i| (i, (0, Health::Passing))).collect(),
            health: Health::Passing,
        }
    }

    #[test]
    fn a_read_that_misses_an_acknowledged_sync_or_sees_an_undone_deregistration_is_not_linearizable() {
        let sync = HealthCommand::SyncNode {
            node: 0,
            services: vec![svc(0, 5, Health::Passing)],
        };
        let read = HealthCommand::ReadNode { node: 0 };
        // Sync acknowledged, then a read that does not see it.
        let mut h = History::new();
        h.invoke(0, 1, sync.clone()).unwrap();
        h.complete(0, Outcome::Ok(HealthOutput::Written { changed: true }))
            .unwrap();
        h.invoke(1, 2, read.clone()).unwrap();
        h.complete(1, Outcome::Ok(HealthOutput::Node(node_with(&[]))))
            .unwrap();
        assert!(!check(&HealthSpec, &h, CheckOptions::default()).is_linearizable());
        // The same read seeing it is fine.
        let mut h = History::new();
        h.invoke(0, 1, sync.clone()).unwrap();
        h.complete(0, Outcome::Ok(HealthOutput::Written { changed: true }))
            .unwrap();
        h.invoke(1, 2, read.clone()).unwrap();
        h.complete(1, Outcome::Ok(HealthOutput::Node(node_with(&[5]))))
            .unwrap();
        assert!(check(&HealthSpec, &h, CheckOptions::default()).is_linearizable());
        // A deregistration acknowledged as removing the instance, then a read that still lists it.
        h.invoke(2, 1, HealthCommand::Deregister { node: 0, instance: 5 })
            .unwrap();
        h.complete(2, Outcome::Ok(HealthOutput::Deregistered(true)))
            .unwrap();
        h.invoke(3, 2, read).unwrap();
        h.complete(3, Outcome::Ok(HealthOutput::Node(node_with(&[5]))))
            .unwrap();
        assert!(!check(&HealthSpec, &h, CheckOptions::default()).is_linearizable());
    }
}
