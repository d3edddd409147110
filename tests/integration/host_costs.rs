//! Costs per host from scenario files: `[[topology.host_costs]]` makes one host (or a list,
//! or a zone) slow and leaves the others as `[topology] costs` says.

use ruckus_scenarios::explore::figures;
use ruckus_scenarios::registry::Registry;
use ruckus_scenarios::runner;
use ruckus_scenarios::scenario::Scenario;
use std::collections::BTreeMap;

/// Two tiers of one server each (tier 0 on host 0 calls tier 1 on host 1), one client on
/// host 2, light load: every request's time in a tier is its service time plus what the
/// tier's host spends handling it.
const TWO_TIERS: &str = r#"
[model]
name = "services"
clients = 1
workload = { open = { rate = 50.0 } }

[model.client]
timeout = "10s"

[[model.tiers]]
servers = 1
concurrency = 64
service_time = { exponential = { mean = "2ms" } }

[[model.tiers]]
servers = 1
concurrency = 64
service_time = { exponential = { mean = "2ms" } }

[topology]
hosts = 3
latency = "1ms"

[limits]
horizon = "20s"
"#;

fn load(extra: &str, sets: &[&str]) -> Result<Scenario, String> {
    let text = format!("{TWO_TIERS}{extra}");
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Scenario::from_text(
        &Registry::builtin(),
        "two_tiers",
        "two_tiers.toml",
        "two_tiers.toml",
        &text,
        &sets,
    )
    .map_err(|e| e.to_string())
}

/// The run's figures (the services summary included) under seed 1.
fn figures_of(scenario: &Scenario) -> BTreeMap<String, f64> {
    let plan = runner::fault_plan(scenario, 1);
    let mut sim = runner::simulation(scenario, 1, &plan).unwrap();
    let report = sim.run();
    assert_eq!(report.verdict.name(), "held", "{:?}", report.failure);
    figures::figures(
        &scenario.model,
        &scenario.model_params,
        sim.metrics(),
        report.end_time,
    )
}

#[test]
fn one_slow_host_slows_only_its_own_tier() {
    let plain = figures_of(&load("", &[]).unwrap());
    let slow = r#"
[[topology.host_costs]]
host = 1
handler = "3ms"
"#;
    let tier1_slow = figures_of(&load(slow, &[]).unwrap());
    let (t0, t1) = ("tier0.sojourn_mean_ms", "tier1.sojourn_mean_ms");
    // Tier 1's host spends 3 ms on a request's arrival before its service time counts (its
    // sojourn, measured from the arrival's handling, grows by that, and by waits behind
    // other events), and 3 ms more on the service's end before the answer leaves.
    let d1 = tier1_slow[t1] - plain[t1];
    assert!(
        (2.9..5.0).contains(&d1),
        "tier 1 on the slow host: {} ms -> {} ms",
        plain[t1],
        tier1_slow[t1]
    );
    // Tier 0 waits for tier 1's answer, so it sees both: about 3 ms more than tier 1 did.
    let d0 = tier1_slow[t0] - plain[t0];
    assert!(
        (d1 + 2.5..d1 + 4.5).contains(&d0),
        "tier 0: +{d0} ms, tier 1: +{d1} ms"
    );

    // The other way round: tier 0's host slow, tier 1 exactly as before (same service draws,
    // no queueing at this load), tier 0 slower.
    let slow0 = slow.replace("host = 1", "host = 0");
    let tier0_slow = figures_of(&load(&slow0, &[]).unwrap());
    assert!(
        (tier0_slow[t1] - plain[t1]).abs() < 0.05,
        "tier 1 moved with only host 0 slow: {} ms -> {} ms",
        plain[t1],
        tier0_slow[t1]
    );
    assert!(
        tier0_slow[t0] - plain[t0] > 5.0,
        "{} -> {}",
        plain[t0],
        tier0_slow[t0]
    );
}

#[test]
fn entries_override_the_all_hosts_costs_field_by_field() {
    let every = load("", &["topology.costs.handler=\"3ms\""]).unwrap();
    let topology = runner::topology(&every.topology);
    assert!(topology.hosts().iter().all(|h| h.costs.handler.is_some()));
    // Host 0 and 2 keep the handler cost and gain a disk latency; host 1 is free again.
    let text = r#"
[[topology.host_costs]]
hosts = [0, 2]
disk_sync = "1ms"
[[topology.host_costs]]
host = 1
handler = "0ns"
"#;
    let mixed = load(text, &["topology.costs.handler=\"3ms\""]).unwrap();
    let hosts = runner::topology(&mixed.topology).hosts().to_vec();
    let three = Some(ruckus_sim::Distribution::constant(
        ruckus_sim::Duration::from_millis(3),
    ));
    let one = Some(ruckus_sim::Distribution::constant(
        ruckus_sim::Duration::from_millis(1),
    ));
    let zero = Some(ruckus_sim::Distribution::constant(ruckus_sim::Duration::ZERO));
    assert_eq!((hosts[0].costs.handler, hosts[0].costs.disk_sync), (three, one));
    assert_eq!((hosts[1].costs.handler, hosts[1].costs.disk_sync), (zero, None));
    assert_eq!((hosts[2].costs.handler, hosts[2].costs.disk_sync), (three, one));
    // Host 1 free again: tier 1 as in a run with no costs anywhere but host 0's.
    let host0_only = load("[[topology.host_costs]]\nhost = 0\nhandler = \"3ms\"\n", &[]).unwrap();
    let a = figures_of(&mixed)["tier1.sojourn_mean_ms"];
    let b = figures_of(&host0_only)["tier1.sojourn_mean_ms"];
    assert!((a - b).abs() < 0.05, "{a} vs {b}");
}

#[test]
fn a_zone_picks_its_hosts() {
    let text = r#"
[[topology.host_costs]]
zone = "z1"
handler = "2ms"
"#;
    let s = load(
        text,
        &[
            "topology.layout=\"zoned\"",
            "topology.zones=2",
            "topology.inter_zone=\"1ms\"",
        ],
    )
    .unwrap();
    let hosts = runner::topology(&s.topology).hosts().to_vec();
    // Round-robin over two zones: hosts 0 and 2 in z0, host 1 in z1.
    let costly: Vec<bool> = hosts.iter().map(|h| h.costs.handler.is_some()).collect();
    assert_eq!(costly, [false, true, false]);
}

#[test]
fn bad_entries_are_errors_naming_file_line_and_field() {
    let err = |text: &str| load(text, &[]).unwrap_err();
    let e = err("[[topology.host_costs]]\nhost = 7\nhandler = \"1ms\"\n");
    assert!(
        e.contains("two_tiers.toml:")
            && e.contains("topology.host_costs[0].host")
            && e.contains("host 7 does not exist (the topology has 3 hosts, 0 to 2)"),
        "{e}"
    );
    let line = TWO_TIERS.lines().count() + 2;
    assert!(e.contains(&format!(":{line}:")), "line {line}: {e}");
    let e = err("[[topology.host_costs]]\nhosts = [0, 9]\nhandler = \"1ms\"\n");
    assert!(
        e.contains("topology.host_costs[0].hosts[1]") && e.contains("host 9"),
        "{e}"
    );
    let e =
        err("[[topology.host_costs]]\nhost = 1\nhandler = { uniform = { min = \"5ms\", max = \"1ms\" } }\n");
    assert!(e.contains("topology.host_costs[0].handler"), "{e}");
    let e = err("[[topology.host_costs]]\nhost = 1\nhandler = { gaussian = { mean = \"5ms\" } }\n");
    assert!(
        e.contains("topology.host_costs[0].handler") && e.contains("gaussian"),
        "{e}"
    );
    let e = err("[[topology.host_costs]]\nhost = 1\ncpu = \"1ms\"\n");
    assert!(e.contains("cpu") && e.contains("handler"), "{e}");
    let e = err("[[topology.host_costs]]\nhost = 1\nzone = \"z0\"\nhandler = \"1ms\"\n");
    assert!(e.contains("exactly one way"), "{e}");
    let e = err("[[topology.host_costs]]\nhost = 1\n");
    assert!(e.contains("set `handler`, `disk_sync` or both"), "{e}");
    let e = err("[[topology.host_costs]]\nzone = \"z1\"\nhandler = \"1ms\"\n");
    assert!(e.contains("no zone `z1`") && e.contains("no zones"), "{e}");
    let e = load(
        "[[topology.host_costs]]\nzone = \"zone1\"\nhandler = \"1ms\"\n",
        &[
            "topology.layout=\"zoned\"",
            "topology.zones=2",
            "topology.inter_zone=\"1ms\"",
        ],
    )
    .unwrap_err();
    assert!(e.contains("the zones are z0, z1"), "{e}");
}
