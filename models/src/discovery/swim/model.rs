//! The standalone SWIM model: one member per host, a schedule of crashes and graceful leaves,
//! the properties membership must keep, and the figures a run is judged by.
//!
//! Member `i` is process `p{i}` on host `h{i}`; the first `seeds` members are the seeds the
//! others join through. A scheduled crash stops the member's process for good at that time (a
//! crash the fault plan does not undo, so detection and dissemination can be timed against
//! a known instant); the members read the schedule only to stamp those metrics, never to act.
//!
//! ## Properties
//!
//! - `convergence` (liveness): within [`Config::convergence_bound`] of the heal (and of the
//!   last scheduled stop), every running member sees every other running member alive and
//!   every stopped one dead or left.
//! - `accuracy` (safety, only with `faults_affect_reachability = false`): no member that is up
//!   and has booted only once is ever declared dead. The flag is the scenario's promise that
//!   nothing in its plan makes a member unreachable for longer than `outage_max` (zero: no
//!   partition, loss, pause or degradation at all; crashes and clock faults are fine).
//!
//! ## Summary figures
//!
//! `first_detection_periods` (scheduled crash to the first member marking it suspect or dead),
//! `full_dissemination_periods` (to every running member marking it dead), both in probe
//! intervals and averaged over the scheduled crashes; with aligned rounds (`stagger = false`)
//! also `first_detection_rounds`, the SWIM paper's count (rounds from the first one starting
//! after the crash through the one that ends in the first suspicion);
//! `false_positives`: every dead declaration made by a member itself (its suspicion timeout
//! running out, or a failed probe under `no_suspicion`; hearsay of someone else's declaration
//! is not counted again) about a member whose process was at that moment running in the
//! declared life and had handled an event within two gossip intervals, so it was not crashed,
//! killed, stopped or paused. The model cannot see the network, so a member cut off by a
//! partition counts as live here: under partitions the figure includes deaths the partition
//! justified (`accuracy` is the exact check there); with loss, slow members or none of these,
//! every count is a live member wrongly declared dead. `false_positives_slow` are those about
//! members slowed by `slow:F` at their last event, `false_positives_healthy` the rest;
//! `false_deaths_refuted` (`swim.false_dead`) counts observers that saw a member they held
//! dead come back alive in the same life (the older, narrower figure);
//! `msgs_per_member_per_period`, `received_per_member_per_period`,
//! `bytes_per_member_per_second`.

use super::{
    Bugs, Incarnation, MemberEvent, Roster, Status, Swim, SwimConfig, SwimMsg, SwimTimer, parse_degrade_mode,
};
use ruckus_sim::{
    Context, Distribution, Duration, HostId, Instant, Metrics, Model, Process, ProcessId, Property, Sim,
    Topology,
};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

/// A member that stops at a set time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledStop {
    /// Member index.
    pub member: u32,
    /// True time of the stop (local clocks agree unless the plan skews them).
    pub at: Duration,
}

/// Parameters of a standalone SWIM run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Cluster size (one member per host; must equal the topology's hosts).
    pub members: u32,
    /// The first `seeds` members are the seeds everyone joins through.
    pub seeds: u32,
    /// Protocol parameters.
    pub swim: SwimConfig,
    /// Bug switches (all off: memberlist's behaviour).
    pub bugs: Bugs,
    /// Members that crash for good at a set time.
    pub crashes: Vec<ScheduledStop>,
    /// Members that leave gracefully at a set time (and stop `leave_grace` later).
    pub leaves: Vec<ScheduledStop>,
    /// How long a leaving member keeps running so its leave spreads.
    pub leave_grace: Duration,
    /// False: the scenario promises no member is unreachable longer than `outage_max`, and
    /// the `accuracy` property is checked.
    pub faults_affect_reachability: bool,
    /// The longest outage of one member the scenario allows with `faults_affect_reachability
    /// = false`; must stay below half the suspicion floor.
    pub outage_max: Duration,
    /// Overrides the derived convergence bound.
    pub convergence_within: Option<Duration>,
    /// Members start as a cluster that converged long ago (each knows every other alive, no
    /// join exchange, and none announces its first life: that spread long ago), so a run
    /// measures the steady state instead of the join storm.
    pub joined: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            members: 5,
            seeds: 1,
            swim: SwimConfig::default(),
            bugs: Bugs::default(),
            crashes: Vec::new(),
            leaves: Vec::new(),
            leave_grace: Duration::from_secs(1),
            faults_affect_reachability: true,
            outage_max: Duration::ZERO,
            convergence_within: None,
            joined: false,
        }
    }
}

impl Config {
    /// Checks the parameters, naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        self.swim.validate()?;
        if self.members == 0 || self.members > 100_000 {
            return Err(format!("members must be 1 to 100000 (got {})", self.members));
        }
        if self.seeds == 0 || self.seeds > self.members {
            return Err(format!(
                "seeds must be 1 to members ({}), got {}",
                self.members, self.seeds
            ));
        }
        let mut stopping = vec![false; self.members as usize];
        for (list, stops) in [("crashes", &self.crashes), ("leaves", &self.leaves)] {
            for (i, s) in stops.iter().enumerate() {
                let Some(slot) = stopping.get_mut(s.member as usize) else {
                    return Err(format!(
                        "{list}.{i}: no member {} (members = {})",
                        s.member, self.members
                    ));
                };
                if *slot {
                    return Err(format!("{list}.{i}: member {} already stops", s.member));
                }
                *slot = true;
            }
        }
        let floor = self.swim.suspicion_timeout_min(self.members);
        if !self.faults_affect_reachability && self.outage_max.as_nanos() * 2 > floor.as_nanos() {
            return Err(format!(
                "outage_max ({}) must be at most half the suspicion floor ({floor}) for accuracy to be a fair promise",
                self.outage_max
            ));
        }
        Ok(())
    }

    /// The standard topology: one switch, latency uniform in 1..=5 ms.
    pub fn topology(&self) -> Topology {
        Topology::single_switch(
            self.members,
            Distribution::uniform(Duration::from_millis(1), Duration::from_millis(5)),
        )
    }

    /// The time from the heal (or the last scheduled stop, if later) within which membership
    /// must converge. Derived from the parameters: a rejoin exchange (reconnect or push-pull,
    /// whichever is later), two probe passes over the cluster plus the rounds in which a
    /// member stretched to the full local health multiplier recovers (`1 + 2 + ... + max`
    /// intervals), the longest suspicion, then a push-pull interval and ten gossip rounds for
    /// the news to reach everyone.
    pub fn convergence_bound(&self) -> Duration {
        if let Some(d) = self.convergence_within {
            return d;
        }
        let s = &self.swim;
        let n = self.members;
        let push_pull = s.push_pull_interval_scaled(n);
        let rejoin = push_pull.max(s.reconnect_interval) + s.join_retry_interval;
        let health = if s.lifeguard {
            s.awareness_max_multiplier
        } else {
            1
        };
        let recover_rounds = u64::from(health) * u64::from(health + 1) / 2;
        let probing = s.probe_interval * (2 * u64::from(n) + recover_rounds);
        rejoin + probing + s.suspicion_timeout_max(n) + push_pull + s.gossip_interval * 10
    }

    fn last_stop(&self) -> Duration {
        let leaves = self.leaves.iter().map(|s| s.at + self.leave_grace);
        self.crashes
            .iter()
            .map(|s| s.at)
            .chain(leaves)
            .max()
            .unwrap_or(Duration::ZERO)
    }
}

/// What members record for the checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwimOp {
    /// A member (re)started.
    Boot {
        /// Member index.
        member: u32,
    },
    /// `observer` marked `member` dead.
    Dead {
        /// Who decided or learned it.
        observer: u32,
        /// Who was declared dead.
        member: u32,
        /// At which incarnation.
        incarnation: Incarnation,
    },
}

/// The model's timers: the component's, and the schedule's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeTimer {
    /// The SWIM component's.
    Swim(SwimTimer),
    /// The scheduled crash.
    Crash,
    /// The scheduled leave.
    Leave,
    /// The leave has had time to spread: stop.
    LeaveDone,
}

/// When each member is scheduled to stop: (true time, graceful).
type Schedule = Rc<[Option<(Instant, bool)>]>;

/// What a member's process last showed of itself: the life it runs, when it last handled an
/// event (local time), and whether it was slowed (`slow:F`). Only the model's bookkeeping of
/// dead declarations reads it (for `false_positives`); the protocol never does.
#[derive(Clone, Copy, Debug, Default)]
struct Pulse {
    life: u32,
    at: Instant,
    slow: bool,
}

/// One pulse per member, shared by the members of one run.
type Board = Rc<[Cell<Pulse>]>;

/// One member of the standalone model.
///
/// In order (`repr(C)`): the field every handler reads sits next to the component's hot
/// fields (see [`Swim`]).
#[derive(Clone, Debug)]
#[repr(C)]
pub struct SwimNode {
    board: Board,
    /// The component.
    pub swim: Swim,
    schedule: Schedule,
    leave_grace: Duration,
    /// How stale a pulse may be for its member to count as live: two gossip intervals (a
    /// running member's gossip timer fires every interval, so only a crash, a kill or a pause
    /// lets its pulse age beyond that).
    live_within: Duration,
}

impl SwimNode {
    /// Stamps this member's pulse, and the view changes of the last handler into the history
    /// and the detection metrics. `verdicts`: the handler was one in which this member itself
    /// may declare death (a suspicion timer, or a probe round deciding the last under `no_suspicion`), so a
    /// dead event in it is this member's own declaration, not hearsay.
    fn after_handler(&mut self, ctx: &mut Context<'_, Self>, verdicts: bool) {
        let now = ctx.now();
        let slow = ctx.degradations().any(|m| parse_degrade_mode(m).is_ok());
        let SwimNode {
            swim,
            schedule,
            board,
            live_within,
            ..
        } = self;
        let me = swim.me();
        board[me as usize].set(Pulse {
            life: swim.incarnation().life,
            at: now,
            slow,
        });
        for e in swim.drain_events() {
            if verdicts && e.status == Status::Dead {
                let target = board[e.member as usize].get();
                let live =
                    target.life == e.incarnation.life && now.saturating_since(target.at) <= *live_within;
                if live {
                    ctx.count("swim.false_positives", 1);
                    if target.slow {
                        ctx.count("swim.false_positives_slow", 1);
                    }
                }
            }
            stamp(schedule, ctx, me, now, e);
        }
    }

    /// Marks this member's pulse stopped (a scheduled crash or the end of a leave).
    fn stopping(&self) {
        self.board[self.swim.me() as usize].set(Pulse::default());
    }
}

fn stamp(schedule: &Schedule, ctx: &mut Context<'_, SwimNode>, me: u32, now: Instant, e: MemberEvent) {
    if e.status == Status::Dead {
        ctx.record(SwimOp::Dead {
            observer: me,
            member: e.member,
            incarnation: e.incarnation,
        });
    }
    let Some((at, _)) = schedule[e.member as usize] else {
        return;
    };
    if now < at {
        return;
    }
    let since = (now - at).as_nanos();
    match e.status {
        Status::Suspect | Status::Dead | Status::Left => {
            ctx.observe(&format!("swim.detect_ns.m{}", e.member), since);
            if e.status != Status::Suspect {
                ctx.observe(&format!("swim.gone_ns.m{}", e.member), since);
            }
        }
        Status::Alive | Status::Unknown => {}
    }
}

impl Process for SwimNode {
    type Message = SwimMsg;
    type Timer = NodeTimer;
    type Operation = SwimOp;

    /// `member-N`, N its index in the pool.
    fn label(&self) -> Option<String> {
        Some(format!("member-{}", self.swim.me()))
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        let me = self.swim.me();
        ctx.record(SwimOp::Boot { member: me });
        self.swim.start(&mut ctx.scope(|m| m, NodeTimer::Swim));
        if let Some((at, graceful)) = self.schedule[me as usize] {
            let now = ctx.now();
            let timer = if graceful {
                NodeTimer::Leave
            } else {
                NodeTimer::Crash
            };
            if at >= now {
                ctx.set_timer(at - now, timer);
            } else {
                // Restarted after its scheduled stop (a fault-plan restart): stop again.
                ctx.set_timer(Duration::ZERO, timer);
            }
        }
        self.after_handler(ctx, false);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, message: SwimMsg) {
        self.swim
            .on_message(&mut ctx.scope(|m| m, NodeTimer::Swim), from, message);
        self.after_handler(ctx, false);
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: NodeTimer) {
        let verdicts = matches!(
            timer,
            NodeTimer::Swim(SwimTimer::Suspicion { .. } | SwimTimer::Probe)
        );
        match timer {
            NodeTimer::Swim(t) => self.swim.on_timer(&mut ctx.scope(|m| m, NodeTimer::Swim), t),
            NodeTimer::Crash => {
                ctx.count("swim.scheduled_crashes", 1);
                let me = ctx.id();
                ctx.stop_process(me);
            }
            NodeTimer::Leave => {
                self.swim.leave(&mut ctx.scope(|m| m, NodeTimer::Swim));
                ctx.set_timer(self.leave_grace, NodeTimer::LeaveDone);
            }
            NodeTimer::LeaveDone => {
                let me = ctx.id();
                ctx.stop_process(me);
            }
        }
        self.after_handler(ctx, verdicts);
        if matches!(timer, NodeTimer::Crash | NodeTimer::LeaveDone) {
            self.stopping();
        }
    }
}

/// Spawns member `i` on host `i`. Panics on an invalid config (validate first).
pub fn setup(sim: &mut Sim<SwimNode>, config: &Config) {
    if let Err(e) = config.validate() {
        panic!("invalid swim config: {e}");
    }
    let n = config.members;
    let roster = Rc::new(Roster::new((0..n).map(ProcessId).collect()));
    let seeds: Rc<[u32]> = (0..config.seeds).collect();
    let mut schedule = vec![None; n as usize];
    for s in &config.crashes {
        schedule[s.member as usize] = Some((Instant::ZERO + s.at, false));
    }
    for s in &config.leaves {
        schedule[s.member as usize] = Some((Instant::ZERO + s.at, true));
    }
    let schedule: Schedule = schedule.into();
    let board: Board = (0..n).map(|_| Cell::new(Pulse::default())).collect();
    let live_within = config.swim.gossip_interval * 2;
    let mut first: Option<Swim> = None;
    let shared = Rc::new(config.swim);
    for i in 0..n {
        let mut swim = Swim::new(
            Rc::clone(&shared),
            config.bugs,
            Rc::clone(&roster),
            i,
            Rc::clone(&seeds),
        );
        if config.joined {
            swim.assume_joined();
            // Joined members' tables differ only in their own entries: store the rest once.
            match &first {
                Some(f) => swim.share_table_with(f),
                None => first = Some(swim.clone()),
            }
        }
        let node = SwimNode {
            swim,
            schedule: Rc::clone(&schedule),
            leave_grace: config.leave_grace,
            board: Rc::clone(&board),
            live_within,
        };
        let id = sim.spawn(HostId(i), node);
        assert_eq!(
            id,
            ProcessId(i),
            "swim members must be the first processes spawned"
        );
    }
}

/// The model's properties: `convergence`, and `accuracy` when the scenario promises it.
pub fn properties(config: &Config) -> Vec<Property<SwimNode>> {
    let n = config.members;
    let settle = Instant::ZERO + config.last_stop();
    let mut props = vec![Property::eventually(
        "convergence",
        config.last_stop() + config.convergence_bound(),
        move |v: &ruckus_sim::View<'_, SwimNode>| {
            if v.now() < settle {
                return Err(format!("scheduled stops run until {settle}"));
            }
            let running: Vec<bool> = (0..n).map(|i| v.process(ProcessId(i)).is_some()).collect();
            let live = running.iter().filter(|&&r| r).count() as u32;
            // Cheap count check first; the full table comparison only when the counts fit.
            for (id, _, node) in v.processes() {
                let active = node.swim.active_count();
                if active != live {
                    return Err(format!("{id} counts {active} active members, {live} are running"));
                }
            }
            for (id, _, node) in v.processes() {
                for (j, status) in node.swim.statuses().enumerate() {
                    let ok = if running[j] {
                        status == Status::Alive
                    } else {
                        !status.is_active()
                    };
                    if !ok {
                        return Err(format!("{id} sees member {j} {status:?}"));
                    }
                }
            }
            Ok(())
        },
    )];
    if !config.faults_affect_reachability {
        let seen = Rc::new(RefCell::new((0usize, vec![0u32; n as usize])));
        props.push(Property::always("accuracy", move |v| {
            let history = v.history();
            let mut seen = seen.borrow_mut();
            let (cursor, boots) = &mut *seen;
            for entry in &history[*cursor..] {
                match entry.operation {
                    SwimOp::Boot { member } => boots[member as usize] += 1,
                    SwimOp::Dead {
                        observer,
                        member,
                        incarnation,
                    } => {
                        let up = v.host_up(HostId(member)) && v.process(ProcessId(member)).is_some();
                        if up && boots[member as usize] == 1 {
                            return Err(format!(
                                "p{observer} declared p{member} dead (incarnation {incarnation}) at {} though it never failed",
                                entry.time
                            ));
                        }
                    }
                }
            }
            *cursor = history.len();
            Ok(())
        }));
    }
    props
}

/// The model's figures of one run (see the module docs).
pub fn summarize(config: &Config, metrics: &Metrics, end: Instant) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let period = config.swim.probe_interval.as_nanos() as f64;
    let n = f64::from(config.members);
    let periods = end.as_nanos() as f64 / period;
    let stopped = (config.crashes.len() + config.leaves.len()) as u32;
    let (mut detect, mut full, mut detected, mut disseminated) = (0.0, 0.0, 0u32, 0u32);
    for c in &config.crashes {
        let first = metrics
            .samples(&format!("swim.detect_ns.m{}", c.member))
            .iter()
            .min()
            .copied();
        if let Some(t) = first {
            detect += t as f64 / period;
            detected += 1;
        }
        let gone = metrics.samples(&format!("swim.gone_ns.m{}", c.member));
        if gone.len() as u32 >= config.members - stopped {
            full += *gone.iter().max().expect("non-empty") as f64 / period;
            disseminated += 1;
        }
    }
    if detected > 0 {
        out.insert("first_detection_periods".into(), detect / f64::from(detected));
    }
    if disseminated > 0 {
        out.insert(
            "full_dissemination_periods".into(),
            full / f64::from(disseminated),
        );
    }
    out.insert("crashes_detected".into(), f64::from(detected));
    if !config.swim.stagger && detected > 0 {
        out.insert("first_detection_rounds".into(), detection_rounds(config, metrics));
    }
    let false_positives = metrics.counter("swim.false_positives");
    let of_slow = metrics.counter("swim.false_positives_slow");
    out.insert("false_positives".into(), false_positives as f64);
    out.insert("false_positives_slow".into(), of_slow as f64);
    out.insert(
        "false_positives_healthy".into(),
        (false_positives - of_slow) as f64,
    );
    out.insert(
        "false_deaths_refuted".into(),
        metrics.counter("swim.false_dead") as f64,
    );
    if periods > 0.0 {
        let per = |c: &str| metrics.counter(c) as f64 / n / periods;
        out.insert("msgs_per_member_per_period".into(), per("swim.messages_sent"));
        out.insert(
            "received_per_member_per_period".into(),
            per("swim.messages_received"),
        );
        let seconds = end.as_nanos() as f64 / 1e9;
        out.insert(
            "bytes_per_member_per_second".into(),
            metrics.counter("swim.bytes_sent") as f64 / n / seconds,
        );
    }
    out.insert("suspicions".into(), metrics.counter("swim.suspicions") as f64);
    out.insert("refutations".into(), metrics.counter("swim.refutations") as f64);
    out
}

/// The SWIM paper's count of protocol periods to first detection, averaged over the detected
/// scheduled crashes: rounds from the first one that starts after the crash through the one
/// whose end brings the first suspicion. Meaningful with aligned rounds (`stagger = false`,
/// every member's rounds start at multiples of the probe interval).
fn detection_rounds(config: &Config, metrics: &Metrics) -> f64 {
    let period = config.swim.probe_interval.as_nanos();
    let (mut total, mut count) = (0u64, 0u64);
    for c in &config.crashes {
        let samples = metrics.samples(&format!("swim.detect_ns.m{}", c.member));
        let Some(&first) = samples.iter().min() else {
            continue;
        };
        let crash = c.at.as_nanos();
        let first_round = crash.div_ceil(period) * period;
        total += (crash + first).saturating_sub(first_round).div_ceil(period);
        count += 1;
    }
    total as f64 / count as f64
}

/// The standalone SWIM model, for scenario files (`[model] name = "swim"`).
#[derive(Debug)]
pub struct SwimModel;

impl Model for SwimModel {
    const NAME: &'static str = "swim";
    const ABOUT: &'static str = "SWIM membership with Lifeguard (memberlist's behaviour and defaults)";
    const HOSTS_KEY: Option<&'static str> = Some("members");
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[("members", 2)];
    type Config = Config;
    type Process = SwimNode;

    fn setup(sim: &mut Sim<SwimNode>, config: &Config) {
        setup(sim, config);
    }
    fn properties(config: &Config) -> Vec<Property<SwimNode>> {
        properties(config)
    }
    fn check(config: &Config, hosts: u32) -> Result<(), String> {
        config.validate()?;
        if hosts != config.members {
            return Err(format!(
                "members ({}) must equal the topology's hosts ({hosts})",
                config.members
            ));
        }
        Ok(())
    }
    fn check_degrade_mode(mode: &str) -> Result<(), String> {
        parse_degrade_mode(mode).map(|_| ())
    }
    fn summarize(config: &Config, metrics: &Metrics, end: Instant) -> BTreeMap<String, f64> {
        summarize(config, metrics, end)
    }
}
