//! Clients of a replicated state machine: closed-loop or open-loop, driven by a [`Workload`].
//!
//! A closed-loop client runs one operation at a time and thinks between them. An open-loop
//! client invokes operations at Poisson arrival times drawn from its own random stream, whether
//! or not earlier ones have finished (up to a bound on outstanding operations; arrivals beyond it
//! are counted as shed and never invoked), which is how real load keeps coming while a cluster
//! is in trouble. Every operation has a per-attempt timeout, retries against other servers, and a
//! bounded number of attempts and redirects; each is recorded in the history as an invocation and
//! a completion (ok, failed, or unknown outcome).
//!
//! The client is a component: what it asks for comes from its [`Workload`], and its handlers
//! take a [`Scope`] over any host process whose history records take [`Record`]s. Each handler
//! returns the operation it completed, if any, so a host can act on the answer.
//!
//! A host that decides itself what to ask (a Consul agent syncing its node, a leader marking a
//! node critical) builds a [`Client::submitter`] and calls [`Client::submit`]: the command gets
//! the same timeouts, leader hints, retries and history records as a workload's.

use super::state_machine::KvStore;
use super::{Answer, Config, Message, MessageOf, Record, RecordOf, StateMachine, Timer};
use crate::linearizability::Outcome;
use crate::linearizability::kv::{KvInput, KvOutput};
use crate::services::RateCurve;
use ruckus_sim::{Duration, Instant, Process, ProcessId, Random, Scope, TimerId};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::marker::PhantomData;

/// The scope a client's handlers act through, inside host process `P`.
type Cx<'s, 'a, P, W> = Scope<'s, 'a, P, MessageOf<<W as Workload>::Machine>, Timer>;

/// What a client asks a replicated state machine to do.
pub trait Workload: Clone + Debug + 'static {
    /// The state machine the cluster replicates.
    type Machine: StateMachine;
    /// The next command to invoke; every random draw comes from `rng`.
    fn next_command(&mut self, rng: &mut Random) -> <Self::Machine as StateMachine>::Command;
    /// Learns the answer to an acknowledged command (for example the last value seen, to aim
    /// later commands at it).
    fn acknowledged(
        &mut self,
        _command: &<Self::Machine as StateMachine>::Command,
        _output: &<Self::Machine as StateMachine>::Output,
    ) {
    }
}

/// An operation a client finished, handed back to its host.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion<C, O> {
    /// What was asked.
    pub command: C,
    /// How it ended.
    pub outcome: Outcome<O>,
}

/// The completion type of workload `W`.
type CompletionOf<W> = Completion<
    <<W as Workload>::Machine as StateMachine>::Command,
    <<W as Workload>::Machine as StateMachine>::Output,
>;

/// What kind of operations a client issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientRole {
    /// Reads with `read_percent` probability, otherwise puts (2/3) and compare-and-sets (1/3).
    Mixed,
    /// Only reads: a dedicated reader, e.g. one next to every server to catch stale reads.
    Reader,
    /// Only puts and compare-and-sets: a dedicated writer that keeps the log growing.
    Writer,
}

/// The key-value workload: gets, puts and compare-and-sets on `keys` keys.
#[derive(Clone, Debug)]
pub struct KvWorkload {
    role: ClientRole,
    keys: u32,
    read_percent: u32,
    /// The last value this client saw per key, to aim compare-and-sets at likely values.
    seen: Vec<Option<u64>>,
}

impl KvWorkload {
    /// A workload of `role` with `config`'s keys and read percentage.
    pub fn new(config: &Config, role: ClientRole) -> KvWorkload {
        KvWorkload {
            role,
            keys: config.keys,
            read_percent: config.read_percent,
            seen: vec![None; config.keys as usize],
        }
    }
}

impl Workload for KvWorkload {
    type Machine = KvStore;

    fn next_command(&mut self, rng: &mut Random) -> KvInput {
        let key = rng.below(u64::from(self.keys)) as u32;
        // Values are random so distinct writes are told apart in the history.
        let value = rng.below(1 << 40);
        let reads = match self.role {
            ClientRole::Mixed => u64::from(self.read_percent),
            ClientRole::Reader => 100,
            ClientRole::Writer => 0,
        };
        let roll = rng.below(300);
        if roll < 3 * reads {
            KvInput::Get(key)
        } else if (roll - 3 * reads) % 3 < 2 {
            KvInput::Put(key, value)
        } else {
            KvInput::Cas(key, self.seen[key as usize], value)
        }
    }

    fn acknowledged(&mut self, input: &KvInput, output: &KvOutput) {
        let k = input.key() as usize;
        match (*input, *output) {
            (KvInput::Get(_), KvOutput::Value(v)) => self.seen[k] = v,
            (KvInput::Put(_, v), _) | (KvInput::Cas(_, _, v), KvOutput::Swapped(true)) => {
                self.seen[k] = Some(v)
            }
            _ => {}
        }
    }
}

/// The workload of a client that issues nothing on its own: its host hands it every command
/// through [`Client::submit`].
#[derive(Debug)]
pub struct Submitted<M>(PhantomData<fn() -> M>);

impl<M> Clone for Submitted<M> {
    fn clone(&self) -> Self {
        Submitted(PhantomData)
    }
}

impl<M: StateMachine + 'static> Workload for Submitted<M> {
    type Machine = M;

    fn next_command(&mut self, _rng: &mut Random) -> M::Command {
        // Only a driven client draws commands, and `Client::submitter` builds undriven ones.
        unreachable!("a submit-only client never draws a command from its workload")
    }
}

/// An operation a client is waiting on.
#[derive(Clone, Debug)]
struct Pending<C> {
    /// The session the request is sent under (open loop: one per operation).
    session: u64,
    input: C,
    /// Timeouts so far.
    attempts: u32,
    /// Redirects so far (bounded, so two confused servers cannot bounce a client forever).
    redirects: u32,
    /// Whether some server may have appended it (a timeout or a lost leadership).
    maybe_applied: bool,
    invoked_at: Instant,
    /// The attempt's timeout or the retry pause.
    timer: Option<TimerId>,
}

/// A client of a replicated state machine, driven by workload `W`.
#[derive(Clone, Debug)]
pub struct Client<W: Workload = KvWorkload> {
    config: Config,
    /// The cluster's servers (server `i` is `members[i]`, as in the servers' own lists).
    members: Vec<ProcessId>,
    workload: W,
    /// Random per incarnation, so a restarted client never reuses sequence numbers. Closed-loop
    /// clients send every operation under it; open-loop clients draw a fresh session per
    /// operation (servers deduplicate by "last sequence number per session", which assumes one
    /// operation at a time per session).
    pub session: u64,
    seq: u64,
    /// The server (member index) this client sends to next.
    leader: u32,
    /// Outstanding operations by sequence number.
    pending: BTreeMap<u64, Pending<<W::Machine as StateMachine>::Command>>,
    /// The next arrival (open loop) or the end of the think pause (closed loop).
    next_timer: Option<TimerId>,
    /// Operations completed with a known result by this incarnation.
    pub completed: u64,
    /// Whether the workload issues operations on its own schedule (false: only `submit`).
    driven: bool,
    /// Open loop on a `schedule`: the arrival rate over the run.
    curve: Option<RateCurve>,
}

impl<M: StateMachine + 'static> Client<Submitted<M>> {
    /// A boot image of a client of the cluster `members` that sends only what its host
    /// submits, with the client settings of `config` (timeouts, attempts).
    pub fn submitter(config: Config, members: Vec<ProcessId>) -> Client<Submitted<M>> {
        let mut client = Client::with_workload(config, members, Submitted(PhantomData));
        client.driven = false;
        client
    }
}

impl Client<KvWorkload> {
    /// A boot image of a mixed key-value client.
    pub fn new(config: Config) -> Client {
        Client::with_role(config, ClientRole::Mixed)
    }

    /// A boot image of a key-value client in `role`.
    pub fn with_role(config: Config, role: ClientRole) -> Client {
        let members = (0..config.servers).map(ProcessId).collect();
        let workload = KvWorkload::new(&config, role);
        Client::with_workload(config, members, workload)
    }

    /// What kind of operations this client issues.
    pub fn role(&self) -> ClientRole {
        self.workload.role
    }
}

impl<W: Workload> Client<W> {
    /// A boot image of a client of the cluster `members` that runs `workload`, with the
    /// client settings of `config` (timeouts, attempts, think time, open or closed loop).
    pub fn with_workload(config: Config, members: Vec<ProcessId>, workload: W) -> Client<W> {
        assert!(!members.is_empty(), "a client needs at least one server");
        let curve = (config.open_loop && !config.schedule.is_empty()).then(|| {
            let base = 1e9 / config.open_loop_mean_interval.0 as f64;
            RateCurve::new(base, config.schedule.schedule())
        });
        Client {
            config,
            members,
            workload,
            session: 0,
            seq: 0,
            leader: 0,
            pending: BTreeMap::new(),
            next_timer: None,
            completed: 0,
            driven: true,
            curve,
        }
    }

    /// The workload (and what it has learned so far).
    pub fn workload(&self) -> &W {
        &self.workload
    }

    /// Operations invoked and not yet completed.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    fn servers(&self) -> u32 {
        self.members.len() as u32
    }

    /// Starts (or restarts, as a new session) and schedules the first operation.
    pub fn on_start<P>(&mut self, cx: &mut Cx<'_, '_, P, W>)
    where
        P: Process<Operation: From<RecordOf<W::Machine>>>,
    {
        self.session = cx.random().next_u64();
        self.leader = cx.random().below(u64::from(self.servers())) as u32;
        if self.driven {
            self.schedule_next(cx);
        }
    }

    /// Closed loop: a think pause, uniform up to `client_think_time`. Open loop: an exponential
    /// gap with mean `open_loop_mean_interval`, or on a schedule the gap that holds a unit
    /// exponential's worth of the rate curve.
    fn schedule_next<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, W>) {
        let pause = if let Some(curve) = &self.curve {
            let area = cx.random().exponential(1.0);
            curve.gap(cx.now().as_nanos(), area)
        } else if self.config.open_loop {
            let mean = self.config.open_loop_mean_interval.0 as f64;
            Duration(cx.random().exponential(mean) as u64)
        } else {
            Duration(cx.random().range_inclusive(0, self.config.client_think_time.0))
        };
        self.next_timer = Some(cx.set_timer(pause, Timer::ClientNext));
    }

    fn invoke<P>(&mut self, cx: &mut Cx<'_, '_, P, W>)
    where
        P: Process<Operation: From<RecordOf<W::Machine>>>,
    {
        let input = self.workload.next_command(cx.random());
        let session = if self.config.open_loop {
            cx.random().next_u64()
        } else {
            self.session
        };
        self.start(cx, session, input);
    }

    /// Sends `command` to the cluster now, besides anything the workload issues, and returns
    /// its sequence number. Its completion comes back from [`on_message`](Client::on_message)
    /// or [`on_timer`](Client::on_timer) like any other operation's (an answer, or after the
    /// last attempt `Failed` / `Unknown`). A command submitted while others are outstanding
    /// goes under a session of its own: servers deduplicate one operation at a time per session.
    pub fn submit<P>(
        &mut self,
        cx: &mut Cx<'_, '_, P, W>,
        command: <W::Machine as StateMachine>::Command,
    ) -> u64
    where
        P: Process<Operation: From<RecordOf<W::Machine>>>,
    {
        let session = if self.pending.is_empty() && !self.config.open_loop {
            self.session
        } else {
            cx.random().next_u64()
        };
        self.start(cx, session, command)
    }

    fn start<P>(
        &mut self,
        cx: &mut Cx<'_, '_, P, W>,
        session: u64,
        input: <W::Machine as StateMachine>::Command,
    ) -> u64
    where
        P: Process<Operation: From<RecordOf<W::Machine>>>,
    {
        self.seq += 1;
        let record = Record::Invoke {
            session,
            seq: self.seq,
            input: input.clone(),
        };
        cx.context().record(record.into());
        self.pending.insert(
            self.seq,
            Pending {
                session,
                input,
                attempts: 0,
                redirects: 0,
                maybe_applied: false,
                invoked_at: cx.now(),
                timer: None,
            },
        );
        self.send(cx, self.seq);
        self.seq
    }

    fn send<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, W>, seq: u64) {
        let Some(p) = self.pending.get_mut(&seq) else {
            return;
        };
        let message = Message::Request {
            session: p.session,
            seq,
            input: p.input.clone(),
        };
        cx.send(self.members[self.leader as usize], message);
        if let Some(t) = p.timer.take() {
            cx.cancel_timer(t);
        }
        let timer = Timer::ClientTimeout {
            seq,
            attempt: p.attempts,
        };
        p.timer = Some(cx.set_timer(self.config.client_timeout, timer));
    }

    fn finish<P>(
        &mut self,
        cx: &mut Cx<'_, '_, P, W>,
        seq: u64,
        outcome: Outcome<<W::Machine as StateMachine>::Output>,
    ) -> Option<CompletionOf<W>>
    where
        P: Process<Operation: From<RecordOf<W::Machine>>>,
    {
        let mut p = self.pending.remove(&seq)?;
        if let Some(t) = p.timer.take() {
            cx.cancel_timer(t);
        }
        match &outcome {
            Outcome::Ok(out) => {
                self.completed += 1;
                cx.count("raft.client.ok", 1);
                cx.observe(
                    "raft.client.latency_ns",
                    cx.now().saturating_since(p.invoked_at).0,
                );
                self.workload.acknowledged(&p.input, out);
            }
            Outcome::Failed => cx.count("raft.client.failed", 1),
            Outcome::Unknown => cx.count("raft.client.unknown", 1),
        }
        let record = Record::Complete {
            session: p.session,
            seq,
            outcome: outcome.clone(),
        };
        cx.context().record(record.into());
        if self.driven && !self.config.open_loop {
            self.schedule_next(cx);
        }
        Some(Completion {
            command: p.input,
            outcome,
        })
    }

    fn give_up<P>(&mut self, cx: &mut Cx<'_, '_, P, W>, seq: u64) -> Option<CompletionOf<W>>
    where
        P: Process<Operation: From<RecordOf<W::Machine>>>,
    {
        let maybe = self.pending.get(&seq).is_some_and(|p| p.maybe_applied);
        self.finish(cx, seq, if maybe { Outcome::Unknown } else { Outcome::Failed })
    }

    fn rotate(&mut self) {
        self.leader = (self.leader + 1) % self.servers();
    }

    /// Handles one of its timers (server timers are ignored); returns the operation it gave
    /// up on, if any.
    pub fn on_timer<P>(&mut self, cx: &mut Cx<'_, '_, P, W>, timer: Timer) -> Option<CompletionOf<W>>
    where
        P: Process<Operation: From<RecordOf<W::Machine>>>,
    {
        match timer {
            Timer::ClientNext => {
                self.next_timer = None;
                if self.config.open_loop {
                    self.schedule_next(cx);
                    if self.pending.len() >= self.config.open_loop_max_outstanding as usize {
                        cx.count("raft.client.shed", 1);
                        return None;
                    }
                }
                self.invoke(cx);
                None
            }
            Timer::ClientTimeout { seq, attempt } => {
                let p = self.pending.get_mut(&seq)?;
                if p.attempts != attempt {
                    return None;
                }
                p.timer = None;
                p.maybe_applied = true;
                p.attempts += 1;
                if p.attempts >= self.config.client_attempts {
                    self.give_up(cx, seq)
                } else {
                    self.rotate();
                    self.send(cx, seq);
                    None
                }
            }
            Timer::ClientRetry { seq } => {
                if let Some(p) = self.pending.get_mut(&seq) {
                    p.timer = None;
                    self.send(cx, seq);
                }
                None
            }
            Timer::Election | Timer::Heartbeat | Timer::Persisted { .. } => None,
        }
    }

    /// Handles a server's reply; returns the operation it completed, if any.
    pub fn on_message<P>(
        &mut self,
        cx: &mut Cx<'_, '_, P, W>,
        from: ProcessId,
        message: MessageOf<W::Machine>,
    ) -> Option<CompletionOf<W>>
    where
        P: Process<Operation: From<RecordOf<W::Machine>>>,
    {
        let Message::Reply { session, seq, answer } = message else {
            return None;
        };
        let p = self.pending.get_mut(&seq)?;
        if session != p.session {
            return None;
        }
        let limit = 4 * self.members.len() as u32;
        match answer {
            Answer::Done(out) => {
                if let Some(i) = self.members.iter().position(|&m| m == from) {
                    self.leader = i as u32;
                }
                self.finish(cx, seq, Outcome::Ok(out))
            }
            Answer::NotLeader { hint: Some(hint) } => {
                p.redirects += 1;
                if p.redirects > limit {
                    return self.give_up(cx, seq);
                }
                self.leader = hint % self.servers();
                self.send(cx, seq);
                None
            }
            Answer::NotLeader { hint: None } | Answer::Lost => {
                // No better idea: try the next server after a short pause.
                if answer == Answer::Lost {
                    p.maybe_applied = true;
                }
                p.redirects += 1;
                if p.redirects > limit {
                    return self.give_up(cx, seq);
                }
                if let Some(t) = p.timer.take() {
                    cx.cancel_timer(t);
                }
                let pause = self.config.heartbeat_interval;
                p.timer = Some(cx.set_timer(pause, Timer::ClientRetry { seq }));
                if self.members.get(self.leader as usize) == Some(&from) {
                    self.rotate();
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Server, check_history};
    use super::*;
    use crate::linearizability::kv::{KvInput, KvOutput};
    use ruckus_sim::{Context, HostId, Limits, Sim, SimConfig, Topology, View};
    use ruckus_sim::{Distribution, Property, Verdict};

    /// Raft servers, and one host process that submits its own commands.
    #[allow(clippy::large_enum_variant)]
    #[derive(Clone, Debug)]
    enum Node {
        Server(Server),
        /// Puts `0..rounds` to key 0 one after another, and two puts at once at the start;
        /// keeps what came back.
        Host {
            client: Client<Submitted<KvStore>>,
            rounds: u64,
            done: Vec<(KvInput, Outcome<KvOutput>)>,
        },
    }

    impl Process for Node {
        type Message = Message;
        type Timer = Timer;
        type Operation = Record;

        fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
            let mut cx = ctx.scope(|m| m, |t| t);
            match self {
                Node::Server(s) => s.on_start(&mut cx),
                Node::Host { client, .. } => {
                    client.on_start(&mut cx);
                    client.submit(&mut cx, KvInput::Put(0, 0));
                    client.submit(&mut cx, KvInput::Put(1, 100));
                }
            }
        }
        fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, m: Message) {
            let mut cx = ctx.scope(|m| m, |t| t);
            match self {
                Node::Server(s) => s.on_message(&mut cx, from, m),
                Node::Host { client, rounds, done } => {
                    if let Some(c) = client.on_message(&mut cx, from, m) {
                        if let KvInput::Put(0, v) = c.command
                            && v + 1 < *rounds
                        {
                            client.submit(&mut cx, KvInput::Put(0, v + 1));
                        }
                        done.push((c.command, c.outcome));
                    }
                }
            }
        }
        fn on_timer(&mut self, ctx: &mut Context<'_, Self>, t: Timer) {
            let mut cx = ctx.scope(|m| m, |t| t);
            match self {
                Node::Server(s) => s.on_timer(&mut cx, t),
                Node::Host { client, done, .. } => {
                    if let Some(c) = client.on_timer(&mut cx, t) {
                        done.push((c.command, c.outcome));
                    }
                }
            }
        }
    }

    fn run(seed: u64) -> (Verdict, Vec<(KvInput, Outcome<KvOutput>)>) {
        let config = Config {
            servers: 3,
            clients: 0,
            ..Config::default()
        };
        let mut sim_config = SimConfig::with_seed(seed);
        sim_config.limits = Limits {
            horizon: Duration::from_secs(5),
            ..Limits::default()
        };
        let topology = Topology::single_switch(
            4,
            Distribution::uniform(Duration::from_millis(1), Duration::from_millis(5)),
        );
        let mut sim: Sim<Node> = Sim::new(sim_config, &topology);
        for i in 0..3 {
            sim.spawn(HostId(i), Node::Server(Server::new(i, config.clone())));
        }
        let members = (0..3).map(ProcessId).collect();
        let client = Client::submitter(config, members);
        sim.spawn(
            HostId(3),
            Node::Host {
                client,
                rounds: 20,
                done: Vec::new(),
            },
        );
        sim.add_property(Property::at_end("linearizable", |v: &View<'_, Node>| {
            check_history(&Config::default(), v.history())
        }));
        let verdict = sim.run().verdict;
        let done = match sim.process(ProcessId(3)) {
            Some(Node::Host { done, .. }) => done.clone(),
            other => panic!("p3 is the host, not {other:?}"),
        };
        (verdict, done)
    }

    #[test]
    fn submitted_commands_find_the_leader_and_come_back_as_completions() {
        for seed in 0..3 {
            let (verdict, done) = run(seed);
            assert_eq!(verdict, Verdict::Held, "seed {seed}");
            // The first puts go out before any leader exists: they are retried until one is
            // elected, and every one of the 20 + 1 comes back applied, in order for key 0.
            assert_eq!(done.len(), 21, "seed {seed}: {done:?}");
            assert!(
                done.iter().all(|(_, o)| *o == Outcome::Ok(KvOutput::Written)),
                "{done:?}"
            );
            let key0: Vec<u64> = done
                .iter()
                .filter_map(|(c, _)| match *c {
                    KvInput::Put(0, v) => Some(v),
                    _ => None,
                })
                .collect();
            assert_eq!(key0, (0..20).collect::<Vec<_>>(), "seed {seed}");
        }
    }
}
