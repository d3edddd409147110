use super::*;
use crate::network::{HostSpec, Topology};
use crate::rng::Distribution;
use crate::time::Instant;

fn rate() -> FaultRate {
    FaultRate {
        mean_interval: Duration::from_secs(1),
        duration_min: Duration::from_millis(100),
        duration_max: Duration::from_secs(3),
    }
}

fn hosts(n: u32) -> Vec<HostSpec> {
    Topology::zoned(
        n,
        2,
        Distribution::constant(Duration::from_millis(1)),
        Distribution::constant(Duration::from_millis(1)),
    )
    .hosts()
    .to_vec()
}

#[test]
fn plans_are_reproducible_and_seed_dependent() {
    let mut p = FaultProfile::everything(rate());
    p.degrade_modes = vec!["slow:4".into(), "stall".into()];
    let h = hosts(5);
    let a = p.plan(1, &h, Duration::from_secs(60));
    assert_eq!(a, p.plan(1, &h, Duration::from_secs(60)));
    assert_ne!(a, p.plan(2, &h, Duration::from_secs(60)));
    assert!(a.actions.len() > 50, "{}", a.actions.len());
    for kind in FaultKind::ALL {
        assert!(
            a.actions.iter().any(|x| x.fault.kind() == kind),
            "{kind:?} missing"
        );
    }
    a.validate(&h).unwrap();
}

#[test]
fn enabling_a_kind_does_not_change_another_kinds_faults() {
    let h = hosts(5);
    let mut only_crash = FaultProfile::none();
    only_crash.crash = Some(rate());
    only_crash.max_hosts_down = 5;
    let mut with_clog = only_crash.clone();
    with_clog.clog = Some(rate());
    let crashes = |p: &FaultProfile| -> Vec<FaultAction> {
        p.plan(9, &h, Duration::from_secs(60))
            .actions
            .into_iter()
            .filter(|a| a.fault.kind() == FaultKind::Crash)
            .collect()
    };
    assert_eq!(crashes(&only_crash), crashes(&with_clog));
}

#[test]
fn max_hosts_down_and_quiet_period_hold() {
    let mut p = FaultProfile::none();
    p.crash = Some(rate());
    p.pause = Some(rate());
    p.max_hosts_down = 2;
    p.quiet_period = Duration::from_secs(10);
    for seed in 0..50 {
        let plan = p.plan(seed, &hosts(5), Duration::from_secs(100));
        assert_eq!(plan.heal_at, Some(Instant(Duration::from_secs(90).0)));
        let intervals: Vec<(Instant, Instant, HostId)> = plan
            .actions
            .iter()
            .map(|a| {
                let h = match a.fault {
                    Fault::CrashHost { host, .. } | Fault::PauseHost { host, .. } => host,
                    _ => unreachable!(),
                };
                (a.at, a.at.saturating_add(a.fault.duration().unwrap()), h)
            })
            .collect();
        for (start, end, host) in &intervals {
            assert!(*end <= plan.heal_at.unwrap());
            let overlapping: Vec<_> = intervals
                .iter()
                .filter(|(s, e, _)| s <= start && e > start)
                .collect();
            assert!(overlapping.len() <= 2, "seed {seed}: {overlapping:?}");
            assert_eq!(overlapping.iter().filter(|(_, _, h)| h == host).count(), 1);
        }
    }
}

#[test]
fn swarm_disables_some_kinds_on_some_seeds() {
    let mut p = FaultProfile::everything(rate());
    p.swarm = true;
    let h = hosts(5);
    let kinds_per_seed: Vec<usize> = (0..20)
        .map(|s| {
            let mut k: Vec<FaultKind> = p
                .plan(s, &h, Duration::from_secs(60))
                .actions
                .iter()
                .map(|a| a.fault.kind())
                .collect();
            k.sort();
            k.dedup();
            k.len()
        })
        .collect();
    assert!(kinds_per_seed.iter().any(|&k| k < 9), "{kinds_per_seed:?}");
    assert!(kinds_per_seed.iter().any(|&k| k >= 3), "{kinds_per_seed:?}");
}

#[test]
fn degrade_faults_pick_a_mode_and_leave_other_kinds_alone() {
    let h = hosts(5);
    let mut base = FaultProfile::everything(rate());
    base.swarm = true;
    let mut with = base.clone();
    with.degrade_modes = vec!["slow:4".into(), "errors:0.3".into(), "stall".into()];
    for seed in 0..10 {
        let a = base.plan(seed, &h, Duration::from_secs(60));
        let b = with.plan(seed, &h, Duration::from_secs(60));
        // No modes, no degrade faults.
        assert!(a.actions.iter().all(|x| x.fault.kind() != FaultKind::Degrade));
        let others: Vec<&FaultAction> = b
            .actions
            .iter()
            .filter(|x| x.fault.kind() != FaultKind::Degrade)
            .collect();
        assert_eq!(others, a.actions.iter().collect::<Vec<_>>(), "seed {seed}");
    }
    // Without swarm every mode turns up, each on a valid host.
    with.swarm = false;
    let plan = with.plan(3, &h, Duration::from_secs(120));
    let mut modes: Vec<&str> = plan
        .actions
        .iter()
        .filter_map(|x| match &x.fault {
            Fault::Degrade { mode, .. } => Some(mode.as_str()),
            _ => None,
        })
        .collect();
    modes.sort();
    modes.dedup();
    assert_eq!(modes, vec!["errors:0.3", "slow:4", "stall"]);
    plan.validate(&h).unwrap();
    let mut bad = with.clone();
    bad.degrade_modes.push(" ".into());
    assert!(bad.validate().unwrap_err().contains("degrade_modes.3"));
}

#[test]
fn validation_names_the_problem() {
    let plan = FaultPlan {
        actions: vec![FaultAction {
            at: Instant(0),
            fault: Fault::CrashHost {
                host: HostId(9),
                down_for: Duration(1),
            },
        }],
        heal_at: None,
    };
    let err = plan.validate(&hosts(3)).unwrap_err();
    assert!(err.contains("h9") && err.contains("3 hosts"), "{err}");
    let mut p = FaultProfile::none();
    p.crash = Some(FaultRate {
        duration_min: Duration(5),
        duration_max: Duration(1),
        ..rate()
    });
    assert!(p.validate().unwrap_err().contains("crash.duration_min"));
}

#[test]
fn plans_round_trip_through_serde() {
    let plan = FaultProfile::everything(rate()).plan(3, &hosts(4), Duration::from_secs(20));
    let bytes = postcard::to_allocvec(&plan).unwrap();
    let back: FaultPlan = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, plan);
    assert!(format!("{plan}").contains("heal everything at"));
}
