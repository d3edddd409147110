//! SWIM membership with Lifeguard, as HashiCorp's memberlist runs it, written once as a
//! component ([`Swim`]) that any process embeds through a [`Scope`], plus a standalone model
//! ([`model`]).
//!
//! ## The protocol
//!
//! - **Probing.** Every `probe_interval` a member probes the next member of a random order
//!   (a new order after each pass; or a random one, [`TargetSelection`]). No ack within
//!   `probe_timeout`: it asks `indirect_checks` random members to ping the target for it
//!   (ping-req) and relay the ack. No ack by the end of the round: the target is *suspect*.
//! - **Suspicion.** A suspect is declared dead when its suspicion runs out. The timeout starts
//!   at `suspicion_max_timeout_mult` times the floor `suspicion_mult * max(1, log10 n) *
//!   probe_interval` and falls towards the floor as independent confirmations arrive
//!   (Lifeguard: `max(min, max - (max - min) * log(c + 1) / log(k + 1))`, `k = suspicion_mult - 2`).
//! - **Incarnations.** A member that hears it is suspected (or declared dead) refutes by
//!   bumping its incarnation and spreading an alive message, which outranks any suspicion at a
//!   lower incarnation. Precedence: alive wins over anything at a lower incarnation; suspect
//!   and dead win over alive at an equal or higher one; dead and left are final for that
//!   incarnation. An incarnation also counts the member's boots ([`Incarnation::life`], kept on
//!   its disk), so a restarted member outranks what was said of its earlier life. Like
//!   memberlist, an accusation older than the alive a member holds is ignored, so a refutation
//!   whose retransmits all missed the accuser is lost until a push-pull; with
//!   `repeat_refutation` (not in memberlist) such a stale accusation makes the member spread
//!   the newer alive again (`swim_no_suspicion`: 3 false deaths in 1,000 seeds without, 0 with).
//! - **Dissemination.** Updates ride on pings, acks and nacks and go out in gossip rounds
//!   (`gossip_nodes` members every `gossip_interval`, dead ones included for
//!   `gossip_to_the_dead_time`), each `retransmit_mult * ceil(log10(n + 1))` times. A full
//!   state exchange with a random member every `push_pull_interval` (scaled above 32 members)
//!   repairs what gossip missed; one with a random dead member every `reconnect_interval`
//!   (serf's reconnect) rejoins the sides of a healed partition. A new member joins by a
//!   state exchange with the seeds. A graceful leave spreads a dead message about oneself,
//!   which others record as *left*.
//! - **Lifeguard local health** (`lifeguard = true`). A multiplier in `[1, awareness_max_multiplier]`
//!   stretches this member's probe timeout and interval: it grows when a probe fails (by the
//!   number of nacks that did not come back when relays were asked for them, else by one) and
//!   when the member must refute, and shrinks with each successful probe. Relays answer a
//!   silent target with a nack, so a member whose own network or CPU is the problem learns it
//!   from missing nacks. A probe of a suspect carries the suspicion, so the suspect hears of
//!   it at once (the buddy system).
//!
//! ## Degraded members
//!
//! Degrade mode `slow:F` (a `Fault::Degrade` on the member's host) makes the member handle
//! received messages one at a time, each taking `F * slow_unit`, in arrival order; beyond
//! `inbox_max` waiting, new ones are dropped. Its timers still fire on time: it is the member
//! Lifeguard is about, whose late acks make it accuse healthy peers.
//!
//! ## Validation (see `tests.rs`)
//!
//! First detection of a crash, `ruckus explore scenarios/data/experiments/swim_paper.toml`
//! (random targets, aligned rounds, 1000 seeds per size, 24 s): 1.443 ± 0.050 protocol
//! periods at n = 5, 1.502 ± 0.057 at 10, 1.581 ± 0.057 at 100 (95 % intervals, each within
//! 4 % of its mean). The exact value for a member choosing uniformly among its n - 1 peers,
//! `1/(1-(1-1/(n-1))^(n-1))`, is 1.463, 1.530, 1.577; the paper's `1/(1-(1-1/n)^(n-1))`
//! (1.694, 1.632, 1.587) takes `1/n` as the chance that one survivor picks the crashed member,
//! so it lies above the measurements at small n and meets them as n grows. Steady load is about
//! 2 messages sent and 2 received per member per period whatever the size (test up to n = 100;
//! the `swim` bench: 2.02, 2.03, 2.09 sent at 100, 1,000, 10,000). Each bug switch breaks
//! `accuracy` on a 2 s partition that the correct protocol refutes.
//!
//! ## Lifeguard
//!
//! `ruckus explore scenarios/data/experiments/swim_lifeguard.toml` (10 members, 3 slowed for
//! 60 s, 30 seeds): false positives about the 7 healthy members (`false_positives_healthy`)
//! fall from 24.7 ± 1.7 per run without Lifeguard to 2.8 ± 0.8 with it at `slow:20` (ratio
//! 0.11, about 9x fewer; over 100 seeds 24.6 ± 0.9 and 2.3 ± 0.4, about 10x), and from
//! 1.3 ± 1.5 to 0.03 ± 0.07 at `slow:15`. Those about the slowed members themselves stay (43 vs
//! 50 at `slow:20`): they really are too slow to answer, which Lifeguard does not aim at.
//!
//! ## Scale
//!
//! Each member's table is one packed 8-byte entry per member in 4 KB chunks shared
//! copy-on-write (`table.rs`: joined members share one table until their views depart), the
//! round-robin probe order is a keyed permutation computed one position at a time (`order.rs`,
//! nothing stored per member), the broadcast queue costs O(log q) per update, messages are a
//! few words, an idle member's gossip ticker sleeps, and one timer per round both decides the
//! last probe and starts the next (an acked ping's timeout is cancelled). `cargo bench -p
//! ruckus-benches --bench swim` (steady state, a converged cluster, 2-core machine shared with
//! other builds, load ~5): 100 members 7,800 simulated s per wall s (1.28 µs per member per
//! period), 1,000 members 623 (1.61 µs), 10,000 members 19.9 (5.0 µs): 3.6-3.9x the
//! 100-member cost per member per period at 10,000 (8.5x before these changes, measured the
//! same way), against a target of 1.5x (met at 1,000: 1.25x). The messages per member stay
//! flat (about 2 per period at every size); what still grows is cache misses on per-member
//! state, in the engine's dispatch and queue and in the host state a handler reads
//! (`Context::degradations`, once per message), and push-pull, whose full-state exchange
//! carries every member (memberlist's protocol: `n` entries every scaled push-pull interval).
//! Peak memory of the bench (10,000 members the largest): 199 MB (2.24 GB before). Sharing
//! the config through one `Rc` (member state now 336 bytes, the config no longer inline) and counting
//! metrics by slot made every size 10-15 % faster (10,000 members: about 3,100 → 2,700-2,900
//! ns per member per period), the ratio to 100 members unchanged at 2.4-2.8x.

//! ## Tuning: probe interval x suspicion multiplier x loss
//!
//! `ruckus explore swim_tuning` and `ruckus explore swim_tuning_loss` (16 members, Lifeguard
//! on, one member crashing for good at 20 s, 20 seeds per variant, probe timeout half the
//! interval; the second with 10 % of all messages lost for the whole run). Means with 95 %
//! intervals; full dissemination is the time until every live member holds the crashed one dead.
//!
//! | interval, mult | first detection (periods) | full dissemination | msgs/member/period | bytes/member/s | false positives (loss) |
//! |---|---|---|---|---|---|
//! | 0.5 s, 2 | 1.75 ± 0.29 (1.81 ± 0.49 with loss) | 2.3 s (2.3 s) | 2.08 (4.52) | 327 (610) | 0.45 ± 0.63 |
//! | 0.5 s, 4 | 1.75 (1.42) | 3.6 s (3.3 s) | 2.12 (4.51) | 332 (607) | 0.05 |
//! | 0.5 s, 6 | 1.75 (1.45) | 4.8 s (4.5 s) | 2.16 (4.58) | 337 (622) | 0.05 |
//! | 1 s, 2 | 1.69 ± 0.37 (1.64) | 4.4 s (4.4 s) | 2.29 (4.98) | 261 (405) | 0.05 |
//! | 1 s, 4 (memberlist) | 1.69 (1.60) | 6.8 s (6.7 s) | 2.37 (4.99) | 266 (405) | 0 |
//! | 1 s, 6 | 1.69 (1.60) | 9.2 s (9.1 s) | 2.46 (5.06) | 269 (411) | 0 |
//! | 2 s, 2 | 2.08 ± 0.61 (1.69) | 9.3 s (8.5 s) | 2.71 (5.50) | 227 (293) | 0.05 |
//! | 2 s, 4 | 2.08 (1.69) | 14.1 s (13.3 s) | 2.91 (5.51) | 224 (284) | 0 |
//! | 2 s, 6 | 2.08 (1.69) | 18.9 s (18.1 s) | 3.09 (5.74) | 228 (291) | 0 |
//!
//! `false_positives` is the model's count of a member's own dead declarations about a member
//! that was running and answering (see [`model`]). Without loss no variant declared a live
//! member dead. Full dissemination is dominated by the suspicion timeout, so it grows linearly
//! with the multiplier (about 2.4 periods per step of 2) and with the interval; first detection
//! stays near 2 periods. Load per second falls with a longer interval, and 10 % loss roughly
//! doubles the messages per period (indirect probes and their nacks). Under loss, the
//! multiplier 2 at 0.5 s is the only setting with false positives of note (9 over its 20 runs,
//! the others at most 1); "not held" runs in that experiment (2 of the baseline's 20) are runs
//! where, with the loss lasting to the horizon, some member still held another suspect when
//! the run ended (`convergence` is judged only after a heal).
//!
//! ## Metrics
//!
//! Counters: `swim.messages_sent`, `swim.bytes_sent` (estimated encoded sizes, [`SwimMsg::bytes`]),
//! `swim.sent.<kind>`, `swim.messages_received`, `swim.probes`, `swim.probe_failures`,
//! `swim.indirect_probes`, `swim.nacks_sent`, `swim.suspicions`, `swim.confirmations`,
//! `swim.refutations`, `swim.dead_declared` (by this member's own suspicion timeout),
//! `swim.false_dead` (a member declared dead came back alive in the same life: it never
//! failed), `swim.inbox_dropped`. Distribution `swim.awareness` (the multiplier at each round).
//! The standalone model adds `swim.false_positives` and `swim.false_positives_slow` (what they
//! count: [`model`]'s docs).

mod config;
pub mod model;
mod order;
mod probe;
mod table;
#[cfg(test)]
mod tests;
mod updates;
mod wire;

pub use config::{Bugs, SwimConfig, TargetSelection, decimal_digits, ln, log10, suspicion_timeout};
pub use wire::{
    BroadcastQueue, Incarnation, PIGGYBACK_MAX, Piggyback, PushPullState, Roster, StateEntry, Status,
    SwimMsg, SwimTimer, Update, UpdateKind,
};

use order::ProbeOrder;
use ruckus_sim::{Duration, Instant, Process, ProcessId, Scope, TimerId};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use table::{Entry, Table};

/// The scope the component's handlers act through, inside any host process `P`.
pub type SwimScope<'s, 'a, P> = Scope<'s, 'a, P, SwimMsg, SwimTimer>;

/// Durable key holding the member's boot count (its incarnation's `life`).
pub const LIFE_KEY: &str = "swim.life";

/// What this member knows about one member.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Member {
    /// Its status.
    pub status: Status,
    /// The incarnation the status refers to.
    pub incarnation: Incarnation,
    /// Local time this member saw it become suspect, dead or left; `Instant::ZERO` while it
    /// is alive or unknown (not kept for those, so the table stays at 8 bytes an entry).
    pub since: Instant,
}

/// A change in this member's view, for the embedding process (memberlist's event delegate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberEvent {
    /// Member index.
    pub member: u32,
    /// Its new status.
    pub status: Status,
    /// At which incarnation.
    pub incarnation: Incarnation,
}

/// The probe of the current round.
#[derive(Clone, Copy, Debug)]
struct Probe {
    seq: u32,
    target: u32,
    acked: bool,
    nacks_expected: u32,
    nacks: u32,
    /// The direct ping's timeout, cancelled by the ack.
    timeout: Option<TimerId>,
}

/// A ping this member sent on someone else's behalf.
#[derive(Clone, Copy, Debug)]
struct Relay {
    seq: u32,
    requester: ProcessId,
    requester_seq: u32,
    nack: bool,
}

/// A running suspicion (only suspects have one).
#[derive(Clone, Debug)]
struct Suspicion {
    accuser: u32,
    confirmers: Vec<u32>,
    wanted: u32,
    min: Duration,
    max: Duration,
    start: Instant,
    timer: TimerId,
}

impl Suspicion {
    fn timeout(&self) -> Duration {
        suspicion_timeout(self.min, self.max, self.wanted, self.confirmers.len() as u32)
    }
}

/// One SWIM member: its membership table and protocol state.
///
/// Call [`start`](Swim::start) from the process's `on_start`, and hand it every [`SwimMsg`]
/// and [`SwimTimer`] through [`on_message`](Swim::on_message) and [`on_timer`](Swim::on_timer).
/// The table is indexed by member index ([`Roster`]); the work per message is independent of
/// the cluster size except for push-pull state exchanges.
///
/// Laid out in order (`repr(C)`): what every probe round and message reads comes first, in as
/// few cache lines as it fits, and what only joins, failures and slow members need comes last.
/// At 10,000 members each member's state has left the cache by the time its next event comes,
/// so every line a handler touches is a miss (the compiler's own order spread the hot fields
/// over six lines of 344 bytes).
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Swim {
    // Every round and message.
    probe: Option<Probe>,
    /// Shared by every member built from the same `Rc` (read on every message: keeping it out
    /// of the member's own state keeps that state to fewer cache lines).
    config: Rc<SwimConfig>,
    roster: Rc<Roster>,
    members: Table,
    /// The round-robin pass (a permutation computed on the fly, `order.rs`).
    probe_order: ProbeOrder,
    me: u32,
    /// Alive or suspect members, this one included (the cluster size estimate).
    active: u32,
    seq: u32,
    /// Local health score: the multiplier minus one.
    health: u32,
    incarnation: Incarnation,
    leaving: bool,
    gossip_armed: bool,
    bugs: Bugs,
    /// Empty unless this member is slow; its length is read on every message.
    inbox: VecDeque<(ProcessId, SwimMsg)>,
    /// Drained after every handler.
    events: Vec<MemberEvent>,
    /// Read for every piggyback (empty in a quiet cluster).
    queue: BroadcastQueue,
    // Joins, indirect probes, suspicions.
    relays: Vec<Relay>,
    suspicions: BTreeMap<u32, Suspicion>,
    seeds: Rc<[u32]>,
    /// Members known dead (not left).
    dead: u32,
    /// Gossip ticks fall at `gossip_origin + k * gossip_interval` (local time); the timer is
    /// only armed while the queue holds something, so an idle member's ticker sleeps instead
    /// of waking five times a second for nothing (half of all events in a quiet cluster).
    gossip_origin: Instant,
}

impl Swim {
    /// Member `me` of the cluster `roster`, joining through `seeds` (member indices). Pass
    /// one `Rc<SwimConfig>` to every member to share it.
    pub fn new(
        config: impl Into<Rc<SwimConfig>>,
        bugs: Bugs,
        roster: Rc<Roster>,
        me: u32,
        seeds: Rc<[u32]>,
    ) -> Swim {
        assert!(
            me < roster.len(),
            "member {me} outside a roster of {}",
            roster.len()
        );
        assert!(
            seeds.iter().all(|&s| s < roster.len()),
            "a seed outside the roster"
        );
        let n = roster.len() as usize;
        Swim {
            config: config.into(),
            bugs,
            seeds,
            me,
            incarnation: Incarnation::default(),
            members: Table::new(n),
            active: 0,
            dead: 0,
            probe_order: ProbeOrder::finished(n as u32),
            probe: None,
            relays: Vec::new(),
            seq: 0,
            suspicions: BTreeMap::new(),
            queue: BroadcastQueue::default(),
            health: 0,
            inbox: VecDeque::new(),
            events: Vec::new(),
            leaving: false,
            gossip_origin: Instant::ZERO,
            gossip_armed: false,
            roster,
        }
    }

    /// This member's index.
    pub fn me(&self) -> u32 {
        self.me
    }
    /// This member's own incarnation.
    pub fn incarnation(&self) -> Incarnation {
        self.incarnation
    }
    /// What this member knows about member `i`.
    pub fn member(&self, i: u32) -> Member {
        let e = self.members.get(i);
        Member {
            status: e.status(),
            incarnation: e.incarnation(),
            since: self.members.changed_at(i).unwrap_or(Instant::ZERO),
        }
    }
    /// The whole table, by member index (entries are unpacked as they are read).
    pub fn members(&self) -> impl ExactSizeIterator<Item = Member> + '_ {
        (0..self.members.len() as u32).map(|i| self.member(i))
    }
    /// Each member's status, by member index: the cheap way to scan the whole table.
    pub fn statuses(&self) -> impl ExactSizeIterator<Item = Status> + '_ {
        self.members.entries().map(|e| e.status())
    }
    /// Alive or suspect members known, this one included.
    pub fn active_count(&self) -> u32 {
        self.active
    }
    /// Members known dead (not left).
    pub fn dead_count(&self) -> u32 {
        self.dead
    }
    /// The local health multiplier (1 when healthy).
    pub fn health_multiplier(&self) -> u32 {
        self.health + 1
    }
    /// Whether this member has left.
    pub fn is_leaving(&self) -> bool {
        self.leaving
    }
    /// Changes in this member's view since the last call, oldest first.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, MemberEvent> {
        self.events.drain(..)
    }

    /// Makes this member start as part of a cluster that converged long ago: every other
    /// member known alive in its first life, no join exchange, and its own first start
    /// announcing nothing (every member learned of it long ago). Call before
    /// [`start`](Swim::start); no events are reported for these entries. Without it, a
    /// cluster that starts all at once goes through a join storm (each joiner learns the
    /// whole cluster from a seed and rebroadcasts every member it learns), which a measure of
    /// the steady state should skip.
    pub fn assume_joined(&mut self) {
        let first = Incarnation { life: 1, number: 0 };
        // Its own first life spread long ago too: `start` finds it already in that life and
        // announces nothing (a restart from the boot image is a new life, and announces it).
        self.incarnation = first;
        if self.active == 0 && self.members.changed().is_empty() {
            // A fresh table (every slot unknown): one all-alive chunk, this member's own slot
            // included, since `start` writes alive in the first life there (this keeps the
            // whole table equal to, and shareable with, every other joined member's).
            self.members.fill(Entry::new(Status::Alive, first));
            self.active = self.roster.len();
            return;
        }
        for i in (0..self.roster.len()).filter(|&i| i != self.me) {
            if !self.members.get(i).status().is_active() {
                self.members.set(i, Status::Alive, first, Instant::ZERO);
                self.active += 1;
            }
        }
    }

    /// Stores the parts of this member's table that hold the same entries as `other`'s once,
    /// for both (memory only: nothing this member does or answers changes). Members that
    /// start joined hold identical tables but for their own entry.
    pub fn share_table_with(&mut self, other: &Swim) {
        self.members.share_with(&other.members);
    }

    /// Boots the member: a new life (one more than the disk remembers), alive, joined through
    /// the seeds, with its rounds scheduled.
    pub fn start<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>) {
        let life = cx
            .storage()
            .get(LIFE_KEY)
            .map(|b| u32::from_le_bytes(b.try_into().expect("swim.life holds 4 bytes")))
            .unwrap_or(0)
            + 1;
        let mut storage = cx.storage();
        storage.put(LIFE_KEY, life.to_le_bytes().to_vec());
        storage.sync();
        let incarnation = Incarnation { life, number: 0 };
        let announced = self.incarnation == incarnation;
        self.incarnation = incarnation;
        let now = cx.monotonic();
        self.set_status(self.me, Status::Alive, self.incarnation, now);
        // The ticker is armed below, after the first probe (the order timers at one instant fire).
        self.gossip_origin = now;
        self.gossip_armed = true;
        if !announced {
            self.broadcast(
                cx,
                self.update(UpdateKind::Alive, self.me, self.incarnation, self.me),
            );
        }
        let first_probe = if self.config.stagger {
            Duration::from_nanos(cx.random().below(self.config.probe_interval.as_nanos()) + 1)
        } else {
            self.config.probe_interval
        };
        cx.set_timer(first_probe, SwimTimer::Probe);
        cx.set_timer(self.config.gossip_interval, SwimTimer::Gossip);
        let push_pull = self.config.push_pull_interval_scaled(self.roster.len());
        let offset = cx.random().below(push_pull.as_nanos()) + 1;
        cx.set_timer(Duration::from_nanos(offset), SwimTimer::PushPull);
        cx.set_timer(self.config.reconnect_interval, SwimTimer::Reconnect);
        if self.active <= 1 && self.join(cx) {
            cx.set_timer(self.config.join_retry_interval, SwimTimer::JoinRetry);
        }
    }

    /// Leaves gracefully: tells the cluster (a dead message about itself, recorded as left)
    /// and stops refuting. The process should stop a little later, once the news has spread.
    pub fn leave<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>) {
        if self.leaving {
            return;
        }
        self.leaving = true;
        let now = cx.monotonic();
        self.set_status(self.me, Status::Left, self.incarnation, now);
        self.broadcast(
            cx,
            self.update(UpdateKind::Dead, self.me, self.incarnation, self.me),
        );
    }

    /// Handles a message from another member (after the inbox, when this member is slow).
    pub fn on_message<P: Process>(
        &mut self,
        cx: &mut SwimScope<'_, '_, P>,
        from: ProcessId,
        message: SwimMsg,
    ) {
        let slow = slow_factor(cx);
        if slow == 0 && self.inbox.is_empty() {
            self.handle(cx, from, message);
            return;
        }
        if self.inbox.len() >= self.config.inbox_max as usize {
            cx.count("swim.inbox_dropped", 1);
            return;
        }
        self.inbox.push_back((from, message));
        if self.inbox.len() == 1 {
            cx.set_timer(
                self.config.slow_unit * u64::from(slow.max(1)),
                SwimTimer::InboxDone,
            );
        }
    }

    /// Handles one of the component's timers.
    pub fn on_timer<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>, timer: SwimTimer) {
        match timer {
            SwimTimer::Probe => self.probe_round(cx),
            SwimTimer::ProbeTimeout { seq } => self.probe_indirect(cx, seq),
            SwimTimer::RelayTimeout { seq } => self.relay_timeout(cx, seq),
            SwimTimer::Suspicion { member } => self.suspicion_expired(cx, member),
            SwimTimer::Gossip => self.gossip_round(cx),
            SwimTimer::PushPull => {
                let n = self.active.max(1);
                cx.set_timer(self.config.push_pull_interval_scaled(n), SwimTimer::PushPull);
                let mut pick = [0u32; 1];
                if self.pick_random(cx, &mut pick, u32::MAX, false, |m, _| m.status() == Status::Alive) == 1 {
                    self.push_pull(cx, pick[0], true);
                }
            }
            SwimTimer::Reconnect => {
                cx.set_timer(self.config.reconnect_interval, SwimTimer::Reconnect);
                let mut pick = [0u32; 1];
                if self.dead > 0
                    && self.pick_random(cx, &mut pick, u32::MAX, true, |m, _| m.status() == Status::Dead) == 1
                {
                    cx.count("swim.reconnects", 1);
                    self.push_pull(cx, pick[0], true);
                }
            }
            SwimTimer::JoinRetry => {
                if self.active <= 1 && !self.leaving && self.join(cx) {
                    cx.set_timer(self.config.join_retry_interval, SwimTimer::JoinRetry);
                }
            }
            SwimTimer::InboxDone => {
                let (from, message) = self
                    .inbox
                    .pop_front()
                    .expect("an inbox timer with an empty inbox");
                self.handle(cx, from, message);
                if !self.inbox.is_empty() {
                    let slow = u64::from(slow_factor(cx));
                    cx.set_timer(self.config.slow_unit * slow, SwimTimer::InboxDone);
                }
            }
        }
    }

    fn handle<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>, from: ProcessId, message: SwimMsg) {
        cx.count("swim.messages_received", 1);
        let Some(sender) = self.roster.member(from) else {
            return; // not a member of this cluster
        };
        match message {
            SwimMsg::Ping {
                seq,
                target,
                piggyback,
            } => {
                self.merge_piggyback(cx, &piggyback);
                if target == self.me {
                    let piggyback = self.piggyback(None);
                    self.send(cx, from, SwimMsg::Ack { seq, piggyback });
                }
            }
            SwimMsg::PingReq {
                seq,
                target,
                nack,
                piggyback,
            } => {
                self.merge_piggyback(cx, &piggyback);
                self.seq = self.seq.wrapping_add(1);
                let relay = Relay {
                    seq: self.seq,
                    requester: from,
                    requester_seq: seq,
                    nack,
                };
                self.relays.push(relay);
                let piggyback = self.piggyback(None);
                let ping = SwimMsg::Ping {
                    seq: relay.seq,
                    target,
                    piggyback,
                };
                self.send(cx, self.roster.process(target), ping);
                cx.set_timer(
                    self.config.probe_timeout,
                    SwimTimer::RelayTimeout { seq: relay.seq },
                );
            }
            SwimMsg::Ack { seq, piggyback } => {
                self.merge_piggyback(cx, &piggyback);
                self.on_ack(cx, seq);
            }
            SwimMsg::Nack { seq, piggyback } => {
                self.merge_piggyback(cx, &piggyback);
                if let Some(p) = &mut self.probe
                    && p.seq == seq
                {
                    p.nacks += 1;
                }
            }
            SwimMsg::Gossip { piggyback } => self.merge_piggyback(cx, &piggyback),
            SwimMsg::PushPull { reply, state } => {
                // Entries this member's table already holds (shared chunks) change nothing.
                let held = state.held_by(&self.members);
                state.for_each(&held, |member, e| {
                    let inc = e.incarnation();
                    match e.status() {
                        Status::Alive => self.on_alive(cx, member, inc),
                        // memberlist prefers suspicion to declaring death on hearsay.
                        Status::Suspect | Status::Dead => self.on_suspect(cx, member, inc, sender),
                        Status::Left => self.on_dead(cx, member, inc, member),
                        Status::Unknown => panic!("push-pull state lists unknown member {member}"),
                    }
                });
                if reply {
                    self.push_pull(cx, sender, false);
                }
            }
        }
    }

    /// Sends this member's whole table to `to`.
    fn push_pull<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>, to: u32, reply: bool) {
        let state = Box::new(PushPullState::of(&self.members));
        self.send(cx, self.roster.process(to), SwimMsg::PushPull { reply, state });
    }

    /// Sends a state exchange to every other seed; false if there is none to ask.
    fn join<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>) -> bool {
        let seeds = Rc::clone(&self.seeds);
        let me = self.me;
        let mut asked = false;
        for &s in seeds.iter().filter(|&&s| s != me) {
            self.push_pull(cx, s, true);
            asked = true;
        }
        asked
    }

    fn send<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>, to: ProcessId, message: SwimMsg) {
        cx.count("swim.messages_sent", 1);
        cx.count("swim.bytes_sent", u64::from(message.bytes()));
        let kind = match &message {
            SwimMsg::Ping { .. } => "swim.sent.ping",
            SwimMsg::PingReq { .. } => "swim.sent.ping_req",
            SwimMsg::Ack { .. } => "swim.sent.ack",
            SwimMsg::Nack { .. } => "swim.sent.nack",
            SwimMsg::Gossip { .. } => "swim.sent.gossip",
            SwimMsg::PushPull { .. } => "swim.sent.push_pull",
        };
        cx.count(kind, 1);
        cx.send(to, message);
    }

    /// Updates to piggyback on one message, `first` ahead of the queue's.
    fn piggyback(&mut self, first: Option<Update>) -> Piggyback {
        let mut p = Piggyback::default();
        if let Some(u) = first {
            p.push(u);
        }
        let limit = self.config.retransmit_limit(self.active.max(1));
        self.queue.fill(&mut p, self.config.packet_bytes_max, limit);
        p
    }

    /// Queues `update` for dissemination and wakes the gossip ticker, at its next tick, if it
    /// was asleep.
    fn broadcast<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>, update: Update) {
        self.queue.push(update);
        if !self.gossip_armed {
            self.gossip_armed = true;
            let interval = self.config.gossip_interval.as_nanos();
            let into = cx.monotonic().saturating_since(self.gossip_origin).as_nanos() % interval;
            cx.set_timer(Duration::from_nanos(interval - into), SwimTimer::Gossip);
        }
    }

    fn update(&self, kind: UpdateKind, member: u32, incarnation: Incarnation, from: u32) -> Update {
        Update {
            kind,
            member,
            incarnation,
            from,
        }
    }

    fn scaled(&self, d: Duration) -> Duration {
        d * u64::from(self.health + 1)
    }

    /// The next probe target, if any other member is alive or suspect.
    fn pick_target<P: Process>(&mut self, cx: &mut SwimScope<'_, '_, P>) -> Option<u32> {
        match self.config.target_selection {
            TargetSelection::Random => {
                let mut pick = [0u32; 1];
                (self.pick_random(cx, &mut pick, u32::MAX, false, |m, _| m.status().is_active()) == 1)
                    .then_some(pick[0])
            }
            TargetSelection::RoundRobin => {
                let me = self.me;
                let mine = u32::from(self.members.get(me).status().is_active());
                if self.active <= mine {
                    return None; // no other member to probe
                }
                // Another active member exists, so the rest of this pass or the next whole
                // pass holds it.
                let n = self.members.len() as u32;
                for _ in 0..2 * n + 1 {
                    if self.probe_order.is_over() {
                        self.probe_order.restart(cx.random().next_u64());
                    }
                    let m = self.probe_order.next().expect("a pass just (re)started");
                    if m != me && self.members.get(m).status().is_active() {
                        return Some(m);
                    }
                }
                unreachable!(
                    "{} active members counted, none found in a whole pass",
                    self.active
                )
            }
        }
    }

    /// Fills `out` with distinct random members other than this one and `exclude` that pass
    /// `eligible`; returns how many it found. Rejection sampling first (O(1) per pick while
    /// most members qualify), then a scan from a random start for what is left.
    fn pick_random<P: Process>(
        &self,
        cx: &mut SwimScope<'_, '_, P>,
        out: &mut [u32],
        exclude: u32,
        only_changed: bool,
        eligible: impl Fn(Entry, u32) -> bool,
    ) -> usize {
        let n = self.members.len();
        let ok = |i: u32, chosen: &[u32]| {
            i != self.me && i != exclude && eligible(self.members.get(i), i) && !chosen.contains(&i)
        };
        let mut found = 0;
        for _ in 0..(4 * out.len() + 4) {
            if found == out.len() {
                return found;
            }
            let i = cx.random().index(n) as u32;
            if ok(i, &out[..found]) {
                out[found] = i;
                found += 1;
            }
        }
        let start = cx.random().index(n);
        if only_changed {
            // Only suspect, dead or left members qualify: walk just those, in the same cyclic
            // order from `start` as the full scan below would.
            let changed = self.members.changed();
            let split = changed.partition_point(|&(m, _)| (m as usize) < start);
            for &(i, _) in changed[split..].iter().chain(&changed[..split]) {
                if found == out.len() {
                    break;
                }
                if ok(i, &out[..found]) {
                    out[found] = i;
                    found += 1;
                }
            }
            return found;
        }
        for j in 0..n {
            if found == out.len() {
                break;
            }
            let i = ((start + j) % n) as u32;
            if ok(i, &out[..found]) {
                out[found] = i;
                found += 1;
            }
        }
        found
    }
}

/// The `slow:F` factor active on this member's host (the largest if several), 0 if none.
fn slow_factor<P: Process>(cx: &SwimScope<'_, '_, P>) -> u32 {
    cx.degradations()
        .filter_map(|mode| parse_degrade_mode(mode).ok())
        .max()
        .unwrap_or(0)
}

/// Parses a degrade mode this component understands: `slow:F`, `F` a positive integer.
pub fn parse_degrade_mode(mode: &str) -> Result<u32, String> {
    let factor = mode
        .strip_prefix("slow:")
        .ok_or_else(|| format!("unknown degrade mode {mode:?} (expected slow:F)"))?;
    match factor.parse::<u32>() {
        Ok(f) if (1..=100_000).contains(&f) => Ok(f),
        _ => Err(format!(
            "degrade mode {mode:?}: F must be a whole number from 1 to 100000"
        )),
    }
}
