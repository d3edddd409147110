//! Histories recorded outside ruckus (Jepsen's `history.edn`, or JSON Lines of the same shape)
//! and the sequential models to check them against: register, cas-register, key-value, set
//! and FIFO queue.
//!
//! A history is a list of entries, each `{type, f, value, process}`:
//! - `invoke` opens an operation for its process; the next `ok`, `fail` or `info` of the same
//!   process completes it.
//! - `ok`: it took effect; reads take their result from this entry's value.
//! - `fail`: it certainly did not take effect, and is left out.
//! - `info`: indeterminate. It may have taken effect at any point after its invocation, or
//!   never; it stays open to the end of the history. An invocation never completed is the same.
//! - Entries whose process is not an integer (Jepsen's `:nemesis`) are not client operations:
//!   they are ignored and counted.
//!
//! Values are integers (negative too), strings or nil (a keyword such as `:a` is read as the
//! string `":a"`, a character such as `\a` as the string `"a"`). Per model, `f` and `value` are:
//!
//! | model | operations |
//! |---|---|
//! | `register` | `read` (value read), `write v` |
//! | `cas-register` | as `register`, plus `cas [old new]` (`ok` only if it swapped) |
//! | `kv` | the cas-register's operations with value `[key v]`, one register per key |
//! | `set` | `add v`, `read` (value: every element, as a set or vector) |
//! | `queue` | `enqueue v`, `dequeue` (value: the element removed) |
//!
//! An entry's `time` (Jepsen's `:time`, nanoseconds since the test began) is optional and only
//! places the operation on the `--html` page; it must be an integer when present.
//!
//! The JSON Lines form ([`JsonEntry`]) has one object per line with the same fields, e.g.
//! `{"process":0,"type":"invoke","f":"cas","value":[1,2],"time":1200}`; `null` is nil and
//! arrays are vectors. A ruckus trace's client history
//! ([`ruckus_sim::Process::client_history`]) converts to it entry for entry.

use super::edn::Edn;
use super::{History, Outcome, Specification};
use ruckus_sim::{ClientOp, Datum};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

/// A value in a history: registers hold these, sets and queues contain them.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// `nil` / `null`: unset.
    Nil,
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(f, "nil"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl Value {
    /// Parses a value as written on a command line: `nil`, an integer, or else a string
    /// (quotes optional).
    pub fn parse(text: &str) -> Value {
        let t = text.trim();
        if t == "nil" || t == "null" {
            Value::Nil
        } else if let Ok(i) = t.parse::<i64>() {
            Value::Int(i)
        } else {
            Value::Str(t.trim_matches('"').to_string())
        }
    }
}

/// Which sequential model a history is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// One register: read and write.
    Register,
    /// One register with compare-and-set.
    CasRegister,
    /// Independent cas-registers, one per key.
    Kv,
    /// A grow-only set: add and read-all.
    Set,
    /// A FIFO queue: enqueue and dequeue.
    Queue,
}

impl ModelKind {
    /// Every model, with the name the command line uses.
    pub const ALL: [(&'static str, ModelKind); 5] = [
        ("register", ModelKind::Register),
        ("cas-register", ModelKind::CasRegister),
        ("kv", ModelKind::Kv),
        ("set", ModelKind::Set),
        ("queue", ModelKind::Queue),
    ];

    /// The model called `name` (`key-value` is accepted for `kv`).
    pub fn by_name(name: &str) -> Option<ModelKind> {
        let name = if name == "key-value" { "kv" } else { name };
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }
}

/// An operation's request (the key is `Nil` except in the `kv` model).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Input {
    /// The independent part it touches.
    pub key: Value,
    /// What it asks.
    pub command: Command,
}

/// What an operation asks of the model.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Command {
    /// Read the register, or the whole set.
    Read,
    /// Write the register.
    Write(Value),
    /// Write `new` if the register holds `old`.
    Cas(Value, Value),
    /// Add to the set.
    Add(Value),
    /// Append to the queue.
    Enqueue(Value),
    /// Remove the queue's head.
    Dequeue,
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match &self.key {
            Value::Nil => String::new(),
            k => format!("{k:?}, "),
        };
        match &self.command {
            Command::Read => write!(f, "read({})", key.trim_end_matches(", ")),
            Command::Write(v) => write!(f, "write({key}{v:?})"),
            Command::Cas(o, n) => write!(f, "cas({key}{o:?}, {n:?})"),
            Command::Add(v) => write!(f, "add({v:?})"),
            Command::Enqueue(v) => write!(f, "enqueue({v:?})"),
            Command::Dequeue => write!(f, "dequeue()"),
        }
    }
}

/// An operation's response.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Output {
    /// A write, add, enqueue or successful cas.
    Done,
    /// A cas whose expected value did not match (never observed as `ok`).
    Mismatch,
    /// A register read or a dequeue.
    Value(Value),
    /// A set read.
    Elements(BTreeSet<Value>),
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Output::Done => write!(f, "ok"),
            Output::Mismatch => write!(f, "mismatch"),
            Output::Value(v) => write!(f, "{v:?}"),
            Output::Elements(s) => write!(f, "{s:?}"),
        }
    }
}

/// The state of one key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// A register's value.
    Register(Value),
    /// A set's elements.
    Set(BTreeSet<Value>),
    /// A queue, head first.
    Queue(VecDeque<Value>),
}

/// The sequential specification of one model kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    /// Which model.
    pub kind: ModelKind,
    /// What registers hold before the first write (`Nil`: unset).
    pub initial: Value,
}

impl Specification for ModelSpec {
    type State = State;
    type Input = Input;
    type Output = Output;
    type Key = Value;

    fn initial(&self) -> State {
        match self.kind {
            ModelKind::Register | ModelKind::CasRegister | ModelKind::Kv => {
                State::Register(self.initial.clone())
            }
            ModelKind::Set => State::Set(BTreeSet::new()),
            ModelKind::Queue => State::Queue(VecDeque::new()),
        }
    }

    fn step(&self, state: &State, input: &Input) -> (State, Output) {
        match (state, &input.command) {
            (State::Register(v), Command::Read) => (state.clone(), Output::Value(v.clone())),
            (State::Register(_), Command::Write(v)) => (State::Register(v.clone()), Output::Done),
            (State::Register(v), Command::Cas(old, new)) => {
                if v == old {
                    (State::Register(new.clone()), Output::Done)
                } else {
                    (state.clone(), Output::Mismatch)
                }
            }
            (State::Set(s), Command::Read) => (state.clone(), Output::Elements(s.clone())),
            (State::Set(s), Command::Add(v)) => {
                let mut s = s.clone();
                s.insert(v.clone());
                (State::Set(s), Output::Done)
            }
            (State::Queue(q), Command::Enqueue(v)) => {
                let mut q = q.clone();
                q.push_back(v.clone());
                (State::Queue(q), Output::Done)
            }
            (State::Queue(q), Command::Dequeue) => {
                let mut q = q.clone();
                let head = q.pop_front().unwrap_or(Value::Nil);
                (State::Queue(q), Output::Value(head))
            }
            // Conversion only builds commands the model has; anything else cannot happen.
            _ => (state.clone(), Output::Mismatch),
        }
    }

    fn key(&self, input: &Input) -> Value {
        input.key.clone()
    }

    fn is_read_only(&self, input: &Input) -> bool {
        matches!(input.command, Command::Read)
    }
}

/// One line of the JSON Lines history format: the fields of a Jepsen history entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JsonEntry {
    /// The client (an integer) or another actor (a string such as `"nemesis"`).
    pub process: JsonDatum,
    /// `invoke`, `ok`, `fail` or `info`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The operation's name.
    pub f: String,
    /// Its argument or result.
    #[serde(default)]
    pub value: JsonDatum,
    /// When it happened, in nanoseconds (Jepsen's `:time`, since the test began; a trace's
    /// true time). Optional; the `--html` page draws by it when every entry has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
}

/// A JSON value as histories use them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JsonDatum {
    /// `null`.
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// An array.
    List(Vec<JsonDatum>),
}

impl JsonDatum {
    fn to_edn(&self) -> Edn {
        match self {
            JsonDatum::Null => Edn::Nil,
            JsonDatum::Bool(b) => Edn::Bool(*b),
            JsonDatum::Int(i) => Edn::Int(*i),
            JsonDatum::Str(s) => Edn::Str(s.clone()),
            JsonDatum::List(l) => Edn::List(l.iter().map(JsonDatum::to_edn).collect()),
        }
    }
}

impl From<&Datum> for JsonDatum {
    fn from(d: &Datum) -> JsonDatum {
        match d {
            Datum::Nil => JsonDatum::Null,
            Datum::Int(i) => JsonDatum::Int(*i),
            Datum::Str(s) => JsonDatum::Str(s.clone()),
            Datum::List(l) => JsonDatum::List(l.iter().map(JsonDatum::from).collect()),
        }
    }
}

impl JsonEntry {
    /// The entry as an EDN map, so both formats share one conversion.
    pub fn to_edn(&self) -> Edn {
        let kw = |s: &str| Edn::Keyword(s.to_string());
        let mut map = vec![
            (kw("process"), self.process.to_edn()),
            (kw("type"), kw(&self.kind)),
            (kw("f"), kw(&self.f)),
            (kw("value"), self.value.to_edn()),
        ];
        if let Some(t) = self.time {
            map.push((kw("time"), Edn::Int(t)));
        }
        Edn::Map(map)
    }
}

/// A model's exported client history entry ([`ruckus_sim::Process::client_history`]) as a
/// line of the JSON Lines format; its time is the run's true time in nanoseconds.
impl From<&ClientOp> for JsonEntry {
    fn from(op: &ClientOp) -> JsonEntry {
        JsonEntry {
            process: JsonDatum::Int(i64::try_from(op.process).unwrap_or(i64::MAX)),
            kind: op.kind.name().to_string(),
            f: op.f.clone(),
            value: JsonDatum::from(&op.value),
            time: i64::try_from(op.time.0).ok(),
        }
    }
}

/// Why a history entry could not be used, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryError {
    /// 1-based line of the entry.
    pub line: usize,
    /// The field at fault (`type`, `f`, `value`, `process`).
    pub field: &'static str,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, field `{}`: {}", self.line, self.field, self.message)
    }
}

/// A history converted for one model.
#[derive(Clone, Debug)]
pub struct Converted {
    /// The client operations, positions in entry order.
    pub history: History<Input, Output>,
    /// Entries that were not client operations (nemesis and the like), skipped.
    pub ignored: usize,
    /// Client entries read (invocations and completions).
    pub client_entries: usize,
    /// For each operation, the line of its invocation.
    pub lines: Vec<usize>,
    /// For each history event (an operation's `call` or `ret` position), its entry's `:time`,
    /// if it had one.
    pub times: Vec<Option<i64>>,
}

impl Converted {
    /// The `:time` of every history event, when every client entry had one.
    pub fn event_times(&self) -> Option<Vec<i64>> {
        self.times.iter().copied().collect()
    }
}

/// Turns located entries (EDN maps, as [`super::edn::read_all`] returns them) into a history
/// for `kind`, following the semantics in the module docs.
pub fn convert(entries: &[(usize, Edn)], kind: ModelKind) -> Result<Converted, EntryError> {
    let mut history = History::new();
    let mut open: BTreeMap<i64, (u64, Edn, usize)> = BTreeMap::new();
    let mut next_id = 0u64;
    let mut ignored = 0;
    let mut client_entries = 0;
    let mut lines = Vec::new();
    let mut times = Vec::new();
    for (line, entry) in entries {
        let line = *line;
        let err = |field: &'static str, message: String| EntryError { line, field, message };
        if !matches!(entry, Edn::Map(_)) {
            return Err(err("type", format!("expected a map, found {entry}")));
        }
        let process = match entry.get("process") {
            Some(Edn::Int(p)) => *p,
            Some(_) => {
                ignored += 1;
                continue;
            }
            None => return Err(err("process", "missing".into())),
        };
        client_entries += 1;
        let kind_name = match entry.get("type") {
            Some(Edn::Keyword(k)) | Some(Edn::Str(k)) => k.as_str(),
            Some(other) => return Err(err("type", format!("expected a keyword, found {other}"))),
            None => return Err(err("type", "missing".into())),
        };
        let f = match entry.get("f") {
            Some(Edn::Keyword(k)) | Some(Edn::Str(k)) | Some(Edn::Symbol(k)) => k.clone(),
            Some(other) => return Err(err("f", format!("expected a keyword, found {other}"))),
            None => return Err(err("f", "missing".into())),
        };
        let value = entry.get("value").cloned().unwrap_or(Edn::Nil);
        let time = match entry.get("time") {
            None | Some(Edn::Nil) => None,
            Some(Edn::Int(t)) => Some(*t),
            Some(other) => {
                return Err(err(
                    "time",
                    format!("expected an integer (nanoseconds), found {other}"),
                ));
            }
        };
        if kind_name == "invoke" {
            if let Some((_, _, at)) = open.get(&process) {
                return Err(err(
                    "process",
                    format!("process {process} invoked again while its operation from line {at} is open"),
                ));
            }
            // Validate the request now, so errors point at the invocation.
            let input = request(kind, &f, &value).map_err(|(field, m)| err(field, m))?;
            history
                .invoke(next_id, process.unsigned_abs(), input)
                .map_err(|m| err("process", m))?;
            lines.push(line);
            times.push(time);
            open.insert(process, (next_id, value, line));
            next_id += 1;
            continue;
        }
        let Some((id, invoked_value, _)) = open.remove(&process) else {
            return Err(err(
                "process",
                format!("`{kind_name}` for process {process}, which has no open invocation"),
            ));
        };
        let outcome = match kind_name {
            "ok" => Outcome::Ok(response(kind, &f, &invoked_value, &value).map_err(|(fl, m)| err(fl, m))?),
            "fail" => Outcome::Failed,
            "info" => Outcome::Unknown,
            other => {
                return Err(err(
                    "type",
                    format!("`{other}` is not one of invoke, ok, fail, info"),
                ));
            }
        };
        history.complete(id, outcome).map_err(|m| err("process", m))?;
        times.push(time);
    }
    Ok(Converted {
        history,
        ignored,
        client_entries,
        lines,
        times,
    })
}

type FieldError = (&'static str, String);

fn value_of(edn: &Edn) -> Result<Value, FieldError> {
    match edn {
        Edn::Nil => Ok(Value::Nil),
        Edn::Int(i) => Ok(Value::Int(*i)),
        Edn::Str(s) => Ok(Value::Str(s.clone())),
        Edn::Char(c) => Ok(Value::Str(c.to_string())),
        Edn::Keyword(k) => Ok(Value::Str(format!(":{k}"))),
        other => Err((
            "value",
            format!("expected an integer, string or nil, found {other}"),
        )),
    }
}

fn pair(edn: &Edn, what: &str) -> Result<(Edn, Edn), FieldError> {
    match edn {
        Edn::List(items) if items.len() == 2 => Ok((items[0].clone(), items[1].clone())),
        other => Err(("value", format!("expected {what}, found {other}"))),
    }
}

/// The request an invocation makes.
fn request(kind: ModelKind, f: &str, value: &Edn) -> Result<Input, FieldError> {
    let (key, value) = if kind == ModelKind::Kv {
        let (k, v) = pair(value, "[key value]")?;
        (value_of(&k)?, v)
    } else {
        (Value::Nil, value.clone())
    };
    let command = match (kind, f) {
        (ModelKind::Register | ModelKind::CasRegister | ModelKind::Kv, "read") => Command::Read,
        (ModelKind::Register | ModelKind::CasRegister | ModelKind::Kv, "write") => {
            Command::Write(value_of(&value)?)
        }
        (ModelKind::CasRegister | ModelKind::Kv, "cas") => {
            let (old, new) = pair(&value, "[old new]")?;
            Command::Cas(value_of(&old)?, value_of(&new)?)
        }
        (ModelKind::Set, "add") => Command::Add(value_of(&value)?),
        (ModelKind::Set, "read") => Command::Read,
        (ModelKind::Queue, "enqueue") => Command::Enqueue(value_of(&value)?),
        (ModelKind::Queue, "dequeue") => Command::Dequeue,
        _ => {
            let known = match kind {
                ModelKind::Register => "read, write",
                ModelKind::CasRegister | ModelKind::Kv => "read, write, cas",
                ModelKind::Set => "add, read",
                ModelKind::Queue => "enqueue, dequeue",
            };
            return Err((
                "f",
                format!("`{f}` is not an operation of this model (expected {known})"),
            ));
        }
    };
    Ok(Input { key, command })
}

/// The response an `ok` completion reports. Writes must echo what they wrote.
fn response(kind: ModelKind, f: &str, invoked: &Edn, value: &Edn) -> Result<Output, FieldError> {
    let value = if kind == ModelKind::Kv {
        let (k, v) = pair(value, "[key value]")?;
        let (invoked_key, _) = pair(invoked, "[key value]")?;
        if k != invoked_key {
            return Err((
                "value",
                format!("completed key {k} differs from invoked key {invoked_key}"),
            ));
        }
        v
    } else {
        value.clone()
    };
    Ok(match (kind, f) {
        (ModelKind::Set, "read") => {
            let items = match &value {
                Edn::List(items) | Edn::Set(items) => items,
                other => {
                    return Err(("value", format!("expected the set's elements, found {other}")));
                }
            };
            Output::Elements(items.iter().map(value_of).collect::<Result<_, _>>()?)
        }
        (_, "read") | (_, "dequeue") => Output::Value(value_of(&value)?),
        _ => Output::Done,
    })
}

#[cfg(test)]
mod tests {
    use super::super::edn::read_all;
    use super::super::{CheckOptions, CheckResult, check};
    use super::*;

    fn run(text: &str, kind: ModelKind, initial: Value) -> (CheckResult<Input, Output, Value>, usize) {
        let entries = read_all(text).unwrap();
        let converted = convert(&entries, kind).unwrap();
        let spec = ModelSpec { kind, initial };
        (
            check(&spec, &converted.history, CheckOptions::default()),
            converted.ignored,
        )
    }

    #[test]
    fn stale_register_read_fails_and_nemesis_is_counted() {
        let h = "{:process 0 :type :invoke :f :write :value -3}
                 {:process 0 :type :ok :f :write :value -3}
                 {:process :nemesis :type :info :f :start :value nil}
                 {:process 1 :type :invoke :f :read :value nil}
                 {:process 1 :type :ok :f :read :value nil}";
        let (result, ignored) = run(h, ModelKind::Register, Value::Nil);
        assert!(matches!(result, CheckResult::NotLinearizable(_)));
        assert_eq!(ignored, 1);
        // Reading -3 instead is fine.
        let fresh = h.replace(":type :ok :f :read :value nil", ":type :ok :f :read :value -3");
        assert!(run(&fresh, ModelKind::Register, Value::Nil).0.is_linearizable());
    }

    #[test]
    fn info_may_take_effect_late_and_fail_never_does() {
        let info = "{:process 0 :type :invoke :f :write :value \"x\"}
                    {:process 0 :type :info :f :write :value \"x\"}
                    {:process 1 :type :invoke :f :read :value nil}
                    {:process 1 :type :ok :f :read :value nil}
                    {:process 1 :type :invoke :f :read :value nil}
                    {:process 1 :type :ok :f :read :value \"x\"}";
        assert!(run(info, ModelKind::Register, Value::Nil).0.is_linearizable());
        let fail = info.replace(":type :info", ":type :fail");
        assert!(!run(&fail, ModelKind::Register, Value::Nil).0.is_linearizable());
    }

    #[test]
    fn cas_register_with_initial_value() {
        let h = "{:process 0 :type :invoke :f :cas :value [0 1]}
                 {:process 0 :type :ok :f :cas :value [0 1]}
                 {:process 1 :type :invoke :f :cas :value [0 2]}
                 {:process 1 :type :ok :f :cas :value [0 2]}";
        assert!(!run(h, ModelKind::CasRegister, Value::Int(0)).0.is_linearizable());
        let one = "{:process 0 :type :invoke :f :cas :value [0 1]}
                   {:process 0 :type :ok :f :cas :value [0 1]}";
        assert!(
            run(one, ModelKind::CasRegister, Value::Int(0))
                .0
                .is_linearizable()
        );
        assert!(!run(one, ModelKind::CasRegister, Value::Nil).0.is_linearizable());
    }

    #[test]
    fn set_and_queue_models() {
        let set = "{:process 0 :type :invoke :f :add :value 1}
                   {:process 0 :type :ok :f :add :value 1}
                   {:process 1 :type :invoke :f :read :value nil}
                   {:process 1 :type :ok :f :read :value #{}}";
        assert!(!run(set, ModelKind::Set, Value::Nil).0.is_linearizable());
        assert!(
            run(&set.replace("#{}", "#{1}"), ModelKind::Set, Value::Nil)
                .0
                .is_linearizable()
        );
        let queue = "{:process 0 :type :invoke :f :enqueue :value 1}
                     {:process 0 :type :ok :f :enqueue :value 1}
                     {:process 0 :type :invoke :f :enqueue :value 2}
                     {:process 0 :type :ok :f :enqueue :value 2}
                     {:process 1 :type :invoke :f :dequeue :value nil}
                     {:process 1 :type :ok :f :dequeue :value 2}";
        assert!(!run(queue, ModelKind::Queue, Value::Nil).0.is_linearizable());
        let head = queue.replace(":ok :f :dequeue :value 2", ":ok :f :dequeue :value 1");
        assert!(run(&head, ModelKind::Queue, Value::Nil).0.is_linearizable());
    }

    #[test]
    fn kv_splits_by_key() {
        let h = "{:process 0 :type :invoke :f :write :value [\"a\" 1]}
                 {:process 0 :type :ok :f :write :value [\"a\" 1]}
                 {:process 1 :type :invoke :f :read :value [\"b\" nil]}
                 {:process 1 :type :ok :f :read :value [\"b\" nil]}
                 {:process 1 :type :invoke :f :read :value [\"a\" nil]}
                 {:process 1 :type :ok :f :read :value [\"a\" 1]}";
        assert!(run(h, ModelKind::Kv, Value::Nil).0.is_linearizable());
        let stale = h.replace(
            ":type :ok :f :read :value [\"a\" 1]",
            ":type :ok :f :read :value [\"a\" nil]",
        );
        match run(&stale, ModelKind::Kv, Value::Nil).0 {
            CheckResult::NotLinearizable(v) => assert_eq!(v.key, Value::Str("a".into())),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn times_are_kept_per_event_and_must_be_integers() {
        let entries = read_all(
            "{:process 0 :type :invoke :f :read :value nil :time 5}
             {:process :nemesis :type :info :f :start :time 6}
             {:process 0 :type :ok :f :read :value nil :time 9}",
        )
        .unwrap();
        let converted = convert(&entries, ModelKind::Register).unwrap();
        assert_eq!(converted.event_times(), Some(vec![5, 9]));
        let entries = read_all("{:process 0 :type :invoke :f :read :value nil}").unwrap();
        assert_eq!(
            convert(&entries, ModelKind::Register).unwrap().event_times(),
            None
        );
        let entries = read_all("{:process 0 :type :invoke :f :read :value nil :time 1.5}").unwrap();
        let e = convert(&entries, ModelKind::Register).unwrap_err();
        assert_eq!((e.line, e.field), (1, "time"));
    }

    #[test]
    fn an_exported_client_op_is_a_json_entry_with_its_time() {
        let op = ClientOp {
            process: 3,
            kind: ruckus_sim::OpType::Ok,
            f: "cas".into(),
            value: Datum::List(vec![Datum::Int(0), Datum::List(vec![Datum::Nil, Datum::Int(-4)])]),
            time: ruckus_sim::Instant(1_500),
        };
        let entry = JsonEntry::from(&op);
        assert_eq!(
            entry,
            JsonEntry {
                process: JsonDatum::Int(3),
                kind: "ok".into(),
                f: "cas".into(),
                value: JsonDatum::List(vec![
                    JsonDatum::Int(0),
                    JsonDatum::List(vec![JsonDatum::Null, JsonDatum::Int(-4)])
                ]),
                time: Some(1_500),
            }
        );
        assert_eq!(entry.to_edn().get("time"), Some(&Edn::Int(1_500)));
    }

    #[test]
    fn bad_entries_are_located() {
        let entries =
            read_all("{:process 0 :type :invoke :f :read :value nil}\n{:process 0 :type :done :f :read}")
                .unwrap();
        let e = convert(&entries, ModelKind::Register).unwrap_err();
        assert_eq!((e.line, e.field), (2, "type"));
        let entries = read_all("{:process 0 :type :invoke :f :frob :value nil}").unwrap();
        let e = convert(&entries, ModelKind::Register).unwrap_err();
        assert_eq!((e.line, e.field), (1, "f"));
        let entries = read_all("{:process 0 :type :invoke :f :cas :value 3}").unwrap();
        let e = convert(&entries, ModelKind::CasRegister).unwrap_err();
        assert_eq!((e.line, e.field), (1, "value"));
        let entries = read_all("\n{:process 4 :type :ok :f :read :value 1}").unwrap();
        let e = convert(&entries, ModelKind::Register).unwrap_err();
        assert_eq!((e.line, e.field), (2, "process"));
    }
}
