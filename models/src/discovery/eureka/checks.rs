//! The model's properties.

use super::*;
use crate::discovery::resolve::{self, DiscoveryOp, InstanceId};
use ruckus_sim::{Instant, ProcessId, Property, View};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

fn route_of(op: &DiscoveryOp) -> Option<InstanceId> {
    match *op {
        DiscoveryOp::Route { instance } => Some(instance),
        DiscoveryOp::Acknowledged { .. } | DiscoveryOp::EmptyView => None,
    }
}

/// Every property of the system (see the module docs).
pub fn properties(config: &Config) -> Vec<Property<EurekaNode>> {
    let heal = Rc::new(Cell::new(None));
    let instances: Vec<InstanceId> = (0..config.instances).map(|i| config.instance_pid(i)).collect();
    let preserving = |v: &View<'_, EurekaNode>| {
        v.processes()
            .filter_map(|(_, _, p)| p.as_registry())
            .any(|r| r.preserving)
    };
    let mut props = vec![
        resolve::heal_marker(Rc::clone(&heal)),
        resolve::no_route_to_long_dead(
            config.routing_bound(),
            instances.clone(),
            heal,
            route_of,
            preserving,
        ),
    ];
    let (first, n_services) = (config.instance_pid(0), config.services);
    props.push(resolve::views_converge_after_heal(
        config.listing_window() + config.routing_bound(),
        false,
        instances.clone(),
        move |i| (i - first) % n_services,
        |p: &EurekaNode| match p {
            EurekaNode::Caller(c) => Some((c.service, c.router.healthy())),
            _ => None,
        },
    ));
    let window = config.listing_window();
    let services = config.services;
    let up_since: RefCell<(usize, BTreeMap<InstanceId, Instant>)> = RefCell::new((0, BTreeMap::new()));
    props.push(Property::always(
        "callers_keep_live_instances",
        move |v: &View<'_, EurekaNode>| {
            let now = v.now();
            let mut s = up_since.borrow_mut();
            let (cursor, up) = &mut *s;
            for &i in &instances {
                if v.process(ProcessId(i)).is_some() {
                    up.entry(i).or_insert(now);
                } else {
                    up.remove(&i);
                }
            }
            let history = v.history();
            let from = *cursor;
            *cursor = history.len();
            for e in &history[from..] {
                if e.operation != DiscoveryOp::EmptyView {
                    continue;
                }
                let Some(EurekaNode::Caller(c)) = v.process(e.process) else {
                    continue;
                };
                let long_up = up.iter().find(|&(&i, &since)| {
                    (i - instances[0]) % services == c.service && e.time.saturating_since(since) >= window
                });
                if let Some((i, since)) = long_up {
                    return Err(format!(
                        "{} found service {} empty at {} though p{i} has been up since {since}",
                        e.process, c.service, e.time
                    ));
                }
            }
            Ok(())
        },
    ));
    props
}
