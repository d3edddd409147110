//! Durable storage: a per-host disk holding each process's key-value data.
//!
//! Writes go to a pending list (the page cache) until the process syncs. A process kill leaves
//! pending writes in place (the OS still has them); a host crash resolves each pending write
//! with a disk-fault draw: kept, lost, or torn (only a prefix of the value reaches the disk).

use crate::rng::Random;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a host crash does to writes that were never synced.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskFaultConfig {
    /// Probability that an unsynced write is lost entirely at a crash.
    pub unsynced_loss_probability: f64,
    /// Probability that a surviving unsynced write is torn (a random strict prefix is kept).
    pub torn_write_probability: f64,
}

impl Default for DiskFaultConfig {
    fn default() -> Self {
        DiskFaultConfig {
            unsynced_loss_probability: 0.5,
            torn_write_probability: 0.1,
        }
    }
}

#[derive(Clone, Debug)]
struct PendingWrite {
    /// Its place among the disk's writes (see [`Disk::write_mark`]).
    seq: u64,
    process: u32,
    key: String,
    /// `None` is a delete.
    value: Option<Vec<u8>>,
}

/// What happened to unsynced writes at a crash, for the trace and for tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashLosses {
    /// Writes applied whole.
    pub kept: u32,
    /// Writes dropped.
    pub lost: u32,
    /// Writes applied with a truncated value.
    pub torn: u32,
}

/// A host's disk.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    durable: BTreeMap<(u32, String), Vec<u8>>,
    pending: Vec<PendingWrite>,
    /// Writes made so far (all processes): the next write's sequence number.
    writes: u64,
}

impl Disk {
    /// Reads `key` for `process`, seeing its own unsynced writes first (as a page cache would).
    pub fn get(&self, process: u32, key: &str) -> Option<&[u8]> {
        if let Some(w) = self
            .pending
            .iter()
            .rev()
            .find(|w| w.process == process && w.key == key)
        {
            return w.value.as_deref();
        }
        self.durable
            .get(&(process, key.to_string()))
            .map(|v| v.as_slice())
    }

    /// Queues a write; it survives a crash only once synced.
    pub fn put(&mut self, process: u32, key: &str, value: Vec<u8>) {
        self.writes += 1;
        self.pending.push(PendingWrite {
            seq: self.writes,
            process,
            key: key.to_string(),
            value: Some(value),
        });
    }

    /// Queues a delete.
    pub fn delete(&mut self, process: u32, key: &str) {
        self.writes += 1;
        self.pending.push(PendingWrite {
            seq: self.writes,
            process,
            key: key.to_string(),
            value: None,
        });
    }

    /// Makes every pending write of `process` durable, in the order they were made.
    pub fn sync(&mut self, process: u32) {
        self.sync_through(process, u64::MAX);
    }

    /// Marks the writes made so far: [`sync_through`](Self::sync_through) with this mark
    /// covers them and none made later (what an asynchronous sync snapshots when it is issued).
    pub fn write_mark(&self) -> u64 {
        self.writes
    }

    /// Makes the pending writes of `process` up to `mark` durable, in the order they were
    /// made; later writes stay pending.
    pub fn sync_through(&mut self, process: u32, mark: u64) {
        if !self.pending.iter().any(|w| w.process == process && w.seq <= mark) {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        for w in pending {
            if w.process == process && w.seq <= mark {
                Self::apply(&mut self.durable, w.process, w.key, w.value);
            } else {
                self.pending.push(w);
            }
        }
    }

    /// Keys of `process` (durable and pending, deletes applied), in sorted order.
    pub fn keys(&self, process: u32) -> Vec<String> {
        let mut keys: BTreeMap<&str, bool> = self
            .durable
            .range((process, String::new())..)
            .take_while(|((p, _), _)| *p == process)
            .map(|((_, k), _)| (k.as_str(), true))
            .collect();
        for w in self.pending.iter().filter(|w| w.process == process) {
            keys.insert(&w.key, w.value.is_some());
        }
        keys.into_iter()
            .filter(|(_, present)| *present)
            .map(|(k, _)| k.to_string())
            .collect()
    }

    /// Number of writes not yet synced (all processes).
    pub fn pending_writes(&self) -> usize {
        self.pending.len()
    }

    /// A crash: each pending write is kept, lost or torn according to `config`, drawing from
    /// the host's disk stream in write order.
    pub fn crash(&mut self, config: &DiskFaultConfig, rng: &mut Random) -> CrashLosses {
        let mut losses = CrashLosses::default();
        for w in std::mem::take(&mut self.pending) {
            if rng.chance(config.unsynced_loss_probability) {
                losses.lost += 1;
                continue;
            }
            let value = match w.value {
                Some(mut v) if !v.is_empty() && rng.chance(config.torn_write_probability) => {
                    v.truncate(rng.index(v.len()));
                    losses.torn += 1;
                    Some(v)
                }
                other => {
                    losses.kept += 1;
                    other
                }
            };
            Self::apply(&mut self.durable, w.process, w.key, value);
        }
        losses
    }

    fn apply(
        durable: &mut BTreeMap<(u32, String), Vec<u8>>,
        process: u32,
        key: String,
        value: Option<Vec<u8>>,
    ) {
        match value {
            Some(v) => {
                durable.insert((process, key), v);
            }
            None => {
                durable.remove(&(process, key));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_writes_survive_every_crash() {
        let always_lose = DiskFaultConfig {
            unsynced_loss_probability: 1.0,
            torn_write_probability: 0.0,
        };
        let mut d = Disk::default();
        d.put(0, "term", vec![7]);
        d.sync(0);
        d.put(0, "vote", vec![1]);
        assert_eq!(
            d.get(0, "vote"),
            Some(&[1u8][..]),
            "own unsynced write is visible"
        );
        let losses = d.crash(&always_lose, &mut Random::stream(1, "disk", 0));
        assert_eq!(
            losses,
            CrashLosses {
                kept: 0,
                lost: 1,
                torn: 0
            }
        );
        assert_eq!(d.get(0, "term"), Some(&[7u8][..]));
        assert_eq!(d.get(0, "vote"), None);
    }

    #[test]
    fn unsynced_writes_are_sometimes_lost_sometimes_torn() {
        let config = DiskFaultConfig {
            unsynced_loss_probability: 0.3,
            torn_write_probability: 0.5,
        };
        let mut totals = CrashLosses::default();
        for seed in 0..200 {
            let mut d = Disk::default();
            d.put(1, "k", vec![9; 16]);
            let l = d.crash(&config, &mut Random::stream(seed, "disk", 0));
            match d.get(1, "k") {
                None => assert_eq!(l.lost, 1),
                Some(v) if v.len() < 16 => assert_eq!(l.torn, 1),
                Some(v) => assert_eq!((v.len(), l.kept), (16, 1)),
            }
            totals.kept += l.kept;
            totals.lost += l.lost;
            totals.torn += l.torn;
        }
        assert!(
            totals.kept > 20 && totals.lost > 20 && totals.torn > 20,
            "{totals:?}"
        );
    }

    #[test]
    fn sync_through_a_mark_keeps_later_writes_pending() {
        let always_lose = DiskFaultConfig {
            unsynced_loss_probability: 1.0,
            torn_write_probability: 0.0,
        };
        let mut d = Disk::default();
        d.put(0, "a", vec![1]);
        d.put(1, "other", vec![2]);
        let mark = d.write_mark();
        d.put(0, "b", vec![3]);
        d.sync_through(0, mark);
        assert_eq!(d.pending_writes(), 2, "the other process's and the later write");
        d.crash(&always_lose, &mut Random::stream(1, "disk", 0));
        assert_eq!(d.get(0, "a"), Some(&[1u8][..]));
        assert_eq!(d.get(0, "b"), None);
        assert_eq!(d.get(1, "other"), None);
    }

    #[test]
    fn sync_is_per_process_and_keys_reflect_deletes() {
        let mut d = Disk::default();
        d.put(1, "a", vec![1]);
        d.put(2, "b", vec![2]);
        d.sync(1);
        assert_eq!(d.pending_writes(), 1);
        d.delete(1, "a");
        d.put(1, "c", vec![3]);
        assert_eq!(d.keys(1), vec!["c".to_string()]);
        assert_eq!(d.keys(2), vec!["b".to_string()]);
    }
}
