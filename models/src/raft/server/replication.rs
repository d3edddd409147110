//! Replication: heartbeats and appends, follower replies, the commit index, and applying
//! committed entries to the state machine.

use super::{Cx, PROPOSAL_SESSION, PendingAck, Role, Server};
use crate::raft::{Answer, Command, Entry, Message, StateMachine, Timer};
use ruckus_sim::{Instant, Process};

impl<S: StateMachine> Server<S> {
    pub(super) fn arm_heartbeat<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        if let Some(t) = self.heartbeat_timer.take() {
            cx.cancel_timer(t);
        }
        self.heartbeat_timer = Some(cx.set_timer(self.config.heartbeat_interval, Timer::Heartbeat));
    }

    pub(super) fn send_append<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>, to: u32) {
        let next = self.next_index[to as usize].clamp(1, self.last_index() + 1);
        let end = self
            .last_index()
            .min(next - 1 + u64::from(self.config.max_entries_per_append));
        let entries = self.log[next as usize - 1..end as usize].to_vec();
        // Optimistic: assume delivery; a rejection resets it.
        self.next_index[to as usize] = end + 1;
        cx.send(
            self.members[to as usize],
            Message::Append {
                term: self.term,
                prev_index: next - 1,
                prev_term: self.term_at(next - 1),
                entries,
                commit: self.commit,
                sent_at: cx.now(),
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_append<P: Process>(
        &mut self,
        cx: &mut Cx<'_, '_, P, S>,
        peer: u32,
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: &[Entry<S::Command>],
        commit: u64,
        sent_at: Instant,
    ) {
        if term < self.term {
            let reply = Message::AppendReply {
                term: self.term,
                success: false,
                match_index: 0,
                sent_at,
            };
            cx.send(self.members[peer as usize], reply);
            return;
        }
        self.observe_term(cx, term);
        if self.role != Role::Follower {
            self.step_down(cx);
        }
        self.leader = Some(peer);
        self.last_heard = cx.now();
        self.reset_election_timer(cx);
        let reject = |server: &Self, cx: &mut Cx<'_, '_, P, S>, hint: u64| {
            let reply = Message::AppendReply {
                term: server.term,
                success: false,
                match_index: hint,
                sent_at,
            };
            cx.send(server.members[peer as usize], reply);
        };
        if prev_index > self.last_index() {
            reject(self, cx, self.last_index());
            return;
        }
        if self.term_at(prev_index) != prev_term {
            // Skip back over the whole conflicting term.
            let conflict = self.term_at(prev_index);
            let mut i = prev_index;
            while i > 1 && self.term_at(i - 1) == conflict {
                i -= 1;
            }
            reject(self, cx, i - 1);
            return;
        }
        // Find the first entry that is new or conflicts; keep everything before it.
        let mut skip = 0;
        while skip < entries.len() {
            let index = prev_index + 1 + skip as u64;
            if index > self.last_index() || self.term_at(index) != entries[skip].term {
                break;
            }
            skip += 1;
        }
        if skip < entries.len() {
            let keep = prev_index + skip as u64;
            self.store_entries(cx, keep, &entries[skip..]);
        }
        let last_new = prev_index + entries.len() as u64;
        if commit > self.commit {
            self.commit = commit.min(last_new).max(self.commit);
            self.apply(cx);
        }
        let reply = Message::AppendReply {
            term: self.term,
            success: true,
            match_index: last_new,
            sent_at,
        };
        if cx.buggify("raft.dropped_append_reply") {
            return;
        }
        if self.config.async_persist && last_new > self.durable {
            self.unacked.push(PendingAck {
                peer,
                term: self.term,
                match_index: last_new,
                sent_at,
            });
            return;
        }
        cx.send(self.members[peer as usize], reply);
    }

    pub(super) fn on_append_reply<P: Process>(
        &mut self,
        cx: &mut Cx<'_, '_, P, S>,
        peer: u32,
        term: u64,
        success: bool,
        match_index: u64,
        sent_at: Instant,
    ) {
        self.observe_term(cx, term);
        if self.role != Role::Leader || term != self.term {
            return;
        }
        let p = peer as usize;
        if success {
            self.match_index[p] = self.match_index[p].max(match_index);
            self.next_index[p] = self.next_index[p].max(match_index + 1);
            self.acked[p] = Some(self.acked[p].map_or(sent_at, |a| a.max(sent_at)));
            self.advance_commit(cx);
            if self.match_index[p] < self.last_index() && self.next_index[p] <= self.last_index() {
                self.send_append(cx, peer);
            }
        } else {
            self.next_index[p] = (match_index + 1).max(self.match_index[p] + 1);
            self.send_append(cx, peer);
        }
    }

    pub(super) fn advance_commit<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        let mut matches = self.match_index.clone();
        // With background syncs a leader counts itself only for what its own disk holds.
        matches[self.id as usize] = if self.config.async_persist {
            self.durable.min(self.last_index())
        } else {
            self.last_index()
        };
        matches.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = matches[self.majority() as usize - 1];
        let ours = self.term_at(candidate) == self.term;
        if candidate > self.commit && (ours || self.config.bugs.commit_previous_term) {
            cx.count("raft.entries_committed", candidate - self.commit);
            self.commit = candidate;
            self.apply(cx);
        }
    }

    pub(super) fn apply<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        while self.applied < self.commit {
            self.applied += 1;
            let Command::Client {
                session,
                seq,
                ref input,
            } = self.log[self.applied as usize - 1].command
            else {
                continue;
            };
            if session == PROPOSAL_SESSION {
                let out = self.state.apply(input);
                if let Some(outputs) = self.outputs.as_mut() {
                    outputs.push((self.applied, out));
                }
                continue;
            }
            let output = match self.sessions.get(&session) {
                Some((last, out)) if *last == seq => Some(out.clone()),
                Some((last, _)) if *last > seq => None,
                _ => {
                    let out = self.state.apply(input);
                    self.sessions.insert(session, (seq, out.clone()));
                    if let Some(outputs) = self.outputs.as_mut() {
                        outputs.push((self.applied, out.clone()));
                    }
                    Some(out)
                }
            };
            if let Some((client, s, q)) = self.waiting.remove(&self.applied) {
                let answer = match output {
                    Some(out) if s == session && q == seq => Answer::Done(out),
                    _ => Answer::Lost,
                };
                cx.send(
                    client,
                    Message::Reply {
                        session: s,
                        seq: q,
                        answer,
                    },
                );
            }
        }
    }
}
