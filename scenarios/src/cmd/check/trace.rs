//! A ruckus trace as `ruckus check`'s input: the client history of the run it records.
//!
//! The trace's header holds the scenario, the fault plan and the seed, so the run is replayed
//! (as `ruckus replay` does, every event checked against the recording) and the model's whole
//! client history taken from the replayed run ([`ruckus_sim::Simulation::client_history`]).
//! The footer's operation spans are not used: they are capped and carry no values.

use crate::cmd::replay;
use crate::registry::Registry;
use crate::runner::{self, quietly};
use ruckus_models::linearizability::jepsen::JsonEntry;
use ruckus_sim::trace::{Replay, ReplayOutcome};
use std::path::Path;

/// A trace's client history, with what the run was.
pub(super) struct TraceHistory {
    /// The entries, in history order (entry i is line i + 1 of `--emit-history`'s file).
    pub entries: Vec<JsonEntry>,
    /// The `ruckus check` model the trace's model names.
    pub checker_model: &'static str,
    /// One line about the run: scenario, model, seed, the replay and the recorded verdict.
    pub about: String,
}

/// Replays the trace at `path` and returns its client history. Errors name the file: a trace
/// that cannot be read, of a model that exports no history, or whose replay diverges.
pub(super) fn history(registry: &Registry, path: &Path) -> Result<TraceHistory, String> {
    let file = path.display();
    let replay::Opened { reader, scenario } = replay::open(registry, path)?;
    let Some(checker_model) = scenario.model.checker_model() else {
        let with: Vec<&str> = registry
            .models()
            .filter(|m| m.checker_model().is_some())
            .map(|m| m.name())
            .collect();
        return Err(format!(
            "{file}: this trace's model ({}) records no client history to check; models that do: {}",
            scenario.model,
            if with.is_empty() {
                "none in this build".to_string()
            } else {
                with.join(", ")
            }
        ));
    };
    let header = reader.header().clone();
    let footer = reader.footer().clone();
    let mut sim = runner::simulation(&scenario, header.seed, &header.plan)?;
    let replay = Replay::attach(&mut *sim, reader, 0, None);
    let outcome = quietly(|| replay.run_to_end(&mut *sim)).map_err(|e| e.to_string())?;
    let events = match outcome {
        ReplayOutcome::Matches { events, .. } => events,
        ReplayOutcome::Diverged(d) => {
            return Err(format!(
                "{file}: the replay does not match the recording, so its history cannot be trusted: {d}"
            ));
        }
    };
    let entries: Vec<JsonEntry> = sim.client_history().iter().map(JsonEntry::from).collect();
    let verdict = match &footer.failure {
        Some(f) => match &f.property {
            Some(p) => format!("{} of `{p}`", footer.verdict.name()),
            None => footer.verdict.name().to_string(),
        },
        None => footer.verdict.name().to_string(),
    };
    let about = format!(
        "trace: scenario {} (model {}), seed {}; replayed {events} events, all matching; the run's verdict: {verdict}",
        scenario.name, scenario.model, header.seed
    );
    Ok(TraceHistory {
        entries,
        checker_model,
        about,
    })
}

/// Writes `entries` as JSON Lines to `path` (`--emit-history`).
pub(super) fn emit(entries: &[JsonEntry], path: &Path) -> Result<(), String> {
    crate::output::write_file(path, |out| {
        for e in entries {
            serde_json::to_writer(&mut *out, e).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })
}
