//! The loop's read-ahead (from 1,024 processes) only prefetches: a run is the same event for
//! event with it and without it, under crashes, pauses and fault events among those it looks at
//! (addressed to no process).

use crate::*;

/// Every 2-5 ms sends a number to a random peer; forwards what it hears to a random peer half
/// the time (draws on some events and not others, so both sides of the `drew` flag are hit).
#[derive(Clone, Debug)]
struct Chatter {
    peers: u32,
}

impl Process for Chatter {
    type Message = u64;
    type Timer = ();
    type Operation = ();

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        let after = Duration::from_micros(2_000 + ctx.random().below(3_000));
        ctx.set_timer(after, ());
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, _: ProcessId, value: u64) {
        if value % 2 == 0 {
            let to = ProcessId(ctx.random().below(u64::from(self.peers)) as u32);
            ctx.send(to, value / 2);
        }
    }
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _: ()) {
        let to = ProcessId(ctx.random().below(u64::from(self.peers)) as u32);
        let value = ctx.random().next_u64();
        ctx.send(to, value);
        self.on_start(ctx);
    }
}

fn run(read_ahead_from: usize) -> RunReport {
    const HOSTS: u32 = 1_100;
    let latency = Distribution::uniform(Duration::from_millis(1), Duration::from_millis(10));
    let mut config = SimConfig::with_seed(7);
    config.limits.horizon = Duration::from_millis(300);
    let mut sim = Sim::new(config, &Topology::single_switch(HOSTS, latency));
    sim.read_ahead_from = read_ahead_from;
    for h in 0..HOSTS {
        sim.spawn(HostId(h), Chatter { peers: HOSTS });
    }
    let at = |ms: u64| Instant(Duration::from_millis(ms).0);
    let mut actions: Vec<FaultAction> = (0..40)
        .map(|i| FaultAction {
            at: at(20 + i * 5),
            fault: Fault::CrashHost {
                host: HostId((i * 27) as u32),
                down_for: Duration::from_millis(30),
            },
        })
        .collect();
    actions.extend((0..20).map(|i| FaultAction {
        at: at(25 + i * 7),
        fault: Fault::PauseHost {
            host: HostId((i * 53 + 1) as u32),
            paused_for: Duration::from_millis(15),
        },
    }));
    actions.sort_by_key(|a| a.at);
    sim.set_fault_plan(FaultPlan {
        actions,
        heal_at: Some(at(250)),
    })
    .expect("a valid plan");
    sim.run()
}

#[test]
fn reading_ahead_leaves_the_run_unchanged() {
    let with = run(0);
    let without = run(usize::MAX);
    assert!(with.events > 100_000, "a busy run: {} events", with.events);
    assert_eq!(with.verdict, without.verdict);
    assert_eq!(with.events, without.events);
    assert_eq!(with.fingerprint, without.fingerprint);
}
