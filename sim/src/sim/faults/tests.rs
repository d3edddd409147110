//! Role-targeted faults: resolved when they begin, among live processes, as the pick says.

use crate::fault::RoleTarget;
use crate::record::NONE;
use crate::trace::shared;
use crate::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A member of a group of `n`; member `id` leads during the `id`-th 100 ms of every `n * 100`
/// ms (by its own clock's reading, refreshed every 10 ms). It records whether it leads and
/// which degradations it sees on every tick.
#[derive(Clone, Debug)]
struct Member {
    id: u64,
    n: u64,
    leader: bool,
    /// Sends a ping to every other member on each tick, and records `"heard"` on a ping.
    ping: bool,
}

impl Member {
    fn tick(&mut self, ctx: &mut Context<'_, Self>) {
        self.leader = (ctx.now().0 / ms(100).0) % self.n == self.id;
        let seen = ctx.degradations().map(str::to_string).collect();
        ctx.record((self.leader, seen));
        ctx.set_timer(ms(10), ());
        if self.ping {
            for p in (0..self.n as u32).filter(|p| u64::from(*p) != self.id) {
                ctx.send(ProcessId(p), ());
            }
        }
    }
}

impl Process for Member {
    type Message = ();
    type Timer = ();
    type Operation = (bool, Vec<String>);

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        self.tick(ctx);
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, _: ProcessId, _: ()) {
        ctx.record((self.leader, vec!["heard".into()]));
    }
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _: ()) {
        self.tick(ctx);
    }
    fn has_role(&self, role: &str) -> bool {
        match role {
            "member" => true,
            "leader" => self.leader,
            "odd" => self.id % 2 == 1,
            _ => false,
        }
    }
}

/// `n` members, one per host, under `faults` (at ms, fault); returns the sim after a 1 s run
/// and every fault record (begin and end) it produced.
fn run(seed: u64, n: u64, faults: Vec<(u64, Fault)>) -> (Sim<Member>, Vec<EventRecord>) {
    run_members(seed, n, false, faults)
}

fn run_members(seed: u64, n: u64, ping: bool, faults: Vec<(u64, Fault)>) -> (Sim<Member>, Vec<EventRecord>) {
    let topo = Topology::single_switch(n as u32, Distribution::constant(ms(1)));
    let mut s: Sim<Member> = Sim::new(SimConfig::with_seed(seed), &topo);
    for id in 0..n {
        s.spawn(
            HostId(id as u32),
            Member {
                id,
                n,
                leader: false,
                ping,
            },
        );
    }
    let plan = FaultPlan {
        actions: faults
            .into_iter()
            .map(|(t, fault)| FaultAction {
                at: Instant(ms(t).0),
                fault,
            })
            .collect(),
        heal_at: Some(Instant(ms(900).0)),
    };
    s.set_fault_plan(plan).unwrap();
    let (obs, records) = shared(RecordingObserver::default());
    s.set_observer(Box::new(obs));
    s.run();
    let faults = records
        .borrow()
        .records
        .iter()
        .filter(|r| matches!(r.kind, RecordKind::FaultBegin | RecordKind::FaultEnd))
        .copied()
        .collect();
    (s, faults)
}

fn crash(target: &str, down_for: u64) -> Fault {
    Fault::CrashRole {
        target: target.parse().unwrap(),
        down_for: ms(down_for),
    }
}

fn kill(target: &str, down_for: u64) -> Fault {
    Fault::KillRole {
        target: target.parse().unwrap(),
        down_for: ms(down_for),
    }
}

/// Whether `p` recorded itself as leader in its last record before `t` ms.
fn led_before(s: &Sim<Member>, p: u32, t: u64) -> bool {
    s.history()
        .iter()
        .rev()
        .find(|e| e.process == ProcessId(p) && e.time < Instant(ms(t).0))
        .is_some_and(|e| e.operation.0)
}

#[test]
fn the_leader_is_whoever_leads_when_the_fault_begins() {
    // Member 2 leads during 200..300 ms (and 700..800), member 3 during 300..400.
    let (s, records) = run(
        1,
        5,
        vec![(250, crash("the leader", 30)), (350, crash("leader", 30))],
    );
    let begins: Vec<&EventRecord> = records
        .iter()
        .filter(|r| r.kind == RecordKind::FaultBegin)
        .collect();
    assert_eq!(begins.len(), 2);
    for (r, (p, t)) in begins.iter().zip([(2u32, 250u64), (3, 350)]) {
        assert_eq!((r.process, r.host, r.aux), (p, p, 1), "{r:?}");
        assert!(led_before(&s, p, t));
    }
    // Their hosts crashed then: no record of the crashed member during the outage.
    let crashed_at = |p: u32| {
        s.lifecycle(ProcessId(p))
            .iter()
            .find(|e| e.kind == Lifecycle::Crashed)
            .map(|e| e.time)
    };
    assert_eq!(crashed_at(2), Some(Instant(ms(250).0)));
    assert_eq!(crashed_at(3), Some(Instant(ms(350).0)));
    assert_eq!(crashed_at(1), None);
    // The ends name the same processes, even though others lead by then.
    let ends: Vec<u32> = records
        .iter()
        .filter(|r| r.kind == RecordKind::FaultEnd)
        .map(|r| r.process)
        .collect();
    assert_eq!(ends, vec![2, 3]);
}

#[test]
fn a_role_nobody_plays_skips_the_fault_and_says_so() {
    let (s, records) = run(
        1,
        3,
        vec![(100, crash("the ghost", 50)), (100, kill("a random ghost", 50))],
    );
    assert_eq!(records.len(), 4, "{records:?}");
    for r in &records {
        assert_eq!((r.process, r.host, r.aux), (NONE, NONE, 0), "{r:?}");
    }
    assert_eq!(s.metrics().counter("faults.role_skipped"), 2);
    for p in 0..3 {
        assert!(s.lifecycle(ProcessId(p)).is_empty(), "p{p} was hit");
    }
}

#[test]
fn random_picks_are_reproducible_draw_only_among_players_and_vary_with_the_seed() {
    let picks = |seed: u64| -> Vec<u32> {
        let faults = (0..8).map(|k| (50 + k * 100, kill("a random odd", 20))).collect();
        let (s, records) = run(seed, 6, faults);
        let picked: Vec<u32> = records
            .iter()
            .filter(|r| r.kind == RecordKind::FaultBegin)
            .map(|r| r.process)
            .collect();
        // Each pick was killed at its begin and restarted at its end.
        for p in &picked {
            assert!(
                s.lifecycle(ProcessId(*p))
                    .iter()
                    .any(|e| e.kind == Lifecycle::Killed)
            );
        }
        picked
    };
    let a = picks(7);
    assert_eq!(a, picks(7));
    assert_eq!(a.len(), 8);
    assert!(a.iter().all(|p| [1, 3, 5].contains(p)), "{a:?}");
    let mut distinct = a.clone();
    distinct.sort();
    distinct.dedup();
    assert!(
        distinct.len() >= 2,
        "eight random picks of three all alike: {a:?}"
    );
    assert!((1..6).any(|seed| picks(seed) != a), "every seed picked alike");
}

#[test]
fn a_share_of_a_role_degrades_that_many_distinct_hosts_while_it_lasts() {
    let degrade = Fault::DegradeRole {
        target: "50% of member".parse().unwrap(),
        mode: "slow:3".into(),
        duration: ms(200),
    };
    let (s, records) = run(3, 5, vec![(100, degrade)]);
    let begins: Vec<&EventRecord> = records
        .iter()
        .filter(|r| r.kind == RecordKind::FaultBegin)
        .collect();
    // 50% of 5, rounded up: 3 records sharing one event index, each naming a host.
    assert_eq!(begins.len(), 3);
    assert!(begins.iter().all(|r| r.index == begins[0].index && r.aux == 3));
    let mut hit: Vec<u32> = begins.iter().map(|r| r.host).collect();
    hit.sort();
    hit.dedup();
    assert_eq!(hit.len(), 3);
    let saw = |p: u32, t: u64| {
        s.history()
            .iter()
            .rev()
            .find(|e| e.process == ProcessId(p) && e.time <= Instant(ms(t).0))
            .is_some_and(|e| e.operation.1 == vec!["slow:3".to_string()])
    };
    for p in 0..5 {
        assert_eq!(saw(p, 200), hit.contains(&p), "p{p} at 200 ms");
        assert!(!saw(p, 400), "p{p} still degraded after the end");
    }
}

#[test]
fn isolating_the_leader_cuts_its_host_off_and_pause_holds_it() {
    let isolate = Fault::IsolateRole {
        target: "the leader".parse().unwrap(),
        duration: ms(100),
    };
    let pause = Fault::PauseRole {
        target: "the leader".parse().unwrap(),
        paused_for: ms(50),
    };
    let (s, records) = run_members(1, 5, true, vec![(150, isolate), (420, pause)]);
    let begins: Vec<u32> = records
        .iter()
        .filter(|r| r.kind == RecordKind::FaultBegin)
        .map(|r| r.host)
        .collect();
    assert_eq!(begins, vec![1, 4]);
    // Member 1 hears pings before and after its isolation (150..250 ms), none during it
    // (1 ms latency: pings sent just before 150 ms land by 151 ms).
    let heard = |from: u64, to: u64| {
        s.history().iter().any(|e| {
            e.process == ProcessId(1)
                && e.operation.1 == vec!["heard".to_string()]
                && (ms(from).0..ms(to).0).contains(&e.time.0)
        })
    };
    assert!(heard(100, 150) && heard(260, 400));
    assert!(!heard(152, 250), "the isolated leader heard a ping");
    assert_eq!(
        s.lifecycle(ProcessId(4))
            .iter()
            .map(|e| e.kind)
            .collect::<Vec<_>>(),
        vec![Lifecycle::Paused, Lifecycle::Resumed]
    );
}

#[test]
fn role_plans_run_the_same_twice_and_differ_from_host_plans() {
    let faults = || {
        vec![
            (120, crash("the leader", 40)),
            (300, kill("a random member", 40)),
            (
                500,
                Fault::DegradeRole {
                    target: "all odd".parse().unwrap(),
                    mode: "x".into(),
                    duration: ms(40),
                },
            ),
        ]
    };
    let (a, ra) = run(11, 5, faults());
    let (b, rb) = run(11, 5, faults());
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_eq!(ra, rb);
    // The same crash named by host is a different run (the records say who was hit).
    let by_host = vec![(
        120,
        Fault::CrashHost {
            host: HostId(1),
            down_for: ms(40),
        },
    )];
    let (c, _) = run(11, 5, by_host);
    assert_ne!(a.fingerprint(), c.fingerprint());
}

/// `n` members under `plan`, not yet run.
fn members(seed: u64, n: u64, ping: bool, plan: FaultPlan) -> Sim<Member> {
    let topo = Topology::single_switch(n as u32, Distribution::constant(ms(1)));
    let mut s: Sim<Member> = Sim::new(SimConfig::with_seed(seed), &topo);
    for id in 0..n {
        s.spawn(
            HostId(id as u32),
            Member {
                id,
                n,
                leader: false,
                ping,
            },
        );
    }
    s.set_fault_plan(plan).unwrap();
    s
}

fn role_plan() -> FaultPlan {
    let action = |t: u64, fault: Fault| FaultAction {
        at: Instant(ms(t).0),
        fault,
    };
    FaultPlan {
        actions: vec![
            action(120, crash("the leader", 40)),
            action(300, kill("a random member", 40)),
            action(
                500,
                Fault::DegradeRole {
                    target: "all odd".parse().unwrap(),
                    mode: "x".into(),
                    duration: ms(40),
                },
            ),
            action(600, crash("the ghost", 10)),
        ],
        heal_at: Some(Instant(ms(900).0)),
    }
}

#[test]
fn role_faults_round_trip_through_a_trace_and_replay_bit_for_bit() {
    use crate::trace::{Replay, ReplayOutcome, TraceHeader, TraceReader, record_run};
    let dir = std::env::temp_dir().join(format!("ruckus-role-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("roles.trace");
    let mut sim = members(5, 5, true, role_plan());
    let header = TraceHeader::new(5, "members", role_plan());
    let (_, summary) = record_run(&mut sim, &path, &header, None).unwrap();
    let mut reader = TraceReader::open(&path).unwrap();
    assert_eq!(reader.header().plan, role_plan());
    let events = reader.read_all().unwrap();
    let begins: Vec<(u32, u32, u32)> = events
        .iter()
        .filter(|e| e.record.kind == RecordKind::FaultBegin)
        .map(|e| (e.record.peer, e.record.process, e.record.host))
        .collect();
    // The leader at 120 ms is member 1; the random member is whoever the stream drew; all
    // odd members are 1 and 3; the ghost hit nobody.
    assert_eq!(begins[0], (0, 1, 1));
    assert_eq!(begins[1].0, 1);
    assert!(begins[1].1 < 5 && begins[1].1 == begins[1].2);
    let degraded: Vec<u32> = begins.iter().filter(|b| b.0 == 2).map(|b| b.2).collect();
    assert_eq!(degraded.len(), 2);
    assert!(degraded.contains(&1) && degraded.contains(&3));
    assert_eq!(*begins.last().unwrap(), (3, NONE, NONE));
    // Re-executed from the header, it matches the recording record for record.
    let reader = TraceReader::open(&path).unwrap();
    let mut again = members(5, 5, true, reader.header().plan.clone());
    let replay = Replay::attach(&mut again, reader, 3, None);
    match replay.run_to_end(&mut again).unwrap() {
        ReplayOutcome::Matches { fingerprint, .. } => assert_eq!(fingerprint, summary.fingerprint),
        ReplayOutcome::Diverged(d) => panic!("diverged: {d}"),
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn plans_without_role_faults_keep_their_encoding() {
    // A trace header's plan from before role faults existed: its postcard bytes, pinned.
    let old = FaultPlan {
        actions: vec![
            FaultAction {
                at: Instant(5),
                fault: Fault::CrashHost {
                    host: HostId(1),
                    down_for: Duration(10),
                },
            },
            FaultAction {
                at: Instant(7),
                fault: Fault::Degrade {
                    host: HostId(2),
                    mode: "s".into(),
                    duration: Duration(3),
                },
            },
        ],
        heal_at: Some(Instant(100)),
    };
    let bytes = postcard::to_allocvec(&old).unwrap();
    assert_eq!(bytes, vec![2, 5, 0, 1, 10, 7, 9, 2, 1, 115, 3, 1, 100]);
    assert_eq!(postcard::from_bytes::<FaultPlan>(&bytes).unwrap(), old);
    // Role faults follow the old variants, their target stored as its text.
    let new = role_plan();
    let back: FaultPlan = postcard::from_bytes(&postcard::to_allocvec(&new).unwrap()).unwrap();
    assert_eq!(back, new);
    let crash = postcard::to_allocvec(&new.actions[0].fault).unwrap();
    assert_eq!(crash[0], 10, "CrashRole is variant 10, after the ten host faults");
    assert_eq!(&crash[2..12], b"the leader");
}

#[test]
fn a_failing_run_with_role_faults_shrinks_to_killing_the_leader() {
    use crate::shrink::shrink_plan;
    let action = |t: u64, fault: Fault| FaultAction {
        at: Instant(ms(t).0),
        fault,
    };
    let mut actions: Vec<FaultAction> = (0..6)
        .map(|k| {
            action(
                40 + k * 90,
                Fault::PauseRole {
                    target: "a random member".parse().unwrap(),
                    paused_for: ms(30),
                },
            )
        })
        .collect();
    actions.push(action(
        150,
        Fault::DegradeRole {
            target: "all odd".parse().unwrap(),
            mode: "x".into(),
            duration: ms(300),
        },
    ));
    actions.push(action(250, crash("the leader", 100)));
    actions.push(action(
        600,
        Fault::IsolateRole {
            target: "a random member".parse().unwrap(),
            duration: ms(50),
        },
    ));
    let mut plan = FaultPlan {
        actions,
        heal_at: Some(Instant(ms(900).0)),
    };
    plan.sort();
    // The failure: a member that leads is crashed or killed.
    let leader_went_down = |p: &FaultPlan| {
        let mut s = members(2, 5, false, p.clone());
        s.run();
        (0..5u32).any(|id| {
            s.lifecycle(ProcessId(id)).iter().any(|e| {
                matches!(e.kind, Lifecycle::Crashed | Lifecycle::Killed)
                    && led_before(&s, id, e.time.0 / ms(1).0 + 1)
            })
        })
    };
    let out = shrink_plan(&plan, 300, leader_went_down).unwrap();
    assert_eq!(out.plan.actions.len(), 1, "{out}");
    let kept = &out.plan.actions[0];
    assert_eq!(kept.at, Instant(ms(250).0));
    let Fault::KillRole { target, down_for } = &kept.fault else {
        panic!("{out}")
    };
    assert_eq!(target, &RoleTarget::first("leader"));
    assert!(*down_for <= ms(2), "{down_for}");
    assert!(leader_went_down(&out.plan));
}

/// (index, kind, begin ms, end ms, hosts, processes) of every fault window, in begin order.
type WindowRow = (usize, FaultKind, u64, Option<u64>, Vec<u32>, Vec<u32>);

fn window_rows(s: &Sim<Member>) -> Vec<WindowRow> {
    let to_ms = |t: Instant| t.0 / ms(1).0;
    s.metrics()
        .fault_windows()
        .iter()
        .map(|w| {
            (
                w.index,
                w.kind,
                to_ms(w.begin),
                w.end.map(to_ms),
                w.hosts.iter().map(|h| h.0).collect(),
                w.processes.iter().map(|p| p.0).collect(),
            )
        })
        .collect()
}

#[test]
fn fault_windows_record_begin_end_and_what_each_fault_hit() {
    let faults = vec![
        (
            100,
            Fault::CrashHost {
                host: HostId(1),
                down_for: ms(200),
            },
        ),
        // p1 is down: the only live odd member is p3.
        (150, kill("a random odd", 100)),
        (
            200,
            Fault::ClockJump {
                host: HostId(0),
                delta_ns: 5,
            },
        ),
        (400, kill("a random ghost", 50)),
        (
            500,
            Fault::PauseHost {
                host: HostId(0),
                paused_for: ms(100),
            },
        ),
        (700, crash("a random odd", 150)),
        (
            800,
            Fault::Partition {
                partition: Partition::Isolate { host: HostId(2) },
                duration: ms(500),
            },
        ),
    ];
    let (s, _) = run(5, 4, faults);
    let rows = window_rows(&s);
    let crashed_odd = rows[5].4.clone();
    assert_eq!(crashed_odd.len(), 1, "{rows:?}");
    assert!([1, 3].contains(&crashed_odd[0]), "{rows:?}");
    assert_eq!(
        rows,
        vec![
            (0, FaultKind::Crash, 100, Some(300), vec![1], vec![1]),
            (1, FaultKind::KillProcess, 150, Some(250), vec![3], vec![3]),
            // Instantaneous: it ends as it begins.
            (2, FaultKind::ClockJump, 200, Some(200), vec![0], vec![]),
            // Hit nobody: a window all the same, with nothing in it.
            (3, FaultKind::KillProcess, 400, Some(450), vec![], vec![]),
            (4, FaultKind::Pause, 500, Some(600), vec![0], vec![0]),
            (
                5,
                FaultKind::Crash,
                700,
                Some(850),
                crashed_odd.clone(),
                crashed_odd
            ),
            // Still cut when the heal comes at 900 ms: the heal ends it.
            (6, FaultKind::Partition, 800, Some(900), vec![2], vec![]),
        ]
    );
    assert!(
        s.metrics().fault_windows()[1]
            .label
            .starts_with("kill a random odd for 100"),
        "{rows:?}"
    );
}

#[test]
fn a_checker_sees_each_fault_window_open_exactly_while_the_fault_acts() {
    let topo = Topology::single_switch(3, Distribution::constant(ms(1)));
    let mut s: Sim<Member> = Sim::new(SimConfig::with_seed(2), &topo);
    for id in 0..3 {
        s.spawn(
            HostId(id as u32),
            Member {
                id,
                n: 3,
                leader: false,
                ping: true,
            },
        );
    }
    let crash_at = |t: u64, host: u32, down: u64| FaultAction {
        at: Instant(ms(t).0),
        fault: Fault::CrashHost {
            host: HostId(host),
            down_for: ms(down),
        },
    };
    s.set_fault_plan(FaultPlan {
        actions: vec![crash_at(100, 1, 200), crash_at(500, 2, 1000)],
        heal_at: Some(Instant(ms(700).0)),
    })
    .unwrap();
    s.add_property(Property::always("windows_match_hosts", |v: &View<'_, Member>| {
        for w in v.fault_windows() {
            let open = w.end.is_none_or(|e| e > v.now());
            if open == v.host_up(w.hosts[0]) {
                return Err(format!(
                    "{} open: {open}, host up: {}",
                    w.label,
                    v.host_up(w.hosts[0])
                ));
            }
        }
        Ok(())
    }));
    let report = s.run();
    assert_eq!(report.verdict, Verdict::Held, "{report:?}");
    let ends: Vec<_> = s.metrics().fault_windows().iter().map(|w| w.end).collect();
    // The second crash would last to 1.5 s: the heal at 700 ms ends it.
    assert_eq!(ends, [Some(Instant(ms(300).0)), Some(Instant(ms(700).0))]);
}
