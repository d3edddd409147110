//! A member's probe round (direct ping, then ping-req through others, then suspicion), the
//! relays it does for others, and its gossip round.

use super::{Probe, Status, Swim, SwimMsg, SwimScope, SwimTimer, UpdateKind};
use ruckus_sim::Process;

impl Swim {
    pub(super) fn on_ack<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>, seq: u32) {
        if let Some(p) = &mut self.probe
            && p.seq == seq
        {
            if !p.acked {
                p.acked = true;
                if let Some(timer) = p.timeout.take() {
                    cx.cancel_timer(timer);
                }
                if self.config.lifeguard {
                    self.health = self.health.saturating_sub(1);
                }
            }
            return;
        }
        if let Some(i) = self.relays.iter().position(|r| r.seq == seq) {
            let relay = self.relays.swap_remove(i);
            let piggyback = self.piggyback(None);
            let ack = SwimMsg::Ack {
                seq: relay.requester_seq,
                piggyback,
            };
            self.send(cx, relay.requester, ack);
            return;
        }
        cx.count("swim.late_acks", 1);
    }

    pub(super) fn probe_round<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>) {
        // The last round ends where this one begins: decide it first (one timer for both
        // saves an event per member per period).
        if let Some(last) = self.probe.take() {
            self.probe_deadline(cx, last);
        }
        let interval = self.scaled(self.config.probe_interval);
        if self.config.lifeguard {
            cx.observe("swim.awareness", u64::from(self.health + 1));
        }
        let Some(target) = self.pick_target(cx) else {
            cx.set_timer(interval, SwimTimer::Probe);
            return;
        };
        cx.count("swim.probes", 1);
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        // The buddy system: a suspect hears of its suspicion from whoever probes it.
        let known = self.members.get(target);
        let buddy = (self.config.lifeguard && known.status() == Status::Suspect)
            .then(|| self.update(UpdateKind::Suspect, target, known.incarnation(), self.me));
        let piggyback = self.piggyback(buddy);
        self.send(
            cx,
            self.roster.process(target),
            SwimMsg::Ping {
                seq,
                target,
                piggyback,
            },
        );
        let timeout = cx.set_timer(
            self.scaled(self.config.probe_timeout),
            SwimTimer::ProbeTimeout { seq },
        );
        self.probe = Some(Probe {
            seq,
            target,
            acked: false,
            nacks_expected: 0,
            nacks: 0,
            timeout: Some(timeout),
        });
        // Also the round's deadline: the next round decides this probe first.
        cx.set_timer(interval, SwimTimer::Probe);
    }

    pub(super) fn probe_indirect<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>, seq: u32) {
        let Some(probe) = self.probe.filter(|p| p.seq == seq && !p.acked) else {
            return;
        };
        let mut relays = [0u32; 64];
        let k = self.config.indirect_checks as usize;
        let found = self.pick_random(cx, &mut relays[..k], probe.target, false, |m, _| {
            m.status() == Status::Alive
        });
        let nack = self.config.lifeguard;
        for &relay in &relays[..found] {
            let piggyback = self.piggyback(None);
            let req = SwimMsg::PingReq {
                seq,
                target: probe.target,
                nack,
                piggyback,
            };
            self.send(cx, self.roster.process(relay), req);
        }
        cx.count("swim.indirect_probes", found as u64);
        if let Some(p) = &mut self.probe {
            p.nacks_expected = if nack { found as u32 } else { 0 };
        }
    }

    /// The round of `probe` is over: no ack means suspicion.
    pub(super) fn probe_deadline<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>, probe: Probe) {
        if probe.acked {
            return;
        }
        cx.count("swim.probe_failures", 1);
        if self.config.lifeguard {
            // Relays that said "no answer from the target either" clear this member's own
            // network; each nack that never came is a sign the problem is here.
            let delta = if probe.nacks_expected > 0 {
                probe.nacks_expected - probe.nacks.min(probe.nacks_expected)
            } else {
                1
            };
            self.health = (self.health + delta).min(self.config.awareness_max_multiplier - 1);
        }
        let known = self.members.get(probe.target);
        if !known.status().is_active() {
            return;
        }
        if self.bugs.no_suspicion {
            self.on_dead(cx, probe.target, known.incarnation(), self.me);
        } else {
            self.on_suspect(cx, probe.target, known.incarnation(), self.me);
        }
    }

    pub(super) fn relay_timeout<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>, seq: u32) {
        let Some(i) = self.relays.iter().position(|r| r.seq == seq) else {
            return;
        };
        let relay = self.relays.swap_remove(i);
        if relay.nack {
            let piggyback = self.piggyback(None);
            let nack = SwimMsg::Nack {
                seq: relay.requester_seq,
                piggyback,
            };
            self.send(cx, relay.requester, nack);
            cx.count("swim.nacks_sent", 1);
        }
    }

    pub(super) fn gossip_round<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>) {
        if self.queue.is_empty() {
            self.gossip_armed = false;
            return;
        }
        cx.set_timer(self.config.gossip_interval, SwimTimer::Gossip);
        let now = cx.monotonic();
        let dead_window = self.config.gossip_to_the_dead_time;
        let mut targets = [0u32; 64];
        let k = self.config.gossip_nodes as usize;
        let members = &self.members;
        let found = self.pick_random(cx, &mut targets[..k], u32::MAX, false, |m, i| {
            m.status().is_active()
                || (m.status() == Status::Dead
                    && members
                        .changed_at(i)
                        .is_some_and(|since| now.saturating_since(since) < dead_window))
        });
        for &t in &targets[..found] {
            let piggyback = self.piggyback(None);
            if piggyback.is_empty() {
                break;
            }
            self.send(cx, self.roster.process(t), SwimMsg::Gossip { piggyback });
        }
    }
}
