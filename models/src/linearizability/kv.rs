//! The sequential specification of a key-value register store: get, put, compare-and-set.
//!
//! Keys are independent, so the checker searches each key on its own; the state of one key is
//! its value (`None` until first written).

use super::Specification;
use std::fmt;

/// A key.
pub type Key = u32;
/// A value.
pub type Value = u64;

/// A request to the store.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KvInput {
    /// Read a key.
    Get(Key),
    /// Write a key.
    Put(Key, Value),
    /// Write `new` if the key currently holds `expected` (`None`: only if unset).
    Cas(Key, Option<Value>, Value),
}

impl KvInput {
    /// The key the request touches.
    pub fn key(&self) -> Key {
        match *self {
            KvInput::Get(k) | KvInput::Put(k, _) | KvInput::Cas(k, _, _) => k,
        }
    }
}

impl fmt::Debug for KvInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvInput::Get(k) => write!(f, "get(k{k})"),
            KvInput::Put(k, v) => write!(f, "put(k{k}, {v})"),
            KvInput::Cas(k, Some(e), v) => write!(f, "cas(k{k}, {e}, {v})"),
            KvInput::Cas(k, None, v) => write!(f, "cas(k{k}, unset, {v})"),
        }
    }
}

/// A response from the store.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KvOutput {
    /// The value read (`None`: never written).
    Value(Option<Value>),
    /// The write was applied.
    Written,
    /// Whether the compare-and-set applied.
    Swapped(bool),
}

impl fmt::Debug for KvOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOutput::Value(Some(v)) => write!(f, "{v}"),
            KvOutput::Value(None) => write!(f, "unset"),
            KvOutput::Written => write!(f, "ok"),
            KvOutput::Swapped(true) => write!(f, "swapped"),
            KvOutput::Swapped(false) => write!(f, "mismatch"),
        }
    }
}

/// Applies a request to one key's value; shared by the specification and by replicated state
/// machines, so both mean exactly the same thing by "put" and "cas".
pub fn apply(value: Option<Value>, input: &KvInput) -> (Option<Value>, KvOutput) {
    match *input {
        KvInput::Get(_) => (value, KvOutput::Value(value)),
        KvInput::Put(_, v) => (Some(v), KvOutput::Written),
        KvInput::Cas(_, expected, new) => {
            if value == expected {
                (Some(new), KvOutput::Swapped(true))
            } else {
                (value, KvOutput::Swapped(false))
            }
        }
    }
}

/// The key-value register specification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvSpec;

impl Specification for KvSpec {
    type State = Option<Value>;
    type Input = KvInput;
    type Output = KvOutput;
    type Key = Key;

    fn initial(&self) -> Option<Value> {
        None
    }
    fn step(&self, state: &Option<Value>, input: &KvInput) -> (Option<Value>, KvOutput) {
        apply(*state, input)
    }
    fn key(&self, input: &KvInput) -> Key {
        input.key()
    }
    fn is_read_only(&self, input: &KvInput) -> bool {
        matches!(input, KvInput::Get(_))
    }
}
