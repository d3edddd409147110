//! Client operations as timelines draw them: each invocation paired with its completion.

use super::Record;
use crate::linearizability::Outcome;
use ruckus_sim::{HistoryEntry, OperationOutcome, OperationSpan};
use std::collections::BTreeMap;
use std::fmt::Debug;

/// How a client saw an operation end, in the engine's words.
pub fn outcome_of<O>(outcome: &Outcome<O>) -> OperationOutcome {
    match outcome {
        Outcome::Ok(_) => OperationOutcome::Ok,
        Outcome::Failed => OperationOutcome::Fail,
        Outcome::Unknown => OperationOutcome::Unknown,
    }
}

/// The operations of a client history: each invocation paired with the completion of the
/// same session and sequence number, in invocation order. An operation never completed is
/// open-ended with an unknown outcome. Descriptions read like the linearizability checker's
/// (`get(k0) -> 7`, `put(k1, 5) -> ?`: an open one).
pub fn operation_spans<C: Debug, O: Debug>(entries: &[HistoryEntry<Record<C, O>>]) -> Vec<OperationSpan> {
    operation_spans_in(entries, |r| Some(r))
}

/// [`operation_spans`] of a history whose records include the clients' (`as_record` finds
/// them; the others are skipped).
pub fn operation_spans_in<X, C: Debug, O: Debug>(
    entries: &[HistoryEntry<X>],
    as_record: impl for<'x> Fn(&'x X) -> Option<&'x Record<C, O>>,
) -> Vec<OperationSpan> {
    let mut spans: Vec<OperationSpan> = Vec::new();
    // Invocations not yet completed, by (session, sequence): their span and their input.
    let mut open: BTreeMap<(u64, u64), (usize, &C)> = BTreeMap::new();
    for e in entries {
        match as_record(&e.operation) {
            Some(Record::Invoke { session, seq, input }) => {
                open.insert((*session, *seq), (spans.len(), input));
                spans.push(OperationSpan {
                    process: e.process,
                    description: format!("{input:?} -> ?"),
                    invoked: e.time,
                    completed: None,
                    outcome: OperationOutcome::Unknown,
                });
            }
            Some(Record::Complete {
                session,
                seq,
                outcome,
            }) => {
                // A completion without its invocation (a checker reports that) draws nothing.
                if let Some((i, input)) = open.remove(&(*session, *seq)) {
                    let span = &mut spans[i];
                    span.description = format!("{input:?} -> {outcome:?}");
                    span.completed = Some(e.time);
                    span.outcome = outcome_of(outcome);
                }
            }
            None => {}
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::kv::{KvInput, KvOutput};
    use ruckus_sim::{Instant, ProcessId};

    fn entry(t: u64, p: u32, operation: Record) -> HistoryEntry<Record> {
        HistoryEntry {
            time: Instant(t),
            process: ProcessId(p),
            operation,
        }
    }

    #[test]
    fn invocations_pair_with_their_completions_by_session_and_sequence() {
        let history = vec![
            entry(
                10,
                5,
                Record::Invoke {
                    session: 1,
                    seq: 0,
                    input: KvInput::Put(0, 7),
                },
            ),
            entry(
                12,
                6,
                Record::Invoke {
                    session: 2,
                    seq: 0,
                    input: KvInput::Get(0),
                },
            ),
            // Session 2's read ends first, then session 1's write; the same sequence numbers
            // in two sessions must not be confused.
            entry(
                20,
                6,
                Record::Complete {
                    session: 2,
                    seq: 0,
                    outcome: Outcome::Ok(KvOutput::Value(Some(7))),
                },
            ),
            entry(
                25,
                5,
                Record::Complete {
                    session: 1,
                    seq: 0,
                    outcome: Outcome::Ok(KvOutput::Written),
                },
            ),
            entry(
                30,
                5,
                Record::Invoke {
                    session: 1,
                    seq: 1,
                    input: KvInput::Cas(0, Some(7), 8),
                },
            ),
            entry(
                40,
                5,
                Record::Complete {
                    session: 1,
                    seq: 1,
                    outcome: Outcome::Failed,
                },
            ),
            entry(
                50,
                6,
                Record::Invoke {
                    session: 2,
                    seq: 1,
                    input: KvInput::Put(0, 9),
                },
            ),
            entry(
                60,
                6,
                Record::Complete {
                    session: 2,
                    seq: 1,
                    outcome: Outcome::Unknown,
                },
            ),
            // Never completed.
            entry(
                70,
                5,
                Record::Invoke {
                    session: 1,
                    seq: 2,
                    input: KvInput::Get(0),
                },
            ),
        ];
        let spans = operation_spans(&history);
        let got: Vec<(u32, &str, u64, Option<u64>, OperationOutcome)> = spans
            .iter()
            .map(|s| {
                (
                    s.process.0,
                    s.description.as_str(),
                    s.invoked.0,
                    s.completed.map(|t| t.0),
                    s.outcome,
                )
            })
            .collect();
        use OperationOutcome::{Fail, Ok, Unknown};
        assert_eq!(
            got,
            vec![
                (5, "put(k0, 7) -> ok", 10, Some(25), Ok),
                (6, "get(k0) -> 7", 12, Some(20), Ok),
                (5, "cas(k0, 7, 8) -> failed", 30, Some(40), Fail),
                (6, "put(k0, 9) -> ?", 50, Some(60), Unknown),
                (5, "get(k0) -> ?", 70, None, Unknown),
            ]
        );
    }

    #[test]
    fn records_of_other_kinds_and_stray_completions_are_skipped() {
        // A history of (is it a client record?, record): the non-client ones are ignored.
        let history = vec![
            HistoryEntry {
                time: Instant(1),
                process: ProcessId(0),
                operation: None,
            },
            HistoryEntry {
                time: Instant(2),
                process: ProcessId(1),
                operation: Some(Record::Complete {
                    session: 9,
                    seq: 9,
                    outcome: Outcome::Ok(KvOutput::Written),
                }),
            },
            HistoryEntry {
                time: Instant(3),
                process: ProcessId(1),
                operation: Some(Record::Invoke {
                    session: 1,
                    seq: 0,
                    input: KvInput::Get(3),
                }),
            },
        ];
        let spans = operation_spans_in(&history, |r: &Option<Record>| r.as_ref());
        assert_eq!(spans.len(), 1);
        assert_eq!((spans[0].process, spans[0].completed), (ProcessId(1), None));
        assert_eq!(spans[0].description, "get(k3) -> ?");
    }
}
