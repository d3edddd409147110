//! The bulkhead: a per-dependency concurrency cap with its own queue.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// A bulkhead: at most `max_concurrent` calls to one dependency at once, up to `max_queue` more
/// waiting for a slot, the rest rejected, so one slow dependency cannot hold all of a caller's
/// capacity.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkheadConfig {
    /// Calls in flight at once (10 by default).
    pub max_concurrent: u32,
    /// Calls waiting for a slot (0 by default: a plain semaphore, reject when full).
    pub max_queue: u32,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        BulkheadConfig {
            max_concurrent: 10,
            max_queue: 0,
        }
    }
}

/// What a bulkhead says to a new call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permit {
    /// A slot is the call's.
    Granted,
    /// The call waits for a slot.
    Queued,
    /// Full and its queue full: the call fails at once.
    Rejected,
}

/// The live state of a bulkhead.
#[derive(Clone, Debug, PartialEq)]
pub struct Bulkhead {
    config: BulkheadConfig,
    in_use: u32,
    waiting: VecDeque<u64>,
}

impl Bulkhead {
    /// An empty bulkhead.
    pub fn new(config: BulkheadConfig) -> Bulkhead {
        Bulkhead {
            config,
            in_use: 0,
            waiting: VecDeque::new(),
        }
    }

    /// Asks for a slot for call `id`.
    pub fn acquire(&mut self, id: u64) -> Permit {
        if self.in_use < self.config.max_concurrent.max(1) {
            self.in_use += 1;
            Permit::Granted
        } else if self.waiting.len() < self.config.max_queue as usize {
            self.waiting.push_back(id);
            Permit::Queued
        } else {
            Permit::Rejected
        }
    }

    /// A call gives its slot back; the slot passes to the oldest waiting call, returned.
    pub fn release(&mut self) -> Option<u64> {
        match self.waiting.pop_front() {
            Some(next) => Some(next),
            None => {
                self.in_use = self.in_use.saturating_sub(1);
                None
            }
        }
    }

    /// Slots in use.
    pub fn in_use(&self) -> u32 {
        self.in_use
    }

    /// Calls waiting.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}
