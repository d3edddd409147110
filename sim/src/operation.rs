//! Operations as a timeline draws them: who invoked what, when, and how it ended.
//!
//! A history holds a model's own records (an invocation and a completion per operation, for
//! Raft's clients). Only the model knows how to pair them, so [`Process::operations`] turns a
//! history into [`OperationSpan`]s; the engine and the tools know nothing else about them.
//! Traces keep the spans in their footer, and the HTML timeline draws one lane per client
//! (Jepsen-style bars from invocation to completion).
//!
//! [`Process::operations`]: crate::Process::operations

use crate::process::ProcessId;
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How an operation ended, as a client could tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationOutcome {
    /// It took effect and answered.
    Ok,
    /// It certainly did not take effect (refused before acting).
    Fail,
    /// It may or may not have taken effect (a timeout, a crash, still open at the end).
    Unknown,
}

impl OperationOutcome {
    /// `ok`, `fail` or `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            OperationOutcome::Ok => "ok",
            OperationOutcome::Fail => "fail",
            OperationOutcome::Unknown => "unknown",
        }
    }
}

/// One operation of a history, from its invocation to its completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationSpan {
    /// The process that invoked it (a client).
    pub process: ProcessId,
    /// What it was, short: `get(k0) -> 7`.
    pub description: String,
    /// True time it was invoked.
    pub invoked: Instant,
    /// True time it completed; `None` if it never did before the run ended.
    pub completed: Option<Instant>,
    /// How it ended.
    pub outcome: OperationOutcome,
}

impl fmt::Display for OperationSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.process, self.description)?;
        if self.outcome != OperationOutcome::Ok {
            write!(f, " [{}]", self.outcome.name())?;
        }
        write!(f, ", invoked {}", self.invoked)?;
        match self.completed {
            Some(t) => write!(f, ", completed {t}"),
            None => write!(f, ", never completed"),
        }
    }
}

/// At most `max` of `spans`, keeping those invoked nearest `around` (the failure's time; the
/// start of the run without one), in invocation order. Returns them and whether any were left
/// out. Traces bound their footer with it.
pub fn nearest_spans(
    mut spans: Vec<OperationSpan>,
    around: Instant,
    max: usize,
) -> (Vec<OperationSpan>, bool) {
    if spans.len() <= max {
        return (spans, false);
    }
    // Distance in time, ties by invocation then process: a total order, so the choice is the
    // same on every run.
    spans.sort_by_key(|s| (s.invoked.0.abs_diff(around.0), s.invoked, s.process));
    spans.truncate(max);
    spans.sort_by_key(|s| (s.invoked, s.process));
    (spans, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(process: u32, invoked: u64) -> OperationSpan {
        OperationSpan {
            process: ProcessId(process),
            description: format!("op{invoked}"),
            invoked: Instant(invoked),
            completed: None,
            outcome: OperationOutcome::Unknown,
        }
    }

    #[test]
    fn nearest_spans_keeps_those_around_the_failure_in_order() {
        let spans: Vec<_> = (0..10).map(|i| span(i % 2, i as u64 * 10)).collect();
        let (kept, capped) = nearest_spans(spans.clone(), Instant(62), 3);
        assert!(capped);
        let times: Vec<u64> = kept.iter().map(|s| s.invoked.0).collect();
        assert_eq!(times, vec![50, 60, 70]);
        let (all, capped) = nearest_spans(spans.clone(), Instant(0), 10);
        assert!(!capped);
        assert_eq!(all, spans);
    }

    #[test]
    fn a_span_reads_as_who_what_and_when() {
        let mut s = span(3, 1_000_000);
        assert_eq!(
            s.to_string(),
            "p3 op1000000 [unknown], invoked @1.000000ms, never completed"
        );
        s.completed = Some(Instant(3_000_000));
        s.outcome = OperationOutcome::Ok;
        assert_eq!(
            s.to_string(),
            "p3 op1000000, invoked @1.000000ms, completed @3.000000ms"
        );
    }
}
