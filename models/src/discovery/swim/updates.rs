//! How a member's view changes: alive, suspect and dead messages by their precedence,
//! suspicions and their confirmations, refutation, and the status table's counts.

use super::table::Entry;
use super::{Incarnation, MemberEvent, Piggyback, Status, Suspicion, Swim, SwimScope, SwimTimer, UpdateKind};
use ruckus_sim::{Instant, Process, TimerId};

impl Swim {
    pub(super) fn suspicion_expired<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>, member: u32) {
        let Some(s) = self.suspicions.get(&member) else {
            return;
        };
        let now = cx.monotonic();
        debug_assert!(now >= s.start, "suspicion of {member} fired before it began");
        let known = self.members.get(member);
        assert_eq!(
            known.status(),
            Status::Suspect,
            "a suspicion of {member} outlived its status"
        );
        cx.count("swim.dead_declared", 1);
        self.on_dead(cx, member, known.incarnation(), self.me);
    }

    /// Applies an alive message about `member` at `inc`.
    pub(super) fn on_alive<P: Process>(
        &mut self,
        cx: &mut SwimScope<'_, '_, P>,
        member: u32,
        inc: Incarnation,
    ) {
        if member == self.me {
            return; // this member's own word about itself is final
        }
        let known = self.members.get(member);
        if known.status() != Status::Unknown && inc <= known.incarnation() {
            return;
        }
        if known.status() == Status::Dead && inc.life == known.incarnation().life {
            // Declared dead, yet alive in the same life: it never failed.
            cx.count("swim.false_dead", 1);
        }
        self.end_suspicion(cx, member);
        let now = cx.monotonic();
        self.set_status(member, Status::Alive, inc, now);
        self.broadcast(cx, self.update(UpdateKind::Alive, member, inc, member));
    }

    /// Applies a suspicion of `member` at `inc` raised by `from`.
    pub(super) fn on_suspect<P: Process>(
        &mut self,
        cx: &mut SwimScope<'_, '_, P>,
        member: u32,
        inc: Incarnation,
        from: u32,
    ) {
        let answer = !self.leaving;
        let Some(known) = self.accused_entry(cx, member, inc, answer) else {
            return;
        };
        if known.status() == Status::Suspect {
            if self.confirm(cx, member, from) {
                cx.count("swim.confirmations", 1);
                self.broadcast(
                    cx,
                    self.update(UpdateKind::Suspect, member, known.incarnation(), from),
                );
            }
            return;
        }
        cx.count("swim.suspicions", 1);
        let now = cx.monotonic();
        let n = self.active.max(1);
        let mut s = Suspicion {
            accuser: from,
            confirmers: Vec::new(),
            wanted: self.config.confirmations_wanted(n),
            min: self.config.suspicion_timeout_min(n),
            max: self.config.suspicion_timeout_max(n),
            start: now,
            timer: TimerId(0),
        };
        s.timer = cx.set_timer(s.timeout(), SwimTimer::Suspicion { member });
        self.suspicions.insert(member, s);
        self.set_status(member, Status::Suspect, inc, now);
        self.broadcast(cx, self.update(UpdateKind::Suspect, member, inc, from));
    }

    /// Applies a dead message about `member` at `inc` from `from` (`from == member`: it left).
    pub(super) fn on_dead<P: Process>(
        &mut self,
        cx: &mut SwimScope<'_, '_, P>,
        member: u32,
        inc: Incarnation,
        from: u32,
    ) {
        let answer = !self.leaving && from != self.me;
        if self.accused_entry(cx, member, inc, answer).is_none() {
            return;
        }
        self.end_suspicion(cx, member);
        let status = if from == member {
            Status::Left
        } else {
            Status::Dead
        };
        let now = cx.monotonic();
        self.set_status(member, status, inc, now);
        self.broadcast(cx, self.update(UpdateKind::Dead, member, inc, from));
    }

    /// What a suspect or dead message about `member` at `inc` acts on: the member's entry if
    /// it is alive or suspect at `inc` or lower. None if the message is about this member
    /// (answered if `answer`), older than what is known (corrected), or about a member
    /// already dead or left.
    fn accused_entry<P: Process>(
        &mut self,
        cx: &mut SwimScope<'_, '_, P>,
        member: u32,
        inc: Incarnation,
        answer: bool,
    ) -> Option<Entry> {
        if member == self.me {
            if answer {
                self.answer_accusation(cx, inc);
            }
            return None;
        }
        let known = self.members.get(member);
        if inc < known.incarnation() {
            self.correct_stale(cx, member, known);
            return None;
        }
        known.status().is_active().then_some(known)
    }

    /// Answers a suspicion or death of this member at `accused`: refutes one at its own
    /// incarnation or later; an older one was already refuted, and is answered only with
    /// `repeat_refutation` (the current alive message, spread again, no bump).
    pub(super) fn answer_accusation<P: Process>(
        &mut self,
        cx: &mut SwimScope<'_, '_, P>,
        accused: Incarnation,
    ) {
        if accused >= self.incarnation {
            self.refute(cx, accused);
        } else if self.config.repeat_refutation {
            self.spread_alive_again(cx, self.me, self.incarnation);
        }
    }

    /// With `repeat_refutation`, an accusation older than the alive this member holds for
    /// `member` spreads that alive again: whoever still spreads the accusation missed it.
    pub(super) fn correct_stale<P: Process>(
        &mut self,
        cx: &mut SwimScope<'_, '_, P>,
        member: u32,
        known: Entry,
    ) {
        if self.config.repeat_refutation && known.status() == Status::Alive {
            self.spread_alive_again(cx, member, known.incarnation());
        }
    }

    /// Spreads an alive message already held (`repeat_refutation`): no incarnation bump.
    fn spread_alive_again<P: Process>(
        &mut self,
        cx: &mut SwimScope<'_, '_, P>,
        member: u32,
        inc: Incarnation,
    ) {
        cx.count("swim.refutations_repeated", 1);
        self.broadcast(cx, self.update(UpdateKind::Alive, member, inc, member));
    }

    /// Answers an accusation at `accused`: a higher incarnation, spread as alive.
    pub(super) fn refute<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>, accused: Incarnation) {
        cx.count("swim.refutations", 1);
        if self.config.lifeguard {
            self.health = (self.health + 1).min(self.config.awareness_max_multiplier - 1);
        }
        if !self.bugs.no_incarnation_bump {
            let mut next = self.incarnation.max(accused);
            next.number += 1;
            self.incarnation = next;
            let own = self.members.get(self.me).status();
            self.members.set(self.me, own, next, cx.monotonic());
        }
        self.broadcast(
            cx,
            self.update(UpdateKind::Alive, self.me, self.incarnation, self.me),
        );
    }

    /// Counts `from` as an independent confirmation of the suspicion of `member` and shortens
    /// its timeout; false if it adds nothing (the accuser, a repeat, or enough already).
    pub(super) fn confirm<P: Process>(
        &mut self,
        cx: &mut SwimScope<'_, '_, P>,
        member: u32,
        from: u32,
    ) -> bool {
        let s = self
            .suspicions
            .get_mut(&member)
            .expect("a suspect without a suspicion");
        if from == s.accuser || s.confirmers.contains(&from) || s.confirmers.len() as u32 >= s.wanted {
            return false;
        }
        s.confirmers.push(from);
        let due = s.start + s.timeout();
        let remaining = due.saturating_since(cx.monotonic());
        cx.cancel_timer(s.timer);
        s.timer = cx.set_timer(remaining, SwimTimer::Suspicion { member });
        true
    }

    pub(super) fn end_suspicion<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>, member: u32) {
        if let Some(s) = self.suspicions.remove(&member) {
            cx.cancel_timer(s.timer);
        }
    }

    pub(super) fn merge_piggyback<P: Process>(
        &mut self,
        cx: &mut SwimScope<'_, '_, P>,
        piggyback: &Piggyback,
    ) {
        for u in piggyback.updates() {
            match u.kind {
                UpdateKind::Alive => self.on_alive(cx, u.member, u.incarnation),
                UpdateKind::Suspect => self.on_suspect(cx, u.member, u.incarnation, u.from),
                UpdateKind::Dead => self.on_dead(cx, u.member, u.incarnation, u.from),
            }
        }
    }

    pub(super) fn set_status(&mut self, member: u32, status: Status, incarnation: Incarnation, now: Instant) {
        let old = self.members.get(member).status();
        self.members.set(member, status, incarnation, now);
        if old != status {
            self.active = self.active + u32::from(status.is_active()) - u32::from(old.is_active());
            self.dead = self.dead + u32::from(status == Status::Dead) - u32::from(old == Status::Dead);
            if member != self.me {
                self.events.push(MemberEvent {
                    member,
                    status,
                    incarnation,
                });
            }
        }
        debug_assert!(self.active as usize <= self.members.len());
    }
}
