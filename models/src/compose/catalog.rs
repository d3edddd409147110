//! A service catalog as a replicated state machine: which instances serve which service.
//!
//! Instances register and deregister themselves; callers list a service's instances. The same
//! step function is the Raft state machine ([`Catalog`]) and the linearizability specification
//! ([`CatalogSpec`]), so the checker and the replicas mean exactly the same thing by "register".

use crate::linearizability::Specification;
use crate::raft::{StateMachine, Workload};
use ruckus_sim::Random;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A service's number.
pub type ServiceId = u32;
/// An instance's number (unique across services).
pub type InstanceId = u32;

/// A request to the catalog.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CatalogCommand {
    /// Adds `instance` to `service` (a refresh if it is already there).
    Register {
        /// The service.
        service: ServiceId,
        /// The instance.
        instance: InstanceId,
    },
    /// Removes `instance` from `service`.
    Deregister {
        /// The service.
        service: ServiceId,
        /// The instance.
        instance: InstanceId,
    },
    /// Lists the instances of `service`.
    List {
        /// The service.
        service: ServiceId,
    },
}

impl CatalogCommand {
    /// The service the command touches.
    pub fn service(&self) -> ServiceId {
        match *self {
            CatalogCommand::Register { service, .. }
            | CatalogCommand::Deregister { service, .. }
            | CatalogCommand::List { service } => service,
        }
    }
}

impl fmt::Debug for CatalogCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogCommand::Register { service, instance } => write!(f, "register(s{service}, i{instance})"),
            CatalogCommand::Deregister { service, instance } => {
                write!(f, "deregister(s{service}, i{instance})")
            }
            CatalogCommand::List { service } => write!(f, "list(s{service})"),
        }
    }
}

/// The catalog's answer.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CatalogOutput {
    /// Registered; `true` if the instance was not listed before.
    Registered(bool),
    /// Deregistered; `true` if the instance was listed before.
    Deregistered(bool),
    /// The service's instances, in ascending order.
    Instances(Vec<InstanceId>),
}

impl fmt::Debug for CatalogOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogOutput::Registered(new) => write!(f, "registered{}", if *new { "" } else { " (again)" }),
            CatalogOutput::Deregistered(was) => {
                write!(f, "deregistered{}", if *was { "" } else { " (absent)" })
            }
            CatalogOutput::Instances(list) => write!(f, "{list:?}"),
        }
    }
}

/// One service's instances after `command` (which must touch that service), and the answer.
pub fn step(
    instances: &BTreeSet<InstanceId>,
    command: &CatalogCommand,
) -> (BTreeSet<InstanceId>, CatalogOutput) {
    let mut next = instances.clone();
    let out = apply_to(&mut next, command);
    (next, out)
}

fn apply_to(instances: &mut BTreeSet<InstanceId>, command: &CatalogCommand) -> CatalogOutput {
    match *command {
        CatalogCommand::Register { instance, .. } => CatalogOutput::Registered(instances.insert(instance)),
        CatalogCommand::Deregister { instance, .. } => {
            CatalogOutput::Deregistered(instances.remove(&instance))
        }
        CatalogCommand::List { .. } => CatalogOutput::Instances(instances.iter().copied().collect()),
    }
}

/// The replicated catalog: instances per service (services with no instances are absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Every service that has instances.
    pub services: BTreeMap<ServiceId, BTreeSet<InstanceId>>,
}

impl Catalog {
    /// Whether `instance` is listed under `service`.
    pub fn lists(&self, service: ServiceId, instance: InstanceId) -> bool {
        self.services.get(&service).is_some_and(|s| s.contains(&instance))
    }
}

/// Encoded size of a command: tag, service, instance.
const COMMAND_BYTES: usize = 1 + 4 + 4;

impl StateMachine for Catalog {
    type Command = CatalogCommand;
    type Output = CatalogOutput;

    fn apply(&mut self, command: &CatalogCommand) -> CatalogOutput {
        let service = command.service();
        let instances = self.services.entry(service).or_default();
        let out = apply_to(instances, command);
        if instances.is_empty() {
            self.services.remove(&service);
        }
        out
    }

    fn read(&self, command: &CatalogCommand) -> Option<CatalogOutput> {
        match *command {
            CatalogCommand::List { service } => Some(CatalogOutput::Instances(
                self.services
                    .get(&service)
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default(),
            )),
            CatalogCommand::Register { .. } | CatalogCommand::Deregister { .. } => None,
        }
    }

    fn encode(command: &CatalogCommand, out: &mut Vec<u8>) {
        let (tag, service, instance) = match *command {
            CatalogCommand::Register { service, instance } => (0u8, service, instance),
            CatalogCommand::Deregister { service, instance } => (1, service, instance),
            CatalogCommand::List { service } => (2, service, 0),
        };
        out.push(tag);
        out.extend_from_slice(&service.to_le_bytes());
        out.extend_from_slice(&instance.to_le_bytes());
    }

    fn decode(bytes: &[u8]) -> Option<CatalogCommand> {
        if bytes.len() != COMMAND_BYTES {
            return None;
        }
        let service = u32::from_le_bytes(bytes[1..5].try_into().ok()?);
        let instance = u32::from_le_bytes(bytes[5..9].try_into().ok()?);
        match bytes[0] {
            0 => Some(CatalogCommand::Register { service, instance }),
            1 => Some(CatalogCommand::Deregister { service, instance }),
            2 if instance == 0 => Some(CatalogCommand::List { service }),
            _ => None,
        }
    }
}

/// The catalog's sequential specification: services are independent, so the checker searches
/// one service at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CatalogSpec;

impl Specification for CatalogSpec {
    type State = BTreeSet<InstanceId>;
    type Input = CatalogCommand;
    type Output = CatalogOutput;
    type Key = ServiceId;

    fn initial(&self) -> BTreeSet<InstanceId> {
        BTreeSet::new()
    }
    fn step(
        &self,
        state: &BTreeSet<InstanceId>,
        input: &CatalogCommand,
    ) -> (BTreeSet<InstanceId>, CatalogOutput) {
        step(state, input)
    }
    fn key(&self, input: &CatalogCommand) -> ServiceId {
        input.service()
    }
    fn is_read_only(&self, input: &CatalogCommand) -> bool {
        matches!(input, CatalogCommand::List { .. })
    }
}

/// What a service instance asks of the catalog: keep its registration fresh (as agents
/// re-sync theirs), and now and then deregister (going down for maintenance).
#[derive(Clone, Debug)]
pub struct Registrar {
    /// The service it serves.
    pub service: ServiceId,
    /// Itself.
    pub instance: InstanceId,
    /// Percentage of commands that are deregistrations.
    pub deregister_percent: u32,
}

impl Workload for Registrar {
    type Machine = Catalog;

    fn next_command(&mut self, rng: &mut Random) -> CatalogCommand {
        let (service, instance) = (self.service, self.instance);
        if rng.below(100) < u64::from(self.deregister_percent) {
            CatalogCommand::Deregister { service, instance }
        } else {
            CatalogCommand::Register { service, instance }
        }
    }
}

/// What a caller asks of the catalog: the instances of a random service.
#[derive(Clone, Debug)]
pub struct Lister {
    /// Number of services to pick from.
    pub services: u32,
}

impl Workload for Lister {
    type Machine = Catalog;

    fn next_command(&mut self, rng: &mut Random) -> CatalogCommand {
        CatalogCommand::List {
            service: rng.below(u64::from(self.services)) as ServiceId,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::{CheckOptions, History, Outcome, check};

    fn register(service: ServiceId, instance: InstanceId) -> CatalogCommand {
        CatalogCommand::Register { service, instance }
    }

    #[test]
    fn the_catalog_registers_lists_and_forgets_empty_services() {
        let mut c = Catalog::default();
        assert_eq!(c.apply(&register(1, 7)), CatalogOutput::Registered(true));
        assert_eq!(c.apply(&register(1, 7)), CatalogOutput::Registered(false));
        assert_eq!(c.apply(&register(1, 3)), CatalogOutput::Registered(true));
        let list = CatalogCommand::List { service: 1 };
        assert_eq!(c.read(&list), Some(CatalogOutput::Instances(vec![3, 7])));
        assert_eq!(c.read(&register(1, 1)), None);
        let gone = CatalogCommand::Deregister {
            service: 1,
            instance: 7,
        };
        assert_eq!(c.apply(&gone), CatalogOutput::Deregistered(true));
        assert_eq!(c.apply(&gone), CatalogOutput::Deregistered(false));
        assert!(c.lists(1, 3) && !c.lists(1, 7));
        c.apply(&CatalogCommand::Deregister {
            service: 1,
            instance: 3,
        });
        assert!(c.services.is_empty(), "{c:?}");
        assert_eq!(c.apply(&list), CatalogOutput::Instances(vec![]));
    }

    #[test]
    fn commands_round_trip_and_torn_ones_do_not_decode() {
        for command in [
            register(0, u32::MAX),
            CatalogCommand::Deregister {
                service: 9,
                instance: 2,
            },
            CatalogCommand::List { service: 4 },
        ] {
            let mut bytes = Vec::new();
            Catalog::encode(&command, &mut bytes);
            assert_eq!(Catalog::decode(&bytes), Some(command));
            for cut in 0..bytes.len() {
                assert_eq!(Catalog::decode(&bytes[..cut]), None);
            }
        }
        assert_eq!(Catalog::decode(&[3, 0, 0, 0, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn a_list_that_misses_an_acknowledged_registration_is_not_linearizable() {
        let mut h = History::new();
        h.invoke(0, 1, register(0, 5)).unwrap();
        h.complete(0, Outcome::Ok(CatalogOutput::Registered(true)))
            .unwrap();
        h.invoke(1, 2, CatalogCommand::List { service: 0 }).unwrap();
        h.complete(1, Outcome::Ok(CatalogOutput::Instances(vec![])))
            .unwrap();
        assert!(!check(&CatalogSpec, &h, CheckOptions::default()).is_linearizable());
        // With the registration's outcome unknown, the empty list is explained.
        let mut h = History::new();
        h.invoke(0, 1, register(0, 5)).unwrap();
        h.complete(0, Outcome::Unknown).unwrap();
        h.invoke(1, 2, CatalogCommand::List { service: 0 }).unwrap();
        h.complete(1, Outcome::Ok(CatalogOutput::Instances(vec![])))
            .unwrap();
        assert!(check(&CatalogSpec, &h, CheckOptions::default()).is_linearizable());
    }
}
