//! A services scenario's workload schedule and time-based policies through the real loader:
//! accepted when well formed, and a bad entry is an error naming the file, line and field.

use ruckus_scenarios::registry::Registry;
use ruckus_scenarios::scenario::Scenario;

const SCENARIO: &str = r#"
[model]
name = "services"
clients = 2
workload = { open = { rate = 100.0 } }
schedule = [
  { at = "2s", rate = 300.0 },
  { at = "4s", ramp_to = 50.0, over = "2s" },
]
client = { timeout = "100ms", finagle_budget = { percent_can_retry = 0.2, min_retries_per_sec = 10.0, ttl = "10s" }, hystrix_breaker = { request_volume_threshold = 20 } }

[topology]
hosts = 3
latency = { constant = { value = "1ms" } }

[limits]
horizon = "8s"
"#;

fn load(text: &str) -> Result<Scenario, String> {
    Scenario::from_text(&Registry::builtin(), "s", "s.toml", "s.toml", text, &[]).map_err(|e| e.to_string())
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn a_schedule_and_the_time_based_policies_load_and_run() {
    let s = load(SCENARIO).unwrap();
    let summary = ruckus_scenarios::runner::run(&s, 1).summary();
    assert_eq!(summary.verdict, "held", "{summary:?}");
    // About 200/s for 2 s, 600/s for 2 s, a ramp averaging 350/s for 2 s, then 100/s.
    assert!(summary.events > 2 * (400 + 1200 + 700 + 200), "{summary:?}");
}

#[test]
fn a_bad_schedule_entry_names_its_line_and_field() {
    let text = SCENARIO.replace("ramp_to = 50.0", "ramp_to = -5.0");
    let err = load(&text).unwrap_err();
    let line = line_of(&text, "ramp_to = -5.0");
    assert!(err.contains(&format!("s.toml:{line}:")), "{err}");
    assert!(
        err.contains("model.schedule[1]") && err.contains("ramp_to must be > 0"),
        "{err}"
    );

    let text = SCENARIO.replace("{ at = \"4s\"", "{ at = \"1s\"");
    let err = load(&text).unwrap_err();
    assert!(
        err.contains("field `model.schedule`") && err.contains("time order"),
        "{err}"
    );

    let text = SCENARIO.replace("over = \"2s\" }", "}");
    let err = load(&text).unwrap_err();
    assert!(
        err.contains("model.schedule[1]") && err.contains("needs `over`"),
        "{err}"
    );
}

#[test]
fn bad_policy_parameters_are_named() {
    let text = SCENARIO.replace("ttl = \"10s\"", "ttl = \"0s\"");
    let err = load(&text).unwrap_err();
    assert!(
        err.contains("client.finagle_budget") && err.contains("ttl must be > 0"),
        "{err}"
    );
    let text = SCENARIO.replace("request_volume_threshold = 20", "buckets = 0");
    let err = load(&text).unwrap_err();
    assert!(err.contains("client.hystrix_breaker"), "{err}");
}
