//! Background persistence (`Config::async_persist`): appended entries are synced with
//! `Scope::sync_async`, one sync in flight at a time (group commit), and what waits on
//! durability (a follower's append replies, a leader's own vote toward the commit quorum)
//! goes ahead when the sync's completion comes back.

use super::{Cx, Role, Server};
use crate::raft::{Message, StateMachine, Timer};
use ruckus_sim::{Instant, Process};

/// A successful append reply held until the entries it acknowledges are durable.
#[derive(Clone, Copy, Debug)]
pub(super) struct PendingAck {
    pub(super) peer: u32,
    /// The term it was earned in: a reply from an older term is never sent (its leader's
    /// entries may since have been replaced).
    pub(super) term: u64,
    pub(super) match_index: u64,
    pub(super) sent_at: Instant,
}

impl<S: StateMachine> Server<S> {
    /// Hands the log written so far to the disk, unless a sync is already in flight: its
    /// completion starts the next one for whatever was appended meanwhile.
    pub(super) fn persist_in_background<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        if self.sync_in_flight {
            return;
        }
        let index = self.last_index();
        self.sync_in_flight = true;
        cx.sync_async(Timer::Persisted {
            index,
            term: self.term_at(index),
        });
    }

    /// A background sync completed: the log up to `index` is durable if the entry of `term`
    /// is still there (a truncation since then synced at once and set `durable` itself).
    pub(super) fn on_persisted<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>, index: u64, term: u64) {
        self.sync_in_flight = false;
        if index <= self.last_index() && self.term_at(index) == term {
            self.durable = self.durable.max(index);
        }
        if self.durable < self.last_index() {
            self.persist_in_background(cx);
        }
        let (current, durable) = (self.term, self.durable);
        let mut ready = Vec::new();
        self.unacked.retain(|a| {
            if a.term != current {
                return false;
            }
            if a.match_index <= durable {
                ready.push(*a);
                return false;
            }
            true
        });
        for a in ready {
            let reply = Message::AppendReply {
                term: a.term,
                success: true,
                match_index: a.match_index,
                sent_at: a.sent_at,
            };
            cx.send(self.members[a.peer as usize], reply);
        }
        if self.role == Role::Leader {
            self.advance_commit(cx);
        }
    }
}
