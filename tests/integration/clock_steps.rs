//! A clock step on a caller's host must not break its calls: requests carry the time left
//! (relative, like gRPC's timeout), never an absolute deadline that another clock judges.

use ruckus_scenarios::registry::Registry;
use ruckus_scenarios::runner;
use ruckus_scenarios::scenario::Scenario;

/// Two tiers and one client (host 3), a 200 ms deadline per call; `{PLAN}` is replaced by
/// the fault plan.
const SERVICES: &str = r#"
[model]
name = "services"
clients = 1
workload = { open = { rate = 200.0 } }
client = { timeout = "200ms" }

[[model.tiers]]
servers = 2
concurrency = 4

[[model.tiers]]
servers = 1
concurrency = 8

[topology]
hosts = 4
latency = { uniform = { min = "1ms", max = "3ms" } }

{PLAN}

[limits]
horizon = "6s"
"#;

/// `template` with its `{PLAN}` replaced by `plan`, as a scenario.
fn with_plan(template: &str, plan: &str) -> Scenario {
    let text = template.replace("{PLAN}", plan);
    Scenario::from_text(&Registry::builtin(), "s", "s.toml", "s.toml", &text, &[]).expect("valid scenario")
}

fn services(plan: &str) -> Scenario {
    with_plan(SERVICES, plan)
}

fn jump(host: u32, delta_ms: i64) -> String {
    format!(
        "[faults.plan]\nheal_at = \"5s\"\n\n[[faults.plan.actions]]\nat = \"1s\"\n\
         fault = {{ clock_jump = {{ host = {host}, delta_ns = {} }} }}\n",
        delta_ms * 1_000_000
    )
}

#[test]
fn a_backward_step_on_the_client_host_leaves_its_calls_answered() {
    let calm = runner::run(&services(""), 7).report.metrics;
    for delta_ms in [-500, -2_000, 500] {
        let stepped = runner::run(&services(&jump(3, delta_ms)), 7).report.metrics;
        let (ok, offered) = (stepped.counter("ok"), stepped.counter("offered"));
        assert!(offered > 900, "{offered} requests offered");
        // Absolute deadlines made every request after a backward step look expired on arrival.
        assert!(
            ok * 100 >= offered * 99,
            "step {delta_ms} ms: {ok} of {offered} answered (no step: {} of {})",
            calm.counter("ok"),
            calm.counter("offered")
        );
    }
}

#[test]
fn a_step_on_a_server_host_leaves_its_queue_deadlines_alone() {
    for delta_ms in [-500, 500] {
        let stepped = runner::run(&services(&jump(2, delta_ms)), 7).report.metrics;
        let (ok, offered) = (stepped.counter("ok"), stepped.counter("offered"));
        assert!(
            ok * 100 >= offered * 99,
            "step {delta_ms} ms on the last tier: {ok} of {offered}"
        );
    }
}

/// The platform run session 7's `ruckus hunt` found: one client, a -298 ms (and -500 ms) step
/// on its host at 30 s; it lost every request from then on.
#[test]
fn the_platform_client_survives_a_backward_clock_step() {
    let base = include_str!("../../scenarios/data/platform.toml");
    let (head, rest) = base
        .split_once("[faults.profile]")
        .expect("platform has a profile");
    let limits = &rest[rest.find("[limits]").expect("platform has limits")..];
    for (seed, delta_ns) in [(14165067652487184778u64, -297_933_670i64), (1, -500_000_000)] {
        let text = format!(
            "{}[faults.plan]\nheal_at = \"200s\"\n\n[[faults.plan.actions]]\nat = \"30s\"\n\
             fault = {{ clock_jump = {{ host = 15, delta_ns = {delta_ns} }} }}\n\n{}",
            head.replace("clients = 3", "clients = 1"),
            limits.replace("horizon = \"350s\"", "horizon = \"200s\"")
        );
        let scenario = Scenario::from_text(&Registry::builtin(), "p", "p.toml", "p.toml", &text, &[])
            .expect("valid scenario");
        let outcome = runner::run(&scenario, seed);
        let s = outcome.summary();
        assert_eq!(
            s.verdict, "held",
            "seed {seed}, step {delta_ns} ns: {:?}",
            s.message
        );
    }
}

/// Consul-like discovery: 3 catalog servers, callers on hosts 3-5 that resolve by DNS with a
/// 5 s cache; instance 1 dies for good at 20 s. `{PLAN}` is replaced by the fault plan.
const CONSUL: &str = r#"
[model]
name = "consul"
resolve = "dns"
cache_ttl = "5s"
crashes = [{ instance = 1, at = "20s" }]

[topology]
hosts = 6
latency = { uniform = { min = "1ms", max = "5ms" } }

{PLAN}

[limits]
horizon = "60s"
"#;

/// A DNS cache's age is local elapsed time: a caller whose clock steps back 30 s just before
/// an instance dies must still drop its cached answer after the TTL (on the wall clock the
/// answer looked fresh for 35 s, and the caller kept calling the dead instance).
#[test]
fn a_backward_step_does_not_stretch_a_discovery_cache() {
    let plan = "[faults.plan]\nheal_at = \"21s\"\n\n\
        [[faults.plan.actions]]\nat = \"19s\"\nfault = { clock_jump = { host = 3, delta_ns = -30000000000 } }\n\n\
        [[faults.plan.actions]]\nat = \"19s\"\nfault = { clock_jump = { host = 4, delta_ns = -30000000000 } }\n\n\
        [[faults.plan.actions]]\nat = \"19s\"\nfault = { clock_jump = { host = 5, delta_ns = -30000000000 } }\n";
    let run = runner::run(&with_plan(CONSUL, plan), 3);
    let oldest = run
        .report
        .metrics
        .quantile("discovery.dead_route_age_ns", 1.0)
        .unwrap_or(0);
    assert!(
        oldest < 12_000_000_000,
        "a call went to an instance dead for {:.1} s",
        oldest as f64 / 1e9
    );
    assert!(run.report.failure.is_none(), "{:?}", run.report.failure);
}
