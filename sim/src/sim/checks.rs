//! Properties and limits: when each property is checked, and what failing one (or running out
//! of events or queue room) makes of the run.

use super::{FailedOperation, Failure, Sim, Verdict, panic_message};
use crate::operation::OperationSpan;
use crate::process::Process;
use crate::property::{PropertyKind, View};
use crate::time::{Duration, Instant};
use serde::{Deserialize, Serialize};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Bounds on a run. The horizon ends a run normally; the others are reported failures, so a
/// run that stops making progress ends with a verdict instead of hanging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// True time at which the run ends.
    pub horizon: Duration,
    /// Most events a run may process.
    pub max_events: u64,
    /// Most events that may wait in the queue at once.
    pub max_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            horizon: Duration::from_secs(60),
            max_events: 100_000_000,
            max_queue: 10_000_000,
        }
    }
}

impl<P: Process> Sim<P> {
    /// The `LimitExceeded` failure for the limit the event loop found exceeded after an
    /// event: the event budget spent, or the queue past its bound (the budget named first when
    /// both are).
    #[cold]
    #[inline(never)]
    pub(super) fn limit_exceeded(&self) -> Failure {
        let limits = &self.config.limits;
        if self.core.event_index >= limits.max_events {
            self.limit_failure(format!(
                "event budget of {} exhausted at {} (the run is not converging or the budget is too small)",
                limits.max_events, self.core.now
            ))
        } else {
            self.limit_failure(format!(
                "event queue grew past its bound of {} (runaway message or timer creation?)",
                limits.max_queue
            ))
        }
    }

    fn limit_failure(&self, message: String) -> Failure {
        Failure {
            verdict: Verdict::LimitExceeded,
            property: None,
            message,
            time: self.core.now,
            host: None,
            process: None,
            event_index: self.core.event_index,
            operation: None,
        }
    }

    /// Runs one check under `catch_unwind`, turning a panicking checker into a failure.
    pub(super) fn run_check(&self, i: usize) -> Result<(), (Verdict, String)> {
        let view = View {
            core: &self.core,
            states: &self.states,
        };
        // A blame belongs to the check that made it and fails.
        self.core.blame.borrow_mut().take();
        match catch_unwind(AssertUnwindSafe(|| (self.properties[i].check)(&view))) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(msg)) => Err((Verdict::SafetyViolation, msg)),
            Err(panic) => Err((
                Verdict::ModelPanic,
                format!("checker panicked: {}", panic_message(&*panic)),
            )),
        }
    }

    /// The failure of property `i`, found at `time`; placed at the operation its check
    /// blamed, if it blamed one (see [`View::blame`]).
    pub(super) fn property_failure(
        &self,
        i: usize,
        verdict: Verdict,
        message: String,
        time: Instant,
    ) -> Failure {
        let mut failure = Failure {
            verdict,
            property: Some(self.properties[i].name.clone()),
            message,
            time,
            host: None,
            process: None,
            event_index: self.core.event_index,
            operation: None,
        };
        let blame = self.core.blame.borrow_mut().take();
        if let Some(b) = blame.filter(|_| verdict != Verdict::ModelPanic) {
            let history = &self.core.history;
            let at = b.completion.unwrap_or(b.invocation);
            let entry = &history[at];
            failure.time = entry.time;
            failure.process = Some(entry.process);
            failure.host = Some(self.core.procs[entry.process.index()].host);
            // The event that recorded the entry, as a handler panic names its event.
            failure.event_index = self.core.history_events[at];
            failure.operation = Some(Box::new(FailedOperation {
                process: history[b.invocation].process,
                description: b.description,
                invoked: history[b.invocation].time,
                completed: b.completion.map(|c| history[c].time),
                conflicts: b
                    .conflicts
                    .into_iter()
                    .map(|(i, c, description, outcome)| OperationSpan {
                        process: history[i].process,
                        description,
                        invoked: history[i].time,
                        completed: c.map(|c| history[c].time),
                        outcome,
                    })
                    .collect(),
            }));
        }
        failure
    }

    /// Checks the properties after an event, but for the event that spent the run's budget,
    /// whose verdict is the budget's (the loop ends on it). Out of line: a run without
    /// properties never calls it, and inlined it changed the loop's code around it.
    #[inline(never)]
    pub(super) fn check_properties(&mut self) -> Option<Failure> {
        if self.core.event_index >= self.config.limits.max_events {
            return None;
        }
        let now = self.core.now;
        for i in 0..self.properties.len() {
            match self.properties[i].kind {
                PropertyKind::Always { cadence } => {
                    if let Some(c) = cadence {
                        if now < self.next_check[i] {
                            continue;
                        }
                        self.next_check[i] = now.saturating_add(c);
                    }
                    if let Err((v, msg)) = self.run_check(i) {
                        return Some(self.property_failure(i, v, msg, now));
                    }
                }
                PropertyKind::Eventually { .. } => {
                    if self.satisfied[i] || now < self.heal_at {
                        continue;
                    }
                    match self.run_check(i) {
                        Ok(()) => self.satisfied[i] = true,
                        Err((Verdict::ModelPanic, msg)) => {
                            return Some(self.property_failure(i, Verdict::ModelPanic, msg, now));
                        }
                        Err(_) => {}
                    }
                }
                PropertyKind::AtEnd => {}
            }
        }
        None
    }

    /// Each liveness (`Eventually`) property's deadline: the end of the plan's faults (the
    /// heal) plus its bound. A horizon before a deadline ends the run before the property can
    /// be judged: a liveness failure at such a horizon may be the horizon's, which tools say.
    pub fn liveness_deadlines(&self) -> Vec<(String, Instant)> {
        let heal = self.plan.faults_end();
        self.properties
            .iter()
            .filter_map(|p| match p.kind {
                PropertyKind::Eventually { within } => Some((p.name.clone(), heal.saturating_add(within))),
                _ => None,
            })
            .collect()
    }

    /// A liveness failure if some `Eventually` property's deadline is before `before`.
    pub(super) fn liveness_deadline_passed(&self, before: Instant) -> Option<Failure> {
        for (i, p) in self.properties.iter().enumerate() {
            if let PropertyKind::Eventually { within } = p.kind {
                let deadline = self.heal_at.saturating_add(within);
                if !self.satisfied[i] && deadline < before {
                    let last = self.run_check(i).err().map(|(_, m)| m).unwrap_or_default();
                    let time = if before == Instant::MAX {
                        self.core.now
                    } else {
                        deadline
                    };
                    let msg = if before == Instant::MAX && deadline > self.core.now {
                        format!(
                            "did not hold when the run ended at {} (deadline {deadline}): {last}",
                            self.core.now
                        )
                    } else {
                        format!(
                            "did not hold within {within} of the heal at {}: {last}",
                            self.heal_at
                        )
                    };
                    return Some(self.property_failure(i, Verdict::LivenessFailure, msg, time));
                }
            }
        }
        None
    }

    /// The checks when a run ends without a failure: liveness deadlines, then the end-of-run
    /// properties. A liveness property whose deadline lies after the end was cut off by the
    /// horizon, not judged: a safety violation found at the end (a history that no ordering
    /// explains) outranks it, so a shorter horizon never hides a proven violation.
    pub(super) fn end_of_run_failure(&self) -> Option<Failure> {
        let liveness = self.liveness_deadline_passed(Instant::MAX);
        let cut = liveness.as_ref().is_some_and(|f| {
            self.liveness_deadlines()
                .iter()
                .any(|(name, deadline)| f.property.as_ref() == Some(name) && *deadline > self.core.now)
        });
        match liveness {
            Some(f) if cut => self.check_at_end().or(Some(f)),
            Some(f) => Some(f),
            None => self.check_at_end(),
        }
    }

    pub(super) fn check_at_end(&self) -> Option<Failure> {
        for (i, p) in self.properties.iter().enumerate() {
            if p.kind == PropertyKind::AtEnd
                && let Err((v, msg)) = self.run_check(i)
            {
                return Some(self.property_failure(i, v, msg, self.core.now));
            }
        }
        None
    }
}
