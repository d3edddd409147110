//! A model's client history in the shape of a Jepsen history, for checkers outside the run.
//!
//! A run's history holds the model's own records; only the model knows what they mean. A model
//! whose clients record invocations and completions can also export them as [`ClientOp`]s:
//! one entry per invocation and one per completion, with Jepsen's fields (`process`, `type`,
//! `f`, `value`, `time`). `ruckus check` reads a trace this way: it replays the run, takes
//! [`Process::client_history`] and checks it against the model the model names
//! ([`Model::CHECKER_MODEL`]), exactly as it checks a Jepsen `history.edn`.
//!
//! [`Process::client_history`]: crate::Process::client_history
//! [`Model::CHECKER_MODEL`]: crate::Model::CHECKER_MODEL

use crate::time::Instant;
use serde::{Deserialize, Serialize};

/// The `type` of a history entry, as Jepsen names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpType {
    /// An operation begins.
    Invoke,
    /// It took effect; the entry's value is its result.
    Ok,
    /// It certainly did not take effect.
    Fail,
    /// It may or may not have taken effect (a timeout, a crash).
    Info,
}

impl OpType {
    /// `invoke`, `ok`, `fail` or `info`.
    pub fn name(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

/// A value in a history entry: what Jepsen histories hold for registers, keys and pairs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Datum {
    /// `nil`: nothing, or unset.
    Nil,
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A vector, such as `[key value]` or `[old new]`.
    List(Vec<Datum>),
}

impl Datum {
    /// An unsigned value: an integer when it fits in an `i64`, else its decimal digits as a
    /// string (still equal exactly when the numbers are).
    pub fn unsigned(v: u64) -> Datum {
        i64::try_from(v).map_or_else(|_| Datum::Str(v.to_string()), Datum::Int)
    }
}

/// One entry of a client history: an invocation or a completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientOp {
    /// The client, as Jepsen numbers them: one number has at most one operation open at a time.
    pub process: u64,
    /// What the entry records.
    pub kind: OpType,
    /// The operation's name (`read`, `write`, `cas`, ...).
    pub f: String,
    /// Its argument (on an invocation) or result (on a completion).
    pub value: Datum,
    /// True time of the entry.
    pub time: Instant,
}
