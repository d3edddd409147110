//! Clients of the replicated store: closed-loop or open-loop, mixed, read-only or write-only.
//!
//! A closed-loop client runs one operation at a time and thinks between them. An open-loop
//! client invokes operations at Poisson arrival times drawn from its own random stream, whether
//! or not earlier ones have finished (up to a bound on outstanding operations; arrivals beyond it
//! are counted as shed and never invoked), which is how real load keeps coming while a cluster
//! is in trouble. Every operation has a per-attempt timeout, retries against other servers, and a
//! bounded number of attempts and redirects; each is recorded in the history as an invocation and
//! a completion (ok, failed, or unknown outcome).

use super::{Answer, Config, Message, Raft, Record, Timer};
use crate::linearizability::Outcome;
use crate::linearizability::kv::{KvInput, KvOutput};
use ruckus_sim::{Context, Duration, Instant, ProcessId, TimerId};
use std::collections::BTreeMap;

type Ctx<'a> = Context<'a, Raft>;

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

/// An operation a client is waiting on.
#[derive(Clone, Debug)]
struct Pending {
    /// The session the request is sent under (open loop: one per operation).
    session: u64,
    input: KvInput,
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

/// A client of the replicated store.
#[derive(Clone, Debug)]
pub struct Client {
    config: Config,
    role: ClientRole,
    /// Random per incarnation, so a restarted client never reuses sequence numbers. Closed-loop
    /// clients send every operation under it; open-loop clients draw a fresh session per
    /// operation (servers deduplicate by "last sequence number per session", which assumes one
    /// operation at a time per session).
    pub session: u64,
    seq: u64,
    /// The server this client sends to next.
    leader: u32,
    /// Outstanding operations by sequence number.
    pending: BTreeMap<u64, Pending>,
    /// The next arrival (open loop) or the end of the think pause (closed loop).
    next_timer: Option<TimerId>,
    /// The last value this client saw per key, to aim compare-and-sets at likely values.
    seen: Vec<Option<u64>>,
    /// Operations completed with a known result by this incarnation.
    pub completed: u64,
}

impl Client {
    /// A boot image of a mixed client.
    pub fn new(config: Config) -> Client {
        Client::with_role(config, ClientRole::Mixed)
    }

    /// A boot image of a client in `role`.
    pub fn with_role(config: Config, role: ClientRole) -> Client {
        Client {
            config,
            role,
            session: 0,
            seq: 0,
            leader: 0,
            pending: BTreeMap::new(),
            next_timer: None,
            seen: vec![None; config.keys as usize],
            completed: 0,
        }
    }

    /// What kind of operations this client issues.
    pub fn role(&self) -> ClientRole {
        self.role
    }

    /// Operations invoked and not yet completed.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.session = ctx.random().next_u64();
        self.leader = ctx.random().below(u64::from(self.config.servers)) as u32;
        self.schedule_next(ctx);
    }

    /// Closed loop: a think pause, uniform up to `client_think_time`. Open loop: an exponential
    /// gap with mean `open_loop_mean_interval`.
    fn schedule_next(&mut self, ctx: &mut Ctx<'_>) {
        let pause = if self.config.open_loop {
            let mean = self.config.open_loop_mean_interval.0 as f64;
            Duration(ctx.random().exponential(mean) as u64)
        } else {
            Duration(ctx.random().range_inclusive(0, self.config.client_think_time.0))
        };
        self.next_timer = Some(ctx.set_timer(pause, Timer::ClientNext));
    }

    fn next_input(&mut self, ctx: &mut Ctx<'_>) -> KvInput {
        let rng = ctx.random();
        let key = rng.below(u64::from(self.config.keys)) as u32;
        // Values are random so distinct writes are told apart in the history.
        let value = rng.below(1 << 40);
        let reads = match self.role {
            ClientRole::Mixed => u64::from(self.config.read_percent),
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

    fn invoke(&mut self, ctx: &mut Ctx<'_>) {
        self.seq += 1;
        let input = self.next_input(ctx);
        let session = if self.config.open_loop {
            ctx.random().next_u64()
        } else {
            self.session
        };
        ctx.record(Record::Invoke {
            session,
            seq: self.seq,
            input,
        });
        self.pending.insert(
            self.seq,
            Pending {
                session,
                input,
                attempts: 0,
                redirects: 0,
                maybe_applied: false,
                invoked_at: ctx.now(),
                timer: None,
            },
        );
        self.send(ctx, self.seq);
    }

    fn send(&mut self, ctx: &mut Ctx<'_>, seq: u64) {
        let Some(p) = self.pending.get_mut(&seq) else {
            return;
        };
        let message = Message::Request {
            session: p.session,
            seq,
            input: p.input,
        };
        ctx.send(ProcessId(self.leader), message);
        if let Some(t) = p.timer.take() {
            ctx.cancel_timer(t);
        }
        let timer = Timer::ClientTimeout {
            seq,
            attempt: p.attempts,
        };
        p.timer = Some(ctx.set_timer(self.config.client_timeout, timer));
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>, seq: u64, outcome: Outcome<KvOutput>) {
        let Some(mut p) = self.pending.remove(&seq) else {
            return;
        };
        if let Some(t) = p.timer.take() {
            ctx.cancel_timer(t);
        }
        match outcome {
            Outcome::Ok(out) => {
                self.completed += 1;
                ctx.count("raft.client.ok", 1);
                ctx.observe(
                    "raft.client.latency_ns",
                    ctx.now().saturating_since(p.invoked_at).0,
                );
                let k = p.input.key() as usize;
                match (p.input, out) {
                    (KvInput::Get(_), KvOutput::Value(v)) => self.seen[k] = v,
                    (KvInput::Put(_, v), _) | (KvInput::Cas(_, _, v), KvOutput::Swapped(true)) => {
                        self.seen[k] = Some(v)
                    }
                    _ => {}
                }
            }
            Outcome::Failed => ctx.count("raft.client.failed", 1),
            Outcome::Unknown => ctx.count("raft.client.unknown", 1),
        }
        ctx.record(Record::Complete {
            session: p.session,
            seq,
            outcome,
        });
        if !self.config.open_loop {
            self.schedule_next(ctx);
        }
    }

    fn give_up(&mut self, ctx: &mut Ctx<'_>, seq: u64) {
        let maybe = self.pending.get(&seq).is_some_and(|p| p.maybe_applied);
        self.finish(ctx, seq, if maybe { Outcome::Unknown } else { Outcome::Failed });
    }

    fn rotate(&mut self) {
        self.leader = (self.leader + 1) % self.config.servers;
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer) {
        match timer {
            Timer::ClientNext => {
                self.next_timer = None;
                if self.config.open_loop {
                    self.schedule_next(ctx);
                    if self.pending.len() >= self.config.open_loop_max_outstanding as usize {
                        ctx.count("raft.client.shed", 1);
                        return;
                    }
                }
                self.invoke(ctx);
            }
            Timer::ClientTimeout { seq, attempt } => {
                let Some(p) = self.pending.get_mut(&seq) else {
                    return;
                };
                if p.attempts != attempt {
                    return;
                }
                p.timer = None;
                p.maybe_applied = true;
                p.attempts += 1;
                if p.attempts >= self.config.client_attempts {
                    self.give_up(ctx, seq);
                } else {
                    self.rotate();
                    self.send(ctx, seq);
                }
            }
            Timer::ClientRetry { seq } => {
                if let Some(p) = self.pending.get_mut(&seq) {
                    p.timer = None;
                    self.send(ctx, seq);
                }
            }
            Timer::Election | Timer::Heartbeat => {}
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_>, from: ProcessId, message: Message) {
        let Message::Reply { session, seq, answer } = message else {
            return;
        };
        let Some(p) = self.pending.get_mut(&seq) else {
            return;
        };
        if session != p.session {
            return;
        }
        match answer {
            Answer::Done(out) => {
                self.leader = from.0;
                self.finish(ctx, seq, Outcome::Ok(out));
            }
            Answer::NotLeader { hint: Some(hint) } => {
                p.redirects += 1;
                if p.redirects > 4 * self.config.servers {
                    self.give_up(ctx, seq);
                    return;
                }
                self.leader = hint;
                self.send(ctx, seq);
            }
            Answer::NotLeader { hint: None } | Answer::Lost => {
                // No better idea: try the next server after a short pause.
                if answer == Answer::Lost {
                    p.maybe_applied = true;
                }
                p.redirects += 1;
                if p.redirects > 4 * self.config.servers {
                    self.give_up(ctx, seq);
                    return;
                }
                if let Some(t) = p.timer.take() {
                    ctx.cancel_timer(t);
                }
                let pause = self.config.heartbeat_interval;
                p.timer = Some(ctx.set_timer(pause, Timer::ClientRetry { seq }));
                if from.0 == self.leader {
                    self.rotate();
                }
            }
        }
    }
}
