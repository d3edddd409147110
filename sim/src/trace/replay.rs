//! Replay verification: re-run the recorded seed and check every event against the file.

use super::*;
use crate::divergence::{Comparison, Divergence};

/// The observer behind [`Replay`]: compares each event with the next recorded one.
struct ReplayChecker {
    reader: TraceReader,
    comparison: Comparison,
    error: Option<TraceError>,
}

impl ReplayChecker {
    fn check(&mut self, replayed: &EventRecord) {
        if self.comparison.divergence.is_some() || self.error.is_some() {
            return;
        }
        match self.reader.next_event() {
            Err(e) => self.error = Some(e),
            Ok(recorded) => self.comparison.next(recorded.map(|e| e.record), replayed),
        }
    }
}

impl Observer for ReplayChecker {
    #[inline]
    fn on_event(&mut self, record: &EventRecord, _detail: EventDetail<'_>) {
        self.check(record);
    }
}

/// How a verified replay ended.
// Made once per replay or step, never per event; the report in it is large (metrics).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum ReplayOutcome {
    /// Every event matched the recording, and the fingerprint and verdict agree.
    Matches {
        /// Events the run processed.
        events: u64,
        /// Records compared.
        records: u64,
        /// The common fingerprint.
        fingerprint: u64,
        /// The re-execution's report.
        report: RunReport,
    },
    /// The re-execution differs; it was stopped at the first difference.
    Diverged(Box<Divergence>),
}

impl fmt::Display for ReplayOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayOutcome::Matches {
                events, fingerprint, ..
            } => write!(f, "matches, {events} events (fingerprint {fingerprint:016x})"),
            ReplayOutcome::Diverged(d) => write!(f, "{d}"),
        }
    }
}

/// Where a stepped replay stands.
// Made once per replay or step, never per event; the report in it is large (metrics).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum ReplayStatus {
    /// Paused after `events` events, all matching so far; inspect the `Sim`, then continue.
    Paused {
        /// Events processed.
        events: u64,
    },
    /// The replay is over.
    Done(ReplayOutcome),
}

/// Re-executes a recorded run and checks every event against the recording.
///
/// Build the `Sim` from the header (same scenario, seed and plan), attach, then run to the end
/// or step with [`run_until`](Replay::run_until) to inspect process state at an event.
pub struct Replay {
    checker: Rc<RefCell<ReplayChecker>>,
    footer: TraceFooter,
}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay").field("footer", &self.footer).finish()
    }
}

/// Events run between divergence checks; a divergence stops the run within this many events.
const REPLAY_STEP: u64 = 4096;

impl Replay {
    /// Attaches the checker (and `also`, e.g. a [`DetailText`], if given) as the sim's observer.
    /// `context` is how many agreeing records to show before a divergence.
    pub fn attach(
        sim: &mut dyn Simulation,
        reader: TraceReader,
        context: usize,
        also: Option<Box<dyn Observer>>,
    ) -> Replay {
        let footer = reader.footer().clone();
        let (observer, checker) = shared(ReplayChecker {
            reader,
            comparison: Comparison::new(
                context,
                "has the model or the engine changed since the recording?",
            ),
            error: None,
        });
        match also {
            None => sim.set_observer(Box::new(observer)),
            Some(extra) => sim.set_observer(Box::new(Observers(vec![Box::new(observer), extra]))),
        }
        Replay { checker, footer }
    }

    /// Runs until `events` events have been processed (then pauses), a divergence, or the end.
    pub fn run_until(&self, sim: &mut dyn Simulation, events: u64) -> Result<ReplayStatus, TraceError> {
        loop {
            let target = events.min(sim.events().saturating_add(REPLAY_STEP));
            let progress = sim.run_until_event(target);
            let mut checker = self.checker.borrow_mut();
            if let Some(e) = checker.error.take() {
                return Err(e);
            }
            if let Some(d) = checker.comparison.divergence.take() {
                return Ok(ReplayStatus::Done(ReplayOutcome::Diverged(Box::new(d))));
            }
            match progress {
                Progress::Paused if target >= events => {
                    return Ok(ReplayStatus::Paused { events: sim.events() });
                }
                Progress::Paused => {}
                Progress::Finished(report) => {
                    return self.finish(&mut checker, report).map(ReplayStatus::Done);
                }
            }
        }
    }

    /// Runs to the end and reports "matches" or the first divergence.
    pub fn run_to_end(&self, sim: &mut dyn Simulation) -> Result<ReplayOutcome, TraceError> {
        match self.run_until(sim, u64::MAX)? {
            ReplayStatus::Done(outcome) => Ok(outcome),
            ReplayStatus::Paused { .. } => unreachable!("run_until(MAX) only pauses at the end"),
        }
    }

    fn finish(&self, checker: &mut ReplayChecker, report: RunReport) -> Result<ReplayOutcome, TraceError> {
        let diverged = |checker: &mut ReplayChecker, recorded: Option<EventRecord>, reason: String| {
            checker.comparison.ended(recorded, reason);
            let d = checker.comparison.divergence.take().expect("just recorded");
            ReplayOutcome::Diverged(Box::new(d))
        };
        // The re-execution is over: the recording must be too.
        if let Some(rest) = checker.reader.next_event()? {
            return Ok(diverged(
                checker,
                Some(rest.record),
                "the re-execution ended but the recording goes on".into(),
            ));
        }
        if report.fingerprint != self.footer.fingerprint || report.events != self.footer.events {
            return Ok(diverged(
                checker,
                None,
                format!(
                    "every record matched but the run ended differently ({} events, fingerprint {:016x}; recorded {} events, {:016x})",
                    report.events, report.fingerprint, self.footer.events, self.footer.fingerprint
                ),
            ));
        }
        if report.verdict != self.footer.verdict
            || !same_failure(report.failure.as_ref(), self.footer.failure.as_ref())
        {
            return Ok(diverged(
                checker,
                None,
                format!(
                    "every event matched but the verdict differs: now {}, recorded {} (have the properties changed?)",
                    report.verdict.name(),
                    self.footer.verdict.name()
                ),
            ));
        }
        Ok(ReplayOutcome::Matches {
            events: report.events,
            records: checker.comparison.position,
            fingerprint: report.fingerprint,
            report,
        })
    }
}

/// Whether the re-executed run failed as recorded, leaving out what the recording's footer
/// does not hold because an older ruckus wrote it: the blamed operation, its conflicts.
fn same_failure(now: Option<&Failure>, recorded: Option<&Failure>) -> bool {
    let (Some(now), Some(recorded)) = (now, recorded) else {
        return now.is_none() && recorded.is_none();
    };
    let mut now = now.clone();
    match (&mut now.operation, &recorded.operation) {
        (op, None) => *op = None,
        (Some(op), Some(old)) if old.conflicts.is_empty() => op.conflicts.clear(),
        _ => {}
    }
    now == *recorded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FailedOperation, Instant, OperationOutcome, OperationSpan, ProcessId};

    fn failure(operation: Option<FailedOperation>) -> Failure {
        Failure {
            verdict: Verdict::SafetyViolation,
            property: Some("linearizable".into()),
            message: "no".into(),
            time: Instant(5),
            host: None,
            process: Some(ProcessId(1)),
            event_index: 4,
            operation: operation.map(Box::new),
        }
    }

    fn blamed(conflicts: usize) -> FailedOperation {
        FailedOperation {
            process: ProcessId(1),
            description: "get(k0) -> 7".into(),
            invoked: Instant(2),
            completed: Some(Instant(5)),
            conflicts: (0..conflicts)
                .map(|i| OperationSpan {
                    process: ProcessId(2),
                    description: format!("put(k0, {i})"),
                    invoked: Instant(1),
                    completed: None,
                    outcome: OperationOutcome::Unknown,
                })
                .collect(),
        }
    }

    #[test]
    fn a_failure_recorded_by_an_older_ruckus_matches_without_what_it_could_not_hold() {
        let now = failure(Some(blamed(2)));
        assert!(same_failure(Some(&now), Some(&now)));
        // Footers without conflicts, or without a blamed operation at all.
        assert!(same_failure(Some(&now), Some(&failure(Some(blamed(0))))));
        assert!(same_failure(Some(&now), Some(&failure(None))));
        // A different failure still differs.
        assert!(!same_failure(Some(&now), Some(&failure(Some(blamed(1))))));
        let mut later = failure(None);
        later.time = Instant(6);
        assert!(!same_failure(Some(&now), Some(&later)));
        assert!(!same_failure(Some(&now), None));
        assert!(same_failure(None, None));
    }
}
