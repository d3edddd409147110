//! The spawn bound: a model that spawns past `SimConfig::max_processes` is refused, in setup
//! or from a handler, and the run ends with a `LimitExceeded` verdict instead of growing.

use crate::*;

/// Spawns a sibling every `every` of virtual time, forever (or uses a refused id if told).
#[derive(Clone, Debug)]
struct Breeder {
    every: Duration,
    send_to_child: bool,
}

impl Process for Breeder {
    type Message = ();
    type Timer = ();
    type Operation = ();

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        if ctx.id().0 == 0 {
            ctx.set_timer(self.every, ());
        }
    }
    fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _: ()) {
        let child = ctx.spawn(self.clone());
        if self.send_to_child {
            // A model that trusts the id it got: the refused one names no process.
            ctx.send(child, ());
        }
        ctx.set_timer(self.every, ());
    }
}

fn breeder(send_to_child: bool) -> Breeder {
    Breeder {
        every: Duration::from_millis(1),
        send_to_child,
    }
}

fn sim(max_processes: usize) -> Sim<Breeder> {
    let mut config = SimConfig::with_seed(1);
    config.max_processes = max_processes;
    config.limits.horizon = Duration::from_secs(1);
    Sim::new(
        config,
        &Topology::single_switch(2, Distribution::constant(Duration::from_millis(1))),
    )
}

#[test]
fn setup_spawns_past_the_bound_are_refused_and_the_run_does_not_start() {
    let mut s = sim(3);
    for i in 0..3 {
        assert_eq!(s.try_spawn(HostId(i % 2), breeder(false)), Ok(ProcessId(i)));
    }
    let refused = s.try_spawn(HostId(1), breeder(false)).unwrap_err();
    assert_eq!(
        (refused.bound, refused.host, refused.at),
        (3, HostId(1), Instant::ZERO)
    );
    assert_eq!(s.spawn(HostId(0), breeder(false)), ProcessId::REFUSED);
    // Nothing was allocated for the refused processes; the first refusal is the one kept.
    assert_eq!(s.process_count(), 3);
    assert_eq!(s.spawn_refused(), Some(refused));
    let report = s.run();
    assert_eq!(report.verdict, Verdict::LimitExceeded);
    assert_eq!(report.events, 0, "a refused setup runs nothing");
    let f = report.failure.expect("a failure");
    assert!(f.message.contains("more than 3 processes"), "{}", f.message);
}

#[test]
fn handler_spawns_past_the_bound_end_the_run_with_limit_exceeded() {
    let mut s = sim(10);
    s.spawn(HostId(0), breeder(false));
    let report = s.run();
    assert_eq!(report.verdict, Verdict::LimitExceeded, "{report}");
    assert_eq!(s.process_count(), 10);
    let f = report.failure.expect("a failure");
    // The parent spawned 9 siblings at 1..=9 ms; the 10th, at 10 ms, is refused.
    assert_eq!(
        (f.time, f.host),
        (Instant(Duration::from_millis(10).0), Some(HostId(0)))
    );
    assert!(f.message.contains("more than 10 processes"), "{}", f.message);
    // Without the bound the same model runs to its horizon.
    let mut unbounded = sim(DEFAULT_MAX_PROCESSES);
    unbounded.spawn(HostId(0), breeder(false));
    assert_eq!(unbounded.run().verdict, Verdict::Held);
    // The parent and a sibling at every millisecond up to the horizon, 1 s included.
    assert_eq!(unbounded.process_count(), 1001);
}

#[test]
fn a_handler_using_a_refused_id_reports_the_refusal_not_a_panic() {
    let mut s = sim(4);
    s.spawn(HostId(0), breeder(true));
    let report = s.run();
    assert_eq!(report.verdict, Verdict::LimitExceeded, "{report}");
    assert!(
        report
            .failure
            .expect("a failure")
            .message
            .contains("more than 4 processes")
    );
}
