//! `--set` reaches into arrays of tables, arrays and inline tables, through the real loader,
//! and a bad index is an error naming the path and the array's length.

use ruckus_scenarios::explore::Experiment;
use ruckus_scenarios::registry::Registry;
use ruckus_scenarios::scenario::Scenario;

/// A services scenario with an array of tables, an inline table and a plain array.
const SERVICES: &str = r#"
[model]
name = "services"
clients = 1
workload = { open = { rate = 100.0 } }

[[model.tiers]]
servers = 2
concurrency = 1

[[model.tiers]]
servers = 1
concurrency = 4

[topology]
hosts = 8
latency = { constant = { value = "1ms" } }

[limits]
horizon = "1s"
"#;

fn load(sets: &[&str]) -> Result<Scenario, String> {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_owned()).collect();
    Scenario::from_text(&Registry::builtin(), "s", "s.toml", "s.toml", SERVICES, &sets)
        .map_err(|e| e.to_string())
}

/// The integer `field` of tier `i`.
fn tier(s: &Scenario, i: usize, field: &str) -> Option<i64> {
    s.model_params["tiers"][i].get(field)?.as_integer()
}

#[test]
fn set_reaches_a_field_of_one_element_of_an_array_of_tables() {
    let s = load(&["model.tiers.0.concurrency=3"]).unwrap();
    assert_eq!(tier(&s, 0, "concurrency"), Some(3));
    assert_eq!(tier(&s, 1, "concurrency"), Some(4), "the other tier is untouched");
    let s = load(&["model.tiers.1.servers=3"]).unwrap();
    assert_eq!(tier(&s, 1, "servers"), Some(3));
    assert_eq!(tier(&s, 0, "servers"), Some(2));
}

#[test]
fn set_replaces_an_array_element() {
    let s = load(&["model.tiers.1={ servers = 1, concurrency = 9 }"]).unwrap();
    assert_eq!(tier(&s, 1, "concurrency"), Some(9));
    assert_eq!(s.model_params["tiers"].as_array().unwrap().len(), 2);
}

#[test]
fn set_reaches_into_inline_tables() {
    let s = load(&["model.workload.open.rate=250.0"]).unwrap();
    let rate = &s.model_params["workload"]["open"]["rate"];
    assert_eq!(rate.as_float(), Some(250.0), "{rate}");
    // An inline table inside an element of an array of tables (the platform's tiers).
    let registry = Registry::builtin();
    let p = Scenario::load(
        &registry,
        "platform",
        &["model.tiers.1.serve.concurrency=5".into()],
    )
    .unwrap();
    let tiers = p.model_params["tiers"].as_array().unwrap();
    assert_eq!(tiers[1]["serve"]["concurrency"].as_integer(), Some(5));
    assert_eq!(tiers[0]["serve"]["concurrency"].as_integer(), Some(16));
}

#[test]
fn a_bad_index_names_the_path_and_the_length() {
    let e = load(&["model.tiers.2.concurrency=3"]).unwrap_err();
    assert!(e.contains("--set model.tiers.2.concurrency=3"), "{e}");
    assert!(
        e.contains("`model.tiers` is an array of 2 elements: index 2 is out of range (indexes are 0 to 1)"),
        "{e}"
    );
    let e = load(&["model.tiers.first.concurrency=3"]).unwrap_err();
    assert!(
        e.contains("`model.tiers` is an array of 2 elements: `first` is not an index"),
        "{e}"
    );
    let e = load(&["model.tiers.5=3"]).unwrap_err();
    assert!(e.contains("index 5 is out of range"), "{e}");
    let e = load(&["model.clients.x=3"]).unwrap_err();
    assert!(
        e.contains("`model.clients` is a value, not a table or an array"),
        "{e}"
    );
}

#[test]
fn a_bad_value_set_in_an_element_is_blamed_on_the_set() {
    let e = load(&["model.tiers.0.concurrency=\"many\""]).unwrap_err();
    assert!(e.starts_with("--set model.tiers.0.concurrency"), "{e}");
    assert!(e.contains("model.tiers[0].concurrency"), "{e}");
}

#[test]
fn experiments_take_indexed_sets_too() {
    let x = Experiment::load(
        &Registry::builtin(),
        "mm1",
        &["model.tiers.0.concurrency=2".into()],
    )
    .unwrap();
    for s in &x.scenarios {
        assert_eq!(tier(s, 0, "concurrency"), Some(2));
    }
}
