use super::*;
use crate::fault::{FaultPlan, FaultRate, Pick};
use crate::network::Topology;
use crate::rng::Distribution;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `n` hosts over zones z0, z1, z2 (host i in zone i % 3).
fn hosts(n: u32) -> Vec<HostSpec> {
    Topology::zoned(
        n,
        3,
        Distribution::constant(Duration::from_millis(1)),
        Distribution::constant(Duration::from_millis(5)),
    )
    .hosts()
    .to_vec()
}

fn plan(p: &FaultProfile, seed: u64) -> FaultPlan {
    p.plan(seed, &hosts(9), s(100))
}

fn killer() -> InstanceKiller {
    InstanceKiller {
        roles: vec!["tier1".into(), "tier2".into()],
        every: s(4),
        from: s(10),
        until: Some(s(30)),
        down_for: s(2),
    }
}

#[test]
fn the_instance_killer_kills_a_random_instance_of_a_named_role_at_a_steady_rate() {
    let mut p = FaultProfile::none();
    p.instance_killer = Some(killer());
    let plan = plan(&p, 1);
    let times: Vec<u64> = plan.actions.iter().map(|a| a.at.0 / s(1).0).collect();
    assert_eq!(times, vec![14, 18, 22, 26]);
    let mut roles = Vec::new();
    for a in &plan.actions {
        let Fault::KillRole { target, down_for } = &a.fault else {
            panic!("{}", a.fault)
        };
        assert_eq!((target.pick, *down_for), (Pick::Random, s(2)));
        roles.push(target.role.clone());
    }
    assert!(roles.iter().all(|r| r == "tier1" || r == "tier2"), "{roles:?}");
    // The group is drawn per kill from the part's own stream: reproducible, varies by seed.
    assert_eq!(plan, self::plan(&p, 1));
    let roles_of = |seed| -> Vec<String> {
        self::plan(&p, seed)
            .actions
            .iter()
            .map(|a| a.fault.target().unwrap().role.clone())
            .collect()
    };
    assert!(
        (2..10).any(|seed| roles_of(seed) != roles),
        "every seed killed alike"
    );
}

#[test]
fn chaos_parts_leave_the_per_kind_faults_exactly_as_they_were() {
    let rate = FaultRate {
        mean_interval: s(3),
        duration_min: s(1),
        duration_max: s(2),
    };
    let mut base = FaultProfile::everything(rate);
    base.degrade_modes = vec!["slow:2".into()];
    let mut with = base.clone();
    with.instance_killer = Some(killer());
    with.zone_outage = Some(ZoneOutage {
        zone: None,
        at: s(40),
        down_for: s(5),
    });
    with.leader_crash = Some(LeaderCrash {
        target: RoleTarget::first("leader"),
        at: None,
        down_for: s(3),
    });
    for seed in 0..5 {
        let a = plan(&base, seed);
        let b = plan(&with, seed);
        let host_faults: Vec<&FaultAction> = b
            .actions
            .iter()
            .filter(|x| x.fault.target().is_none())
            .filter(|x| !(x.at == Instant(s(40).0) && matches!(x.fault, Fault::CrashHost { .. })))
            .collect();
        assert_eq!(host_faults, a.actions.iter().collect::<Vec<_>>(), "seed {seed}");
        assert!(b.actions.windows(2).all(|w| w[0].at <= w[1].at), "sorted");
    }
}

#[test]
fn a_zone_outage_takes_every_host_of_one_zone_down_at_once() {
    let mut p = FaultProfile::none();
    p.max_hosts_down = 1;
    p.zone_outage = Some(ZoneOutage {
        zone: Some("z1".into()),
        at: s(20),
        down_for: s(10),
    });
    let plan = plan(&p, 3);
    let down: Vec<(u64, u32, Duration)> = plan
        .actions
        .iter()
        .map(|a| match a.fault {
            Fault::CrashHost { host, down_for } => (a.at.0, host.0, down_for),
            _ => panic!("{}", a.fault),
        })
        .collect();
    // Hosts 1, 4 and 7 form z1: all three, beyond max_hosts_down, at the same instant.
    assert_eq!(
        down,
        vec![(s(20).0, 1, s(10)), (s(20).0, 4, s(10)), (s(20).0, 7, s(10))]
    );
    // Without a zone named, one is drawn per seed from the topology's zones.
    p.zone_outage.as_mut().unwrap().zone = None;
    let zone_of = |seed| {
        let plan = self::plan(&p, seed);
        let Fault::CrashHost { host, .. } = plan.actions[0].fault else {
            panic!()
        };
        assert_eq!(plan.actions.len(), 3);
        host.0 % 3
    };
    let zones: Vec<u32> = (0..12).map(zone_of).collect();
    assert!(
        zones.contains(&0) && zones.contains(&1) && zones.contains(&2),
        "{zones:?}"
    );
    assert!(p.validate_zones(&hosts(9)).is_ok());
    let flat = Topology::single_switch(3, Distribution::constant(Duration(1)))
        .hosts()
        .to_vec();
    assert!(p.validate_zones(&flat).unwrap_err().contains("zones"));
    p.zone_outage.as_mut().unwrap().zone = Some("z9".into());
    assert!(p.validate_zones(&hosts(9)).unwrap_err().contains("z9"));
}

#[test]
fn latency_skew_partition_and_leader_crash_land_where_the_profile_says() {
    let mut p = FaultProfile::none();
    p.quiet_period = s(10);
    p.latency_monkey = Some(LatencyMonkey {
        role: "tier1".into(),
        percent: 30,
        mode: "slow:5".into(),
        at: s(5),
        duration: s(200),
    });
    p.zone_partition = Some(ZonePartition {
        zone: Some("z2".into()),
        at: s(12),
        duration: s(3),
    });
    p.clock_skew = Some(ClockSkew {
        percent: 34,
        drift_ppm: 500,
        jump: Duration::from_millis(20),
        at: s(7),
        duration: s(4),
    });
    p.leader_crash = Some(LeaderCrash {
        target: RoleTarget::first("leader"),
        at: None,
        down_for: s(2),
    });
    let plan = plan(&p, 4);
    let find = |pred: &dyn Fn(&Fault) -> bool| -> Vec<&FaultAction> {
        plan.actions.iter().filter(|a| pred(&a.fault)).collect()
    };
    // The degradation is cut to end when faults stop (100 s - 10 s quiet).
    let degrade = find(&|f| matches!(f, Fault::DegradeRole { .. }));
    assert_eq!(degrade.len(), 1);
    assert_eq!(
        degrade[0].fault,
        Fault::DegradeRole {
            target: RoleTarget::percent("tier1", 30),
            mode: "slow:5".into(),
            duration: s(85),
        }
    );
    let cut = find(&|f| matches!(f, Fault::Partition { .. }));
    assert_eq!(cut.len(), 1);
    assert_eq!(
        cut[0].fault,
        Fault::Partition {
            partition: Partition::Zone { zone: "z2".into() },
            duration: s(3)
        }
    );
    // 34% of 9 hosts, rounded up: 4 distinct hosts drift by ±500 ppm and step by ±20 ms.
    let drifts = find(&|f| matches!(f, Fault::ClockDrift { .. }));
    let jumps = find(&|f| matches!(f, Fault::ClockJump { .. }));
    assert_eq!((drifts.len(), jumps.len()), (4, 4));
    let mut skewed: Vec<HostId> = drifts
        .iter()
        .map(|a| match a.fault {
            Fault::ClockDrift { host, drift_ppm, .. } => {
                assert_eq!(drift_ppm.abs(), 500);
                host
            }
            _ => unreachable!(),
        })
        .collect();
    skewed.dedup();
    assert_eq!(skewed.len(), 4);
    // The leader crash, by default, halfway to when faults stop.
    let crash = find(&|f| matches!(f, Fault::CrashRole { .. }));
    assert_eq!(crash.len(), 1);
    assert_eq!(crash[0].at, Instant(s(45).0));
    plan.validate(&hosts(9)).unwrap();
}

#[test]
fn role_fault_rates_arrive_within_their_window() {
    let mut p = FaultProfile::none();
    p.role_faults = vec![RoleFaultRate {
        action: RoleAction::Pause,
        target: RoleTarget::random("follower"),
        mean_interval: Duration::from_millis(500),
        from: s(20),
        until: Some(s(40)),
        duration_min: Duration::from_millis(100),
        duration_max: Duration::from_millis(300),
        mode: None,
    }];
    let plan = plan(&p, 8);
    assert!(plan.actions.len() > 20, "{}", plan.actions.len());
    for a in &plan.actions {
        assert!(a.at >= Instant(s(20).0) && a.at < Instant(s(40).0), "{}", a.at);
        let Fault::PauseRole { target, paused_for } = &a.fault else {
            panic!("{}", a.fault)
        };
        assert_eq!(target, &RoleTarget::random("follower"));
        assert!((Duration::from_millis(100)..=Duration::from_millis(300)).contains(paused_for));
    }
    let expected = p.expected_actions(s(100));
    assert_eq!(expected.len(), 1);
    assert_eq!(expected[0].0, FaultKind::Pause);
    assert!((expected[0].1 - 40.0).abs() < 1e-9, "{expected:?}");
}

#[test]
fn validation_names_the_chaos_field_at_fault() {
    let check = |f: &dyn Fn(&mut FaultProfile)| {
        let mut p = FaultProfile::none();
        f(&mut p);
        p.validate().unwrap_err()
    };
    assert!(
        check(&|p| p.instance_killer = Some(InstanceKiller {
            roles: vec![],
            ..killer()
        }))
        .starts_with("instance_killer.roles")
    );
    assert!(
        check(&|p| p.instance_killer = Some(InstanceKiller {
            every: Duration::ZERO,
            ..killer()
        }))
        .starts_with("instance_killer.every")
    );
    assert!(
        check(&|p| {
            p.latency_monkey = Some(LatencyMonkey {
                role: "api".into(),
                percent: 0,
                mode: "slow:2".into(),
                at: s(1),
                duration: s(1),
            })
        })
        .starts_with("latency_monkey.percent")
    );
    assert!(
        check(&|p| {
            p.role_faults = vec![RoleFaultRate {
                action: RoleAction::Degrade,
                target: RoleTarget::first("api"),
                mean_interval: s(1),
                from: Duration::ZERO,
                until: None,
                duration_min: s(1),
                duration_max: s(1),
                mode: None,
            }]
        })
        .starts_with("role_faults.0.mode")
    );
    let mut ok = FaultProfile::none();
    ok.instance_killer = Some(killer());
    assert!(ok.validate().is_ok());
    assert!(!ok.is_empty(), "a profile with only a chaos part is not empty");
}

#[test]
fn chaos_parts_parse_from_a_scenario_profile() {
    let text = r#"
        quiet_period = "5s"
        instance_killer = { roles = ["tier1"], every = "10s", from = "20s", down_for = "5s" }
        latency_monkey = { role = "tier2", percent = 30, mode = "slow:4", at = "30s", duration = "20s" }
        zone_outage = { zone = "z1", at = "60s", down_for = "30s" }
        leader_crash = { down_for = "3s" }
        [[role_faults]]
        action = "isolate"
        target = "the leader"
        mean_interval = "15s"
    "#;
    let p: FaultProfile = toml::from_str(text).unwrap();
    assert_eq!(p.instance_killer.as_ref().unwrap().every, s(10));
    assert_eq!(
        p.leader_crash.as_ref().unwrap().target,
        RoleTarget::first("leader")
    );
    assert_eq!(p.role_faults[0].action, RoleAction::Isolate);
    p.validate().unwrap();
    let bad =
        toml::from_str::<FaultProfile>("leader_crash = { target = \"the big one\", down_for = \"1s\" }");
    assert!(bad.unwrap_err().to_string().contains("not understood"));
}
