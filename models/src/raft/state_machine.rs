//! What a Raft server replicates: any deterministic state machine, with the key-value store as
//! the built-in one.
//!
//! Raft only orders commands; what they mean is the state machine's business. A service catalog,
//! a scheduler's job table or a lock service plugs in by implementing [`StateMachine`], and gets
//! election, replication, persistence, client sessions (at-most-once application of retried
//! requests) and the Raft invariants without a line of Raft code of its own.

use crate::linearizability::kv::{self, Key, KvInput, KvOutput, Value};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;

/// A deterministic state machine replicated by Raft.
///
/// Every replica applies the same committed commands in the same order, so `apply` must depend
/// only on the state and the command (no clock, no randomness). Commands are written to the
/// log on disk, so they have a byte encoding; a value that does not decode is a torn write.
pub trait StateMachine: Clone + Debug + Default + 'static {
    /// A client request that goes through the log. Hashed into messages (the run fingerprint).
    type Command: Clone + Debug + PartialEq + Eq + Hash + 'static;
    /// What applying a command returns to the client.
    type Output: Clone + Debug + PartialEq + Eq + Hash + 'static;

    /// Applies a committed command.
    fn apply(&mut self, command: &Self::Command) -> Self::Output;

    /// Answers `command` from the current state if it only reads; `None` for commands that
    /// change state. A leader serves such commands without a log entry when that is safe
    /// (lease reads), so the answer must equal what `apply` would return.
    fn read(&self, command: &Self::Command) -> Option<Self::Output>;

    /// Appends the command's bytes to `out`.
    fn encode(command: &Self::Command, out: &mut Vec<u8>);

    /// Decodes exactly the bytes [`StateMachine::encode`] wrote; `None` for anything else.
    fn decode(bytes: &[u8]) -> Option<Self::Command>;

    /// A 64-bit digest of the command, folded into the log's prefix hashes (which the
    /// invariants compare). Distinct commands should digest differently.
    fn digest(command: &Self::Command) -> u64 {
        ruckus_sim::record::digest(command)
    }
}

/// The key-value register store: get, put, compare-and-set (see `linearizability::kv`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStore {
    /// The current value of every key written so far.
    pub values: BTreeMap<Key, Value>,
}

/// The encoded length of a [`KvInput`]: tag, key, two values.
const KV_INPUT_BYTES: usize = 1 + 4 + 8 + 8;

impl StateMachine for KvStore {
    type Command = KvInput;
    type Output = KvOutput;

    fn apply(&mut self, input: &KvInput) -> KvOutput {
        let (value, out) = kv::apply(self.values.get(&input.key()).copied(), input);
        if let Some(v) = value {
            self.values.insert(input.key(), v);
        }
        out
    }

    fn read(&self, input: &KvInput) -> Option<KvOutput> {
        match *input {
            KvInput::Get(key) => Some(KvOutput::Value(self.values.get(&key).copied())),
            KvInput::Put(..) | KvInput::Cas(..) => None,
        }
    }

    fn encode(input: &KvInput, out: &mut Vec<u8>) {
        let (tag, key, a, b) = match *input {
            KvInput::Get(k) => (0u8, k, 0, 0),
            KvInput::Put(k, v) => (1, k, v, 0),
            KvInput::Cas(k, None, v) => (2, k, 0, v),
            KvInput::Cas(k, Some(e), v) => (3, k, e, v),
        };
        out.push(tag);
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&a.to_le_bytes());
        out.extend_from_slice(&b.to_le_bytes());
    }

    fn decode(bytes: &[u8]) -> Option<KvInput> {
        if bytes.len() != KV_INPUT_BYTES {
            return None;
        }
        let key = u32::from_le_bytes(bytes[1..5].try_into().ok()?);
        let a = u64::from_le_bytes(bytes[5..13].try_into().ok()?);
        let b = u64::from_le_bytes(bytes[13..21].try_into().ok()?);
        Some(match bytes[0] {
            0 => KvInput::Get(key),
            1 => KvInput::Put(key, a),
            2 => KvInput::Cas(key, None, b),
            3 => KvInput::Cas(key, Some(a), b),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_store_applies_like_the_specification_and_reads_without_changing() {
        let mut store = KvStore::default();
        assert_eq!(store.apply(&KvInput::Cas(1, None, 5)), KvOutput::Swapped(true));
        assert_eq!(store.apply(&KvInput::Cas(1, None, 6)), KvOutput::Swapped(false));
        assert_eq!(store.apply(&KvInput::Put(2, 7)), KvOutput::Written);
        assert_eq!(store.read(&KvInput::Get(1)), Some(KvOutput::Value(Some(5))));
        assert_eq!(store.read(&KvInput::Get(3)), Some(KvOutput::Value(None)));
        assert_eq!(store.read(&KvInput::Put(1, 1)), None);
        assert_eq!(store.apply(&KvInput::Get(2)), KvOutput::Value(Some(7)));
        assert_eq!(store.values, BTreeMap::from([(1, 5), (2, 7)]));
    }

    #[test]
    fn kv_commands_round_trip_and_torn_ones_do_not_decode() {
        for input in [
            KvInput::Get(9),
            KvInput::Put(1, u64::MAX),
            KvInput::Cas(2, None, 3),
            KvInput::Cas(2, Some(0), 3),
        ] {
            let mut bytes = Vec::new();
            KvStore::encode(&input, &mut bytes);
            assert_eq!(bytes.len(), KV_INPUT_BYTES);
            assert_eq!(KvStore::decode(&bytes), Some(input));
            for cut in 0..bytes.len() {
                assert_eq!(KvStore::decode(&bytes[..cut]), None);
            }
        }
        let mut bad = Vec::new();
        KvStore::encode(&KvInput::Get(1), &mut bad);
        bad[0] = 4;
        assert_eq!(KvStore::decode(&bad), None);
    }
}
