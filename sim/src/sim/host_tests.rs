//! The per-host state kept densely for speed (`Core::clocks`, `HostStatus::degraded`) stays
//! true to the state it summarises through every fault that changes it.

use crate::fault::{Fault, FaultAction, FaultPlan};
use crate::tests::{degrade, ms};
use crate::*;

/// Ticks every 5 ms and records the degradations its handler sees.
#[derive(Clone, Debug)]
struct Watcher;

impl Process for Watcher {
    type Message = ();
    type Timer = ();
    type Operation = Vec<String>;

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        self.on_timer(ctx, ());
    }
    fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _: ()) {
        let seen = ctx.degradations().map(str::to_string).collect();
        ctx.record(seen);
        ctx.set_timer(ms(5), ());
    }
}

/// Overlapping degradations on two hosts, a crash in the middle of one, and a heal that ends
/// the rest early: after every event each host's cached flag says exactly whether it has
/// degradations, and every handler saw the full list.
#[test]
fn the_degraded_flag_follows_every_begin_end_crash_and_heal() {
    let topo = Topology::single_switch(3, Distribution::constant(ms(1)));
    let mut config = SimConfig::with_seed(3);
    config.limits.horizon = ms(150);
    let mut s: Sim<Watcher> = Sim::new(config, &topo);
    for h in 0..3 {
        s.spawn(HostId(h), Watcher);
    }
    let actions = vec![
        (10, degrade(0, "slow:2", 30)),
        (20, degrade(0, "stall", 40)),
        (25, degrade(1, "slow:8", 10)),
        (
            30,
            Fault::CrashHost {
                host: HostId(0),
                down_for: ms(7),
            },
        ),
        (50, degrade(1, "slow:3", 500)),
    ];
    let plan = FaultPlan {
        actions: actions
            .into_iter()
            .map(|(t, fault)| FaultAction {
                at: Instant(ms(t).0),
                fault,
            })
            .collect(),
        // The last degradation would last to 550 ms: the heal ends it at 100.
        heal_at: Some(Instant(ms(100).0)),
    };
    s.set_fault_plan(plan).unwrap();
    let mut flagged_at = Vec::new();
    loop {
        let next = s.events() + 1;
        if matches!(s.run_until_event(next), Progress::Finished(_)) {
            break;
        }
        for h in 0..3 {
            let full = &s.core.hosts[h].degradations;
            assert_eq!(
                s.core.status[h].degraded,
                !full.is_empty(),
                "host {h} at {}: flag stale for {full:?}",
                s.now()
            );
            if s.core.status[h].degraded {
                flagged_at.push((h, s.now()));
            }
        }
    }
    // Each record is the list the handler saw; compare it with the plan's truth at that time.
    let truth = |h: u32, t: Instant| -> Vec<&str> {
        let t = t.0 / 1_000_000;
        let mut v = Vec::new();
        if t < 100 {
            if h == 0 && (10..40).contains(&t) {
                v.push("slow:2");
            }
            if h == 0 && (20..60).contains(&t) {
                v.push("stall");
            }
            if h == 1 && (25..35).contains(&t) {
                v.push("slow:8");
            }
            if h == 1 && t >= 50 {
                v.push("slow:3");
            }
        }
        v
    };
    let mut degraded_records = 0;
    for e in s.history() {
        let h = s.host_of(e.process).0;
        assert_eq!(e.operation, truth(h, e.time), "host {h} at {}", e.time);
        degraded_records += usize::from(!e.operation.is_empty());
    }
    assert!(
        degraded_records > 20,
        "{degraded_records} records saw a degradation"
    );
    assert!(flagged_at.iter().any(|&(h, _)| h == 0) && flagged_at.iter().any(|&(h, _)| h == 1));
    assert!(
        flagged_at.iter().all(|&(_, t)| t < Instant(ms(100).0)),
        "the heal clears every flag"
    );
}

/// A clock fault moves the dense clock the handlers and checkers read: a jump moves the wall
/// reading, a drift stretches timers, and the heal restores the rate.
#[test]
fn clock_faults_reach_the_clock_handlers_read() {
    let topo = Topology::single_switch(2, Distribution::constant(ms(1)));
    let mut config = SimConfig::with_seed(4);
    config.limits.horizon = ms(100);
    let mut s: Sim<Watcher> = Sim::new(config, &topo);
    s.spawn(HostId(0), Watcher);
    s.spawn(HostId(1), Watcher);
    let plan = FaultPlan {
        actions: vec![
            FaultAction {
                at: Instant(ms(10).0),
                fault: Fault::ClockJump {
                    host: HostId(1),
                    delta_ns: 7_000_000,
                },
            },
            FaultAction {
                at: Instant(ms(20).0),
                fault: Fault::ClockDrift {
                    host: HostId(0),
                    drift_ppm: -500_000,
                    duration: ms(1_000),
                },
            },
        ],
        heal_at: Some(Instant(ms(60).0)),
    };
    s.set_fault_plan(plan).unwrap();
    s.run();
    assert_eq!(s.local_time(HostId(1)), Instant(ms(107).0), "the jump stays");
    // Host 0's clock ran at half speed from 20 to 60 ms: 20 ms behind from then on.
    assert_eq!(s.local_time(HostId(0)), Instant(ms(80).0));
    // Its 5 ms timers took 10 ms of true time while the drift lasted.
    let times: Vec<u64> = s
        .history()
        .iter()
        .filter(|e| e.process == ProcessId(0))
        .map(|e| e.time.0 / 1_000_000)
        .collect();
    assert!(times.windows(2).any(|w| w == [30, 40]), "{times:?}");
    assert!(times.windows(2).any(|w| w == [80, 85]), "{times:?}");
}
