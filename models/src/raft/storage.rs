//! The on-disk layout of a server: fixed little-endian encodings, checked on read.
//!
//! `meta` holds the current term and vote; `log/<index>` holds one entry each. A value that
//! does not decode (a torn write) reads as absent, and the log ends at the first absent index.

use super::{Command, Entry, StateMachine};
use ruckus_sim::splitmix64;

/// The key of the term-and-vote record.
pub const META: &str = "meta";

/// The key of log entry `index` (1-based).
pub fn log_key(index: u64) -> String {
    format!("log/{index:020}")
}

/// Encodes term and vote.
pub fn encode_meta(term: u64, voted_for: Option<u32>) -> Vec<u8> {
    let mut out = Vec::with_capacity(13);
    out.extend_from_slice(&term.to_le_bytes());
    out.push(u8::from(voted_for.is_some()));
    out.extend_from_slice(&voted_for.unwrap_or(0).to_le_bytes());
    out
}

/// Decodes term and vote; `None` if the bytes are not a whole record.
pub fn decode_meta(bytes: &[u8]) -> Option<(u64, Option<u32>)> {
    if bytes.len() != 13 || bytes[8] > 1 {
        return None;
    }
    let term = u64::from_le_bytes(bytes[0..8].try_into().ok()?);
    let vote = u32::from_le_bytes(bytes[9..13].try_into().ok()?);
    Some((term, (bytes[8] == 1).then_some(vote)))
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Bytes before a client command's own encoding: term, tag, session, sequence number.
const CLIENT_HEADER: usize = 8 + 1 + 8 + 8;

/// Encodes a log entry: term, then a tag (0: no-op, 1: client command with its session,
/// sequence number and the state machine's encoding).
pub fn encode_entry<S: StateMachine>(entry: &Entry<S::Command>) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    put_u64(&mut out, entry.term);
    match &entry.command {
        Command::Noop => out.push(0),
        Command::Client { session, seq, input } => {
            out.push(1);
            put_u64(&mut out, *session);
            put_u64(&mut out, *seq);
            S::encode(input, &mut out);
        }
    }
    out
}

/// Decodes a log entry; `None` if the bytes are not a whole entry.
pub fn decode_entry<S: StateMachine>(bytes: &[u8]) -> Option<Entry<S::Command>> {
    let u64_at =
        |i: usize| -> Option<u64> { Some(u64::from_le_bytes(bytes.get(i..i + 8)?.try_into().ok()?)) };
    let term = u64_at(0)?;
    let command = match (bytes.get(8)?, bytes.len()) {
        (0, 9) => Command::Noop,
        (1, len) if len >= CLIENT_HEADER => Command::Client {
            session: u64_at(9)?,
            seq: u64_at(17)?,
            input: S::decode(&bytes[CLIENT_HEADER..])?,
        },
        _ => return None,
    };
    Some(Entry { term, command })
}

/// Folds an entry into a running hash of the log prefix before it. Equal prefix hashes mean
/// equal prefixes (up to collisions), which lets invariants compare logs in O(1).
pub fn chain<S: StateMachine>(prev: u64, entry: &Entry<S::Command>) -> u64 {
    let mut h = splitmix64(prev ^ entry.term.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    match &entry.command {
        Command::Noop => h = splitmix64(h ^ 0x6e6f_6f70),
        Command::Client { session, seq, input } => {
            h = splitmix64(h ^ session);
            h = splitmix64(h ^ seq);
            h = splitmix64(h ^ S::digest(input));
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::kv::KvInput;
    use crate::raft::KvStore;

    #[test]
    fn records_round_trip_and_torn_ones_read_as_absent() {
        assert_eq!(decode_meta(&encode_meta(7, Some(3))), Some((7, Some(3))));
        assert_eq!(decode_meta(&encode_meta(0, None)), Some((0, None)));
        let entries = [
            Entry {
                term: 2,
                command: Command::Noop,
            },
            Entry {
                term: 9,
                command: Command::Client {
                    session: u64::MAX,
                    seq: 4,
                    input: KvInput::Cas(2, Some(5), 6),
                },
            },
            Entry {
                term: 9,
                command: Command::Client {
                    session: 1,
                    seq: 5,
                    input: KvInput::Cas(2, None, 6),
                },
            },
            Entry {
                term: 1,
                command: Command::Client {
                    session: 1,
                    seq: 1,
                    input: KvInput::Get(0),
                },
            },
        ];
        for e in entries {
            let bytes = encode_entry::<KvStore>(&e);
            assert_eq!(decode_entry::<KvStore>(&bytes), Some(e));
            for cut in 0..bytes.len() {
                assert_eq!(decode_entry::<KvStore>(&bytes[..cut]), None, "{e:?} cut at {cut}");
            }
        }
        let meta = encode_meta(5, Some(1));
        for cut in 0..meta.len() {
            assert_eq!(decode_meta(&meta[..cut]), None);
        }
        // Different entries chain differently.
        assert_ne!(chain::<KvStore>(0, &entries[1]), chain::<KvStore>(0, &entries[2]));
        assert_ne!(chain::<KvStore>(1, &entries[0]), chain::<KvStore>(0, &entries[0]));
    }
}
