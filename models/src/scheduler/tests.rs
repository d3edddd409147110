use super::placement::*;
use super::policy::ReconnectPolicy;
use super::state::*;
use super::*;
use ruckus_sim::{
    Fault, FaultAction, FaultPlan, FaultProfile, FaultRate, Limits, Progress, RunReport, SimConfig, Verdict,
    check_determinism,
};

fn build(config: &Config, seed: u64, horizon: Duration, plan: FaultPlan) -> Sim<Scheduler> {
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits = Limits {
        horizon,
        ..Limits::default()
    };
    let mut sim = Sim::new(sim_config, &config.topology());
    setup(&mut sim, config);
    sim.set_fault_plan(plan).expect("valid plan");
    for p in properties(config) {
        sim.add_property(p);
    }
    sim
}

fn run(config: &Config, seed: u64, horizon: Duration, plan: FaultPlan) -> (RunReport, Sim<Scheduler>) {
    let mut sim = build(config, seed, horizon, plan);
    let report = sim.run();
    (report, sim)
}

fn servers(sim: &Sim<Scheduler>) -> impl Iterator<Item = &Server> {
    (0..64)
        .map_while(|i| sim.process(ProcessId(i)))
        .filter_map(Scheduler::as_server)
}

/// The replicated state as far as the furthest server applied it.
fn state(sim: &Sim<Scheduler>) -> &ClusterState {
    servers(sim)
        .max_by_key(|s| s.raft.applied)
        .map(Server::state)
        .expect("a live server")
}

fn most_heartbeats(sim: &Sim<Scheduler>) -> u64 {
    servers(sim).map(|s| s.max_window_heartbeats).max().unwrap_or(0)
}

/// Crashes the host of node `node` (with the default three servers).
fn crash(node: u32, at_s: u64, down_s: u64) -> FaultAction {
    crash_host(Config::default().node_host(node).0, at_s, down_s)
}

fn crash_host(host: u32, at_s: u64, down_s: u64) -> FaultAction {
    FaultAction {
        at: Instant::ZERO + Duration::from_secs(at_s),
        fault: Fault::CrashHost {
            host: HostId(host),
            down_for: Duration::from_secs(down_s),
        },
    }
}

fn failed_property(report: &RunReport) -> Option<&str> {
    report.failure.as_ref().and_then(|f| f.property.as_deref())
}

// ---- the state machine ----

fn one_node_state(cpu: u64) -> ClusterState {
    let mut s = ClusterState::default();
    s.apply(Command::RegisterNode {
        id: NodeId(0),
        agent: ProcessId(2),
        capacity: Resources::new(cpu, 1000),
        attributes: NodeAttributes::default(),
    });
    let job = Job {
        name: "j".into(),
        kind: JobKind::Service,
        groups: vec![TaskGroup {
            count: 2,
            resources: Resources::new(600, 100),
            ..TaskGroup::default()
        }],
    };
    s.apply(Command::RegisterJob {
        job,
        now: Instant::ZERO,
    });
    s
}

fn two_placements() -> Plan {
    let p = Placement {
        group: 0,
        node: NodeId(0),
        resources: Resources::new(600, 100),
        previous: None,
        reschedules: 0,
    };
    Plan {
        eval: Some(EvalId(0)),
        job: "j".into(),
        placements: vec![p.clone(), p],
        ..Plan::default()
    }
}

#[test]
fn plan_applier_commits_the_part_that_fits_and_re_evaluates_the_rest() {
    let mut s = one_node_state(1000);
    let out = s.apply(Command::ApplyPlan {
        plan: two_placements(),
        trust_snapshot: false,
        now: Instant::ZERO,
    });
    assert_eq!((out.placed, out.rejected), (1, 1));
    assert_eq!(out.evals.len(), 1);
    assert_eq!(s.evals[&out.evals[0]].trigger, Trigger::PlanRejected);
    assert!(check_capacity(&s).is_ok());
    // The bug commits both: 1200 MHz on a 1000 MHz node.
    let mut s = one_node_state(1000);
    let out = s.apply(Command::ApplyPlan {
        plan: two_placements(),
        trust_snapshot: true,
        now: Instant::ZERO,
    });
    assert_eq!((out.placed, out.rejected), (2, 0));
    assert!(check_capacity(&s).is_err());
}

#[test]
fn a_down_node_loses_its_allocations_and_takes_no_more() {
    let mut s = one_node_state(2000);
    s.apply(Command::ApplyPlan {
        plan: Plan {
            placements: vec![two_placements().placements[0].clone()],
            ..two_placements()
        },
        trust_snapshot: false,
        now: Instant::ZERO,
    });
    let out = s.apply(Command::NodeDown {
        id: NodeId(0),
        now: Instant::ZERO + Duration::from_secs(5),
        unknown_for: Duration::ZERO,
    });
    assert_eq!(out.evals.len(), 1);
    assert!(s.allocs.values().all(|a| a.client == ClientStatus::Lost));
    let out = s.apply(Command::ApplyPlan {
        plan: two_placements(),
        trust_snapshot: false,
        now: Instant::ZERO,
    });
    assert_eq!((out.placed, out.rejected), (0, 2));
    // Forced through (the bug), it breaks `usable_nodes`.
    s.apply(Command::ApplyPlan {
        plan: two_placements(),
        trust_snapshot: true,
        now: Instant::ZERO,
    });
    assert!(check_usable_nodes(&s).is_err());
}

#[test]
fn reconcile_replaces_lost_at_once_and_failed_after_the_delay() {
    let mut s = one_node_state(4000);
    s.apply(Command::RegisterNode {
        id: NodeId(1),
        agent: ProcessId(3),
        capacity: Resources::new(4000, 1000),
        attributes: NodeAttributes::default(),
    });
    let mut first = two_placements();
    first.placements[1].node = NodeId(1);
    s.apply(Command::ApplyPlan {
        plan: first,
        trust_snapshot: false,
        now: Instant::ZERO,
    });
    let t = |secs| Instant::ZERO + Duration::from_secs(secs);
    s.apply(Command::UpdateAllocs {
        node: NodeId(0),
        updates: vec![(AllocId(0), ClientStatus::Failed)],
        now: t(10),
    });
    s.apply(Command::NodeDown {
        id: NodeId(1),
        now: t(10),
        unknown_for: Duration::ZERO,
    });
    let settings = Settings {
        algorithm: FitAlgorithm::Binpack,
        service_reschedule: ReschedulePolicy::default(),
        batch_reschedule: ReschedulePolicy::batch_default(),
        lost_allocs_not_replaced: false,
        reschedule_without_backoff: false,
        migrate_max_parallel: 1,
        disconnect: DisconnectPolicy::default(),
        update_ignores_max_parallel: false,
    };
    let mut rng = ruckus_sim::Random::stream(1, "t", 0);
    let planned = reconcile::compute_plan(&s, "j", t(11), &settings, &mut rng);
    // The lost one is replaced now; the failed one waits 30 s (follow-up at 40 s).
    assert_eq!(planned.plan.placements.len(), 1);
    assert_eq!(planned.plan.placements[0].previous, Some(AllocId(1)));
    assert_eq!(planned.plan.follow_up, Some(t(40)));
    let later = reconcile::compute_plan(&s, "j", t(40), &settings, &mut rng);
    assert_eq!(later.plan.placements.len(), 2);
    assert_eq!(later.plan.placements[0].reschedules, 1);
    // The bugs: lost never replaced; failed replaced at once.
    let lost_bug = Settings {
        lost_allocs_not_replaced: true,
        ..settings
    };
    let p = reconcile::compute_plan(&s, "j", t(11), &lost_bug, &mut rng);
    assert!(p.plan.placements.is_empty());
    let backoff_bug = Settings {
        reschedule_without_backoff: true,
        ..settings
    };
    let p = reconcile::compute_plan(&s, "j", t(11), &backoff_bug, &mut rng);
    assert_eq!(p.plan.placements.len(), 2);
}

// ---- whole runs ----

#[test]
fn a_healthy_cluster_runs_every_job_at_its_count() {
    let config = Config::default();
    let (report, sim) = run(&config, 1, Duration::from_secs(120), FaultPlan::none());
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let s = state(&sim);
    assert!(check_jobs_at_count(s, &config).is_ok());
    let jobs = config.all_jobs().len();
    assert_eq!(sim.metrics().samples("sched.submit_to_running_ns").len(), jobs);
    // Batch work (60 s) finished: every batch allocation completed.
    let complete = s
        .allocs
        .values()
        .filter(|a| a.client == ClientStatus::Complete)
        .count();
    assert_eq!(complete, (config.batch_jobs * config.batch_count) as usize);
    let summary = summarize(&config, sim.metrics(), report.end_time);
    assert!(summary["submit_to_running_mean_s"] < 1.0, "{summary:?}");
    assert!(summary["cpu_utilisation_mean_pct"] > 0.0);
}

#[test]
fn runs_are_deterministic() {
    let config = Config {
        task_mean_time_to_failure: Some(Duration::from_secs(20)),
        ..Config::default()
    };
    let plan = FaultPlan {
        actions: vec![crash(1, 20, 40)],
        heal_at: None,
    };
    let a = check_determinism(|| build(&config, 9, Duration::from_secs(90), plan.clone()))
        .expect("deterministic");
    assert!(a.events > 200, "{}", a.events);
}

fn spread_config() -> Config {
    Config {
        nodes: 4,
        algorithm: FitAlgorithm::Spread,
        batch_jobs: 0,
        ..Config::default()
    }
}

#[test]
fn a_crashed_node_is_marked_down_and_its_allocations_replaced() {
    let config = spread_config();
    let plan = FaultPlan {
        actions: vec![crash(0, 20, 60)],
        heal_at: None,
    };
    let (report, sim) = run(&config, 3, Duration::from_secs(200), plan);
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    assert_eq!(sim.metrics().counter("sched.nodes_down"), 1);
    let replaced = sim.metrics().samples("sched.replacement_running_ns");
    assert!(!replaced.is_empty());
    // Lost when the deadline passed (TTL 10-20 s + 10 s grace after the last heartbeat), then
    // replaced within a few scheduling rounds.
    assert!(replaced.iter().all(|&ns| ns < 1_000_000_000), "{replaced:?}");
    assert!(sim.metrics().counter("sched.allocs_moved") >= replaced.len() as u64);
}

#[test]
fn bug_lost_allocs_not_replaced_leaves_jobs_short() {
    let plan = FaultPlan {
        actions: vec![crash(0, 20, 60)],
        heal_at: None,
    };
    let mut config = spread_config();
    config.bugs.lost_allocs_not_replaced = true;
    let (report, _) = run(&config, 3, Duration::from_secs(200), plan.clone());
    assert_eq!(report.verdict, Verdict::LivenessFailure, "{report}");
    assert_eq!(failed_property(&report), Some("jobs_at_count"));
}

#[test]
fn a_drained_node_is_emptied_by_its_deadline() {
    let mut config = spread_config();
    config.drains = vec![DrainSpec {
        node: 0,
        at: Duration::from_secs(20),
        deadline: Duration::from_secs(30),
    }];
    let (report, sim) = run(&config, 4, Duration::from_secs(120), FaultPlan::none());
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let s = state(&sim);
    assert!(
        s.allocs
            .values()
            .filter(|a| a.live())
            .all(|a| a.node != NodeId(0))
    );
    assert!(
        s.allocs.values().any(|a| a.node == NodeId(0)),
        "node 0 had allocations to move"
    );
    assert!(sim.metrics().counter("sched.allocs_moved") > 0);
    assert!(check_jobs_at_count(s, &config).is_ok());
}

fn contention_config() -> Config {
    Config {
        nodes: 4,
        workers: 4,
        scheduling_cost_per_node: Duration::from_millis(50),
        service_jobs: 4,
        service_count: 2,
        service_resources: Resources::new(1500, 1024),
        batch_jobs: 0,
        submit_interval: Duration::ZERO,
        ..Config::default()
    }
}

#[test]
fn concurrent_workers_collide_and_the_applier_commits_in_part() {
    let config = contention_config();
    let (report, sim) = run(&config, 5, Duration::from_secs(60), FaultPlan::none());
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    assert!(sim.metrics().counter("sched.plans_partial") > 0);
    assert!(check_jobs_at_count(state(&sim), &config).is_ok());
}

#[test]
fn bug_applier_trusts_snapshot_oversubscribes_a_node() {
    let mut config = contention_config();
    config.bugs.applier_trusts_snapshot = true;
    let (report, _) = run(&config, 5, Duration::from_secs(60), FaultPlan::none());
    assert_eq!(failed_property(&report), Some("capacity"), "{report}");
    // With one worker there is no concurrent plan to collide with.
    config.workers = 1;
    let (report, _) = run(&config, 5, Duration::from_secs(60), FaultPlan::none());
    assert_eq!(report.verdict, Verdict::Held, "{report}");
}

fn crash_loop_config() -> Config {
    Config {
        nodes: 3,
        service_jobs: 1,
        batch_jobs: 0,
        crashing_jobs: 1,
        crash_after: Duration::from_secs(2),
        service_restart: RestartPolicy {
            attempts: 1,
            interval: Duration::from_secs(600),
            delay: Duration::from_secs(1),
        },
        ..Config::default()
    }
}

#[test]
fn a_crash_looping_job_is_restarted_then_rescheduled_with_backoff() {
    let config = crash_loop_config();
    let (report, sim) = run(&config, 6, Duration::from_secs(300), FaultPlan::none());
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let chain: Vec<&Allocation> = state(&sim)
        .allocs
        .values()
        .filter(|a| a.job == "crashing-0")
        .collect();
    // Each allocation lives ~2 s + 1 s restart delay + ~2 s, then waits 30, 60, 120 s: by 300 s
    // the chain is 4 long (created at ~1, ~36, ~101, ~226 s).
    assert_eq!(chain.len(), 4, "{chain:#?}");
    for pair in chain.windows(2) {
        let wait = pair[1].created_at.saturating_since(pair[0].finished_at.unwrap());
        let due = config.service_reschedule.delay_after(pair[0].reschedules);
        assert!(
            wait >= due && wait < due + Duration::from_secs(1),
            "{wait} vs {due}"
        );
    }
    assert_eq!(sim.metrics().counter("sched.task_restarts"), 4);
}

#[test]
fn bug_reschedule_without_backoff_replaces_at_once() {
    let mut config = crash_loop_config();
    config.bugs.reschedule_without_backoff = true;
    let (report, _) = run(&config, 6, Duration::from_secs(300), FaultPlan::none());
    assert_eq!(failed_property(&report), Some("reschedule_backoff"), "{report}");
}

fn big_cluster() -> Config {
    Config {
        nodes: 1500,
        service_jobs: 0,
        batch_jobs: 0,
        ..Config::default()
    }
}

#[test]
fn heartbeat_ttl_keeps_a_large_cluster_under_the_rate_limit() {
    let config = big_cluster();
    let (report, sim) = run(&config, 7, Duration::from_secs(120), FaultPlan::none());
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let most = most_heartbeats(&sim);
    // 1500 nodes at 50/s: base TTL 30 s, so ~1500 / 45 s = 33/s, ~333 per 10 s window.
    assert!(most > 200 && most <= 625, "{most}");
    assert_eq!(sim.metrics().counter("sched.nodes_down"), 0);
}

#[test]
fn bug_fixed_heartbeat_ttl_floods_the_server() {
    let mut config = big_cluster();
    config.bugs.fixed_heartbeat_ttl = true;
    let (report, _) = run(&config, 7, Duration::from_secs(120), FaultPlan::none());
    assert_eq!(failed_property(&report), Some("heartbeat_load"), "{report}");
}

/// The server's pushes to the nodes are cut (one way) while the jobs are placed: the agents never
/// hear of their allocations until a heartbeat shows the server they hold none.
#[test]
fn a_lost_allocation_push_is_repaired_by_the_next_heartbeat() {
    let config = Config {
        nodes: 2,
        service_jobs: 1,
        service_count: 2,
        batch_jobs: 0,
        submit_at: Duration::from_secs(10),
        ..Config::default()
    };
    // After the leader is elected and the nodes registered (a few seconds), before the job.
    let cut = FaultAction {
        at: Instant::ZERO + Duration::from_millis(9_500),
        fault: Fault::Partition {
            partition: ruckus_sim::Partition::OneWay {
                from: (0..config.servers).map(HostId).collect(),
                to: vec![config.node_host(0), config.node_host(1)],
            },
            duration: Duration::from_secs(5),
        },
    };
    let (report, sim) = run(
        &config,
        3,
        Duration::from_secs(60),
        FaultPlan {
            actions: vec![cut],
            heal_at: None,
        },
    );
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    assert_eq!(state(&sim).running_count("service-0", 0), 2);
    assert!(sim.metrics().counter("sched.alloc_resyncs") >= 2);
    // Nothing ran before the partition healed (at 14.5 s, the job committed at ~10 s): the
    // push made while it lasted was lost.
    let first = sim.metrics().samples("sched.submit_to_running_ns")[0];
    assert!(first > Duration::from_secs(4).as_nanos(), "{first}");
}

#[test]
fn random_crashes_and_partitions_keep_every_property() {
    let config = Config {
        nodes: 6,
        ..Config::default()
    };
    let profile = FaultProfile {
        crash: Some(FaultRate {
            mean_interval: Duration::from_secs(40),
            duration_min: Duration::from_secs(5),
            duration_max: Duration::from_secs(60),
        }),
        partition: Some(FaultRate {
            mean_interval: Duration::from_secs(60),
            duration_min: Duration::from_secs(1),
            duration_max: Duration::from_secs(40),
        }),
        network_chaos: Some(FaultRate {
            mean_interval: Duration::from_secs(60),
            duration_min: Duration::from_secs(1),
            duration_max: Duration::from_secs(20),
        }),
        pause: Some(FaultRate {
            mean_interval: Duration::from_secs(60),
            duration_min: Duration::from_millis(100),
            duration_max: Duration::from_secs(15),
        }),
        clock_drift: Some(FaultRate {
            mean_interval: Duration::from_secs(60),
            duration_min: Duration::from_secs(5),
            duration_max: Duration::from_secs(60),
        }),
        max_hosts_down: 2,
        quiet_period: Duration::from_secs(120),
        ..FaultProfile::default()
    };
    let horizon = Duration::from_secs(360);
    for seed in 0..4 {
        let topology = config.topology();
        let plan = profile.plan(seed, topology.hosts(), horizon);
        let (report, _) = run(&config, seed, horizon, plan);
        assert_eq!(report.verdict, Verdict::Held, "seed {seed}: {report}");
    }
}

/// Decision time against optimism: more workers and slower planning mean more collisions the
/// plan applier has to reject. Figures are quoted in the module docs.
#[test]
#[ignore]
fn measure_decision_time_and_collisions() {
    for workers in [1, 2, 4, 8] {
        for cost_ms in [0, 1, 10, 50] {
            let config = Config {
                nodes: 20,
                workers,
                scheduling_cost_per_node: Duration::from_millis(cost_ms),
                service_jobs: 8,
                service_count: 4,
                service_resources: Resources::new(1500, 1024),
                batch_jobs: 0,
                submit_interval: Duration::ZERO,
                ..Config::default()
            };
            let plan = FaultPlan {
                actions: vec![crash(2, 60, 60)],
                heal_at: None,
            };
            let (report, sim) = run(&config, 11, Duration::from_secs(240), plan);
            assert_eq!(report.verdict, Verdict::Held, "{report}");
            let s = summarize(&config, sim.metrics(), report.end_time);
            println!(
                "workers {workers} cost {cost_ms:>2} ms: submit->running mean {:.3} s p99 {:.3} s, replacement mean {:.3} s, evals {}, partial commits {}, rejected {}, moved {}, cpu {:.0}%",
                s["submit_to_running_mean_s"],
                s["submit_to_running_p99_s"],
                s.get("replacement_running_mean_s").copied().unwrap_or(f64::NAN),
                s["evaluations"],
                s["partial_commits"],
                s["placements_rejected"],
                s["allocs_moved"],
                s["cpu_utilisation_mean_pct"],
            );
        }
    }
}

// ---- each bug switch, on its scenario's first failing seed ----

/// The seed of run index 0 of a sweep with base seed 1 (every bug scenario's first failure).
const FIRST_SWEEP_SEED: u64 = 9289464798280533400;

fn rate(mean_s: u64, min_s: u64, max_s: u64) -> Option<FaultRate> {
    Some(FaultRate {
        mean_interval: Duration::from_secs(mean_s),
        duration_min: Duration::from_secs(min_s),
        duration_max: Duration::from_secs(max_s),
    })
}

/// Runs `config` as its scenario file does (same profile, horizon and seed) with the bug on,
/// then off; returns the failed property and whether the healthy run held.
fn bug_and_healthy(
    config: &Config,
    heal: impl Fn(&mut Config),
    profile: &FaultProfile,
    horizon: Duration,
) -> (Option<String>, RunReport) {
    let plan = profile.plan(FIRST_SWEEP_SEED, config.topology().hosts(), horizon);
    let (buggy, _) = run(config, FIRST_SWEEP_SEED, horizon, plan.clone());
    let mut healthy = config.clone();
    heal(&mut healthy);
    let (held, _) = run(&healthy, FIRST_SWEEP_SEED, horizon, plan);
    (failed_property(&buggy).map(str::to_owned), held)
}

/// scenarios/data/scheduler_lost_allocs_not_replaced.toml.
#[test]
fn scenario_lost_allocs_not_replaced_fails_on_its_first_seed_and_the_fix_holds() {
    let config = Config {
        nodes: 6,
        workers: 2,
        bugs: Bugs {
            lost_allocs_not_replaced: true,
            ..Bugs::default()
        },
        ..Config::default()
    };
    let profile = FaultProfile {
        max_hosts_down: 2,
        quiet_period: Duration::from_secs(120),
        crash: rate(40, 5, 60),
        partition: rate(60, 1, 40),
        ..FaultProfile::default()
    };
    let (failed, healthy) = bug_and_healthy(
        &config,
        |c| c.bugs.lost_allocs_not_replaced = false,
        &profile,
        Duration::from_secs(360),
    );
    assert_eq!(failed.as_deref(), Some("jobs_at_count"));
    assert_eq!(healthy.verdict, Verdict::Held, "{healthy}");
}

/// scenarios/data/scheduler_reschedule_without_backoff.toml.
#[test]
fn scenario_reschedule_without_backoff_fails_on_its_first_seed_and_the_fix_holds() {
    let config = Config {
        nodes: 4,
        workers: 2,
        crashing_jobs: 1,
        crash_after: Duration::from_secs(2),
        service_restart: RestartPolicy {
            attempts: 1,
            interval: Duration::from_secs(600),
            delay: Duration::from_secs(1),
        },
        bugs: Bugs {
            reschedule_without_backoff: true,
            ..Bugs::default()
        },
        ..Config::default()
    };
    let profile = FaultProfile {
        max_hosts_down: 1,
        quiet_period: Duration::from_secs(30),
        crash: rate(40, 5, 30),
        ..FaultProfile::default()
    };
    let (failed, healthy) = bug_and_healthy(
        &config,
        |c| c.bugs.reschedule_without_backoff = false,
        &profile,
        Duration::from_secs(120),
    );
    assert_eq!(failed.as_deref(), Some("reschedule_backoff"));
    assert_eq!(healthy.verdict, Verdict::Held, "{healthy}");
}

/// scenarios/data/scheduler_fixed_heartbeat_ttl.toml.
#[test]
fn scenario_fixed_heartbeat_ttl_fails_on_its_first_seed_and_the_fix_holds() {
    let config = Config {
        nodes: 300,
        service_jobs: 0,
        batch_jobs: 0,
        heartbeat: HeartbeatPolicy {
            max_heartbeats_per_second: 10,
            ..HeartbeatPolicy::default()
        },
        bugs: Bugs {
            fixed_heartbeat_ttl: true,
            ..Bugs::default()
        },
        ..Config::default()
    };
    let profile = FaultProfile {
        max_hosts_down: 10,
        quiet_period: Duration::from_secs(30),
        crash: rate(10, 5, 30),
        ..FaultProfile::default()
    };
    let (failed, healthy) = bug_and_healthy(
        &config,
        |c| c.bugs.fixed_heartbeat_ttl = false,
        &profile,
        Duration::from_secs(120),
    );
    assert_eq!(failed.as_deref(), Some("heartbeat_load"));
    assert_eq!(healthy.verdict, Verdict::Held, "{healthy}");
}

/// scenarios/data/scheduler_applier_trusts_snapshot.toml (no faults).
#[test]
fn scenario_applier_trusts_snapshot_fails_on_its_first_seed_and_the_fix_holds() {
    let config = Config {
        nodes: 4,
        workers: 4,
        scheduling_cost_per_node: Duration::from_millis(50),
        service_jobs: 4,
        service_count: 2,
        service_resources: Resources::new(1500, 1024),
        batch_jobs: 0,
        submit_interval: Duration::ZERO,
        bugs: Bugs {
            applier_trusts_snapshot: true,
            ..Bugs::default()
        },
        ..Config::default()
    };
    let (failed, healthy) = bug_and_healthy(
        &config,
        |c| c.bugs.applier_trusts_snapshot = false,
        &FaultProfile::none(),
        Duration::from_secs(60),
    );
    assert_eq!(failed.as_deref(), Some("capacity"));
    assert_eq!(healthy.verdict, Verdict::Held, "{healthy}");
}

/// Availability, nodes used and the partial-commit fraction, hand-computed from a tiny set.
#[test]
fn summary_availability_from_a_tiny_metrics_set() {
    use ruckus_sim::Metrics;
    let s = |t: u64| t * 1_000_000_000;
    let mut m = Metrics::default();
    // Two allocations desired at grid times 1..=7 s.
    for t in 1..=7 {
        for _ in 0..2 {
            m.observe(server::DESIRED_AT, s(t));
        }
    }
    // Running: 0 (still placing), 3 (a stale one too: capped at 1), 1, 1, 2, 1, 0.
    for (t, n) in [(1, 0), (2, 3), (3, 1), (4, 1), (5, 2), (6, 1), (7, 0)] {
        for _ in 0..n {
            m.observe(client::RUNNING_AT, s(t));
        }
    }
    for n in [1, 3, 2] {
        m.observe(server::NODES_USED, n);
    }
    m.count("sched.plans", 4);
    m.count("sched.plans_partial", 1);
    let a = availability(&m).expect("something was desired");
    // (0 + 1 + 0.5 + 0.5 + 1 + 0.5 + 0) / 7.
    assert!((a.running_fraction - 3.5 / 7.0).abs() < 1e-12, "{a:?}");
    // Short 3 s..5 s (2 s), then from 6 s to the end at 7 s (1 s, never recovered); the
    // start-up at 1 s does not count.
    assert_eq!(a.longest_shortfall, Duration::from_secs(2));
    assert_eq!(a.total_shortfall, Duration::from_secs(3));
    assert!(a.ended_short);
    let out = summarize(&Config::default(), &m, Instant::ZERO);
    assert_eq!(out["nodes_used_mean"], 2.0);
    assert_eq!(out["nodes_used_max"], 3.0);
    assert_eq!(out["partial_commit_fraction"], 0.25);
    assert_eq!(out["longest_shortfall_s"], 2.0);
    assert_eq!(out["ended_short"], 1.0);
    assert!(availability(&Metrics::default()).is_none());
}

/// Agents sample what really runs: a run without faults ends with every desired allocation
/// running; crashing every node host for 20 s leaves a shortfall at least that long.
#[test]
fn summary_reports_availability_of_a_run() {
    let config = Config {
        batch_jobs: 0,
        ..Config::default()
    };
    let horizon = Duration::from_secs(120);
    let (report, sim) = run(&config, 3, horizon, FaultPlan::none());
    let calm = summarize(&config, sim.metrics(), report.end_time);
    assert_eq!(calm["ended_short"], 0.0, "{calm:?}");
    assert_eq!(calm["longest_shortfall_s"], 0.0, "{calm:?}");
    assert!(
        calm["running_fraction"] > 0.9 && calm["running_fraction"] <= 1.0,
        "{calm:?}"
    );
    assert!(calm["nodes_used_max"] >= 1.0, "{calm:?}");
    let actions = (0..config.nodes)
        .map(|i| config.node_host(i).0)
        .map(|h| FaultAction {
            at: Instant::ZERO + Duration::from_secs(40),
            fault: Fault::CrashHost {
                host: HostId(h),
                down_for: Duration::from_secs(20),
            },
        })
        .collect();
    let plan = FaultPlan {
        actions,
        heal_at: None,
    };
    let (report, sim) = run(&config, 3, horizon, plan);
    let out = summarize(&config, sim.metrics(), report.end_time);
    assert!(out["longest_shortfall_s"] >= 20.0, "{out:?}");
    assert!(out["running_fraction"] < calm["running_fraction"], "{out:?}");
}

/// scenarios/data/scheduler_evals_in_leader_memory.toml: the first failing runs of the sweep
/// (indexes 1 and 2; index 0 holds) fail `jobs_at_count` with the bug, and hold without it,
/// where the new leaders restored pending evaluations from the replicated state.
#[test]
fn scenario_evals_in_leader_memory_fails_on_its_first_failing_seeds_and_the_fix_holds() {
    let config = Config {
        servers: 3,
        nodes: 4,
        workers: 1,
        scheduling_cost_per_node: Duration::from_secs(2),
        service_jobs: 4,
        service_count: 2,
        batch_jobs: 0,
        bugs: Bugs {
            evals_in_leader_memory: true,
            ..Bugs::default()
        },
        ..Config::default()
    };
    let profile = FaultProfile {
        max_hosts_down: 1,
        quiet_period: Duration::from_secs(180),
        crash: rate(20, 5, 30),
        partition: rate(40, 1, 20),
        ..FaultProfile::default()
    };
    let horizon = Duration::from_secs(360);
    for index in [1, 2] {
        let seed = ruckus_sim::rng::derive_stream_key(1, "sweep", index);
        let plan = profile.plan(seed, config.topology().hosts(), horizon);
        let (buggy, _) = run(&config, seed, horizon, plan.clone());
        assert_eq!(
            failed_property(&buggy),
            Some("jobs_at_count"),
            "index {index}: {buggy}"
        );
        let mut healthy = config.clone();
        healthy.bugs.evals_in_leader_memory = false;
        let (held, sim) = run(&healthy, seed, horizon, plan);
        assert_eq!(held.verdict, Verdict::Held, "index {index}: {held}");
        assert!(sim.metrics().counter("sched.evals_restored") > 0, "index {index}");
    }
}

#[test]
fn sweep_seeds_are_the_engines_derivation() {
    assert_eq!(
        ruckus_sim::rng::derive_stream_key(1, "sweep", 0),
        FIRST_SWEEP_SEED
    );
}

/// A leader of term `t` must hold every job acknowledged in term `t` or before; a job
/// acknowledged later (by a newer leader) is not its business.
#[test]
fn acknowledged_registrations_are_checked_against_leaders_of_that_term_or_later() {
    let mut state = ClusterState::default();
    let job = |name: &str| Job {
        name: name.into(),
        kind: JobKind::Service,
        groups: vec![TaskGroup {
            count: 1,
            resources: Resources::new(100, 100),
            constraints: Vec::new(),
            spread: None,
            task: TaskSpec::default(),
        }],
    };
    state.apply(Command::RegisterJob {
        job: job("a"),
        now: Instant::ZERO,
    });
    let acked: BTreeMap<String, u64> = [("a".to_string(), 2), ("b".to_string(), 4)].into();
    assert!(check_acknowledged_kept(&state, 3, &acked).is_ok());
    let lost = check_acknowledged_kept(&state, 4, &acked).unwrap_err();
    assert!(lost.contains("job b"), "{lost}");
    let empty = ClusterState::default();
    assert!(check_acknowledged_kept(&empty, 1, &acked).is_ok());
    assert!(check_acknowledged_kept(&empty, 2, &acked).is_err());
}

/// Every submitted job is acknowledged once committed, and the history records it with the
/// committing leader's term.
#[test]
fn job_registrations_are_acknowledged_after_commit_and_recorded() {
    let config = Config::default();
    let (report, sim) = run(&config, 2, Duration::from_secs(30), FaultPlan::none());
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let jobs = config.all_jobs().len() as u64;
    assert_eq!(sim.metrics().counter("sched.jobs_acknowledged"), jobs);
    let recorded: Vec<&Op> = sim.history().iter().map(|e| &e.operation).collect();
    assert_eq!(recorded.len() as u64, jobs);
    let leader = servers(&sim).find(|s| s.is_acting_leader()).expect("a leader");
    for op in recorded {
        let Op::JobAcknowledged { job, term } = op;
        assert!(*term >= 1 && *term <= leader.raft.term);
        assert!(leader.state().jobs.contains_key(job));
    }
    // Every server applied the registrations: the state is replicated.
    for s in servers(&sim) {
        assert_eq!(s.state().jobs.len() as u64, jobs, "p{}", s.raft.id);
    }
}

/// The leader crashes (a host holding a server): a new one is elected, restores the pending
/// evaluations and node deadlines, and the cluster converges.
#[test]
fn a_leader_crash_hands_the_scheduling_to_a_new_leader() {
    let config = Config {
        batch_jobs: 0,
        ..Config::default()
    };
    // All three server hosts crash in turn, 40 s apart, so whichever leads is taken once.
    let plan = FaultPlan {
        actions: vec![
            crash_host(0, 10, 20),
            crash_host(1, 50, 20),
            crash_host(2, 90, 20),
        ],
        heal_at: None,
    };
    let (report, sim) = run(&config, 5, Duration::from_secs(240), plan);
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    assert!(sim.metrics().counter("sched.leaderships") >= 2);
    assert!(check_jobs_at_count(state(&sim), &config).is_ok());
    assert_eq!(
        sim.metrics().counter("sched.nodes_down"),
        0,
        "no node missed a deadline"
    );
}

/// A worker planned on a state without room and its plan blocked the job, but a node joined
/// before the plan applied (found by the sweep of the evaluations scenario with the bug off:
/// jobs submitted before any node registered stayed blocked for good). The applier notices
/// the capacity change since the plan's snapshot and re-evaluates at once.
#[test]
fn a_blocked_plan_made_before_capacity_appeared_is_re_evaluated() {
    let mut s = ClusterState::default();
    let job = Job {
        name: "j".into(),
        kind: JobKind::Service,
        groups: vec![TaskGroup {
            count: 1,
            resources: Resources::new(600, 100),
            ..TaskGroup::default()
        }],
    };
    s.apply(Command::RegisterJob {
        job,
        now: Instant::ZERO,
    });
    let stale = Plan {
        eval: Some(EvalId(0)),
        job: "j".into(),
        blocked: true,
        snapshot_index: s.index,
        ..Plan::default()
    };
    let register = |s: &mut ClusterState, id: u32| {
        s.apply(Command::RegisterNode {
            id: NodeId(id),
            agent: ProcessId(9),
            capacity: Resources::new(1000, 1000),
            attributes: NodeAttributes::default(),
        })
    };
    register(&mut s, 0);
    let applied = s.apply(Command::ApplyPlan {
        plan: stale,
        trust_snapshot: false,
        now: Instant::ZERO,
    });
    assert_eq!(applied.evals.len(), 1, "{applied:?}");
    assert_eq!(s.evals[&applied.evals[0]].trigger, Trigger::Unblocked);
    assert!(s.blocked.is_empty());
    // A plan made on the latest state really is blocked: it waits for capacity.
    let current = Plan {
        eval: Some(applied.evals[0]),
        job: "j".into(),
        blocked: true,
        snapshot_index: s.index,
        ..Plan::default()
    };
    let applied = s.apply(Command::ApplyPlan {
        plan: current,
        trust_snapshot: false,
        now: Instant::ZERO,
    });
    assert!(applied.evals.is_empty());
    assert!(s.blocked.contains("j"));
    // The next node to join unblocks it.
    let joined = register(&mut s, 1);
    assert_eq!(joined.evals.len(), 1);
}

fn migrate_config(drain_node: u32, deadline: Duration) -> Config {
    Config {
        nodes: 4,
        algorithm: FitAlgorithm::Binpack,
        service_jobs: 1,
        service_count: 4,
        batch_jobs: 0,
        drains: vec![DrainSpec {
            node: drain_node,
            at: Duration::from_secs(20),
            deadline,
        }],
        ..Config::default()
    }
}

/// What one step of a drain looks like from the furthest-applied state.
struct DrainView {
    /// Allocations on the drained node still live.
    live_on_node: usize,
    /// Allocations of the drained node whose replacement does not run yet.
    in_migration: usize,
    /// The group's running allocations (servers' view).
    running: usize,
    draining: bool,
    deadline_passed: bool,
}

fn drain_view(s: &ClusterState, node: NodeId) -> DrainView {
    let on_node: Vec<&Allocation> = s.allocs.values().filter(|a| a.node == node).collect();
    let in_migration = on_node
        .iter()
        .filter(|a| {
            s.allocs
                .values()
                .any(|r| r.previous == Some(a.id) && r.live() && r.client != ClientStatus::Running)
        })
        .count();
    let record = s.nodes.get(&node);
    DrainView {
        live_on_node: on_node.iter().filter(|a| a.live()).count(),
        in_migration,
        running: s.running_count("service-0", 0),
        draining: record.is_some_and(|n| n.drain_deadline.is_some()),
        deadline_passed: record.is_some_and(|n| !n.eligible),
    }
}

/// Steps a run event by event, calling `check` with the state after each.
fn step_run(
    config: &Config,
    seed: u64,
    horizon: Duration,
    mut check: impl FnMut(&ClusterState),
) -> RunReport {
    let mut sim = build(config, seed, horizon, FaultPlan::none());
    let mut event = 0;
    loop {
        event += 1;
        if let ruckus_sim::Progress::Finished(report) = sim.run_until_event(event) {
            return report;
        }
        check(state(&sim));
    }
}

#[test]
fn a_drain_migrates_one_allocation_at_a_time() {
    // Binpack puts the job's 4 allocations on few nodes; drain the node holding the most.
    let probe = migrate_config(0, Duration::from_secs(600));
    let mut sim = build(&probe, 5, Duration::from_secs(19), FaultPlan::none());
    sim.run();
    let s = state(&sim);
    let node = (0..4)
        .max_by_key(|n| {
            s.allocs
                .values()
                .filter(|a| a.live() && a.node == NodeId(*n))
                .count()
        })
        .expect("nodes");
    let before = s
        .allocs
        .values()
        .filter(|a| a.live() && a.node == NodeId(node))
        .count();
    assert!(before >= 2, "the drained node holds {before} allocations");
    let config = migrate_config(node, Duration::from_secs(600));
    let (mut most_in_migration, mut fewest_running) = (0, usize::MAX);
    let mut emptied = false;
    let report = step_run(&config, 5, Duration::from_secs(120), |s| {
        let v = drain_view(s, NodeId(node));
        if v.draining && !v.deadline_passed {
            most_in_migration = most_in_migration.max(v.in_migration);
            fewest_running = fewest_running.min(v.running);
            emptied |= v.live_on_node == 0;
        }
    });
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    assert_eq!(most_in_migration, 1);
    assert!(fewest_running >= 3, "the group fell to {fewest_running} running");
    assert!(emptied, "the node was emptied before its deadline");
}

#[test]
fn a_drain_deadline_stops_the_remaining_allocations_together() {
    let probe = migrate_config(0, Duration::from_secs(600));
    let mut sim = build(&probe, 5, Duration::from_secs(19), FaultPlan::none());
    sim.run();
    let s = state(&sim);
    let node = (0..4)
        .max_by_key(|n| {
            s.allocs
                .values()
                .filter(|a| a.live() && a.node == NodeId(*n))
                .count()
        })
        .expect("nodes");
    // Slow planning (2 s per node examined): each migration step takes seconds, so the
    // 3 s deadline comes first.
    let mut config = migrate_config(node, Duration::from_secs(3));
    config.scheduling_cost_per_node = Duration::from_secs(2);
    let mut live_before_deadline = 0;
    let mut live_at_deadline = None;
    let report = step_run(&config, 5, Duration::from_secs(120), |s| {
        let v = drain_view(s, NodeId(node));
        if v.deadline_passed {
            live_at_deadline.get_or_insert(v.live_on_node);
        } else if v.draining {
            live_before_deadline = v.live_on_node;
        }
    });
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    assert!(
        live_before_deadline >= 2,
        "{live_before_deadline} left at the deadline"
    );
    assert_eq!(live_at_deadline, Some(0));
}

// ---- the disconnect policy ----

fn planning(disconnect: DisconnectPolicy) -> Settings {
    Settings {
        algorithm: FitAlgorithm::Binpack,
        service_reschedule: ReschedulePolicy::default(),
        batch_reschedule: ReschedulePolicy::batch_default(),
        lost_allocs_not_replaced: false,
        reschedule_without_backoff: false,
        migrate_max_parallel: 1,
        disconnect,
        update_ignores_max_parallel: false,
    }
}

fn secs(s: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(s)
}

/// Job `j` (2 x 600 MHz) running on node 0, which goes down at 10 s with its allocations kept
/// unknown for 60 s; node 1 (2000 MHz, so fuller once it holds the replacements) is free.
fn disconnected_state() -> ClusterState {
    let mut s = one_node_state(4000);
    s.apply(Command::RegisterNode {
        id: NodeId(1),
        agent: ProcessId(3),
        capacity: Resources::new(2000, 1000),
        attributes: NodeAttributes::default(),
    });
    s.apply(Command::ApplyPlan {
        plan: two_placements(),
        trust_snapshot: false,
        now: Instant::ZERO,
    });
    s.apply(Command::UpdateAllocs {
        node: NodeId(0),
        updates: vec![
            (AllocId(0), ClientStatus::Running),
            (AllocId(1), ClientStatus::Running),
        ],
        now: secs(1),
    });
    s.apply(Command::NodeDown {
        id: NodeId(0),
        now: secs(10),
        unknown_for: Duration::from_secs(60),
    });
    s
}

#[test]
fn disconnected_allocations_are_replaced_only_after_lost_after() {
    let s = disconnected_state();
    assert!(s.allocs.values().all(|a| a.client == ClientStatus::Unknown));
    let settings = planning(DisconnectPolicy {
        lost_after: Duration::from_secs(60),
        ..DisconnectPolicy::default()
    });
    let mut rng = ruckus_sim::Random::stream(1, "t", 0);
    let early = reconcile::compute_plan(&s, "j", secs(11), &settings, &mut rng).plan;
    assert!(early.placements.is_empty(), "{early:?}");
    assert!(early.stops.is_empty());
    assert_eq!(early.follow_up, Some(secs(70)));
    let due = reconcile::compute_plan(&s, "j", secs(70), &settings, &mut rng).plan;
    let previous: Vec<_> = due.placements.iter().map(|p| p.previous).collect();
    assert_eq!(previous, vec![Some(AllocId(0)), Some(AllocId(1))]);
    assert!(due.placements.iter().all(|p| p.node == NodeId(1)));
}

/// [`disconnected_state`] past `lost_after` (replacements 2 and 3 running on node 1), then
/// node 0 back; returns the plan of the reconnect evaluation under `policy`.
fn reconnect_plan(policy: ReconnectPolicy) -> (ClusterState, Plan) {
    let mut s = disconnected_state();
    let settings = planning(DisconnectPolicy {
        lost_after: Duration::from_secs(60),
        reconcile: policy,
    });
    let mut rng = ruckus_sim::Random::stream(1, "t", 0);
    let due = reconcile::compute_plan(&s, "j", secs(70), &settings, &mut rng).plan;
    let out = s.apply(Command::ApplyPlan {
        plan: due,
        trust_snapshot: false,
        now: secs(70),
    });
    assert_eq!(out.placed, 2, "{out:?} {:?}", s.allocs);
    s.apply(Command::UpdateAllocs {
        node: NodeId(1),
        updates: vec![
            (AllocId(2), ClientStatus::Running),
            (AllocId(3), ClientStatus::Running),
        ],
        now: secs(71),
    });
    let out = s.apply(Command::RegisterNode {
        id: NodeId(0),
        agent: ProcessId(2),
        capacity: Resources::new(4000, 1000),
        attributes: NodeAttributes::default(),
    });
    assert_eq!(out.evals.len(), 1, "the reconnect re-evaluates the job");
    assert_eq!(s.allocs[&AllocId(0)].client, ClientStatus::Running);
    // Original and replacement both run: the servers count each pair once.
    assert_eq!(s.running_count("j", 0), 2);
    assert!(check_counts(&s).is_ok());
    let plan = reconcile::compute_plan(&s, "j", secs(80), &settings, &mut rng).plan;
    assert!(plan.placements.is_empty(), "{plan:?}");
    (s, plan)
}

#[test]
fn a_reconnected_node_keeps_its_originals_and_stops_the_replacements() {
    let (mut s, plan) = reconnect_plan(ReconnectPolicy::KeepOriginal);
    assert_eq!(plan.stops, vec![AllocId(2), AllocId(3)]);
    s.apply(Command::ApplyPlan {
        plan,
        trust_snapshot: false,
        now: secs(80),
    });
    let live: Vec<_> = s.allocs.values().filter(|a| a.live()).map(|a| a.id).collect();
    assert_eq!(live, vec![AllocId(0), AllocId(1)]);
    // The originals hold their slots again: a later failure of one is replaced.
    assert!(s.allocs.values().filter(|a| a.live()).all(|a| !a.replaced));
}

#[test]
fn best_score_keeps_whichever_fits_its_node_better() {
    // Binpack prefers fuller nodes: the replacements fill 60% of node 1, the originals 30% of
    // node 0, so the originals go.
    let (_, plan) = reconnect_plan(ReconnectPolicy::BestScore);
    assert_eq!(plan.stops, vec![AllocId(0), AllocId(1)]);
}

fn disconnect_config(lost_after_s: u64) -> Config {
    Config {
        disconnect: DisconnectPolicy {
            lost_after: Duration::from_secs(lost_after_s),
            reconcile: ReconnectPolicy::KeepOriginal,
        },
        ..spread_config()
    }
}

#[test]
fn a_node_back_within_lost_after_runs_its_allocations_on() {
    // Node 0 is marked down at about 40-50 s and back at 80 s, within the 120 s allowed.
    let config = disconnect_config(120);
    let plan = FaultPlan {
        actions: vec![crash(0, 20, 60)],
        heal_at: None,
    };
    let (report, sim) = run(&config, 3, Duration::from_secs(200), plan);
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    assert_eq!(sim.metrics().counter("sched.nodes_down"), 1);
    assert_eq!(sim.metrics().counter("sched.allocs_moved"), 0);
    let s = state(&sim);
    assert!(s.allocs.values().any(|a| a.live() && a.node == NodeId(0)));
    assert!(
        s.allocs.values().all(|a| a.previous.is_none()),
        "nothing was replaced"
    );
}

#[test]
fn a_node_back_after_lost_after_keeps_its_originals() {
    // Replaced 10 s after being marked down; back at 80 s: the replacements are stopped.
    let config = disconnect_config(10);
    let plan = FaultPlan {
        actions: vec![crash(0, 20, 60)],
        heal_at: None,
    };
    let (report, sim) = run(&config, 3, Duration::from_secs(200), plan);
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    assert!(sim.metrics().counter("sched.allocs_moved") > 0);
    let s = state(&sim);
    let replacements: Vec<&Allocation> = s.allocs.values().filter(|a| a.previous.is_some()).collect();
    assert!(!replacements.is_empty());
    for r in replacements {
        assert_eq!(r.desired, DesiredStatus::Stop, "{r:?}");
        assert!(s.allocs[&r.previous.expect("a replacement")].live());
    }
}

// ---- rolling updates ----

/// One service job of 4 allocations on 4 nodes, updated to version 1 (more CPU) at 20 s.
fn update_config(max_parallel: u32) -> Config {
    Config {
        nodes: 4,
        service_jobs: 1,
        service_count: 4,
        batch_jobs: 0,
        update: Some(UpdateSpec {
            at: Duration::from_secs(20),
            policy: UpdatePolicy {
                max_parallel,
                min_healthy_time: Duration::from_secs(10),
                healthy_deadline: Duration::from_secs(60),
            },
            resources: Some(Resources::new(700, 512)),
            fail_after: None,
        }),
        ..Config::default()
    }
}

/// Steps a run without faults event by event, calling `check` with the time and the state.
fn step_timed(
    config: &Config,
    horizon: Duration,
    mut check: impl FnMut(Instant, &ClusterState),
) -> RunReport {
    let mut sim = build(config, 3, horizon, FaultPlan::none());
    let mut event = 0;
    loop {
        event += 1;
        if let ruckus_sim::Progress::Finished(report) = sim.run_until_event(event) {
            return report;
        }
        check(sim.now(), state(&sim));
    }
}

/// New-version allocations whose old allocation still runs on (replacements in flight).
fn in_flight(s: &ClusterState) -> usize {
    s.allocs
        .values()
        .filter(|r| r.version == 1 && r.live())
        .filter(|r| {
            r.previous
                .is_some_and(|p| s.allocs[&p].live() && s.allocs[&p].version == 0)
        })
        .count()
}

fn rolls_at_most(max_parallel: u32) {
    let config = update_config(max_parallel);
    let min_healthy = Duration::from_secs(10);
    let (mut most, mut fewest_running) = (0, usize::MAX);
    let mut stopped_at: BTreeMap<AllocId, Instant> = BTreeMap::new();
    let mut checked = 0;
    let report = step_timed(&config, Duration::from_secs(200), |now, s| {
        most = most.max(in_flight(s));
        if s.jobs.get("service-0").is_some_and(|r| r.running_at.is_some()) {
            fewest_running = fewest_running.min(s.running_count("service-0", 0));
        }
        for a in s
            .allocs
            .values()
            .filter(|a| a.version == 0 && a.desired == DesiredStatus::Stop)
        {
            if let std::collections::btree_map::Entry::Vacant(slot) = stopped_at.entry(a.id) {
                slot.insert(now);
                // Stopped only once its replacement has run min_healthy_time.
                let r = s
                    .allocs
                    .values()
                    .find(|r| r.previous == Some(a.id))
                    .expect("a stopped old allocation has a replacement");
                let since = r.running_since.expect("its replacement runs");
                assert!(
                    since + min_healthy <= now,
                    "alloc {} stopped at {now}, replacement running since {since}",
                    a.id.0
                );
                checked += 1;
            }
        }
    });
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    assert_eq!(most, max_parallel as usize, "replacements in flight at once");
    assert_eq!(checked, 4, "every old allocation was stopped once");
    assert!(fewest_running >= 4, "the group fell to {fewest_running} running");
    let stops: Vec<Instant> = stopped_at.values().copied().collect();
    // With max_parallel 1 the stops are a health period apart; with 2 they come in pairs.
    let waves = stops.iter().collect::<std::collections::BTreeSet<_>>().len();
    assert!(waves >= (4 / max_parallel) as usize, "stops at {stops:?}");
}

#[test]
fn a_rolling_update_replaces_one_allocation_at_a_time() {
    rolls_at_most(1);
    let (report, sim) = run(&update_config(1), 3, Duration::from_secs(200), FaultPlan::none());
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let s = state(&sim);
    let record = &s.jobs["service-0"];
    assert_eq!(record.version, 1);
    assert_eq!(
        record.deployment.map(|d| d.status),
        Some(DeploymentStatus::Successful)
    );
    let live: Vec<&Allocation> = s.allocs.values().filter(|a| a.live()).collect();
    assert_eq!(live.len(), 4);
    assert!(
        live.iter()
            .all(|a| a.version == 1 && a.resources == Resources::new(700, 512))
    );
}

#[test]
fn a_rolling_update_with_max_parallel_two_replaces_two_at_a_time() {
    rolls_at_most(2);
}

#[test]
fn a_bad_version_fails_the_deployment_after_the_healthy_deadline() {
    let mut config = update_config(1);
    if let Some(u) = config.update.as_mut() {
        u.fail_after = Some(Duration::from_secs(3));
    }
    // Restarts never run out: the deadline, not the restart policy, fails it.
    config.service_restart.attempts = 1000;
    let mut failed_at = None;
    let mut first_placed: Option<Instant> = None;
    let report = step_timed(&config, Duration::from_secs(200), |now, s| {
        if first_placed.is_none() {
            first_placed = s.allocs.values().find(|a| a.version == 1).map(|a| a.created_at);
        }
        let status = s
            .jobs
            .get("service-0")
            .and_then(|r| r.deployment)
            .map(|d| d.status);
        if failed_at.is_none() && status == Some(DeploymentStatus::Failed) {
            failed_at = Some(now);
        }
    });
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let placed = first_placed.expect("a replacement was placed");
    let failed = failed_at.expect("the deployment failed");
    assert!(
        failed >= placed + Duration::from_secs(60),
        "failed at {failed}, placed at {placed}"
    );
    let (report, sim) = run(&config, 3, Duration::from_secs(200), FaultPlan::none());
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let s = state(&sim);
    // One replacement was tried (max_parallel 1) and stopped; the rest stay on version 0.
    assert_eq!(s.allocs.values().filter(|a| a.version == 1).count(), 1);
    let live: Vec<&Allocation> = s.allocs.values().filter(|a| a.live()).collect();
    assert_eq!(live.len(), 4);
    assert!(live.iter().all(|a| a.version == 0));
    assert_eq!(s.running_count("service-0", 0), 4);
}

/// scenarios/data/scheduler_update_ignores_max_parallel.toml (its crashes and partitions).
#[test]
fn bug_update_ignores_max_parallel_fails_update_keeps_healthy_and_the_fix_holds() {
    let mut config = update_config(1);
    config.nodes = 6;
    config.service_jobs = 3;
    config.service_count = 3;
    if let Some(u) = config.update.as_mut() {
        u.at = Duration::from_secs(60);
        u.policy.healthy_deadline = Duration::from_secs(300);
    }
    config.bugs.update_ignores_max_parallel = true;
    let profile = FaultProfile {
        max_hosts_down: 2,
        quiet_period: Duration::from_secs(240),
        crash: rate(40, 5, 60),
        partition: rate(60, 1, 40),
        ..FaultProfile::default()
    };
    let (failed, healthy) = bug_and_healthy(
        &config,
        |c| c.bugs.update_ignores_max_parallel = false,
        &profile,
        Duration::from_secs(600),
    );
    assert_eq!(failed.as_deref(), Some("update_keeps_healthy"));
    assert_eq!(healthy.verdict, Verdict::Held, "{healthy}");
}

#[test]
fn updates_leave_batch_jobs_and_stale_versions_alone() {
    let mut s = one_node_state(4000);
    let job = s.jobs["j"].job.clone();
    let policy = UpdatePolicy::default();
    let update = |version| Command::UpdateJob {
        job: job.clone(),
        version,
        policy,
        now: Instant::ZERO,
    };
    assert_eq!(s.apply(update(1)).evals.len(), 1);
    assert_eq!(s.jobs["j"].version, 1);
    // The submitter's resend of the same version changes nothing.
    assert!(s.apply(update(1)).evals.is_empty());
    let batch = Job {
        name: "b".into(),
        kind: JobKind::Batch,
        groups: vec![TaskGroup::default()],
    };
    s.apply(Command::RegisterJob {
        job: batch.clone(),
        now: Instant::ZERO,
    });
    let out = s.apply(Command::UpdateJob {
        job: batch,
        version: 1,
        policy,
        now: Instant::ZERO,
    });
    assert!(out.evals.is_empty());
    assert_eq!(s.jobs["b"].version, 0);
}

/// The state's allocation indexes (per job, per node, usage per node) stay equal to what the
/// allocations say on every server through crashes, partitions, a drain, a crash-looping job,
/// unknown allocations that reconnect and a rolling update.
#[test]
fn allocation_indexes_follow_every_change() {
    let mut config = update_config(2);
    config.nodes = 6;
    config.service_jobs = 2;
    config.crashing_jobs = 1;
    config.crash_after = Duration::from_secs(3);
    config.disconnect.lost_after = Duration::from_secs(30);
    config.drains = vec![DrainSpec {
        node: 1,
        at: Duration::from_secs(40),
        deadline: Duration::from_secs(20),
    }];
    let plan = FaultPlan {
        actions: vec![
            crash(0, 25, 20),
            crash(3, 60, 200),
            FaultAction {
                at: Instant::ZERO + Duration::from_secs(90),
                fault: Fault::CrashHost {
                    host: HostId(0),
                    down_for: Duration::from_secs(10),
                },
            },
        ],
        heal_at: None,
    };
    let mut sim = build(&config, 5, Duration::from_secs(500), plan);
    let (mut checks, mut saw_unknown) = (0, false);
    loop {
        let done = match sim.run_until_event(sim.events() + 100) {
            Progress::Finished(report) => {
                assert_eq!(report.verdict, Verdict::Held, "{report}");
                true
            }
            _ => false,
        };
        for s in servers(&sim) {
            s.state()
                .indexes_agree()
                .unwrap_or_else(|e| panic!("at {}: {e}", sim.now()));
            checks += 1;
            saw_unknown |= s
                .state()
                .allocs
                .values()
                .any(|a| a.client == ClientStatus::Unknown);
        }
        if done {
            break;
        }
    }
    let s = state(&sim);
    assert!(checks > 100, "{checks}");
    assert!(saw_unknown, "a node was disconnected long enough");
    assert!(s.allocs.values().any(|a| a.desired == DesiredStatus::Stop));
    assert!(
        s.allocs.values().any(|a| a.version == 1),
        "the update placed allocations"
    );
}

#[test]
fn an_evaluation_is_pending_until_a_plan_answers_it_and_a_delayed_one_only_once_due() {
    let mut s = one_node_state(2000);
    let now = Instant::ZERO + Duration::from_secs(1);
    let err = check_evaluations_complete(&s, now).expect_err("the registration's evaluation is pending");
    assert!(err.contains("evaluation 0 of job j"), "{err}");
    s.apply(Command::ApplyPlan {
        plan: two_placements(),
        trust_snapshot: false,
        now,
    });
    assert_eq!(check_evaluations_complete(&s, now), Ok(()));
    s.apply(Command::CreateEval {
        job: "j".into(),
        trigger: Trigger::Reschedule,
        wait_until: Some(now + Duration::from_secs(30)),
    });
    assert_eq!(check_evaluations_complete(&s, now), Ok(()), "not due yet");
    assert!(check_evaluations_complete(&s, now + Duration::from_secs(30)).is_err());
}

#[test]
fn fragmentation_is_the_share_of_free_cpu_too_small_for_the_smallest_group() {
    // Node 0: 1,000 MHz; the group needs 600: one allocation fits, leaving 400 stranded.
    let mut s = one_node_state(1000);
    assert_eq!(s.fragmentation(), Some(0.0), "1,000 free MHz fit a 600 MHz group");
    s.apply(Command::ApplyPlan {
        plan: two_placements(),
        trust_snapshot: false,
        now: Instant::ZERO,
    });
    assert_eq!(s.fragmentation(), Some(1.0), "400 MHz left, all of it stranded");
    s.apply(Command::RegisterNode {
        id: NodeId(1),
        agent: ProcessId(3),
        capacity: Resources::new(2000, 1000),
        attributes: NodeAttributes::default(),
    });
    assert_eq!(s.fragmentation(), Some(400.0 / 2400.0));
    assert_eq!(ClusterState::default().fragmentation(), None, "no jobs");
}
