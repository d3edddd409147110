//! Client requests: proposals, and reads by log, read index or leader lease.

use super::{Cx, Role, Server};
use crate::raft::{Answer, Command, Entry, Message, ReadMode, StateMachine};
use ruckus_sim::{Duration, Instant, Process, ProcessId};

impl<S: StateMachine> Server<S> {
    pub(super) fn lease_valid(&self, now: Instant) -> bool {
        let mut starts: Vec<Instant> = (0..self.config.servers as usize)
            .map(|p| {
                if p == self.id as usize {
                    now
                } else {
                    self.acked[p].unwrap_or(Instant::ZERO)
                }
            })
            .collect();
        starts.sort_unstable_by(|a, b| b.cmp(a));
        let start = starts[self.majority() as usize - 1];
        if start == Instant::ZERO {
            return false;
        }
        let margin = if self.config.bugs.lease_without_drift_margin {
            0
        } else {
            self.config.lease_drift_margin_ppm
        };
        let lease = Duration(
            (u128::from(self.config.election_timeout_min.0) * u128::from(1_000_000 - margin) / 1_000_000)
                as u64,
        );
        now < start.saturating_add(lease)
    }

    pub(super) fn on_request<P: Process>(
        &mut self,
        cx: &mut Cx<'_, '_, P, S>,
        from: ProcessId,
        session: u64,
        seq: u64,
        input: S::Command,
    ) {
        if self.role != Role::Leader {
            let hint = self.leader.filter(|&l| l != self.id);
            cx.send(
                from,
                Message::Reply {
                    session,
                    seq,
                    answer: Answer::NotLeader { hint },
                },
            );
            return;
        }
        match self.sessions.get(&session) {
            Some((last, out)) if *last == seq => {
                let answer = Answer::Done(out.clone());
                cx.send(from, Message::Reply { session, seq, answer });
                return;
            }
            Some((last, _)) if *last > seq => return,
            _ => {}
        }
        // A read-only command may be answered from local state, when that is safe (or when
        // the stale-read bug says so).
        if let Some(output) = self.state.read(&input) {
            let local = if self.config.bugs.stale_read_deposed_leader {
                true
            } else {
                self.config.read_mode == ReadMode::Lease
                    && self.applied >= self.term_start
                    && self.lease_valid(cx.now())
            };
            if local {
                cx.count("raft.local_reads", 1);
                cx.sometimes("raft.local_read_served", true);
                let answer = Answer::Done(output);
                cx.send(from, Message::Reply { session, seq, answer });
                return;
            }
        }
        let entry = Entry {
            term: self.term,
            command: Command::Client { session, seq, input },
        };
        let last = self.last_index();
        self.store_entries(cx, last, &[entry]);
        let index = self.last_index();
        self.waiting.insert(index, (from, session, seq));
        self.match_index[self.id as usize] = index;
        self.advance_commit(cx);
        for p in 0..self.config.servers {
            // Followers already sent everything before this entry get it now; the others
            // will get it with their pending catch-up or the next heartbeat.
            if p != self.id && self.next_index[p as usize] == index {
                self.send_append(cx, p);
            }
        }
    }
}
