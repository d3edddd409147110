//! A closed-loop client: one operation at a time, per-attempt timeouts, retries elsewhere.

use super::{Answer, Config, Message, Raft, Record, Timer};
use crate::linearizability::Outcome;
use crate::linearizability::kv::{KvInput, KvOutput};
use ruckus_sim::{Context, Duration, Instant, ProcessId, TimerId};

type Ctx<'a> = Context<'a, Raft>;

/// The operation a client is waiting on.
#[derive(Clone, Debug)]
struct Pending {
    seq: u64,
    input: KvInput,
    /// Timeouts so far.
    attempts: u32,
    /// Redirects so far (bounded, so two confused servers cannot bounce a client forever).
    redirects: u32,
    /// Whether some server may have appended it (a timeout or a lost leadership).
    maybe_applied: bool,
    invoked_at: Instant,
}

/// A closed-loop client of the replicated store.
#[derive(Clone, Debug)]
pub struct Client {
    config: Config,
    /// Random per incarnation, so a restarted client never reuses sequence numbers.
    pub session: u64,
    seq: u64,
    /// The server this client sends to next.
    leader: u32,
    pending: Option<Pending>,
    timer: Option<TimerId>,
    /// The last value this client saw per key, to aim compare-and-sets at likely values.
    seen: Vec<Option<u64>>,
    /// Operations completed with a known result by this incarnation.
    pub completed: u64,
}

impl Client {
    /// A boot image.
    pub fn new(config: Config) -> Client {
        Client {
            config,
            session: 0,
            seq: 0,
            leader: 0,
            pending: None,
            timer: None,
            seen: vec![None; config.keys as usize],
            completed: 0,
        }
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.session = ctx.random().next_u64();
        self.leader = ctx.random().below(u64::from(self.config.servers)) as u32;
        self.think(ctx);
    }

    fn think(&mut self, ctx: &mut Ctx<'_>) {
        let pause = Duration(ctx.random().range_inclusive(0, self.config.client_think_time.0));
        self.timer = Some(ctx.set_timer(pause, Timer::ClientNext));
    }

    fn next_input(&mut self, ctx: &mut Ctx<'_>) -> KvInput {
        let rng = ctx.random();
        let key = rng.below(u64::from(self.config.keys)) as u32;
        // Values are random so distinct writes are told apart in the history.
        let value = rng.below(1 << 40);
        let reads = u64::from(self.config.read_percent);
        let roll = rng.below(300);
        if roll < 3 * reads {
            KvInput::Get(key)
        } else if (roll - 3 * reads) % 3 < 2 {
            KvInput::Put(key, value)
        } else {
            KvInput::Cas(key, self.seen[key as usize], value)
        }
    }

    fn send(&mut self, ctx: &mut Ctx<'_>) {
        let Some(p) = &self.pending else { return };
        let message = Message::Request {
            session: self.session,
            seq: p.seq,
            input: p.input,
        };
        let timer = Timer::ClientTimeout {
            seq: p.seq,
            attempt: p.attempts,
        };
        ctx.send(ProcessId(self.leader), message);
        if let Some(t) = self.timer.take() {
            ctx.cancel_timer(t);
        }
        self.timer = Some(ctx.set_timer(self.config.client_timeout, timer));
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>, outcome: Outcome<KvOutput>) {
        let Some(p) = self.pending.take() else { return };
        if let Some(t) = self.timer.take() {
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
            session: self.session,
            seq: p.seq,
            outcome,
        });
        self.think(ctx);
    }

    fn give_up(&mut self, ctx: &mut Ctx<'_>) {
        let maybe = self.pending.as_ref().is_some_and(|p| p.maybe_applied);
        self.finish(ctx, if maybe { Outcome::Unknown } else { Outcome::Failed });
    }

    fn rotate(&mut self) {
        self.leader = (self.leader + 1) % self.config.servers;
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer) {
        match timer {
            Timer::ClientNext => {
                self.timer = None;
                self.seq += 1;
                let input = self.next_input(ctx);
                ctx.record(Record::Invoke {
                    session: self.session,
                    seq: self.seq,
                    input,
                });
                self.pending = Some(Pending {
                    seq: self.seq,
                    input,
                    attempts: 0,
                    redirects: 0,
                    maybe_applied: false,
                    invoked_at: ctx.now(),
                });
                self.send(ctx);
            }
            Timer::ClientTimeout { seq, attempt } => {
                let Some(p) = self.pending.as_mut() else { return };
                if p.seq != seq || p.attempts != attempt {
                    return;
                }
                self.timer = None;
                p.maybe_applied = true;
                p.attempts += 1;
                if p.attempts >= self.config.client_attempts {
                    self.give_up(ctx);
                } else {
                    self.rotate();
                    self.send(ctx);
                }
            }
            Timer::ClientRetry { seq } => {
                if self.pending.as_ref().is_some_and(|p| p.seq == seq) {
                    self.timer = None;
                    self.send(ctx);
                }
            }
            Timer::Election | Timer::Heartbeat => {}
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_>, from: ProcessId, message: Message) {
        let Message::Reply { session, seq, answer } = message else {
            return;
        };
        let Some(p) = self.pending.as_mut() else { return };
        if p.seq != seq || session != self.session {
            return;
        }
        match answer {
            Answer::Done(out) => {
                self.leader = from.0;
                self.finish(ctx, Outcome::Ok(out));
            }
            Answer::NotLeader { hint: Some(hint) } => {
                p.redirects += 1;
                if p.redirects > 4 * self.config.servers {
                    self.give_up(ctx);
                    return;
                }
                self.leader = hint;
                self.send(ctx);
            }
            Answer::NotLeader { hint: None } | Answer::Lost => {
                // No better idea: try the next server after a short pause.
                if answer == Answer::Lost {
                    p.maybe_applied = true;
                }
                p.redirects += 1;
                if p.redirects > 4 * self.config.servers {
                    self.give_up(ctx);
                    return;
                }
                if from.0 == self.leader {
                    self.rotate();
                }
                if let Some(t) = self.timer.take() {
                    ctx.cancel_timer(t);
                }
                let pause = self.config.heartbeat_interval;
                self.timer = Some(ctx.set_timer(pause, Timer::ClientRetry { seq }));
            }
        }
    }
}
