//! Engine semantics, one test per rule: each would fail if the rule were broken.

use crate::*;

/// What a probe saw; kept in the history, which survives crashes (states do not).
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    Start { stored: Vec<String> },
    Msg { from: ProcessId, value: u32 },
    Timer { value: u32, local: Instant },
}

#[derive(Clone, Debug)]
enum Action {
    Send(ProcessId, u32),
    Timer(Duration, u32),
    /// Write `key`, synced or not.
    Write(&'static str, bool),
    Spawn,
    Panic,
    /// Reply to every message with two more (grows the queue without bound).
    Flood,
}

#[derive(Clone, Debug)]
struct Probe {
    on_start: Vec<Action>,
    on_message: Vec<Action>,
}

impl Probe {
    fn new(on_start: Vec<Action>) -> Probe {
        Probe {
            on_start,
            on_message: vec![],
        }
    }
    fn run(&mut self, ctx: &mut Context<'_, Self>, actions: &[Action], from: Option<ProcessId>) {
        for a in actions {
            match a {
                Action::Send(to, v) => ctx.send(*to, *v),
                Action::Timer(d, v) => {
                    ctx.set_timer(*d, *v);
                }
                Action::Write(key, sync) => {
                    ctx.storage().put(key, vec![1, 2, 3, 4]);
                    if *sync {
                        ctx.storage().sync();
                    }
                }
                Action::Spawn => {
                    ctx.spawn(Probe::new(vec![]));
                }
                Action::Panic => panic!("probe told to panic"),
                Action::Flood => {
                    let to = from.expect("flood replies");
                    ctx.send(to, 0);
                    ctx.send(to, 0);
                }
            }
        }
    }
}

impl Process for Probe {
    type Message = u32;
    type Timer = u32;
    type Operation = Seen;

    /// A probe with nothing to do on start (what `Action::Spawn` makes) plays `child`.
    fn has_role(&self, role: &str) -> bool {
        role == "child" && self.on_start.is_empty()
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        let stored = ctx.storage().keys();
        ctx.record(Seen::Start { stored });
        let actions = self.on_start.clone();
        self.run(ctx, &actions, None);
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, value: u32) {
        ctx.record(Seen::Msg { from, value });
        let actions = self.on_message.clone();
        self.run(ctx, &actions, Some(from));
    }
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, value: u32) {
        let local = ctx.now();
        ctx.record(Seen::Timer { value, local });
    }
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
fn at(n: u64) -> Instant {
    Instant(ms(n).0)
}

/// Two hosts, 10 ms apart, constant latency.
fn sim_with(config: SimConfig) -> Sim<Probe> {
    Sim::new(
        config,
        &Topology::single_switch(2, Distribution::constant(ms(10))),
    )
}

fn sim() -> Sim<Probe> {
    sim_with(SimConfig::with_seed(1))
}

fn plan(actions: Vec<(u64, Fault)>) -> FaultPlan {
    FaultPlan {
        actions: actions
            .into_iter()
            .map(|(t, fault)| FaultAction { at: at(t), fault })
            .collect(),
        heal_at: None,
    }
}

/// What process `p` saw, with true times.
fn seen_by(sim: &Sim<Probe>, p: ProcessId) -> Vec<(Instant, Seen)> {
    sim.history()
        .iter()
        .filter(|e| e.process == p)
        .map(|e| (e.time, e.operation.clone()))
        .collect()
}

fn start() -> Seen {
    Seen::Start { stored: vec![] }
}

#[test]
fn messages_to_a_crashed_process_are_dropped_and_a_new_incarnation_never_sees_them() {
    let mut s = sim();
    let b = ProcessId(1);
    s.spawn(HostId(0), Probe::new(vec![Action::Send(b, 7)]));
    s.spawn(HostId(1), Probe::new(vec![]));
    // The message lands at 10 ms; host 1 is down from 5 to 8 ms, then restarted.
    s.set_fault_plan(plan(vec![(
        5,
        Fault::CrashHost {
            host: HostId(1),
            down_for: ms(3),
        },
    )]))
    .unwrap();
    let (obs, records) = recording();
    s.set_observer(Box::new(obs));
    let report = s.run();
    assert_eq!(report.verdict, Verdict::Held);
    assert_eq!(seen_by(&s, b), vec![(at(0), start()), (at(8), start())]);
    assert_eq!(report.deliveries, 0);
    let dropped: Vec<_> = records
        .borrow()
        .iter()
        .filter(|r| r.kind == RecordKind::Dropped)
        .copied()
        .collect();
    assert_eq!(dropped.len(), 1);
    assert_eq!(
        (dropped[0].time, dropped[0].process, dropped[0].peer),
        (at(10), 1, 0)
    );
}

#[test]
fn messages_still_in_flight_to_a_host_that_stays_down_are_dropped() {
    let mut s = sim();
    s.spawn(HostId(0), Probe::new(vec![Action::Send(ProcessId(1), 7)]));
    s.spawn(HostId(1), Probe::new(vec![]));
    s.set_fault_plan(plan(vec![(
        5,
        Fault::CrashHost {
            host: HostId(1),
            down_for: ms(50),
        },
    )]))
    .unwrap();
    let report = s.run();
    assert_eq!(report.deliveries, 0);
    assert_eq!(
        seen_by(&s, ProcessId(1)),
        vec![(at(0), start()), (at(55), start())]
    );
}

#[test]
fn timers_die_with_their_process() {
    let mut s = sim();
    let b = s.spawn(HostId(1), Probe::new(vec![Action::Timer(ms(20), 1)]));
    s.set_fault_plan(plan(vec![(
        5,
        Fault::CrashHost {
            host: HostId(1),
            down_for: ms(1),
        },
    )]))
    .unwrap();
    s.run();
    // The first incarnation's timer (due at 20 ms) never fires; the second's fires at 6 + 20 ms.
    let timers: Vec<Instant> = seen_by(&s, b)
        .into_iter()
        .filter(|(_, e)| matches!(e, Seen::Timer { .. }))
        .map(|(t, _)| t)
        .collect();
    assert_eq!(timers, vec![at(26)]);
}

#[test]
fn cancelled_timers_do_not_fire() {
    #[derive(Clone, Debug)]
    struct Canceller;
    impl Process for Canceller {
        type Message = ();
        type Timer = u8;
        type Operation = u8;
        fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
            let a = ctx.set_timer(ms(5), 1);
            ctx.set_timer(ms(6), 2);
            ctx.cancel_timer(a);
            ctx.cancel_timer(a); // twice is harmless
        }
        fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
        fn on_timer(&mut self, ctx: &mut Context<'_, Self>, t: u8) {
            ctx.record(t);
        }
    }
    let mut s = Sim::new(
        SimConfig::with_seed(1),
        &Topology::single_switch(1, Distribution::constant(ms(1))),
    );
    s.spawn(HostId(0), Canceller);
    let report = s.run();
    let fired: Vec<u8> = s.history().iter().map(|e| e.operation).collect();
    assert_eq!(fired, vec![2]);
    assert_eq!(
        report.events, 2,
        "start + one timer; the cancelled one is not an event"
    );
}

#[test]
fn synced_writes_survive_a_crash_and_unsynced_ones_can_be_lost() {
    let run = |loss: f64| {
        let mut config = SimConfig::with_seed(3);
        config.disk_faults = DiskFaultConfig {
            unsynced_loss_probability: loss,
            torn_write_probability: 0.0,
        };
        let mut s = sim_with(config);
        let b = s.spawn(
            HostId(1),
            Probe::new(vec![
                Action::Write("synced", true),
                Action::Write("unsynced", false),
            ]),
        );
        s.set_fault_plan(plan(vec![(
            5,
            Fault::CrashHost {
                host: HostId(1),
                down_for: ms(1),
            },
        )]))
        .unwrap();
        s.run();
        match &seen_by(&s, b)[1].1 {
            Seen::Start { stored } => stored.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(run(1.0), vec!["synced".to_string()]);
    // Writes made again by the restarted incarnation are pending, not in the list it saw at start.
    assert_eq!(run(0.0), vec!["synced".to_string(), "unsynced".to_string()]);
}

#[test]
fn a_process_kill_keeps_unsynced_writes_and_the_host_and_siblings_run_on() {
    let mut config = SimConfig::with_seed(3);
    config.disk_faults = DiskFaultConfig {
        unsynced_loss_probability: 1.0,
        torn_write_probability: 0.0,
    };
    let mut s = sim_with(config);
    let a = s.spawn(HostId(1), Probe::new(vec![Action::Write("k", false)]));
    let b = s.spawn(HostId(1), Probe::new(vec![Action::Timer(ms(10), 5)]));
    s.set_fault_plan(plan(vec![(
        5,
        Fault::KillProcess {
            host: HostId(1),
            process_index: 0,
            down_for: ms(1),
        },
    )]))
    .unwrap();
    s.run();
    assert_eq!(
        seen_by(&s, a)[1],
        (
            at(6),
            Seen::Start {
                stored: vec!["k".into()]
            }
        )
    );
    assert_eq!(
        seen_by(&s, b).len(),
        2,
        "sibling kept running: start and its timer"
    );
}

#[test]
fn partitions_block_exactly_the_cut_direction() {
    let mut s = sim();
    let (a, b) = (ProcessId(0), ProcessId(1));
    s.spawn(HostId(0), Probe::new(vec![Action::Send(b, 1)]));
    s.spawn(HostId(1), Probe::new(vec![Action::Send(a, 2)]));
    let cut = Partition::OneWay {
        from: vec![HostId(0)],
        to: vec![HostId(1)],
    };
    s.set_fault_plan(plan(vec![(
        0,
        Fault::Partition {
            partition: cut,
            duration: ms(100),
        },
    )]))
    .unwrap();
    s.run();
    assert_eq!(seen_by(&s, b), vec![(at(0), start())]);
    assert_eq!(
        seen_by(&s, a),
        vec![(at(0), start()), (at(10), Seen::Msg { from: b, value: 2 })]
    );
}

#[test]
fn clock_drift_and_jumps_show_in_local_time_but_not_true_time() {
    let mut topo = Topology::single_switch(2, Distribution::constant(ms(10)));
    topo.host_mut(HostId(1)).clock = ClockConfig {
        offset_ns: ms(1000).0 as i64,
        drift_ppm: 100_000,
    };
    let mut s = Sim::new(SimConfig::with_seed(1), &topo);
    let a = s.spawn(HostId(0), Probe::new(vec![Action::Timer(ms(100), 1)]));
    let b = s.spawn(
        HostId(1),
        Probe::new(vec![Action::Timer(ms(110), 1), Action::Timer(ms(330), 2)]),
    );
    s.set_fault_plan(plan(vec![(
        150,
        Fault::ClockJump {
            host: HostId(1),
            delta_ns: -(ms(500).0 as i64),
        },
    )]))
    .unwrap();
    s.run();
    assert_eq!(
        seen_by(&s, a)[1],
        (
            at(100),
            Seen::Timer {
                value: 1,
                local: at(100)
            }
        )
    );
    let seen = seen_by(&s, b);
    // 10% fast: 110 ms local pass in 100 ms true; the reading includes the 1 s offset.
    assert_eq!(
        seen[1],
        (
            at(100),
            Seen::Timer {
                value: 1,
                local: at(1110)
            }
        )
    );
    // The jump moves the reading back 500 ms, but not the timer (a monotonic timer).
    assert_eq!(
        seen[2],
        (
            at(300),
            Seen::Timer {
                value: 2,
                local: at(1330 - 500)
            }
        )
    );
    assert_eq!(s.now(), at(300), "true time is unaffected");
}

/// Reads both clocks every 100 ms of local time.
#[derive(Clone, Debug)]
struct ClockReader;

impl Process for ClockReader {
    type Message = ();
    type Timer = ();
    /// (wall clock, monotonic clock) at each tick.
    type Operation = (Instant, Instant);
    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.set_timer(ms(100), ());
    }
    fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _: ()) {
        let reading = (ctx.now(), ctx.monotonic());
        ctx.record(reading);
        ctx.set_timer(ms(100), ());
    }
}

#[test]
fn a_clock_jump_moves_the_wall_clock_but_not_the_monotonic_one() {
    let mut topo = Topology::single_switch(1, Distribution::constant(ms(10)));
    topo.host_mut(HostId(0)).clock = ClockConfig {
        offset_ns: ms(1000).0 as i64,
        drift_ppm: 0,
    };
    let mut config = SimConfig::with_seed(1);
    config.limits.horizon = ms(450);
    let mut s = Sim::new(config, &topo);
    s.spawn(HostId(0), ClockReader);
    let jump = |t: u64, delta_ms: i64| {
        (
            t,
            Fault::ClockJump {
                host: HostId(0),
                delta_ns: delta_ms * 1_000_000,
            },
        )
    };
    s.set_fault_plan(plan(vec![jump(150, -700), jump(250, 300)]))
        .unwrap();
    s.run();
    let readings: Vec<(Instant, Instant)> = s.history().iter().map(|e| e.operation).collect();
    assert_eq!(
        readings,
        vec![
            (at(1100), at(1100)),
            (at(1200 - 700), at(1200)),
            (at(1300 - 400), at(1300)),
            (at(1400 - 400), at(1400)),
        ],
        "the wall clock steps back then forward; the monotonic one keeps counting"
    );
    assert_eq!(s.local_time(HostId(0)), at(1450 - 400));
    assert_eq!(s.monotonic_time(HostId(0)), at(1450));
}

#[test]
fn equal_time_events_keep_their_scheduling_order() {
    let mut s = sim();
    let b = ProcessId(1);
    s.spawn(
        HostId(0),
        Probe::new(vec![Action::Send(b, 1), Action::Send(b, 2), Action::Send(b, 3)]),
    );
    s.spawn(HostId(1), Probe::new(vec![Action::Timer(ms(10), 9)]));
    s.run();
    let order: Vec<Seen> = seen_by(&s, b)
        .into_iter()
        .skip(1)
        .map(|(t, e)| {
            assert_eq!(t, at(10));
            e
        })
        .collect();
    // Messages were scheduled (at time 0, by process 0, started first) before the timer.
    let msg = |value| Seen::Msg {
        from: ProcessId(0),
        value,
    };
    assert_eq!(
        order,
        vec![
            msg(1),
            msg(2),
            msg(3),
            Seen::Timer {
                value: 9,
                local: at(10)
            }
        ]
    );
}

#[test]
fn a_paused_host_handles_nothing_until_it_resumes_then_sees_timers_late() {
    let mut s = sim();
    let b = ProcessId(1);
    s.spawn(HostId(0), Probe::new(vec![Action::Send(b, 1)]));
    s.spawn(HostId(1), Probe::new(vec![Action::Timer(ms(20), 2)]));
    s.set_fault_plan(plan(vec![(
        5,
        Fault::PauseHost {
            host: HostId(1),
            paused_for: ms(50),
        },
    )]))
    .unwrap();
    s.run();
    assert_eq!(
        seen_by(&s, b),
        vec![
            (at(0), start()),
            (
                at(55),
                Seen::Msg {
                    from: ProcessId(0),
                    value: 1
                }
            ),
            (
                at(55),
                Seen::Timer {
                    value: 2,
                    local: at(55)
                }
            ),
        ]
    );
}

/// Process 0 sends process 1 a message (it lands at 10 ms), on which process 1 panics.
fn with_panicking_receiver(seed: u64) -> Sim<Probe> {
    let mut s = sim_with(SimConfig::with_seed(seed));
    s.spawn(HostId(0), Probe::new(vec![Action::Send(ProcessId(1), 1)]));
    let mut victim = Probe::new(vec![]);
    victim.on_message = vec![Action::Panic];
    s.spawn(HostId(1), victim);
    s
}

#[test]
fn a_panicking_handler_becomes_a_failure_report() {
    let report = with_panicking_receiver(42).run();
    assert_eq!(report.verdict, Verdict::ModelPanic);
    let f = report.failure.unwrap();
    assert_eq!(
        (f.host, f.process, f.time),
        (Some(HostId(1)), Some(ProcessId(1)), at(10))
    );
    assert!(f.message.contains("probe told to panic"), "{}", f.message);
    assert_eq!(report.seed, 42);
    let last = report.last_events.last().unwrap();
    assert_eq!(last.kind, RecordKind::Deliver);
    // The failure names the panicking handler's event, and that event counts.
    assert_eq!(f.event_index, last.index);
    assert_eq!(report.events, f.event_index + 1);
}

#[test]
fn a_panic_in_on_start_is_the_starting_process_failure() {
    let mut s = sim();
    s.spawn(HostId(0), Probe::new(vec![Action::Send(ProcessId(1), 1)]));
    s.spawn(HostId(1), Probe::new(vec![Action::Panic]));
    let report = s.run();
    assert_eq!(report.verdict, Verdict::ModelPanic);
    let f = report.failure.unwrap();
    assert_eq!(
        (f.host, f.process, f.time, f.event_index),
        (Some(HostId(1)), Some(ProcessId(1)), Instant::ZERO, 1)
    );
    assert_eq!(report.last_events.last().unwrap().kind, RecordKind::Start);
}

#[test]
fn a_panic_in_a_later_stretch_of_events_is_still_a_failure() {
    // The run is paused and resumed: the handler that panics runs in the second stretch.
    let mut s = with_panicking_receiver(3);
    assert!(matches!(s.run_until_event(2), Progress::Paused));
    let Progress::Finished(report) = s.run_until_event(10) else {
        panic!("the panic ends the run");
    };
    assert_eq!(report.verdict, Verdict::ModelPanic);
    assert_eq!(report.failure.unwrap().process, Some(ProcessId(1)));
}

/// Panics on the first fault record: outside any handler.
struct PanicsOnFault;

impl Observer for PanicsOnFault {
    fn on_event(&mut self, record: &EventRecord, _detail: EventDetail<'_>) {
        if record.kind == RecordKind::FaultBegin {
            panic!("observer broke");
        }
    }
}

#[test]
fn a_panic_outside_any_handler_is_not_blamed_on_the_model() {
    // Handlers ran before the fault: a panic between them must unwind as what it is (the
    // engine's or an observer's), not become a model's failure.
    let mut s = sim();
    s.spawn(HostId(0), Probe::new(vec![Action::Send(ProcessId(1), 1)]));
    s.spawn(HostId(1), Probe::new(vec![]));
    s.set_fault_plan(plan(vec![(
        50,
        Fault::CrashHost {
            host: HostId(1),
            down_for: ms(3),
        },
    )]))
    .unwrap();
    s.set_observer(Box::new(PanicsOnFault));
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.run()));
    let panic = unwound.expect_err("the observer's panic unwinds out of the run");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"observer broke"));
}

#[test]
fn the_event_budget_and_queue_bound_end_a_runaway_run() {
    let flood = |max_events: u64, max_queue: usize| {
        let mut config = SimConfig::with_seed(1);
        config.limits.max_events = max_events;
        config.limits.max_queue = max_queue;
        let mut s = sim_with(config);
        let mut a = Probe::new(vec![Action::Send(ProcessId(1), 0)]);
        a.on_message = vec![Action::Flood];
        let mut b = Probe::new(vec![]);
        b.on_message = vec![Action::Flood];
        s.spawn(HostId(0), a);
        s.spawn(HostId(1), b);
        s
    };
    let r = flood(1_000, 1 << 20).run();
    assert_eq!(r.verdict, Verdict::LimitExceeded);
    assert_eq!(r.events, 1_000);
    assert!(r.failure.unwrap().message.contains("event budget"));
    let r = flood(1 << 40, 100).run();
    assert_eq!(r.verdict, Verdict::LimitExceeded);
    assert!(r.failure.unwrap().message.contains("queue"));
}

/// Three timers, at 1, 2 and 3 ms, and a property that fails at the second: events 0 (start),
/// 1, 2, 3.
fn three_timers_failing_at_the_second(config: SimConfig) -> Sim<Probe> {
    let mut s = sim_with(config);
    s.spawn(
        HostId(0),
        Probe::new(vec![
            Action::Timer(ms(1), 1),
            Action::Timer(ms(2), 2),
            Action::Timer(ms(3), 3),
        ]),
    );
    s.add_property(Property::always("fewer than two timers", |v| {
        let n = v
            .history()
            .iter()
            .filter(|e| matches!(e.operation, Seen::Timer { .. }))
            .count();
        if n < 2 {
            Ok(())
        } else {
            Err(format!("{n} timers fired"))
        }
    }));
    s
}

fn with_budget(max_events: u64) -> Sim<Probe> {
    let mut config = SimConfig::with_seed(1);
    config.limits.max_events = max_events;
    three_timers_failing_at_the_second(config)
}

#[test]
fn the_event_budget_ends_the_run_after_the_event_that_spends_it() {
    // The event that spends the budget ends the run as the budget's, before properties.
    let r = with_budget(3).run();
    assert_eq!((r.verdict, r.events), (Verdict::LimitExceeded, 3));
    let r = with_budget(4).run();
    assert_eq!((r.verdict, r.events), (Verdict::SafetyViolation, 3));
    // A budget of 0 still lets the first event run.
    let r = with_budget(0).run();
    assert_eq!((r.verdict, r.events), (Verdict::LimitExceeded, 1));
    // Paused short of the budget, and ended (not paused) when a stretch spends it.
    let mut s = with_budget(2);
    assert!(matches!(s.run_until_event(1), Progress::Paused));
    let Progress::Finished(r) = s.run_until_event(2) else {
        panic!("the stretch spent the budget");
    };
    assert_eq!((r.verdict, r.events), (Verdict::LimitExceeded, 2));
}

#[test]
fn the_horizon_ends_a_run_normally() {
    let mut config = SimConfig::with_seed(1);
    config.limits.horizon = ms(15);
    let mut s = sim_with(config);
    s.spawn(
        HostId(0),
        Probe::new(vec![Action::Timer(ms(10), 1), Action::Timer(ms(20), 2)]),
    );
    let r = s.run();
    assert_eq!((r.verdict, r.end_time, r.events), (Verdict::Held, at(15), 2));
}

#[test]
fn safety_properties_stop_the_run_at_the_first_violation() {
    let r = three_timers_failing_at_the_second(SimConfig::with_seed(1)).run();
    assert_eq!(r.verdict, Verdict::SafetyViolation);
    let f = r.failure.unwrap();
    assert_eq!(
        (f.property.as_deref(), f.time),
        (Some("fewer than two timers"), at(2))
    );
    assert_eq!(f.message, "2 timers fired");
}

/// Run to its horizon, the same violation is still the verdict, but the events after it
/// happen (the experiments' metrics cover the whole run).
#[test]
fn a_run_to_its_horizon_keeps_the_first_violation_and_goes_on() {
    let build = |to_horizon: bool| {
        let mut s = three_timers_failing_at_the_second(SimConfig::with_seed(1));
        s.set_run_to_horizon(to_horizon);
        (s.run(), s.history().len())
    };
    let (stopped, seen_stopped) = build(false);
    let (went_on, seen_went_on) = build(true);
    assert_eq!(went_on.verdict, Verdict::SafetyViolation);
    assert_eq!(
        went_on.failure, stopped.failure,
        "the first failure is the verdict"
    );
    assert!(
        stopped.end_time < went_on.end_time,
        "{} vs {}",
        stopped.end_time,
        went_on.end_time
    );
    assert!(
        seen_went_on > seen_stopped,
        "the third timer fired only when the run went on"
    );
}

#[test]
fn cadence_checks_run_only_on_their_cadence() {
    let mut s = sim();
    s.spawn(
        HostId(0),
        Probe::new((1..=9).map(|i| Action::Timer(ms(i), i as u32)).collect()),
    );
    let calls = std::rc::Rc::new(std::cell::Cell::new(0));
    let c = calls.clone();
    s.add_property(Property::always_every("counted", ms(4), move |_| {
        c.set(c.get() + 1);
        Ok(())
    }));
    s.run();
    // Events at 0..=9 ms; checks at 0, then first event at or after 4 and 8 ms.
    assert_eq!(calls.get(), 3);
}

#[test]
fn liveness_must_hold_within_the_bound_after_the_heal() {
    let timers_after = |n: usize| {
        move |v: &View<'_, Probe>| {
            let fired = v
                .history()
                .iter()
                .filter(|e| matches!(e.operation, Seen::Timer { .. }))
                .count();
            if fired >= n {
                Ok(())
            } else {
                Err(format!("{fired} timers so far"))
            }
        }
    };
    let build = |within: Duration| {
        let mut s = sim();
        s.spawn(
            HostId(0),
            Probe::new(vec![Action::Timer(ms(100), 1), Action::Timer(ms(300), 2)]),
        );
        s.set_fault_plan(plan(vec![(
            10,
            Fault::PauseHost {
                host: HostId(1),
                paused_for: ms(40),
            },
        )]))
        .unwrap();
        s.add_property(Property::eventually("two timers", within, timers_after(2)));
        s
    };
    // Heal at 50 ms; the second timer fires at 300 ms.
    assert_eq!(build(ms(300)).run().verdict, Verdict::Held);
    let r = build(ms(200)).run();
    assert_eq!(r.verdict, Verdict::LivenessFailure);
    let f = r.failure.unwrap();
    assert_eq!(f.time, at(250));
    assert!(f.message.contains("1 timers so far"), "{}", f.message);
}

#[test]
fn spawned_siblings_die_with_the_host_and_are_not_restarted() {
    let mut s = sim();
    let parent = s.spawn(HostId(1), Probe::new(vec![Action::Spawn]));
    s.set_fault_plan(plan(vec![(
        5,
        Fault::CrashHost {
            host: HostId(1),
            down_for: ms(1),
        },
    )]))
    .unwrap();
    s.run();
    // First incarnation spawns p1; the restarted parent spawns p2. p1 saw only its first start.
    assert_eq!(s.process_count(), 3);
    assert_eq!(seen_by(&s, ProcessId(1)), vec![(at(0), start())]);
    assert_eq!(seen_by(&s, ProcessId(2)), vec![(at(6), start())]);
    assert!(s.process(ProcessId(1)).is_none() && s.process(parent).is_some());
}

#[test]
fn a_killed_sibling_whose_host_crashes_stays_dead_through_the_kill_end_and_the_heal() {
    let mut s = sim();
    s.spawn(HostId(1), Probe::new(vec![Action::Spawn]));
    let mut p = plan(vec![
        (
            5,
            Fault::KillRole {
                target: "the child".parse().unwrap(),
                down_for: ms(20),
            },
        ),
        (
            10,
            Fault::CrashHost {
                host: HostId(1),
                down_for: ms(1),
            },
        ),
    ]);
    p.heal_at = Some(at(50));
    s.set_fault_plan(p).unwrap();
    s.run();
    // p1 died by the kill, then with its host: neither the kill's end at 25 ms nor the heal
    // brings it back (its parent, restarted at 11 ms, spawned p2 instead).
    assert_eq!(seen_by(&s, ProcessId(1)), vec![(at(0), start())]);
    assert!(s.process(ProcessId(1)).is_none());
    assert_eq!(seen_by(&s, ProcessId(2)), vec![(at(11), start())]);
}

#[test]
fn heal_restores_everything_at_the_end_of_faults() {
    let mut s = sim();
    s.spawn(HostId(0), Probe::new(vec![]));
    s.spawn(HostId(1), Probe::new(vec![]));
    let mut p = plan(vec![
        (
            1,
            Fault::CrashHost {
                host: HostId(1),
                down_for: ms(1000),
            },
        ),
        (
            2,
            Fault::Partition {
                partition: Partition::Isolate { host: HostId(0) },
                duration: ms(1000),
            },
        ),
    ]);
    p.heal_at = Some(at(10));
    s.set_fault_plan(p).unwrap();
    s.run_until_event(4);
    assert!(!s.host_up(HostId(1)) && !s.reachable(HostId(0), HostId(1)));
    s.run();
    assert!(s.host_up(HostId(1)) && s.reachable(HostId(0), HostId(1)));
    assert_eq!(
        seen_by(&s, ProcessId(1)).last().unwrap().0,
        at(10),
        "restarted at the heal"
    );
}

#[test]
fn same_seed_same_fingerprint_different_seed_different_run() {
    let build = |seed| {
        move || {
            let topo = Topology::single_switch(3, Distribution::uniform(ms(1), ms(10)));
            let mut config = SimConfig::with_seed(seed);
            config.limits.max_events = 500;
            let mut s = Sim::new(config, &topo);
            for h in 0..3 {
                let mut p = Probe::new(vec![Action::Send(ProcessId((h + 1) % 3), 0)]);
                p.on_message = vec![Action::Flood];
                s.spawn(HostId(h), p);
            }
            s
        }
    };
    let a = check_determinism(build(1)).unwrap();
    let b = check_determinism(build(2)).unwrap();
    assert_ne!(a.fingerprint, b.fingerprint);
}

fn recording() -> (impl Observer, std::rc::Rc<std::cell::RefCell<Vec<EventRecord>>>) {
    struct Rec(std::rc::Rc<std::cell::RefCell<Vec<EventRecord>>>);
    impl Observer for Rec {
        fn on_event(&mut self, r: &EventRecord, _: EventDetail<'_>) {
            self.0.borrow_mut().push(*r);
        }
    }
    let cell = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    (Rec(cell.clone()), cell)
}

/// Polls every 10 ms (local clock) and records the host's active degradations.
#[derive(Clone, Debug)]
struct DegradeWatcher;

impl Process for DegradeWatcher {
    type Message = u32;
    type Timer = u32;
    type Operation = Vec<String>;

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        let seen = ctx.degradations().map(str::to_string).collect();
        ctx.record(seen);
        ctx.set_timer(ms(10), 0);
    }
    fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: u32) {}
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _: u32) {
        let seen = ctx.degradations().map(str::to_string).collect();
        ctx.record(seen);
        if ctx.now() < at(200) {
            ctx.set_timer(ms(10), 0);
        }
    }
}

/// What the watcher on `p` saw at true time `t` (the last record at or before it).
fn degradations_at(s: &Sim<DegradeWatcher>, p: ProcessId, t: u64) -> Vec<String> {
    s.history()
        .iter()
        .rev()
        .find(|e| e.process == p && e.time <= at(t))
        .map(|e| e.operation.clone())
        .unwrap_or_default()
}

pub(crate) fn degrade(host: u32, mode: &str, duration: u64) -> Fault {
    Fault::Degrade {
        host: HostId(host),
        mode: mode.to_string(),
        duration: ms(duration),
    }
}

#[test]
fn degradations_are_visible_on_their_host_only_while_active() {
    let topo = Topology::single_switch(2, Distribution::constant(ms(10)));
    let mut s: Sim<DegradeWatcher> = Sim::new(SimConfig::with_seed(1), &topo);
    s.spawn(HostId(0), DegradeWatcher);
    s.spawn(HostId(1), DegradeWatcher);
    s.set_fault_plan(plan(vec![
        (15, degrade(0, "slow:4", 50)),
        (35, degrade(0, "stall", 50)),
    ]))
    .unwrap();
    s.run();
    let p0 = ProcessId(0);
    assert!(degradations_at(&s, p0, 10).is_empty());
    assert_eq!(degradations_at(&s, p0, 20), vec!["slow:4"]);
    assert_eq!(degradations_at(&s, p0, 40), vec!["slow:4", "stall"]);
    assert_eq!(degradations_at(&s, p0, 70), vec!["stall"]);
    assert!(degradations_at(&s, p0, 90).is_empty());
    // The other host never sees them.
    assert!(
        s.history()
            .iter()
            .filter(|e| e.process == ProcessId(1))
            .all(|e| e.operation.is_empty())
    );
}

#[test]
fn a_crash_keeps_degradations_and_the_heal_ends_them() {
    let topo = Topology::single_switch(2, Distribution::constant(ms(10)));
    let mut s: Sim<DegradeWatcher> = Sim::new(SimConfig::with_seed(1), &topo);
    s.spawn(HostId(0), DegradeWatcher);
    let mut p = plan(vec![
        (5, degrade(0, "errors:0.5", 1000)),
        (
            12,
            Fault::CrashHost {
                host: HostId(0),
                down_for: ms(10),
            },
        ),
    ]);
    p.heal_at = Some(at(100));
    s.set_fault_plan(p).unwrap();
    s.run();
    // The restarted incarnation (at 22 ms) still sees the degradation at its start.
    let restart = s
        .history()
        .iter()
        .find(|e| e.time == at(22))
        .expect("a record at the restart");
    assert_eq!(restart.operation, vec!["errors:0.5"]);
    assert_eq!(degradations_at(&s, ProcessId(0), 95), vec!["errors:0.5"]);
    assert!(
        degradations_at(&s, ProcessId(0), 110).is_empty(),
        "healed at 100 ms"
    );
}

/// What an `always` property saw of process `p` after each event: (true time, incarnation, up).
fn watch_process(
    s: &mut Sim<Probe>,
    p: ProcessId,
) -> std::rc::Rc<std::cell::RefCell<Vec<(Instant, u32, bool)>>> {
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let log = seen.clone();
    s.add_property(Property::always("watch", move |v| {
        let entry = (v.now(), v.incarnation(p), v.process_up(p));
        let mut log = log.borrow_mut();
        if log
            .last()
            .is_none_or(|last: &(Instant, u32, bool)| (last.1, last.2) != (entry.1, entry.2))
        {
            log.push(entry);
        }
        Ok(())
    }));
    seen
}

fn lifecycle_event(time: u64, kind: Lifecycle, incarnation: u32) -> LifecycleEvent {
    LifecycleEvent {
        time: at(time),
        kind,
        incarnation,
    }
}

#[test]
fn crashes_kills_and_restarts_are_in_the_lifecycle_with_their_incarnations() {
    let mut s = sim();
    let a = s.spawn(HostId(0), Probe::new(vec![Action::Timer(ms(100), 1)]));
    let b = s.spawn(HostId(1), Probe::new(vec![Action::Timer(ms(100), 1)]));
    s.set_fault_plan(plan(vec![
        (
            5,
            Fault::CrashHost {
                host: HostId(1),
                down_for: ms(3),
            },
        ),
        (
            20,
            Fault::KillProcess {
                host: HostId(1),
                process_index: 0,
                down_for: ms(10),
            },
        ),
    ]))
    .unwrap();
    let watched = watch_process(&mut s, b);
    assert_eq!(s.run().verdict, Verdict::Held);
    assert_eq!(
        s.lifecycle(b),
        [
            lifecycle_event(5, Lifecycle::Crashed, 0),
            lifecycle_event(8, Lifecycle::Restarted, 2),
            lifecycle_event(20, Lifecycle::Killed, 2),
            lifecycle_event(30, Lifecycle::Restarted, 4),
        ]
    );
    assert_eq!(s.lifecycle(a), [], "the other host saw nothing");
    assert_eq!(
        *watched.borrow(),
        vec![
            (at(0), 0, true),
            (at(5), 1, false),
            (at(8), 2, true),
            (at(20), 3, false),
            (at(30), 4, true),
        ],
        "the view's incarnation and process_up follow each change at the event that made it"
    );
}

#[test]
fn pauses_are_in_the_lifecycle_and_a_paused_process_is_not_up() {
    let mut s = sim();
    let a = s.spawn(HostId(0), Probe::new(vec![]));
    s.spawn(HostId(1), Probe::new(vec![]));
    s.set_fault_plan(plan(vec![(
        10,
        Fault::PauseHost {
            host: HostId(0),
            paused_for: ms(15),
        },
    )]))
    .unwrap();
    let watched = watch_process(&mut s, a);
    let paused_seen = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = paused_seen.clone();
    s.add_property(Property::always("paused host", move |v| {
        flag.set(flag.get() || v.host_paused(HostId(0)));
        Ok(())
    }));
    s.run();
    assert_eq!(
        s.lifecycle(a),
        [
            lifecycle_event(10, Lifecycle::Paused, 0),
            lifecycle_event(25, Lifecycle::Resumed, 0),
        ]
    );
    assert_eq!(
        *watched.borrow(),
        vec![(at(0), 0, true), (at(10), 0, false), (at(25), 0, true)]
    );
    assert!(paused_seen.get());
}

/// p0 spawns a child (p1) and stops it at 7 ms; the child plays the role "child".
#[derive(Clone, Debug)]
struct Parent {
    child: Option<ProcessId>,
}

impl Process for Parent {
    type Message = ();
    type Timer = ();
    type Operation = ();
    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        if self.child.is_none() && ctx.id() == ProcessId(0) {
            self.child = Some(ctx.spawn(Parent { child: None }));
            ctx.set_timer(ms(7), ());
        }
    }
    fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _: ()) {
        ctx.stop_process(self.child.expect("spawned"));
    }
    fn has_role(&self, role: &str) -> bool {
        role == "child" && self.child.is_none()
    }
}

#[test]
fn a_stopped_sibling_is_in_its_lifecycle() {
    let mut s: Sim<Parent> = Sim::new(
        SimConfig::with_seed(1),
        &Topology::single_switch(1, Distribution::constant(ms(1))),
    );
    s.spawn(HostId(0), Parent { child: None });
    s.run();
    assert_eq!(
        s.lifecycle(ProcessId(1)),
        [lifecycle_event(7, Lifecycle::Stopped, 0)]
    );
}

#[test]
fn the_report_carries_the_runs_metrics() {
    #[derive(Clone, Debug)]
    struct Counter;
    impl Process for Counter {
        type Message = ();
        type Timer = u64;
        type Operation = ();
        fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
            ctx.set_timer(ms(1), 1);
        }
        fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
        fn on_timer(&mut self, ctx: &mut Context<'_, Self>, n: u64) {
            ctx.count("ticks", 1);
            ctx.observe("n", n);
            if n < 5 {
                ctx.set_timer(ms(1), n + 1);
            }
        }
    }
    let mut s: Sim<Counter> = Sim::new(
        SimConfig::with_seed(1),
        &Topology::single_switch(1, Distribution::constant(ms(1))),
    );
    s.spawn(HostId(0), Counter);
    let report = s.run();
    assert_eq!(report.metrics.counter("ticks"), 5);
    assert_eq!(report.metrics.samples("n"), [1, 2, 3, 4, 5]);
    assert_eq!(&report.metrics, s.metrics());
}

#[test]
fn a_properties_list_reads_states_without_annotations_and_is_checked() {
    let mut s = sim();
    s.spawn(HostId(0), Probe::new(vec![Action::Send(ProcessId(1), 3)]));
    let mut extra = Probe::new(vec![]);
    extra.on_message = vec![Action::Timer(ms(1), 9)];
    s.spawn(HostId(1), extra);
    let mut props = Properties::<Probe>::new();
    props
        .at_end("probes", |v| {
            // Reads a field of the state through `v` with no annotation on `v`.
            let actions: usize = v.processes().map(|(_, _, p)| p.on_message.len()).sum();
            if actions == 1 {
                Ok(())
            } else {
                Err(format!("{actions} actions"))
            }
        })
        .always("no_timer_9", |v| {
            match v
                .history()
                .iter()
                .find(|e| matches!(e.operation, Seen::Timer { value: 9, .. }))
            {
                Some(e) => Err(format!("timer 9 fired in {}", e.process)),
                None => Ok(()),
            }
        });
    assert_eq!(props.len(), 2);
    s.add_properties(props);
    let report = s.run();
    let failure = report.failure.expect("timer 9 fires at 11 ms");
    assert_eq!(failure.property.as_deref(), Some("no_timer_9"));
    assert_eq!(failure.time, at(11));
}

#[test]
fn a_process_stopped_while_a_kill_holds_it_down_stays_stopped_when_the_kill_ends() {
    let mut s: Sim<Parent> = Sim::new(
        SimConfig::with_seed(1),
        &Topology::single_switch(1, Distribution::constant(ms(1))),
    );
    s.spawn(HostId(0), Parent { child: None });
    // Killed at 5 ms for 20 ms; its parent stops it at 7 ms, while it is down.
    s.set_fault_plan(plan(vec![(
        5,
        Fault::KillRole {
            target: "the child".parse().unwrap(),
            down_for: ms(20),
        },
    )]))
    .unwrap();
    s.run();
    assert_eq!(
        s.lifecycle(ProcessId(1)),
        [lifecycle_event(5, Lifecycle::Killed, 0)],
        "the kill's end at 25 ms must not bring back a stopped process"
    );
    assert!(s.process(ProcessId(1)).is_none());
}
