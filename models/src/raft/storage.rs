//! The on-disk layout of a server: fixed little-endian encodings, checked on read.
//!
//! `meta` holds the current term and vote; `log/<index>` holds one entry each. A value that
//! does not decode (a torn write) reads as absent, and the log ends at the first absent index.

use super::{Command, Entry};
use crate::linearizability::kv::KvInput;

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

/// Encodes a log entry.
pub fn encode_entry(entry: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    put_u64(&mut out, entry.term);
    match entry.command {
        Command::Noop => out.push(0),
        Command::Kv { session, seq, input } => {
            out.push(1);
            put_u64(&mut out, session);
            put_u64(&mut out, seq);
            let (tag, key, a, b) = match input {
                KvInput::Get(k) => (0u8, k, 0, 0),
                KvInput::Put(k, v) => (1, k, v, 0),
                KvInput::Cas(k, None, v) => (2, k, 0, v),
                KvInput::Cas(k, Some(e), v) => (3, k, e, v),
            };
            out.push(tag);
            out.extend_from_slice(&key.to_le_bytes());
            put_u64(&mut out, a);
            put_u64(&mut out, b);
        }
    }
    out
}

/// Decodes a log entry; `None` if the bytes are not a whole entry.
pub fn decode_entry(bytes: &[u8]) -> Option<Entry> {
    let u64_at =
        |i: usize| -> Option<u64> { Some(u64::from_le_bytes(bytes.get(i..i + 8)?.try_into().ok()?)) };
    let term = u64_at(0)?;
    let command = match (bytes.get(8)?, bytes.len()) {
        (0, 9) => Command::Noop,
        (1, 46) => {
            let key = u32::from_le_bytes(bytes.get(26..30)?.try_into().ok()?);
            let (a, b) = (u64_at(30)?, u64_at(38)?);
            let input = match bytes[25] {
                0 => KvInput::Get(key),
                1 => KvInput::Put(key, a),
                2 => KvInput::Cas(key, None, b),
                3 => KvInput::Cas(key, Some(a), b),
                _ => return None,
            };
            Command::Kv {
                session: u64_at(9)?,
                seq: u64_at(17)?,
                input,
            }
        }
        _ => return None,
    };
    Some(Entry { term, command })
}

/// Folds an entry into a running hash of the log prefix before it. Equal prefix hashes mean
/// equal prefixes (up to collisions), which lets invariants compare logs in O(1).
pub fn chain(prev: u64, entry: &Entry) -> u64 {
    let mut h = mix(prev ^ entry.term.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    match entry.command {
        Command::Noop => h = mix(h ^ 0x6e6f_6f70),
        Command::Kv { session, seq, input } => {
            h = mix(h ^ session);
            h = mix(h ^ seq);
            let (tag, key, a, b) = match input {
                KvInput::Get(k) => (1u64, k, 0, 0),
                KvInput::Put(k, v) => (2, k, v, 0),
                KvInput::Cas(k, None, v) => (3, k, 0, v),
                KvInput::Cas(k, Some(e), v) => (4, k, e, v),
            };
            h = mix(h ^ (tag << 32 | u64::from(key)));
            h = mix(h ^ a);
            h = mix(h ^ b);
        }
    }
    h
}

/// A 64-bit finalizer (the splitmix64 output function).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

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
                command: Command::Kv {
                    session: u64::MAX,
                    seq: 4,
                    input: KvInput::Cas(2, Some(5), 6),
                },
            },
            Entry {
                term: 9,
                command: Command::Kv {
                    session: 1,
                    seq: 5,
                    input: KvInput::Cas(2, None, 6),
                },
            },
            Entry {
                term: 1,
                command: Command::Kv {
                    session: 1,
                    seq: 1,
                    input: KvInput::Get(0),
                },
            },
        ];
        for e in entries {
            let bytes = encode_entry(&e);
            assert_eq!(decode_entry(&bytes), Some(e));
            for cut in 0..bytes.len() {
                assert_eq!(decode_entry(&bytes[..cut]), None, "{e:?} cut at {cut}");
            }
        }
        let meta = encode_meta(5, Some(1));
        for cut in 0..meta.len() {
            assert_eq!(decode_meta(&meta[..cut]), None);
        }
        // Different entries chain differently.
        assert_ne!(chain(0, &entries[1]), chain(0, &entries[2]));
        assert_ne!(chain(1, &entries[0]), chain(0, &entries[0]));
    }
}
