//! Behaviour of the services model as a whole: queueing, each policy inside a run, tiers.

use super::overload::{AimdConfig, GradientConfig, VegasConfig};
use super::policy::{
    Backoff, Balance, BalancerConfig, BreakerConfig, EjectionConfig, RetryBudgetConfig, RetryPolicy,
};
use super::*;
use ruckus_sim::{Limits, SimConfig, Verdict, check_determinism};

mod measured;
mod policies;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn build(config: &Config, seed: u64, horizon: Duration) -> Sim<Node> {
    build_with(
        config,
        seed,
        horizon,
        Distribution::constant(Duration::from_micros(500)),
    )
}

fn build_with(config: &Config, seed: u64, horizon: Duration, latency: Distribution) -> Sim<Node> {
    let mut sc = SimConfig::with_seed(seed);
    sc.limits = Limits {
        horizon,
        ..Limits::default()
    };
    let mut sim = Sim::new(sc, &config.topology(latency));
    setup(&mut sim, config);
    for p in properties(config) {
        sim.add_property(p);
    }
    sim
}

fn run(config: &Config, seed: u64, horizon: Duration) -> (Verdict, BTreeMap<String, f64>) {
    run_on(
        config,
        seed,
        horizon,
        Distribution::constant(Duration::from_micros(500)),
    )
}

fn run_on(
    config: &Config,
    seed: u64,
    horizon: Duration,
    latency: Distribution,
) -> (Verdict, BTreeMap<String, f64>) {
    let mut sim = build_with(config, seed, horizon, latency);
    let report = sim.run();
    (report.verdict, summarize(config, sim.metrics(), report.end_time))
}

/// One server, exponential service at `mu` per second, Poisson arrivals at `lambda`.
fn mm1(lambda: f64, mu: f64) -> Config {
    Config {
        clients: 1,
        workload: Workload::Open { rate: lambda },
        client: CallerConfig {
            timeout: Duration::from_secs(1000),
            ..CallerConfig::default()
        },
        tiers: vec![TierConfig {
            queue_capacity: 1_000_000,
            service_time: Distribution::Exponential {
                mean: Duration((1e9 / mu) as u64),
            },
            ..TierConfig::default()
        }],
        measure_after: Duration::from_secs(2),
        ..Config::default()
    }
}

#[test]
fn mm1_mean_response_time_at_half_load() {
    // No network delay, so the client sees the queue alone.
    let zero = Distribution::constant(Duration::ZERO);
    let (verdict, s) = run_on(&mm1(500.0, 1000.0), 1, Duration::from_secs(60), zero);
    assert_eq!(verdict, Verdict::Held);
    let want = 1000.0 / (1000.0 - 500.0); // ms
    let got = s["tier0.sojourn_mean_ms"];
    assert!(
        (got - want).abs() / want < 0.05,
        "sojourn {got} ms, M/M/1 says {want}"
    );
    // With zero network delay, the client's latency is the server's sojourn.
    assert!((s["latency_mean_ms"] - got).abs() < 1e-3);
    assert!((s["goodput"] - 500.0).abs() < 25.0, "{s:?}");
}

#[test]
fn runs_are_deterministic() {
    let mut config = mm1(800.0, 1000.0);
    config.client.retry = RetryPolicy {
        backoff: Backoff::FullJitter,
        ..RetryPolicy::default()
    };
    config.client.timeout = ms(5);
    check_determinism(|| build(&config, 9, Duration::from_secs(3))).expect("same seed, same run");
}

#[test]
fn retries_amplify_and_recover_errors() {
    let mut config = Config {
        degradations: vec![Degradation {
            tier: 0,
            server: None,
            at: Duration::ZERO,
            duration: Duration::from_secs(100),
            mode: DegradeMode::Errors { probability: 0.3 },
        }],
        ..Config::default()
    };
    let (_, none) = run(&config, 1, Duration::from_secs(10));
    config.client.retry = RetryPolicy {
        backoff: Backoff::Fixed,
        base: ms(1),
        cap: ms(10),
        max_attempts: 3,
    };
    let (_, retry) = run(&config, 1, Duration::from_secs(10));
    assert!((none["success_rate"] - 0.7).abs() < 0.03, "{none:?}");
    // Three tries each failing with 0.3: 1 - 0.027 succeed, at 1 + 0.3 + 0.09 attempts each.
    assert!((retry["success_rate"] - 0.973).abs() < 0.01, "{retry:?}");
    assert!((retry["amplification"] - 1.39).abs() < 0.04, "{retry:?}");
    assert_eq!(none["amplification"], 1.0);
}

/// 4 clients at 20/s each against a server failing every request from the start; immediate
/// retries, up to 5 attempts.
fn always_failing() -> Config {
    let mut config = Config {
        degradations: vec![Degradation {
            tier: 0,
            server: None,
            at: Duration::ZERO,
            duration: Duration::from_secs(100),
            mode: DegradeMode::Errors { probability: 1.0 },
        }],
        workload: Workload::Open { rate: 20.0 },
        ..Config::default()
    };
    config.client.retry = RetryPolicy {
        backoff: Backoff::Immediate,
        max_attempts: 5,
        ..RetryPolicy::default()
    };
    config
}

#[test]
fn budget_caps_retries() {
    let mut config = always_failing();
    let (_, unlimited) = run(&config, 2, Duration::from_secs(10));
    // Calls still in flight at the end have made only some of their five attempts.
    assert!((unlimited["amplification"] - 5.0).abs() < 0.02, "{unlimited:?}");
    config.client.budget = Some(RetryBudgetConfig {
        ratio: 0.1,
        max_tokens: 5.0,
        initial_tokens: 0.0,
    });
    let (_, budget) = run(&config, 2, Duration::from_secs(10));
    assert!(budget["amplification"] <= 1.11, "{budget:?}");
    assert!(budget["budget_denied"] > 0.0);
}

#[test]
fn breaker_opens_under_errors_and_fails_fast() {
    let mut config = Config {
        degradations: vec![Degradation {
            tier: 0,
            server: None,
            at: Duration::from_secs(2),
            duration: Duration::from_secs(2),
            mode: DegradeMode::Errors { probability: 1.0 },
        }],
        ..Config::default()
    };
    config.client.breaker = Some(BreakerConfig {
        open_for: ms(200),
        ..BreakerConfig::default()
    });
    let (_, s) = run(&config, 3, Duration::from_secs(8));
    let rejected = s.get("breaker_rejected").copied().unwrap_or(0.0);
    assert!(rejected > 100.0, "{s:?}");
    // Attempts that reached the server are far fewer than offers during the outage.
    assert!(s["attempts"] < s["offered"] - rejected + 1.0);
    // It closes again after the outage: the run ends healthy.
    assert_eq!(s["recovered"], 1.0, "{s:?}");
    assert!(s["recovery_time_s"] <= 1.0, "{s:?}");
}

#[test]
fn hedging_cuts_the_tail_of_a_slow_server() {
    let mut config = Config {
        tiers: vec![TierConfig {
            servers: 2,
            concurrency: 8,
            service_time: Distribution::constant(ms(1)),
            ..TierConfig::default()
        }],
        degradations: vec![Degradation {
            tier: 0,
            server: Some(0),
            at: Duration::ZERO,
            duration: Duration::from_secs(100),
            mode: DegradeMode::Slow { factor: 50.0 },
        }],
        ..Config::default()
    };
    let (_, plain) = run(&config, 4, Duration::from_secs(5));
    config.client.hedge_after = Some(ms(5));
    let (_, hedged) = run(&config, 4, Duration::from_secs(5));
    assert!(plain["latency_p99_ms"] >= 50.0, "{plain:?}");
    assert!(hedged["latency_p99_ms"] < 10.0, "{hedged:?}");
    assert!(hedged["hedges"] > 0.0);
}

#[test]
fn outlier_ejection_routes_around_a_failing_server() {
    let mut config = Config {
        tiers: vec![TierConfig {
            servers: 4,
            ..TierConfig::default()
        }],
        degradations: vec![Degradation {
            tier: 0,
            server: Some(1),
            at: Duration::ZERO,
            duration: Duration::from_secs(100),
            mode: DegradeMode::Errors { probability: 1.0 },
        }],
        ..Config::default()
    };
    let (_, plain) = run(&config, 5, Duration::from_secs(10));
    assert!((plain["success_rate"] - 0.75).abs() < 0.03, "{plain:?}");
    config.client.balancer = BalancerConfig {
        policy: Balance::RoundRobin,
        ejection: Some(EjectionConfig {
            consecutive_failures: 3,
            ejection_time: Duration::from_secs(1),
            max_ejected_fraction: 0.5,
        }),
    };
    let (_, ejecting) = run(&config, 5, Duration::from_secs(10));
    // Each second the ejected server returns and costs three failures per client.
    assert!(ejecting["success_rate"] > 0.95, "{ejecting:?}");
    assert!(
        ejecting["success_rate"] < 0.995,
        "it must come back and fail again: {ejecting:?}"
    );
}

#[test]
fn power_of_two_beats_random_on_latency() {
    let mut config = Config {
        clients: 2,
        workload: Workload::Open { rate: 1700.0 },
        tiers: vec![TierConfig {
            servers: 4,
            ..TierConfig::default()
        }],
        ..Config::default()
    };
    config.client.balancer.policy = Balance::Random;
    let (_, random) = run(&config, 6, Duration::from_secs(10));
    config.client.balancer.policy = Balance::PowerOfTwo;
    let (_, p2c) = run(&config, 6, Duration::from_secs(10));
    assert!(
        p2c["latency_mean_ms"] < random["latency_mean_ms"] * 0.8,
        "p2c {p2c:?} random {random:?}"
    );
}

#[test]
fn retries_multiply_across_tiers() {
    let retry = RetryPolicy {
        backoff: Backoff::Immediate,
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    let mut config = Config {
        tiers: vec![
            TierConfig {
                concurrency: 64,
                caller: CallerConfig {
                    retry,
                    ..CallerConfig::default()
                },
                ..TierConfig::default()
            },
            TierConfig {
                concurrency: 64,
                ..TierConfig::default()
            },
        ],
        degradations: vec![Degradation {
            tier: 1,
            server: None,
            at: Duration::ZERO,
            duration: Duration::from_secs(100),
            mode: DegradeMode::Errors { probability: 1.0 },
        }],
        ..Config::default()
    };
    config.client.retry = retry;
    let (_, s) = run(&config, 7, Duration::from_secs(5));
    // Each of 3 client attempts makes 3 tier-1 attempts: 9 at the bottom per request.
    let bottom = s["tier0.attempts"] / s["offered"];
    assert!((bottom - 9.0).abs() < 0.05, "{s:?}");
    assert_eq!(s["success_rate"], 0.0);
}

#[test]
fn queue_capacity_sheds_and_lifo_serves_the_fresh() {
    let config = Config {
        clients: 1,
        workload: Workload::Open { rate: 2000.0 },
        tiers: vec![TierConfig {
            queue_capacity: 10,
            ..TierConfig::default()
        }],
        ..Config::default()
    };
    let (_, s) = run(&config, 8, Duration::from_secs(5));
    assert!(s["tier0.shed"] > 1000.0, "twice the capacity must shed: {s:?}");
    assert!(s["goodput"] < 1100.0);

    // Overloaded with a long queue and a 50 ms deadline: FIFO serves only stale requests,
    // LIFO serves the newest ones in time.
    let mut slow = Config {
        clients: 1,
        workload: Workload::Open { rate: 1500.0 },
        tiers: vec![TierConfig {
            queue_capacity: 100_000,
            ..TierConfig::default()
        }],
        ..Config::default()
    };
    slow.client.timeout = ms(50);
    let (_, fifo) = run(&slow, 8, Duration::from_secs(5));
    slow.tiers[0].queue = QueueOrder::Lifo;
    let (_, lifo) = run(&slow, 8, Duration::from_secs(5));
    assert!(
        lifo["success_rate"] > fifo["success_rate"] + 0.2,
        "lifo {lifo:?} fifo {fifo:?}"
    );
}

#[test]
fn slo_property_fails_when_violated() {
    let mut config = Config {
        slo: Some(Slo {
            success_rate: 0.99,
            latency_p99: ms(50),
            ..Slo::default()
        }),
        ..Config::default()
    };
    let (verdict, _) = run(&config, 1, Duration::from_secs(3));
    assert_eq!(verdict, Verdict::Held);
    config.degradations.push(Degradation {
        tier: 0,
        server: None,
        at: Duration::from_secs(1),
        duration: Duration::from_secs(1),
        mode: DegradeMode::Errors { probability: 0.5 },
    });
    let (verdict, _) = run(&config, 1, Duration::from_secs(3));
    assert_eq!(verdict, Verdict::SafetyViolation);
}

#[test]
fn recovery_time_finds_the_first_good_window() {
    let s = Duration::from_secs;
    let offered: Vec<u64> = (0..100).map(|k| k * 100_000_000).collect(); // 10/s for 10 s
    let ok: Vec<u64> = offered.iter().copied().filter(|&t| t >= 6_000_000_000).collect();
    let (rec, t) = recovery_time(
        Instant::ZERO + s(2),
        Instant::ZERO + s(10),
        s(1),
        0.9,
        &offered,
        &ok,
    );
    assert!(rec);
    assert_eq!(t, s(4));
    let (rec, t) = recovery_time(
        Instant::ZERO + s(2),
        Instant::ZERO + s(10),
        s(1),
        0.9,
        &offered,
        &[],
    );
    assert!(!rec);
    assert_eq!(t, s(8));
}

#[test]
fn bad_configs_are_named() {
    let c = Config {
        tiers: vec![],
        ..Config::default()
    };
    assert!(c.validate().unwrap_err().contains("tier"));
    let c = Config {
        degradations: vec![Degradation {
            tier: 3,
            server: None,
            at: Duration::ZERO,
            duration: ms(1),
            mode: DegradeMode::Stall,
        }],
        ..Config::default()
    };
    assert!(c.validate().unwrap_err().contains("degradations.0"));
    let c = Config {
        workload: Workload::Open { rate: -1.0 },
        ..Config::default()
    };
    assert!(c.validate().is_err());
}

/// One server on host 0 with constant 1 ms work; clients on the other hosts.
fn one_server() -> Config {
    Config {
        tiers: vec![TierConfig {
            servers: 1,
            concurrency: 8,
            service_time: Distribution::constant(ms(1)),
            ..TierConfig::default()
        }],
        ..Config::default()
    }
}

fn run_with_plan(config: &Config, plan: ruckus_sim::FaultPlan) -> (Verdict, BTreeMap<String, f64>) {
    let mut sim = build(config, 7, Duration::from_secs(4));
    sim.set_fault_plan(plan).unwrap();
    let report = sim.run();
    (report.verdict, summarize(config, sim.metrics(), report.end_time))
}

fn degrade_plan(mode: &str, at: u64, duration: u64) -> ruckus_sim::FaultPlan {
    ruckus_sim::FaultPlan {
        actions: vec![ruckus_sim::FaultAction {
            at: Instant::ZERO + ms(at),
            fault: ruckus_sim::Fault::Degrade {
                host: HostId(0),
                mode: mode.to_string(),
                duration: ms(duration),
            },
        }],
        heal_at: None,
    }
}

/// A fault-plan slowdown is a trigger for the recovery time just as a scheduled one is: its
/// end is seen by the server at its first event afterwards.
#[test]
fn recovery_time_counts_from_the_end_of_a_fault_plan_degradation() {
    let config = Config {
        clients: 4,
        workload: Workload::Open { rate: 100.0 },
        ..one_server()
    };
    let (_, calm) = run_with_plan(&config, ruckus_sim::FaultPlan::none());
    assert!(
        !calm.contains_key("recovery_time_s"),
        "no trigger, no recovery figure: {calm:?}"
    );
    let (_, slowed) = run_with_plan(&config, degrade_plan("slow:4", 1_000, 500));
    assert_eq!(slowed.get("recovered"), Some(&1.0), "{slowed:?}");
    // Seen at the server's first event after 1.5 s: within a few ms of the real end.
    let mut sim = build(&config, 7, Duration::from_secs(4));
    sim.set_fault_plan(degrade_plan("slow:4", 1_000, 500)).unwrap();
    sim.run();
    let seen = sim.metrics().samples(super::server::FAULT_DEGRADATION_END);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!((1_500_000_000..1_520_000_000).contains(&seen[0]), "{seen:?}");
}

#[test]
fn degrade_modes_parse_and_bad_ones_are_named() {
    assert_eq!(
        DegradeMode::parse("slow:4"),
        Ok(DegradeMode::Slow { factor: 4.0 })
    );
    assert_eq!(
        DegradeMode::parse(" brownout:2:0.1 "),
        Ok(DegradeMode::Brownout {
            factor: 2.0,
            probability: 0.1
        })
    );
    assert_eq!(
        DegradeMode::parse("cpu_cut:2"),
        Ok(DegradeMode::CpuCut { concurrency: 2 })
    );
    assert_eq!(
        DegradeMode::parse("errors:0.3"),
        Ok(DegradeMode::Errors { probability: 0.3 })
    );
    assert_eq!(DegradeMode::parse("stall"), Ok(DegradeMode::Stall));
    assert!(
        DegradeMode::parse("slow")
            .unwrap_err()
            .contains("unknown degrade mode")
    );
    assert!(DegradeMode::parse("slow:x").unwrap_err().contains("not a number"));
    assert!(
        DegradeMode::parse("errors:1.5")
            .unwrap_err()
            .contains("bad parameters")
    );
    assert!(
        DegradeMode::parse("cpu_cut:0")
            .unwrap_err()
            .contains("bad parameters")
    );
}

#[test]
fn a_fault_plan_slow_episode_raises_latency_and_none_without_it() {
    let config = one_server();
    let (v0, calm) = run_with_plan(&config, ruckus_sim::FaultPlan::none());
    let (v1, slow) = run_with_plan(&config, degrade_plan("slow:30", 1000, 1000));
    assert_eq!((v0, v1), (Verdict::Held, Verdict::Held));
    assert!(calm["latency_p99_ms"] < 5.0, "{calm:?}");
    // A quarter of the run takes 30 ms of work instead of 1 ms.
    assert!(slow["latency_p99_ms"] >= 25.0, "{slow:?}");
    assert!(
        slow["latency_p50_ms"] < 5.0,
        "the rest of the run is unaffected: {slow:?}"
    );
}

#[test]
fn a_fault_plan_stall_holds_the_queue_and_it_drains_when_the_stall_ends() {
    let config = one_server();
    let (_, calm) = run_with_plan(&config, ruckus_sim::FaultPlan::none());
    let (verdict, stalled) = run_with_plan(&config, degrade_plan("stall", 1000, 200));
    assert_eq!(verdict, Verdict::Held);
    // Requests caught in the stall wait up to 200 ms, then are served: nothing is lost to it
    // beyond what a timeout would cost.
    assert!(stalled["latency_p99_ms"] > 50.0, "{stalled:?}");
    assert!(calm["latency_p99_ms"] < 5.0, "{calm:?}");
    assert!(stalled["ok"] > 0.9 * calm["ok"], "{stalled:?} vs {calm:?}");
}

#[test]
fn an_unknown_degrade_mode_is_a_model_panic() {
    let (verdict, _) = run_with_plan(&one_server(), degrade_plan("melt", 1000, 100));
    assert_eq!(verdict, Verdict::ModelPanic);
}

#[test]
fn a_profile_with_degrade_modes_generates_episodes_that_show_in_the_metrics() {
    let config = one_server();
    let topology = config.topology(Distribution::constant(Duration::from_micros(500)));
    let mut profile = ruckus_sim::FaultProfile::none();
    profile.degrade = Some(ruckus_sim::FaultRate {
        mean_interval: ms(300),
        duration_min: ms(200),
        duration_max: ms(400),
    });
    profile.degrade_modes = vec!["slow:30".into()];
    profile.quiet_period = ms(500);
    let plan = profile.plan(7, topology.hosts(), Duration::from_secs(4));
    let on_server = plan
        .actions
        .iter()
        .filter(|a| matches!(&a.fault, ruckus_sim::Fault::Degrade { host, mode, .. } if host.0 == 0 && mode == "slow:30"))
        .count();
    assert!(on_server > 0, "no degradation of the server in\n{plan}");
    let (verdict, m) = run_with_plan(&config, plan);
    assert_eq!(verdict, Verdict::Held);
    assert!(m["latency_p99_ms"] >= 25.0, "{m:?}");
    // Without modes the same profile generates nothing.
    profile.degrade_modes.clear();
    assert!(
        profile
            .plan(7, topology.hosts(), Duration::from_secs(4))
            .actions
            .is_empty()
    );
}

#[test]
fn processes_answer_their_tier_server_caller_and_client_roles() {
    let mut config = one_server();
    config.clients = 2;
    config.tiers = vec![
        TierConfig {
            servers: 2,
            ..TierConfig::default()
        },
        TierConfig {
            servers: 1,
            ..TierConfig::default()
        },
    ];
    let sim = build(&config, 1, ms(10));
    // Tier 0 is p0-p1, tier 1 is p2, clients p3-p4.
    let roles = |p: u32| -> Vec<&str> {
        let node = sim.process(ProcessId(p)).unwrap();
        [
            "tier0", "tier1", "tier2", "server", "instance", "caller", "client", "tierx",
        ]
        .into_iter()
        .filter(|r| node.has_role(r))
        .collect()
    };
    assert_eq!(roles(0), vec!["tier0", "server", "instance", "caller"]);
    assert_eq!(roles(1), vec!["tier0", "server", "instance", "caller"]);
    assert_eq!(roles(2), vec!["tier1", "server", "instance"]);
    assert_eq!(roles(3), vec!["caller", "client"]);
    assert_eq!(roles(4), vec!["caller", "client"]);
    // Reports name them by tier.
    let labels: Vec<String> = sim.process_labels().into_iter().map(|l| l.label).collect();
    assert_eq!(
        labels,
        ["tier0-server", "tier0-server", "tier1-server", "client", "client"]
    );
}

// ---- Overload protection inside runs ----

/// One server (8 workers, 8 ms each: about 1000 requests/s), 10 clients at `rate` each.
fn eight_workers(rate: f64) -> Config {
    Config {
        clients: 10,
        workload: Workload::Open { rate },
        tiers: vec![TierConfig {
            concurrency: 8,
            queue_capacity: 100_000,
            service_time: Distribution::Exponential { mean: ms(8) },
            ..TierConfig::default()
        }],
        measure_after: Duration::from_secs(1),
        ..Config::default()
    }
}

#[test]
fn bulkhead_caps_calls_in_flight_and_counts_rejections() {
    // One client, constant 10 ms service on 100 workers, 1 ms round trip.
    let mut config = Config {
        clients: 1,
        workload: Workload::Open { rate: 1000.0 },
        tiers: vec![TierConfig {
            concurrency: 100,
            service_time: Distribution::constant(ms(10)),
            ..TierConfig::default()
        }],
        measure_after: Duration::from_secs(1),
        ..Config::default()
    };
    let (_, free) = run(&config, 11, Duration::from_secs(5));
    assert!(free["success_rate"] > 0.99, "{free:?}");
    config.client.bulkhead = Some(BulkheadConfig {
        max_concurrent: 2,
        max_queue: 0,
    });
    let (_, capped) = run(&config, 11, Duration::from_secs(5));
    // Two slots, each busy 11 ms per call: at most 2 / 11 ms = 182 calls/s.
    assert!(
        capped["goodput"] > 150.0 && capped["goodput"] < 182.0,
        "{capped:?}"
    );
    let handled = capped["ok"] + capped["bulkhead_rejected"];
    assert!((handled - capped["offered"]).abs() <= 2.0, "{capped:?}");
    // Rejected calls never reach the server (a couple are still in flight at the end).
    let answered = capped["ok"] + capped["failed"] - capped["bulkhead_rejected"];
    assert!((capped["attempts"] - answered).abs() <= 3.0, "{capped:?}");
    // With a queue nothing is turned away, but calls wait: latency grows without bound.
    config.client.bulkhead = Some(BulkheadConfig {
        max_concurrent: 2,
        max_queue: 100_000,
    });
    config.client.timeout = Duration::from_secs(100);
    config.workload = Workload::Open { rate: 300.0 };
    let (_, queued) = run(&config, 11, Duration::from_secs(5));
    assert!(!queued.contains_key("bulkhead_rejected"), "{queued:?}");
    assert!(queued["latency_mean_ms"] > 100.0, "{queued:?}");
}

/// Clients -> tier 0 (front) -> tier 1 (a dependency that fails every call from 2 s to 4 s).
fn dependency_outage(fallback: Option<FallbackConfig>) -> Config {
    Config {
        tiers: vec![
            TierConfig {
                concurrency: 16,
                caller: CallerConfig {
                    fallback,
                    ..CallerConfig::default()
                },
                ..TierConfig::default()
            },
            TierConfig {
                concurrency: 16,
                ..TierConfig::default()
            },
        ],
        degradations: vec![Degradation {
            tier: 1,
            server: None,
            at: Duration::from_secs(2),
            duration: Duration::from_secs(2),
            mode: DegradeMode::Errors { probability: 1.0 },
        }],
        measure_after: Duration::from_secs(1),
        ..Config::default()
    }
}

#[test]
fn fallbacks_answer_degraded_and_are_counted_apart() {
    let (_, none) = run(&dependency_outage(None), 12, Duration::from_secs(6));
    // Two of five measured seconds fail.
    assert!((none["success_rate"] - 0.6).abs() < 0.03, "{none:?}");
    assert!(!none.contains_key("degraded"));
    let (verdict, stat) = run(
        &dependency_outage(Some(FallbackConfig::Static)),
        12,
        Duration::from_secs(6),
    );
    assert_eq!(verdict, Verdict::Held);
    // Every request is answered; the outage's share is degraded, not a success.
    assert!((stat["success_rate"] - 0.6).abs() < 0.03, "{stat:?}");
    assert!((stat["degraded_rate"] - 0.4).abs() < 0.03, "{stat:?}");
    assert!(stat["answered_rate"] > 0.999, "{stat:?}");
    assert_eq!(stat["tier0.fallbacks"], stat["degraded"]);
    assert!(!stat.contains_key("failed"));
    // A cached response at most 500 ms old: the first 500 ms of the outage are absorbed.
    let cached = dependency_outage(Some(FallbackConfig::Cached {
        max_staleness: ms(500),
    }));
    let mut sim = build(&cached, 12, Duration::from_secs(6));
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::Held);
    let s = summarize(&cached, sim.metrics(), report.end_time);
    assert!((s["degraded_rate"] - 0.1).abs() < 0.02, "{s:?}");
    assert!((s["success_rate"] - 0.6).abs() < 0.03, "{s:?}");
    let ages = sim.metrics().samples("tier0.fallback_staleness");
    assert!(!ages.is_empty());
    assert!(ages.iter().all(|&a| a <= ms(500).0));
    assert!(ages.iter().any(|&a| a > ms(400).0), "ages reach toward the bound");
    // Over time, fallbacks show as answered (and the `answered` group exists only with them).
    let answered = sim.metrics().timed("answered.ok").len();
    let ok = sim.metrics().timed("requests.ok").len();
    let fallback = sim.metrics().timed("requests.fallback").len();
    assert!(fallback > 0 && answered == ok + fallback);
    let mut plain = build(&dependency_outage(None), 12, Duration::from_secs(3));
    plain.run();
    assert!(plain.metrics().timed("answered.ok").is_empty());
    assert!(plain.metrics().timed("requests.fallback").is_empty());
}

#[test]
fn fallback_staleness_property_catches_an_answer_over_the_bound() {
    // Run with a 500 ms bound, but check with the property of a 100 ms bound.
    let run_with = dependency_outage(Some(FallbackConfig::Cached {
        max_staleness: ms(500),
    }));
    let judged_by = dependency_outage(Some(FallbackConfig::Cached {
        max_staleness: ms(100),
    }));
    let mut sc = SimConfig::with_seed(13);
    sc.limits.horizon = Duration::from_secs(6);
    let mut sim = Sim::new(
        sc,
        &run_with.topology(Distribution::constant(Duration::from_micros(500))),
    );
    setup(&mut sim, &run_with);
    let props = properties(&judged_by);
    assert_eq!(props.len(), 1, "only the staleness property (no SLO)");
    for p in props {
        sim.add_property(p);
    }
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::SafetyViolation);
    let failure = report.failure.expect("a failure");
    assert_eq!(failure.property.as_deref(), Some("fallback_staleness"));
    assert!(failure.message.contains("bound 100"), "{}", failure.message);
    assert!(properties(&dependency_outage(Some(FallbackConfig::Static))).is_empty());
}

#[test]
fn slo_can_count_fallbacks() {
    let mut config = dependency_outage(Some(FallbackConfig::Static));
    config.slo = Some(Slo {
        success_rate: 0.99,
        latency_p99: ms(100),
        count_fallbacks: false,
    });
    let (verdict, _) = run(&config, 14, Duration::from_secs(6));
    assert_eq!(verdict, Verdict::SafetyViolation);
    config.slo = Some(Slo {
        success_rate: 0.99,
        latency_p99: ms(100),
        count_fallbacks: true,
    });
    let (verdict, _) = run(&config, 14, Duration::from_secs(6));
    assert_eq!(verdict, Verdict::Held);
}

#[test]
fn adaptive_throttling_sends_about_k_times_the_accepts() {
    // 2000 requests/s offered; the server's token bucket accepts 500/s and rejects the rest
    // at once.
    let mut config = eight_workers(200.0);
    config.tiers[0].rate_limit = Some(RateLimitConfig {
        rate: 500.0,
        burst: 50.0,
        per_client: false,
    });
    let (_, plain) = run(&config, 15, Duration::from_secs(8));
    assert!((plain["tier0.load_ratio"] - 4.0).abs() < 0.2, "{plain:?}");
    assert!((plain["goodput"] - 500.0).abs() < 25.0, "{plain:?}");
    for k in [2.0, 1.5] {
        config.client.throttle = Some(ThrottleConfig {
            k,
            window: Duration::from_secs(2),
        });
        let (_, throttled) = run(&config, 15, Duration::from_secs(8));
        let ratio = throttled["tier0.load_ratio"];
        assert!(
            (ratio - k).abs() < 0.15 * k,
            "k = {k}: ratio {ratio} {throttled:?}"
        );
        assert!((throttled["goodput"] - 500.0).abs() < 25.0, "{throttled:?}");
        assert!(throttled["throttled"] > 0.0);
    }
}

#[test]
fn token_bucket_rate_limits_globally_or_per_client() {
    // Two clients offering 400/s each to a server with capacity to spare.
    let mut config = eight_workers(400.0);
    config.clients = 2;
    config.tiers[0].rate_limit = Some(RateLimitConfig {
        rate: 300.0,
        burst: 10.0,
        per_client: false,
    });
    let (_, global) = run(&config, 16, Duration::from_secs(6));
    assert!((global["goodput"] - 300.0).abs() < 15.0, "{global:?}");
    config.tiers[0].rate_limit = Some(RateLimitConfig {
        rate: 300.0,
        burst: 10.0,
        per_client: true,
    });
    let (_, each) = run(&config, 16, Duration::from_secs(6));
    assert!((each["goodput"] - 600.0).abs() < 30.0, "{each:?}");
    assert!(each["tier0.rate_limited"] > 0.0);
}

/// 800 requests/s on 1000/s of capacity; from 3 s to 6 s every request takes 4 times as long.
fn slowed_tier() -> Config {
    let mut config = eight_workers(80.0);
    config.client.timeout = Duration::from_secs(10);
    config.degradations = vec![Degradation {
        tier: 0,
        server: None,
        at: Duration::from_secs(3),
        duration: Duration::from_secs(3),
        mode: DegradeMode::Slow { factor: 4.0 },
    }];
    config
}

#[test]
fn concurrency_limits_bound_latency_when_a_tier_slows() {
    let (_, plain) = run(&slowed_tier(), 17, Duration::from_secs(10));
    // Unprotected, the queue grows by ~550/s for 3 s: seconds of waiting.
    assert!(plain["latency_p99_ms"] > 1000.0, "{plain:?}");
    assert!(!plain.contains_key("tier0.limited"));
    let limiters = [
        ("fixed", LimiterConfig::Fixed { limit: 16 }),
        (
            "aimd",
            LimiterConfig::Aimd(AimdConfig {
                latency_threshold: ms(50),
                ..AimdConfig::default()
            }),
        ),
        ("vegas", LimiterConfig::Vegas(VegasConfig::default())),
        ("gradient", LimiterConfig::Gradient(GradientConfig::default())),
    ];
    for (name, limiter) in limiters {
        let mut config = slowed_tier();
        config.tiers[0].limiter = Some(limiter);
        let mut sim = build(&config, 17, Duration::from_secs(10));
        let report = sim.run();
        let s = summarize(&config, sim.metrics(), report.end_time);
        assert!(s["tier0.limited"] > 100.0, "{name}: {s:?}");
        assert!(
            s["latency_p99_ms"] < plain["latency_p99_ms"] / 4.0,
            "{name}: {s:?}"
        );
        // Before and after the episode it lets the 800/s through.
        assert!(s["success_rate"] > 0.6, "{name}: {s:?}");
        if name != "fixed" {
            let limits = sim.metrics().samples("tier0.limit");
            assert!(!limits.is_empty(), "{name}: the limit moves");
        }
    }
}

#[test]
fn runs_with_every_protection_are_deterministic() {
    let mut config = dependency_outage(Some(FallbackConfig::Cached {
        max_staleness: ms(300),
    }));
    config.client.throttle = Some(ThrottleConfig::default());
    config.client.bulkhead = Some(BulkheadConfig {
        max_concurrent: 3,
        max_queue: 5,
    });
    config.tiers[0].caller.bulkhead = Some(BulkheadConfig::default());
    config.tiers[1].limiter = Some(LimiterConfig::Vegas(VegasConfig::default()));
    config.tiers[0].limiter = Some(LimiterConfig::Gradient(GradientConfig::default()));
    config.tiers[0].rate_limit = Some(RateLimitConfig {
        per_client: true,
        ..RateLimitConfig::default()
    });
    check_determinism(|| build(&config, 18, Duration::from_secs(5))).expect("same seed, same run");
}

#[test]
fn protections_are_off_unless_configured_and_parse_from_toml() {
    let c = Config::default();
    assert!(c.client.throttle.is_none() && c.client.bulkhead.is_none() && c.client.fallback.is_none());
    assert!(c.tiers[0].limiter.is_none() && c.tiers[0].rate_limit.is_none());
    let mut c = c;
    c.client.throttle = Some(ThrottleConfig::default());
    c.tiers.push(TierConfig {
        limiter: Some(LimiterConfig::Fixed { limit: 7 }),
        ..TierConfig::default()
    });
    assert!(c.validate().is_ok());
    let mut bad = c.clone();
    bad.client.throttle = Some(ThrottleConfig {
        k: 0.5,
        ..ThrottleConfig::default()
    });
    assert!(bad.validate().unwrap_err().contains("client.throttle"));
    let mut bad = c;
    bad.tiers[1].limiter = Some(LimiterConfig::Fixed { limit: 0 });
    assert!(bad.validate().unwrap_err().contains("tiers.1.limiter"));
}

#[test]
fn caller_side_limiters_shed_at_the_client_when_the_tier_slows() {
    let (_, plain) = run(&slowed_tier(), 19, Duration::from_secs(10));
    let limiters = [
        (
            "aimd",
            LimiterConfig::Aimd(AimdConfig {
                initial_limit: 4,
                latency_threshold: ms(50),
                ..AimdConfig::default()
            }),
        ),
        (
            "gradient",
            LimiterConfig::Gradient(GradientConfig {
                initial_limit: 4,
                ..GradientConfig::default()
            }),
        ),
    ];
    for (name, limiter) in limiters {
        let mut config = slowed_tier();
        config.client.limiter = Some(limiter);
        let (_, s) = run(&config, 19, Duration::from_secs(10));
        assert!(s["limiter_rejected"] > 100.0, "{name}: {s:?}");
        assert!(!s.contains_key("tier0.limited"));
        assert!(
            s["latency_p99_ms"] < plain["latency_p99_ms"] / 3.0,
            "{name}: {s:?}"
        );
        assert!(s["success_rate"] > 0.6, "{name}: {s:?}");
    }
}
