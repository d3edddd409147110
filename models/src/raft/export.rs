//! Client histories as Jepsen-style entries, for `ruckus check` on a trace.
//!
//! Each invocation becomes an `invoke` entry and its completion an `ok`, `fail` or `info`
//! entry, in history order, with the key-value commands in the `kv` model's terms: `read`,
//! `write` and `cas` on `[key value]`, `[key [old new]]` for a cas, `nil` for unset.
//!
//! Jepsen numbers clients so that one number has at most one operation open. A Raft client
//! process can have several (open-loop clients; a client restarted mid-operation), so an
//! operation invoked while its process's number is busy takes the next free one,
//! `process + k * stride` with `stride` one more than the highest process id, as Jepsen gives a
//! crashed client a new number. Closed-loop clients keep their process id.
//!
//! A compare-and-set that found another value is recorded as `fail`, as Jepsen records it: it
//! did not take effect. (The run's own check knows a little more: such a cas also says the
//! value differed at some point.) An unknown outcome is `info`.

use super::Record;
use crate::linearizability::Outcome;
use crate::linearizability::kv::{KvInput, KvOutput};
use ruckus_sim::{ClientOp, Datum, HistoryEntry, OpType};
use std::collections::{BTreeMap, BTreeSet};

/// A command as a history entry: its name, its value when invoked, and how an answer reads.
pub trait AsClientOp {
    /// What the command answers.
    type Output;
    /// The operation's name (`f`).
    fn f(&self) -> &'static str;
    /// Its value on the invocation.
    fn invoke_value(&self) -> Datum;
    /// The completion of an operation that answered `output`.
    fn answered(&self, output: &Self::Output) -> (OpType, Datum);
}

fn unset_or(v: Option<u64>) -> Datum {
    v.map_or(Datum::Nil, Datum::unsigned)
}

impl AsClientOp for KvInput {
    type Output = KvOutput;

    fn f(&self) -> &'static str {
        match self {
            KvInput::Get(_) => "read",
            KvInput::Put(..) => "write",
            KvInput::Cas(..) => "cas",
        }
    }

    fn invoke_value(&self) -> Datum {
        let (key, value) = match *self {
            KvInput::Get(k) => (k, Datum::Nil),
            KvInput::Put(k, v) => (k, Datum::unsigned(v)),
            KvInput::Cas(k, old, new) => (k, Datum::List(vec![unset_or(old), Datum::unsigned(new)])),
        };
        Datum::List(vec![Datum::Int(i64::from(key)), value])
    }

    fn answered(&self, output: &KvOutput) -> (OpType, Datum) {
        match (self, output) {
            (KvInput::Get(k), KvOutput::Value(v)) => (
                OpType::Ok,
                Datum::List(vec![Datum::Int(i64::from(*k)), unset_or(*v)]),
            ),
            (KvInput::Put(..), KvOutput::Written) | (KvInput::Cas(..), KvOutput::Swapped(true)) => {
                (OpType::Ok, self.invoke_value())
            }
            (KvInput::Cas(..), KvOutput::Swapped(false)) => (OpType::Fail, self.invoke_value()),
            // An answer of the wrong kind says nothing the model can check: indeterminate.
            _ => (OpType::Info, self.invoke_value()),
        }
    }
}

/// The client history of `entries` (Raft client records) as Jepsen-style entries.
pub fn client_history<C: AsClientOp<Output = O>, O>(entries: &[HistoryEntry<Record<C, O>>]) -> Vec<ClientOp> {
    client_history_in(entries, |r| Some(r))
}

/// [`client_history`] of a history whose records include the clients' (`as_record` finds
/// them; the others are skipped). A completion without its invocation is skipped too (the
/// run's own check reports it).
pub fn client_history_in<X, C: AsClientOp<Output = O>, O>(
    entries: &[HistoryEntry<X>],
    as_record: impl for<'x> Fn(&'x X) -> Option<&'x Record<C, O>>,
) -> Vec<ClientOp> {
    let stride = entries
        .iter()
        .filter(|e| as_record(&e.operation).is_some())
        .map(|e| u64::from(e.process.0) + 1)
        .max()
        .unwrap_or(1);
    let mut out = Vec::new();
    let mut open: BTreeMap<(u64, u64), (u64, &C)> = BTreeMap::new();
    let mut busy: BTreeSet<u64> = BTreeSet::new();
    for e in entries {
        match as_record(&e.operation) {
            Some(Record::Invoke { session, seq, input }) => {
                let mut number = u64::from(e.process.0);
                while busy.contains(&number) {
                    number += stride;
                }
                busy.insert(number);
                open.insert((*session, *seq), (number, input));
                out.push(ClientOp {
                    process: number,
                    kind: OpType::Invoke,
                    f: input.f().to_string(),
                    value: input.invoke_value(),
                    time: e.time,
                });
            }
            Some(Record::Complete {
                session,
                seq,
                outcome,
            }) => {
                let Some((number, input)) = open.remove(&(*session, *seq)) else {
                    continue;
                };
                busy.remove(&number);
                let (kind, value) = match outcome {
                    Outcome::Ok(output) => input.answered(output),
                    Outcome::Failed => (OpType::Fail, input.invoke_value()),
                    Outcome::Unknown => (OpType::Info, input.invoke_value()),
                };
                out.push(ClientOp {
                    process: number,
                    kind,
                    f: input.f().to_string(),
                    value,
                    time: e.time,
                });
            }
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::{Instant, ProcessId};

    fn entry(t: u64, p: u32, operation: Record) -> HistoryEntry<Record> {
        HistoryEntry {
            time: Instant(t),
            process: ProcessId(p),
            operation,
        }
    }

    fn invoke(session: u64, seq: u64, input: KvInput) -> Record {
        Record::Invoke { session, seq, input }
    }

    fn complete(session: u64, seq: u64, outcome: Outcome<KvOutput>) -> Record {
        Record::Complete {
            session,
            seq,
            outcome,
        }
    }

    fn kv(k: i64, v: Datum) -> Datum {
        Datum::List(vec![Datum::Int(k), v])
    }

    #[test]
    fn commands_read_as_kv_operations_and_outcomes_as_jepsen_types() {
        let history = vec![
            entry(10, 2, invoke(1, 0, KvInput::Put(3, 7))),
            entry(20, 2, complete(1, 0, Outcome::Ok(KvOutput::Written))),
            entry(30, 2, invoke(1, 1, KvInput::Cas(3, None, 8))),
            entry(40, 2, complete(1, 1, Outcome::Ok(KvOutput::Swapped(false)))),
            entry(50, 2, invoke(1, 2, KvInput::Get(3))),
            entry(60, 2, complete(1, 2, Outcome::Ok(KvOutput::Value(Some(7))))),
            entry(70, 2, invoke(1, 3, KvInput::Cas(3, Some(7), 9))),
            entry(80, 2, complete(1, 3, Outcome::Unknown)),
            entry(90, 2, invoke(1, 4, KvInput::Get(4))),
            entry(95, 2, complete(1, 4, Outcome::Failed)),
        ];
        let ops = client_history(&history);
        let got: Vec<(u64, OpType, &str, Datum, u64)> = ops
            .iter()
            .map(|o| (o.process, o.kind, o.f.as_str(), o.value.clone(), o.time.0))
            .collect();
        let cas = |old: Datum, new: i64| kv(3, Datum::List(vec![old, Datum::Int(new)]));
        use OpType::{Fail, Info, Invoke, Ok};
        assert_eq!(
            got,
            vec![
                (2, Invoke, "write", kv(3, Datum::Int(7)), 10),
                (2, Ok, "write", kv(3, Datum::Int(7)), 20),
                (2, Invoke, "cas", cas(Datum::Nil, 8), 30),
                (2, Fail, "cas", cas(Datum::Nil, 8), 40),
                (2, Invoke, "read", kv(3, Datum::Nil), 50),
                (2, Ok, "read", kv(3, Datum::Int(7)), 60),
                (2, Invoke, "cas", cas(Datum::Int(7), 9), 70),
                (2, Info, "cas", cas(Datum::Int(7), 9), 80),
                (2, Invoke, "read", kv(4, Datum::Nil), 90),
                (2, Fail, "read", kv(4, Datum::Nil), 95),
            ]
        );
    }

    #[test]
    fn a_second_open_operation_of_a_process_takes_the_next_free_number() {
        // Processes 0..=4 record; p4 has two operations open at once, then a third after the
        // first ends. A stray completion is skipped.
        let history = vec![
            entry(1, 0, invoke(9, 0, KvInput::Get(0))),
            entry(2, 4, invoke(1, 0, KvInput::Get(0))),
            entry(3, 4, invoke(2, 0, KvInput::Put(0, 1))),
            entry(4, 4, complete(1, 0, Outcome::Ok(KvOutput::Value(None)))),
            entry(5, 4, invoke(3, 0, KvInput::Get(0))),
            entry(6, 4, complete(7, 7, Outcome::Ok(KvOutput::Written))),
        ];
        let numbers: Vec<(u64, OpType)> = client_history(&history)
            .iter()
            .map(|o| (o.process, o.kind))
            .collect();
        assert_eq!(
            numbers,
            vec![
                (0, OpType::Invoke),
                (4, OpType::Invoke),
                (9, OpType::Invoke),
                (4, OpType::Ok),
                (4, OpType::Invoke),
            ]
        );
    }

    #[test]
    fn values_beyond_i64_stay_distinct_as_text() {
        let big = u64::MAX - 1;
        assert_eq!(Datum::unsigned(big), Datum::Str(big.to_string()));
        assert_eq!(Datum::unsigned(5), Datum::Int(5));
    }
}
