use super::*;
use crate::fault::{FaultProfile, FaultRate};
use crate::network::Topology;
use crate::network::{HostId, Partition};
use crate::rng::Distribution;

/// `n` crashes of hosts 0, 1, 2, ... one per microsecond, each lasting `down_for`.
fn crashes_of(n: usize, down_for: Duration) -> FaultPlan {
    FaultPlan {
        actions: (0..n)
            .map(|i| FaultAction {
                at: Instant(i as u64 * 1000),
                fault: Fault::CrashHost {
                    host: HostId(i as u32),
                    down_for,
                },
            })
            .collect(),
        heal_at: Some(Instant(1 << 40)),
    }
}

fn plan(n: usize) -> FaultPlan {
    crashes_of(n, Duration::from_secs(1))
}

fn has(p: &FaultPlan, host: u32) -> bool {
    p.actions
        .iter()
        .any(|a| matches!(a.fault, Fault::CrashHost { host: h, .. } if h.0 == host))
}

fn crashed_hosts(p: &FaultPlan) -> Vec<u32> {
    p.actions
        .iter()
        .map(|a| match a.fault {
            Fault::CrashHost { host, .. } => host.0,
            _ => unreachable!(),
        })
        .collect()
}

#[test]
fn faults_after_the_failure_are_dropped_in_one_test() {
    // 2,000 faults one per microsecond; the failure (at the 11th) needs faults #3 and #7.
    let p = crashes_of(2000, Duration::from_millis(1));
    let mut sizes = Vec::new();
    let r = shrink_plan_before(&p, &[], p.actions[10].at, 60, |c| {
        sizes.push(c.actions.len());
        (has(c, 3) && has(c, 7)).then_some(p.actions[10].at)
    })
    .unwrap();
    let kept: Vec<Instant> = r.plan.actions.iter().map(|a| a.at).collect();
    assert_eq!(kept, vec![p.actions[3].at, p.actions[7].at]);
    assert_eq!(r.removed.len(), 1998);
    assert!(!r.exhausted);
    assert_eq!(r.tests, sizes.len());
    assert_eq!(
        sizes[0], 11,
        "the first candidate is everything up to the failure"
    );
    assert!(sizes[1..].iter().all(|&n| n < 11), "{sizes:?}");
    // A plan whose prefix does not fail (the failure needs a later fault) still shrinks.
    let late = shrink_plan_before(&p, &[], p.actions[10].at, 200, |c| {
        (has(c, 3) && has(c, 20)).then_some(p.actions[20].at)
    })
    .unwrap();
    assert_eq!(late.plan.actions.len(), 2);
    // Nothing after the failure: the original is tested first, then the search as usual.
    let mut first = None;
    let all = shrink_plan_before(&plan(12), &[], Instant(1 << 40), 200, |c| {
        first.get_or_insert(c.actions.len());
        has(c, 5).then_some(Instant(1 << 40))
    })
    .unwrap();
    assert_eq!((first, crashed_hosts(&all.plan)), (Some(12), vec![5]));
    assert_eq!(
        shrink_plan_before(&p, &[], p.actions[10].at, 60, |_| None).unwrap_err(),
        ShrinkError::DoesNotFail
    );
}

#[test]
fn removal_finds_exactly_the_two_culprits_and_shortens_them_to_the_floor() {
    for n in [8, 10, 17, 40] {
        let r = shrink_plan(&plan(n), 1000, |p| has(p, 3) && has(p, 7)).unwrap();
        assert_eq!(crashed_hosts(&r.plan), vec![3, 7], "n = {n}");
        assert_eq!(r.removed.len(), n - 2);
        assert!(!r.exhausted);
        assert!(r.tests < 200, "{} tests for n = {n}", r.tests);
        // The predicate does not care about durations: 1 s halves down to the 1 ms floor.
        assert_eq!(r.simplified.len(), 2);
        for a in &r.plan.actions {
            let d = a.fault.duration().unwrap();
            assert!(
                d >= PlanSearch::DURATION_MIN && d.0 < 2 * PlanSearch::DURATION_MIN.0,
                "{d}"
            );
        }
        assert!(r.to_string().contains("simplified #3 from crash h3 for 1"), "{r}");
    }
}

#[test]
fn a_failure_that_needs_no_fault_shrinks_to_the_empty_plan() {
    let r = shrink_plan(&plan(5), 100, |_| true).unwrap();
    assert!(r.plan.actions.is_empty());
    assert_eq!(r.removed.len(), 5);
    assert_eq!(r.tests, 2, "the original, then no actions at all");
}

#[test]
fn one_of_several_alternatives_suffices() {
    // Fails if any of 2, 5, 9 is present: one of them is enough.
    let r = shrink_plan(&plan(12), 1000, |p| has(p, 2) || has(p, 5) || has(p, 9)).unwrap();
    assert_eq!(r.plan.actions.len(), 1);
}

#[test]
fn duration_shortening_stops_where_the_failure_stops() {
    let r = shrink_plan(&plan(3), 1000, |p| {
        p.actions.iter().any(|a| {
            a.fault
                .duration()
                .is_some_and(|d| d >= Duration::from_millis(100))
        })
    })
    .unwrap();
    assert_eq!(r.plan.actions.len(), 1);
    let d = r.plan.actions[0].fault.duration().unwrap();
    assert!(
        d >= Duration::from_millis(100) && d < Duration::from_millis(200),
        "{d}"
    );
}

#[test]
fn a_passing_start_is_an_error_and_the_budget_is_respected() {
    assert_eq!(
        shrink_plan(&plan(4), 10, |_| false).unwrap_err(),
        ShrinkError::DoesNotFail
    );
    let mut calls = 0;
    let r = shrink_plan(&plan(64), 10, |p| {
        calls += 1;
        has(p, 3) && has(p, 60)
    })
    .unwrap();
    assert!(r.exhausted);
    assert!(calls <= 10, "{calls}");
    assert!(has(&r.plan, 3) && has(&r.plan, 60));
}

fn zoned() -> Topology {
    Topology::zoned(
        6,
        2,
        Distribution::constant(Duration::from_millis(1)),
        Distribution::constant(Duration::from_millis(2)),
    )
}

fn action(at_ms: u64, fault: Fault) -> FaultAction {
    FaultAction {
        at: Instant(Duration::from_millis(at_ms).0),
        fault,
    }
}

/// Whether a partition of at least `min` cuts `a` from `b`.
fn cuts(p: &FaultPlan, a: u32, b: u32, hosts: &[HostSpec], min: Duration) -> bool {
    p.actions.iter().any(|x| match &x.fault {
        Fault::Partition { partition, duration } => {
            *duration >= min && partition.blocks(HostId(a), HostId(b), hosts)
        }
        _ => false,
    })
}

/// A busy plan: every kind of fault, with a bridge split cutting h1 from h2 and a crash of h3
/// buried among them.
fn busy_plan(hosts: &[HostSpec]) -> FaultPlan {
    let mut profile = FaultProfile::everything(FaultRate {
        mean_interval: Duration::from_millis(500),
        duration_min: Duration::from_millis(10),
        duration_max: Duration::from_millis(800),
    });
    profile.quiet_period = Duration::from_secs(1);
    profile.max_hosts_down = 6;
    let mut plan = profile.plan(11, hosts, Duration::from_secs(10));
    plan.actions.retain(|a| {
        let alone = FaultPlan {
            actions: vec![a.clone()],
            heal_at: None,
        };
        !has(&alone, 3) && !cuts(&alone, 1, 2, hosts, Duration::ZERO)
    });
    plan.actions.push(action(
        2_000,
        Fault::Partition {
            partition: Partition::Bridge {
                left: vec![HostId(0), HostId(1), HostId(4)],
                right: vec![HostId(2), HostId(5)],
                bridge: HostId(3),
            },
            duration: Duration::from_millis(900),
        },
    ));
    plan.actions.push(action(
        3_000,
        Fault::CrashHost {
            host: HostId(3),
            down_for: Duration::from_millis(700),
        },
    ));
    plan.sort();
    plan
}

#[test]
fn a_busy_plan_shrinks_to_its_two_culprits_made_simple_and_1_minimal() {
    let topology = zoned();
    let hosts = topology.hosts();
    let plan = busy_plan(hosts);
    assert!(plan.actions.len() > 40, "{}", plan.actions.len());
    let fails = |p: &FaultPlan| cuts(p, 1, 2, hosts, Duration::from_millis(100)) && has(p, 3);
    let r = PlanSearch::new(plan.clone(), hosts).run(0, 4096, fails);
    assert!(!r.exhausted && r.tests < 400, "{} tests", r.tests);
    assert_eq!(r.plan.heal_at, plan.heal_at);
    assert_eq!(r.plan.actions.len(), 2, "{}", r.plan);
    assert_eq!(r.removed.len() + 2, plan.actions.len());
    // The bridge became the isolation of one of the two hosts, its duration within a factor of
    // two of the threshold; the crash shrank to the 1 ms floor.
    match &r.plan.actions[0].fault {
        Fault::Partition {
            partition: Partition::Isolate { host },
            duration,
        } => {
            assert!(host.0 == 1 || host.0 == 2, "{}", r.plan);
            assert!(*duration >= Duration::from_millis(100) && *duration < Duration::from_millis(200));
        }
        other => panic!("expected an isolation, got {other}"),
    }
    assert_eq!(
        r.plan.actions[1].fault,
        Fault::CrashHost {
            host: HostId(3),
            down_for: Duration(Duration::from_millis(700).0 >> 9)
        }
    );
    // 1-minimal: no single removal and no single simplification still fails.
    for i in 0..r.plan.actions.len() {
        let mut fewer = r.plan.clone();
        fewer.actions.remove(i);
        assert!(!fails(&fewer), "action #{i} is not needed");
        for simpler in simplifications(&r.plan.actions[i].fault, hosts) {
            let mut candidate = r.plan.clone();
            candidate.actions[i].fault = simpler;
            assert!(!fails(&candidate), "action #{i} could be simpler:\n{candidate}");
        }
    }
}

#[test]
fn the_search_is_driven_step_by_step() {
    let topology = zoned();
    let hosts = topology.hosts();
    let plan = busy_plan(hosts);
    let fails = |p: &FaultPlan| cuts(p, 1, 2, hosts, Duration::from_millis(100)) && has(p, 3);
    let mut search = PlanSearch::new(plan.clone(), hosts).failed_at(Instant(Duration::from_secs(4).0));
    // Answers without a pending candidate change nothing.
    search.keep();
    search.reject();
    assert_eq!(search.best(), &plan);
    assert_eq!(search.pending(), None);
    let first = search.propose().cloned().unwrap();
    assert!(
        first.actions.iter().all(|a| a.at.0 <= Duration::from_secs(4).0)
            && first.actions.len() < plan.actions.len(),
        "the first candidate is the cut at the failure"
    );
    assert_eq!(search.propose(), Some(&first), "unanswered, it is proposed again");
    let mut proposed = vec![first];
    loop {
        let candidate = search.pending().unwrap().clone();
        if fails(&candidate) {
            search.keep();
            assert_eq!(search.best(), &candidate);
        } else {
            search.reject();
        }
        match search.propose() {
            Some(next) => proposed.push(next.clone()),
            None => break,
        }
    }
    assert_eq!(search.pending(), None);
    // The same search as a loop, and no candidate proposed twice.
    let looped = PlanSearch::new(plan.clone(), hosts)
        .failed_at(Instant(Duration::from_secs(4).0))
        .run(0, 4096, fails);
    assert_eq!(&looped.plan, search.best());
    assert_eq!(looped.tests, proposed.len());
    for (i, p) in proposed.iter().enumerate() {
        assert!(!proposed[..i].contains(p), "candidate {i} was proposed before");
    }
}

#[test]
fn zone_cuts_become_splits_only_with_the_hosts() {
    let topology = zoned();
    let zone = topology.hosts()[0].zone.clone().unwrap();
    let cut = Fault::Partition {
        partition: Partition::Zone { zone },
        duration: Duration::from_millis(1),
    };
    assert!(simplifications(&cut, &[]).is_empty());
    assert_eq!(simplifications(&cut, topology.hosts()).len(), 1);
}

#[test]
fn simplifications_shrink_every_kind() {
    let topology = zoned();
    let hosts = topology.hosts();
    let d = Duration::from_millis(40);
    let zone = hosts[0].zone.clone().unwrap();
    let halves = simplifications(
        &Fault::Partition {
            partition: Partition::Zone { zone },
            duration: d,
        },
        hosts,
    );
    assert!(matches!(
        &halves[0],
        Fault::Partition { partition: Partition::Halves { side }, .. } if side.len() == 3
    ));
    let isolate = simplifications(&halves[0], hosts);
    assert!(matches!(
        isolate[0],
        Fault::Partition {
            partition: Partition::Isolate { .. },
            ..
        }
    ));
    assert_eq!(
        isolate.len(),
        3 + 3 + 1,
        "isolate each, drop each, halve the duration"
    );
    let bridge = simplifications(
        &Fault::Partition {
            partition: Partition::Bridge {
                left: vec![HostId(0), HostId(1)],
                right: vec![HostId(2)],
                bridge: HostId(3),
            },
            duration: d,
        },
        hosts,
    );
    assert_eq!(
        bridge[0],
        Fault::Partition {
            partition: Partition::Halves {
                side: vec![HostId(0), HostId(1)]
            },
            duration: d
        }
    );
    assert_eq!(bridge.len(), 1 + 2 + 1, "a split, drop each of left, halve");
    let chaos = simplifications(
        &Fault::NetworkChaos {
            chaos: FaultProfile::default().chaos,
            duration: Duration::from_micros(1500),
        },
        hosts,
    );
    assert_eq!(
        chaos.len(),
        3,
        "one per rate; 1.5 ms does not halve below the floor"
    );
    let kill = Fault::KillProcess {
        host: HostId(1),
        process_index: 9000,
        down_for: d,
    };
    assert_eq!(simplifications(&kill, hosts).len(), 5);
    let jump = Fault::ClockJump {
        host: HostId(0),
        delta_ns: -(Duration::from_millis(3).0 as i64),
    };
    assert_eq!(
        simplifications(&jump, hosts),
        vec![Fault::ClockJump {
            host: HostId(0),
            delta_ns: -(Duration::from_micros(1500).0 as i64)
        }]
    );
    let drift = Fault::ClockDrift {
        host: HostId(0),
        drift_ppm: 301,
        duration: Duration::from_micros(1999),
    };
    assert_eq!(
        simplifications(&drift, hosts),
        vec![Fault::ClockDrift {
            host: HostId(0),
            drift_ppm: 150,
            duration: Duration::from_micros(1999),
        }]
    );
    let slow = Fault::SlowLink {
        from: HostId(0),
        to: HostId(1),
        factor: 5,
        duration: d,
    };
    assert!(matches!(
        simplifications(&slow, hosts)[0],
        Fault::SlowLink { factor: 2, .. }
    ));
    let floor = Fault::CrashHost {
        host: HostId(0),
        down_for: Duration::from_micros(1999),
    };
    assert!(simplifications(&floor, hosts).is_empty());
}

#[test]
fn role_faults_simplify_towards_a_kill_of_the_first_player() {
    use crate::fault::RoleTarget;
    let crash = Fault::CrashRole {
        target: RoleTarget::percent("tier1", 50),
        down_for: Duration::from_secs(2),
    };
    let options = simplifications(&crash, &[]);
    assert_eq!(
        options,
        vec![
            Fault::KillRole {
                target: RoleTarget::percent("tier1", 50),
                down_for: Duration::from_secs(2),
            },
            Fault::CrashRole {
                target: RoleTarget::random("tier1"),
                down_for: Duration::from_secs(2),
            },
            Fault::CrashRole {
                target: RoleTarget::percent("tier1", 50),
                down_for: Duration::from_secs(1),
            },
        ]
    );
    let random = Fault::IsolateRole {
        target: RoleTarget::random("leader"),
        duration: Duration::from_millis(1),
    };
    // Already at the shortest duration: only the pick gets simpler.
    assert_eq!(
        simplifications(&random, &[]),
        vec![Fault::IsolateRole {
            target: RoleTarget::first("leader"),
            duration: Duration::from_millis(1),
        }]
    );
    let first = Fault::DegradeRole {
        target: RoleTarget::first("leader"),
        mode: "slow:2".into(),
        duration: Duration::from_millis(1),
    };
    assert!(simplifications(&first, &[]).is_empty());
}

#[test]
fn a_plan_of_role_faults_shrinks_to_the_one_that_matters() {
    use crate::fault::RoleTarget;
    let role = |at: u64, fault: Fault| FaultAction {
        at: Instant(at * 1_000_000),
        fault,
    };
    let mut actions = vec![role(
        40,
        Fault::CrashRole {
            target: RoleTarget::percent("leader", 100),
            down_for: Duration::from_secs(4),
        },
    )];
    for k in 0..12u32 {
        actions.push(role(
            50 + u64::from(k) * 10,
            Fault::PauseRole {
                target: RoleTarget::random("follower"),
                paused_for: Duration::from_millis(300),
            },
        ));
    }
    let plan = FaultPlan {
        actions,
        heal_at: Some(Instant(1 << 40)),
    };
    // The failure: the leader's process goes down for at least 2 ms (by a crash or a kill).
    let fails = |p: &FaultPlan| {
        p.actions.iter().any(|a| match &a.fault {
            Fault::CrashRole { target, down_for } | Fault::KillRole { target, down_for } => {
                target.role == "leader" && *down_for >= Duration::from_millis(2)
            }
            _ => false,
        })
    };
    let out = shrink_plan(&plan, 500, fails).unwrap();
    assert_eq!(out.plan.actions.len(), 1, "{out}");
    let Fault::KillRole { target, down_for } = &out.plan.actions[0].fault else {
        panic!("{out}")
    };
    assert_eq!(target, &RoleTarget::first("leader"));
    assert!(*down_for < Duration::from_millis(4), "{down_for}");
    assert_eq!(out.removed.len(), 12);
}

/// 1,200 faults of four kinds spread over 20 s; the failure needs one crash early, one pause
/// in the middle and one late crash (the shape of a long raft run's first failure).
fn huge_plan() -> FaultPlan {
    let mut actions = Vec::new();
    for i in 0..1200u64 {
        let at = Instant(i * 16_000_000 + (i * 7919) % 1_000_000);
        let host = HostId((i % 5) as u32);
        let d = Duration::from_millis(1 + i % 30);
        let fault = match i % 4 {
            0 => Fault::CrashHost { host, down_for: d },
            1 => Fault::PauseHost { host, paused_for: d },
            2 => Fault::Clog {
                from: host,
                to: HostId(((i + 1) % 5) as u32),
                duration: d,
            },
            _ => Fault::SlowLink {
                from: host,
                to: HostId(((i + 2) % 5) as u32),
                factor: 4,
                duration: d,
            },
        };
        actions.push(FaultAction { at, fault });
    }
    let mut plan = FaultPlan {
        actions,
        heal_at: Some(Instant(30_000_000_000)),
    };
    plan.sort();
    plan
}

#[test]
fn a_plan_of_a_thousand_faults_shrinks_by_kind_and_window_within_the_default_budget() {
    let plan = huge_plan();
    let culprits = [
        plan.actions[40].clone(),
        plan.actions[601].clone(),
        plan.actions[1100].clone(),
    ];
    let fails = |p: &FaultPlan| culprits.iter().all(|c| p.actions.iter().any(|a| a.at == c.at));
    let mut sizes = Vec::new();
    let r = PlanSearch::new(plan.clone(), &[]).run(0, 500, |p| {
        sizes.push(p.actions.len());
        fails(p)
    });
    assert!(
        !r.exhausted,
        "{} tests, {} actions left",
        r.tests,
        r.plan.actions.len()
    );
    assert_eq!(r.plan.actions.len(), 3, "{}", r.plan);
    // Whole kinds go first (equal counts: in kind order): without the crashes and without the
    // pauses fail to fail, without the clogs and then the slow links go, one test each; then
    // whole hosts: the culprits are on h0 and h1, the faults on h2, h3, h4 go; then time.
    assert_eq!(
        &sizes[1..10],
        &[900, 900, 900, 600, 480, 480, 480, 360, 240],
        "{sizes:?}"
    );
    assert!(r.tests < 100, "{} tests", r.tests);
    assert!(r.minimal, "every single removal was tried");
    assert!(r.to_string().contains("1-minimal"), "{r}");
}

/// `n` crashes one per millisecond, on hosts 0..5 in turn, each 10 ms long.
fn spread(n: usize) -> FaultPlan {
    FaultPlan {
        actions: (0..n)
            .map(|i| FaultAction {
                at: Instant(i as u64 * 1_000_000),
                fault: Fault::CrashHost {
                    host: HostId((i % 5) as u32),
                    down_for: Duration::from_millis(10),
                },
            })
            .collect(),
        heal_at: Some(Instant(1 << 40)),
    }
}

fn at(p: &FaultPlan, t: Instant) -> bool {
    p.actions.iter().any(|a| a.at == t)
}

#[test]
fn twelve_culprits_among_a_hundred_and_twenty_are_found_and_shown_1_minimal_in_few_runs() {
    // ddmin's complement step restarts at a coarser split after every removal: this plan (12
    // culprits spread evenly, every 10th action) cost the search that used it 388 runs, this
    // one about 100. The chunk sweeps keep their size and place.
    let p = spread(120);
    let culprits: Vec<Instant> = (0..12).map(|k| p.actions[k * 10 + 3].at).collect();
    let fails = |c: &FaultPlan| culprits.iter().all(|&t| at(c, t));
    let r = PlanSearch::new(p.clone(), &[]).run(0, 500, fails);
    assert!(!r.exhausted, "{r}");
    assert_eq!(r.plan.actions.len(), 12, "{r}");
    assert!(r.minimal);
    assert!(r.tests <= 150, "{} tests", r.tests);
}

#[test]
fn two_culprits_among_a_thousand_take_few_runs() {
    // Two needed actions at known positions among 1,000 of one kind on five hosts.
    for (a, b) in [(0, 999), (3, 7), (412, 413), (250, 750)] {
        let p = spread(1000);
        let (ta, tb) = (p.actions[a].at, p.actions[b].at);
        let r = PlanSearch::new(p, &[]).run(0, 500, |c| at(c, ta) && at(c, tb));
        assert_eq!(r.plan.actions.len(), 2, "{a}, {b}: {r}");
        assert!(r.minimal && !r.exhausted);
        // Removal takes about 2 log2(1000) runs per culprit, the rest halves the durations
        // (31 to 49 runs; the ddmin search before took up to 73).
        assert!(r.tests <= 60, "{a}, {b}: {} tests", r.tests);
    }
}

#[test]
fn a_smaller_plan_that_fails_earlier_loses_the_faults_after_its_failure_in_one_run() {
    // The failure needs #5; with #80 present it shows only at #90's time, without it right
    // after #5. Once #80 is gone, one cut drops everything after #5.
    let p = spread(100);
    let (t5, t80, t90) = (p.actions[5].at, p.actions[80].at, p.actions[90].at);
    let mut tried = Vec::new();
    let r = PlanSearch::new(p.clone(), &[])
        .failed_at(t90)
        .run_timed(0, 500, |c| {
            let failed = at(c, t5).then(|| if at(c, t80) { t90 } else { Instant(t5.0 + 1) });
            tried.push((c.clone(), failed));
            failed
        });
    assert_eq!(r.plan.actions.len(), 1, "{r}");
    assert!(r.minimal);
    // The first kept candidate without #80 fails right after #5: the next candidate is the
    // same plan cut there.
    let moved = tried
        .iter()
        .position(|(c, failed)| failed.is_some() && !at(c, t80))
        .expect("a smaller plan failed earlier");
    let (before, next) = (&tried[moved].0, &tried[moved + 1].0);
    assert!(before.actions.iter().any(|a| a.at > t5), "{before}");
    let kept: Vec<&FaultAction> = before.actions.iter().filter(|a| a.at <= t5).collect();
    assert_eq!(next.actions.iter().collect::<Vec<_>>(), kept);
    // Without the time, the same search needs more runs.
    let blind = PlanSearch::new(p, &[]).run(0, 500, |c| at(c, t5));
    assert_eq!(blind.plan, r.plan);
}

#[test]
fn the_last_stretch_before_the_failure_is_tried_alone() {
    // 640 actions over 640 ms on five hosts; the failure at 639 ms needs the last three (on
    // h2, h3, h4). The faults of h0 and h1 go whole, then the last 1/32 of the time alone (its
    // 12 actions on h2-h4) still fails.
    let p = spread(640);
    let last: Vec<Instant> = p.actions[637..].iter().map(|a| a.at).collect();
    let mut sizes = Vec::new();
    let r = PlanSearch::new(p.clone(), &[])
        .failed_at(last[2])
        .run(0, 500, |c| {
            sizes.push(c.actions.len());
            last.iter().all(|&t| at(c, t))
        });
    assert_eq!(r.plan.actions.len(), 3, "{r}");
    assert_eq!(&sizes[..7], &[0, 512, 384, 256, 256, 256, 12], "{sizes:?}");
    assert!(r.tests <= 25, "{} tests", r.tests);
}

#[test]
fn a_search_out_of_passes_still_sweeps_single_removals() {
    // Every duration simplification is kept (the predicate ignores durations), so passes go on
    // changing the plan until the limit; the final sweep still shows 1-minimality.
    let p = crashes_of(6, Duration::from_secs(3600));
    let r = PlanSearch::new(p, &[]).run(0, 10_000, |c| has(c, 1) && has(c, 4));
    assert_eq!(crashed_hosts(&r.plan), vec![1, 4]);
    assert!(r.minimal && !r.exhausted, "{r}");
    // Out of budget: the plan is whatever was reached, never claimed 1-minimal.
    let short = PlanSearch::new(plan(40), &[]).run(0, 5, |c| has(c, 1) && has(c, 30));
    assert!(short.exhausted && !short.minimal, "{short}");
    assert!(!short.to_string().contains("1-minimal"), "{short}");
}

#[test]
fn a_time_budget_stops_the_search_where_it_stands() {
    let original = plan(40);
    let fails = |p: &FaultPlan| (has(p, 7) && has(p, 30)).then_some(Instant(1 << 30));
    // Out of time from the start: no test, the plan as it was.
    let r = shrink_plan_before_until(&original, &[], Instant(1 << 30), 500, || true, fails).unwrap();
    assert!(r.out_of_time && r.exhausted && !r.minimal);
    assert_eq!((r.tests, &r.plan), (0, &original));
    assert!(r.to_string().contains("(time budget exhausted)"), "{r}");
    // Time for five tests: five, then the best so far, which still fails.
    let mut asked = 0;
    let r = shrink_plan_before_until(
        &original,
        &[],
        Instant(1 << 30),
        500,
        || {
            asked += 1;
            asked > 5
        },
        fails,
    )
    .unwrap();
    assert!(r.out_of_time && r.exhausted, "{r}");
    assert_eq!(r.tests, 5);
    assert!(fails(&r.plan).is_some());
    // The same answers, the same search: a deadline never read makes no difference.
    let unbounded = shrink_plan_before_until(&original, &[], Instant(1 << 30), 500, || false, fails).unwrap();
    let plain = shrink_plan_before(&original, &[], Instant(1 << 30), 500, fails).unwrap();
    assert_eq!(unbounded, plain);
    assert!(!plain.out_of_time && !plain.exhausted && plain.minimal);
    assert_eq!(plain.plan.actions.len(), 2);
}

#[test]
fn a_time_budget_stops_the_workload_search_too() {
    use crate::shrink::{Knob, shrink_knobs_until};
    let knobs = [Knob {
        name: "clients".into(),
        value: 9,
        min: 1,
    }];
    let r = shrink_knobs_until(&knobs, 100, || true, |_| true);
    assert!(r.out_of_time && r.exhausted && r.tests == 0 && r.reduced.is_empty());
    assert!(r.to_string().contains("(time budget exhausted)"), "{r}");
    let r = shrink_knobs_until(&knobs, 100, || false, |v| v[0] >= 4);
    assert!(!r.out_of_time && !r.exhausted);
    assert_eq!(r.knobs[0].value, 4);
}
