//! Elections: the election timer, terms, votes, stepping down and becoming leader.

use super::{Cx, Role, Server};
use crate::raft::availability;
use crate::raft::{Answer, Command, Entry, Message, ReadMode, StateMachine, Timer};
use ruckus_sim::{Duration, Process};

impl<S: StateMachine> Server<S> {
    pub(super) fn reset_election_timer<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        if let Some(t) = self.election_timer.take() {
            cx.cancel_timer(t);
        }
        let (lo, hi) = (
            self.config.election_timeout_min.0,
            self.config.election_timeout_max.0,
        );
        let mut after = Duration(cx.random().range_inclusive(lo, hi));
        // A timer that fires far too early (a scheduler hiccup, a stepped clock): an election
        // nobody needed, which Raft must survive.
        if cx.buggify("raft.spurious_election_timeout") {
            after = Duration(lo / 8);
        }
        self.election_timer = Some(cx.set_timer(after, Timer::Election));
    }

    /// Adopts a newer term as follower.
    pub(super) fn observe_term<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>, term: u64) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.leader = None;
            self.persist_meta(cx);
            self.step_down(cx);
        }
    }

    pub(super) fn step_down<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        if self.role == Role::Leader {
            // Requests already appended may still commit under the next leader.
            for (_, (client, session, seq)) in std::mem::take(&mut self.waiting) {
                cx.send(
                    client,
                    Message::Reply {
                        session,
                        seq,
                        answer: Answer::Lost,
                    },
                );
            }
        }
        if self.role != Role::Follower {
            self.role = Role::Follower;
            if let Some(t) = self.heartbeat_timer.take() {
                cx.cancel_timer(t);
            }
            self.reset_election_timer(cx);
        }
    }

    pub(super) fn start_election<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        self.term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(self.id);
        self.leader = None;
        self.votes = 1 << self.id;
        self.election_started = cx.now();
        self.persist_meta(cx);
        cx.count("raft.elections", 1);
        cx.observe_timed(availability::ELECTION_ROUND, self.term);
        self.reset_election_timer(cx);
        if self.votes.count_ones() >= self.majority() {
            self.become_leader(cx);
            return;
        }
        for p in 0..self.config.servers {
            if p != self.id {
                self.request_vote(cx, p);
            }
        }
        self.arm_heartbeat(cx);
    }

    pub(super) fn request_vote<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>, to: u32) {
        cx.send(
            self.members[to as usize],
            Message::RequestVote {
                term: self.term,
                last_index: self.last_index(),
                last_term: self.term_at(self.last_index()),
            },
        );
    }

    pub(super) fn on_request_vote<P: Process>(
        &mut self,
        cx: &mut Cx<'_, '_, P, S>,
        peer: u32,
        term: u64,
        last_index: u64,
        last_term: u64,
    ) {
        if self.config.read_mode == ReadMode::Lease && term > self.term {
            // Leader stickiness: while a leader's lease may be running, refuse to help depose it.
            let quiet = cx.now().saturating_since(self.last_heard);
            if self.role == Role::Leader || quiet < self.config.election_timeout_min {
                cx.send(
                    self.members[peer as usize],
                    Message::Vote {
                        term: self.term,
                        granted: false,
                    },
                );
                return;
            }
        }
        self.observe_term(cx, term);
        // The window of `vote_not_persisted`: asked for a vote in the very term this
        // incarnation read back from disk, whose vote a buggy server forgot.
        cx.sometimes(
            "raft.vote_requested_in_recovered_term",
            term == self.term && self.recovered_term == Some(term),
        );
        let my_last_term = self.term_at(self.last_index());
        let up_to_date =
            last_term > my_last_term || (last_term == my_last_term && last_index >= self.last_index());
        let granted = term == self.term && self.voted_for.is_none_or(|v| v == peer) && up_to_date;
        if granted {
            if self.voted_for.is_none() {
                self.voted_for = Some(peer);
                self.persist_meta(cx);
            }
            self.reset_election_timer(cx);
        }
        if cx.buggify("raft.dropped_vote_reply") {
            return;
        }
        cx.send(
            self.members[peer as usize],
            Message::Vote {
                term: self.term,
                granted,
            },
        );
    }

    pub(super) fn on_vote<P: Process>(
        &mut self,
        cx: &mut Cx<'_, '_, P, S>,
        peer: u32,
        term: u64,
        granted: bool,
    ) {
        self.observe_term(cx, term);
        if self.role != Role::Candidate || term != self.term || !granted {
            return;
        }
        self.votes |= 1 << peer;
        if self.votes.count_ones() >= self.majority() {
            self.become_leader(cx);
        }
    }

    pub(super) fn become_leader<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        self.role = Role::Leader;
        self.leader = Some(self.id);
        if let Some(t) = self.election_timer.take() {
            cx.cancel_timer(t);
        }
        cx.count("raft.leaders_elected", 1);
        let code = availability::leader_code(cx.host(), cx.id());
        cx.observe_timed(availability::LEADER_ELECTED, code);
        cx.observe(
            "raft.election_ns",
            cx.now().saturating_since(self.election_started).0,
        );
        cx.note(&format!("leader of term {}", self.term));
        let last = self.last_index();
        // The window of `commit_previous_term`: a new leader holding entries of earlier
        // terms that are not known committed.
        cx.sometimes(
            "raft.leader_with_uncommitted_entries_of_earlier_terms",
            last > self.commit,
        );
        self.next_index.iter_mut().for_each(|n| *n = last + 1);
        self.match_index.iter_mut().for_each(|m| *m = 0);
        self.acked.iter_mut().for_each(|a| *a = None);
        if self.config.leader_noop {
            let noop = Entry {
                term: self.term,
                command: Command::Noop,
            };
            self.store_entries(cx, last, &[noop]);
        }
        self.term_start = last + 1;
        self.match_index[self.id as usize] = self.last_index();
        self.advance_commit(cx);
        for p in 0..self.config.servers {
            if p != self.id {
                self.send_append(cx, p);
            }
        }
        self.arm_heartbeat(cx);
    }
}
