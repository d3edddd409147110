//! Stream layout: under `StreamLayout::PerSource` (opted into) one host's sends do not move
//! another host's message delays, and removing a fault does not move another role fault's
//! pick; under `StreamLayout::Shared` (the default) both do.

use super::faults::target_stream_keys;
use crate::*;

/// Sends `count` messages to `to` when it starts; records what it receives.
#[derive(Clone, Debug)]
struct Sender {
    to: Option<ProcessId>,
    count: u32,
}

impl Process for Sender {
    type Message = u32;
    type Timer = ();
    type Operation = (ProcessId, u32);

    fn has_role(&self, role: &str) -> bool {
        role == "node"
    }
    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        if let Some(to) = self.to {
            for v in 0..self.count {
                ctx.send(to, v);
            }
        }
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, value: u32) {
        ctx.record((from, value));
    }
    fn on_timer(&mut self, _: &mut Context<'_, Self>, _: ()) {}
}

fn config(streams: StreamLayout) -> SimConfig {
    SimConfig {
        streams,
        ..SimConfig::with_seed(1)
    }
}

/// When each of host 0's five messages reached host 2, with host 1 sending `others` first.
fn arrivals_from_host_0(streams: StreamLayout, others: u32) -> Vec<Instant> {
    let latency = Distribution::uniform(Duration::from_millis(1), Duration::from_millis(50));
    let mut sim = Sim::new(config(streams), &Topology::single_switch(3, latency));
    let sink = ProcessId(2);
    // Host 1 starts (and sends) first, so under one shared stream its draws come first.
    sim.spawn(
        HostId(1),
        Sender {
            to: Some(sink),
            count: others,
        },
    );
    let from = sim.spawn(
        HostId(0),
        Sender {
            to: Some(sink),
            count: 5,
        },
    );
    assert_eq!(sim.spawn(HostId(2), Sender { to: None, count: 0 }), sink);
    sim.run();
    sim.history()
        .iter()
        .filter(|e| e.operation.0 == from)
        .map(|e| e.time)
        .collect()
}

#[test]
fn the_default_layout_is_shared() {
    assert_eq!(SimConfig::with_seed(1).streams, StreamLayout::Shared);
    // The default run draws as the shared layout does, not as the per-source one.
    let shared = arrivals_from_host_0(StreamLayout::Shared, 4);
    assert_eq!(arrivals_from_host_0(SimConfig::with_seed(1).streams, 4), shared);
    assert_ne!(arrivals_from_host_0(StreamLayout::PerSource, 4), shared);
}

#[test]
fn another_hosts_sends_do_not_move_a_hosts_message_delays() {
    let (one, four) = (
        arrivals_from_host_0(StreamLayout::PerSource, 1),
        arrivals_from_host_0(StreamLayout::PerSource, 4),
    );
    assert_eq!(one.len(), 5);
    assert_eq!(one, four);
    // The shared layout: host 1's extra sends shift every later draw of host 0.
    let (one, four) = (
        arrivals_from_host_0(StreamLayout::Shared, 1),
        arrivals_from_host_0(StreamLayout::Shared, 4),
    );
    assert_ne!(one, four);
}

fn isolate(at_ms: u64, pick: &str, for_ms: u64) -> FaultAction {
    FaultAction {
        at: Instant(Duration::from_millis(at_ms).0),
        fault: Fault::IsolateRole {
            target: pick.parse().unwrap(),
            duration: Duration::from_millis(for_ms),
        },
    }
}

/// Whom each role fault of `actions` hit, over eight hosts of one `node` each.
fn hits(streams: StreamLayout, actions: Vec<FaultAction>) -> Vec<Vec<ProcessId>> {
    let latency = Distribution::constant(Duration::from_millis(1));
    let mut sim = Sim::new(config(streams), &Topology::single_switch(8, latency));
    for h in 0..8 {
        sim.spawn(HostId(h), Sender { to: None, count: 0 });
    }
    sim.set_fault_plan(FaultPlan {
        actions,
        heal_at: None,
    })
    .unwrap();
    sim.run();
    (0..sim.plan.actions.len())
        .map(|i| sim.role_hits[&i].clone())
        .collect()
}

#[test]
fn removing_a_fault_does_not_move_another_faults_random_pick() {
    let (a, b, c) = (
        isolate(10, "a random node", 5),
        isolate(20, "a random node", 5),
        isolate(30, "50% of node", 5),
    );
    for layout in [StreamLayout::PerSource, StreamLayout::Shared] {
        let all = hits(layout, vec![a.clone(), b.clone(), c.clone()]);
        let without_a = hits(layout, vec![b.clone(), c.clone()]);
        let (kept, moved) = (all[1..] == without_a[..], all[1..] != without_a[..]);
        match layout {
            StreamLayout::PerSource => assert!(kept, "{all:?} vs {without_a:?}"),
            StreamLayout::Shared => assert!(moved, "{all:?} vs {without_a:?}"),
        }
    }
}

#[test]
fn a_target_key_is_the_actions_start_and_role_not_its_place_kind_or_duration() {
    let plan = |actions: Vec<FaultAction>| FaultPlan {
        actions,
        heal_at: None,
    };
    let (a, b) = (isolate(10, "a random node", 5), isolate(20, "a random node", 5));
    let keys = target_stream_keys(&plan(vec![a.clone(), b.clone()]));
    assert_eq!(target_stream_keys(&plan(vec![b.clone()])), keys[1..]);
    // A halved duration or a crash turned into a kill keeps the key.
    let shorter = isolate(20, "a random node", 2);
    assert_eq!(target_stream_keys(&plan(vec![shorter])), keys[1..]);
    let killed = FaultAction {
        at: b.at,
        fault: Fault::KillRole {
            target: "a random node".parse().unwrap(),
            down_for: Duration::from_millis(5),
        },
    };
    assert_eq!(target_stream_keys(&plan(vec![killed])), keys[1..]);
    // Equal actions draw from streams of their own; another role or time is another stream.
    let twice = target_stream_keys(&plan(vec![b.clone(), b.clone()]));
    assert_eq!(twice[0], keys[1]);
    assert_ne!(twice[0], twice[1]);
    assert_ne!(keys[0], keys[1]);
    let other_role = target_stream_keys(&plan(vec![isolate(20, "a random leader", 5)]));
    assert_ne!(other_role[0], keys[1]);
}
