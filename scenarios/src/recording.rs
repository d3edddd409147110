//! Full trace files for scenario runs: the glue between the runner and `ruckus_sim::trace`.
//!
//! The trace header stores the scenario as one self-contained TOML document
//! ([`Scenario::to_toml`]) plus labels naming it, so `ruckus replay FILE` rebuilds the exact run
//! without the original file or `--set` flags. [`scenario_of`] reads it back.

use crate::error::ScenarioError;
use crate::registry::Registry;
use crate::runner::{self, Outcome, quietly};
use crate::scenario::Scenario;
use ruckus_sim::FaultPlan;
use ruckus_sim::trace::{TraceHeader, TraceSummary, record_run};
use std::path::Path;

/// Label keys this crate writes into trace headers.
pub mod labels {
    /// The scenario's name.
    pub const SCENARIO: &str = "scenario";
    /// How the user referred to the scenario (built-in name or path).
    pub const REFERENCE: &str = "reference";
    /// The model's name.
    pub const MODEL: &str = "model";
    /// The `--set` overrides, one per line.
    pub const OVERRIDES: &str = "overrides";
    /// The processes as the model names them when the run starts (`Process::label`), one per
    /// line: `ID<tab>HOST<tab>LABEL`. Replay and export name lanes and tracks with them.
    pub const PROCESSES: &str = "processes";
}

/// The `processes` label of a header for `sim` as built (before its first event).
pub fn processes_label(sim: &dyn ruckus_sim::Simulation) -> (String, String) {
    let text: Vec<String> = sim
        .process_labels()
        .iter()
        .map(|p| format!("{}\t{}\t{}", p.id.0, p.host.0, p.label.replace(['\t', '\n'], " ")))
        .collect();
    (labels::PROCESSES.into(), text.join("\n"))
}

/// Each process's name from a trace header's `processes` label (empty for traces that have
/// none): its label as the run started, without the state in parentheses (`raft-2`, not
/// `raft-2 (follower, term 0)`), since the state changes as the run goes on.
pub fn process_names(header: &TraceHeader) -> std::collections::BTreeMap<u32, String> {
    let mut names = std::collections::BTreeMap::new();
    for line in header.label(labels::PROCESSES).unwrap_or("").lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(id), Some(_host), Some(label)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Ok(id) = id.parse::<u32>() else { continue };
        let name = label.split(" (").next().unwrap_or(label).trim();
        if !name.is_empty() {
            names.insert(id, name.to_owned());
        }
    }
    names
}

/// The header a trace of `scenario` under `seed` with `plan` carries.
pub fn header(scenario: &Scenario, seed: u64, plan: &FaultPlan) -> TraceHeader {
    let mut h = TraceHeader::new(seed, scenario.to_toml(), plan.clone());
    h.labels = vec![
        (labels::SCENARIO.into(), scenario.name.clone()),
        (labels::REFERENCE.into(), scenario.reference.clone()),
        (labels::MODEL.into(), scenario.model.name().to_owned()),
        (labels::OVERRIDES.into(), scenario.overrides.join("\n")),
    ];
    h
}

/// The scenario a trace header describes, with its recorded horizon override applied. A trace
/// of a model that is not in `registry` is an error that names the model and how to add it.
pub fn scenario_of(
    registry: &Registry,
    header: &TraceHeader,
    trace_path: &Path,
) -> Result<Scenario, ScenarioError> {
    let name = header.label(labels::SCENARIO).unwrap_or("traced");
    let reference = header.label(labels::REFERENCE).unwrap_or(name);
    if let Some(model) = header.label(labels::MODEL)
        && registry.model(model).is_none()
    {
        return Err(ScenarioError::new(
            trace_path.display().to_string(),
            format!(
                "the trace was recorded with model `{model}`, and {}",
                registry.unknown_model_help(model)
            ),
        ));
    }
    let origin = format!("scenario stored in {}", trace_path.display());
    let mut scenario = Scenario::from_text(registry, name, reference, &origin, &header.scenario, &[])?;
    scenario.overrides = header
        .label(labels::OVERRIDES)
        .map(|o| o.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    if let Some(h) = header.horizon {
        scenario.limits.horizon = h;
    }
    if !states_clock_spread(&header.scenario) {
        // Written before clocks started apart by default: those runs had none.
        scenario.topology.clock_spread = ruckus_sim::ClockSpread::NONE;
    }
    Ok(scenario)
}

/// Runs `scenario` under `seed` writing a full trace to `path`. With `expected_fingerprint`
/// (from a fast run) the traced re-run must match it. `Err` is a one-line message.
pub fn record(
    scenario: &Scenario,
    seed: u64,
    path: &Path,
    expected_fingerprint: Option<u64>,
) -> Result<(Outcome, TraceSummary), String> {
    record_plan(scenario, seed, None, path, expected_fingerprint)
}

/// Like [`record`], with an explicit fault plan (a shrunk one) instead of the scenario's.
pub fn record_plan(
    scenario: &Scenario,
    seed: u64,
    plan: Option<FaultPlan>,
    path: &Path,
    expected_fingerprint: Option<u64>,
) -> Result<(Outcome, TraceSummary), String> {
    crate::output::check_target(path)?;
    let plan = plan.unwrap_or_else(|| runner::fault_plan(scenario, seed));
    let mut sim = runner::simulation(scenario, seed, &plan)?;
    let mut header = header(scenario, seed, &plan);
    header.labels.push(processes_label(&*sim));
    let (report, summary) =
        quietly(|| record_run(&mut *sim, path, &header, expected_fingerprint)).map_err(|e| e.to_string())?;
    Ok((Outcome { report, plan }, summary))
}

/// Whether a stored scenario names its `[topology.clock_spread]` (every trace written since
/// the spread became a default does).
fn states_clock_spread(stored: &str) -> bool {
    stored
        .parse::<toml::Table>()
        .ok()
        .and_then(|t| t.get("topology")?.as_table()?.get("clock_spread").cloned())
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::{ClockSpread, StreamLayout};

    const PINGPONG: &str = "[model]\nname = \"pingpong\"\n[topology]\nhosts = 3\nlatency = \"1ms\"\n";

    fn stored(text: &str) -> Scenario {
        let header = TraceHeader::new(1, text, FaultPlan::default());
        scenario_of(&Registry::builtin(), &header, Path::new("t.trace")).unwrap()
    }

    #[test]
    fn a_trace_from_before_the_default_spread_replays_without_one() {
        assert_eq!(stored(PINGPONG).topology.clock_spread, ClockSpread::NONE);
    }

    #[test]
    fn a_new_trace_states_its_spread_and_gets_it_back() {
        let fresh = Scenario::from_text(&Registry::builtin(), "p", "p", "test", PINGPONG, &[]).unwrap();
        assert_eq!(fresh.topology.clock_spread, ClockSpread::typical());
        let text = fresh.to_toml();
        assert!(states_clock_spread(&text), "{text}");
        assert_eq!(stored(&text).topology.clock_spread, ClockSpread::typical());
        let off = text.replace("drift_max_ppm = 20", "drift_max_ppm = 0");
        assert_eq!(stored(&off).topology.clock_spread.drift_max_ppm, 0);
    }

    #[test]
    fn a_stored_scenario_keeps_its_stream_layout_and_one_naming_none_is_shared() {
        // Traces from before the key ran with the shared layout, the default.
        assert_eq!(stored(PINGPONG).topology.streams, StreamLayout::Shared);
        let fresh = Scenario::from_text(&Registry::builtin(), "p", "p", "test", PINGPONG, &[]).unwrap();
        assert_eq!(fresh.topology.streams, StreamLayout::Shared);
        let set = ["topology.streams=per_source".to_owned()];
        let opted = Scenario::from_text(&Registry::builtin(), "p", "p", "test", PINGPONG, &set).unwrap();
        assert_eq!(opted.topology.streams, StreamLayout::PerSource);
        let text = opted.to_toml();
        assert!(text.contains("streams = \"per_source\""), "{text}");
        assert_eq!(stored(&text).topology.streams, StreamLayout::PerSource);
        let shared = fresh.to_toml();
        assert!(shared.contains("streams = \"shared\""), "{shared}");
        assert_eq!(stored(&shared).topology.streams, StreamLayout::Shared);
    }
}
