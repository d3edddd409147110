//! The processes: messages and timers, and how each event reaches a client or a server.

use super::*;

/// What services send each other.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Msg {
    /// An attempt, with the caller's attempt id and the deadline its answer is useful until.
    Request {
        /// The caller's attempt id, echoed in the response.
        id: u64,
        /// The caller gives up at this time (its local clock; clocks are assumed in sync).
        deadline: Instant,
    },
    /// The answer to an attempt.
    Response {
        /// The attempt id.
        id: u64,
        /// Whether it succeeded.
        ok: bool,
    },
    /// A successful answer the server could only give from a fallback (degraded). A variant of
    /// its own, not a field of `Response`, so runs without fallbacks hash exactly as before.
    Degraded {
        /// The attempt id.
        id: u64,
    },
}

/// Timers of services processes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Open loop: the next request arrives.
    Arrive,
    /// Closed loop: a slot's think time is over.
    Think,
    /// An attempt timed out.
    AttemptTimeout(u64),
    /// A call's backoff is over: retry.
    Retry(u64),
    /// A call's hedge delay is over.
    Hedge(u64),
    /// A server finished the local work of a job.
    ServiceDone(u64),
    /// Degradation `index` switches on (`true`) or off.
    Degrade(u32, bool),
    /// A server held back by a fault-plan degradation (stall, CPU cut) looks again.
    Recheck,
}

/// A process of the services model.
#[derive(Clone, Debug)]
pub enum Node {
    /// Generates requests.
    Client(Box<Client>),
    /// Serves them.
    Server(Box<Server>),
}

impl Process for Node {
    type Message = Msg;
    type Timer = Timer;
    type Operation = ();

    /// Roles for role-targeted faults: `client`; `server` and `instance` (every tier server);
    /// `tierN` (the servers of tier N, e.g. `tier1`); `caller` (anything that calls a tier:
    /// clients, and servers of every tier but the last).
    fn has_role(&self, role: &str) -> bool {
        match self {
            Node::Client(_) => matches!(role, "client" | "caller"),
            Node::Server(s) => match role {
                "server" | "instance" => true,
                "caller" => s.caller.is_some(),
                _ => role
                    .strip_prefix("tier")
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|n| n == s.tier()),
            },
        }
    }

    /// `client`, or `tierN-server` for a server of tier N.
    fn label(&self) -> Option<String> {
        Some(match self {
            Node::Client(_) => "client".into(),
            Node::Server(s) => format!("tier{}-server", s.tier()),
        })
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        match self {
            Node::Client(c) => match c.workload {
                Workload::Open { .. } => c.arrive_after(ctx),
                Workload::Closed { concurrency, .. } => {
                    for _ in 0..concurrency {
                        c.offer(ctx);
                    }
                }
            },
            Node::Server(s) => {
                let now = ctx.now();
                for (i, d) in s.degradations.iter().enumerate() {
                    let on = Instant::ZERO + d.at;
                    let off = on + d.duration;
                    if off > now {
                        ctx.set_timer(on.saturating_since(now), Timer::Degrade(i as u32, true));
                        ctx.set_timer(off - now, Timer::Degrade(i as u32, false));
                    }
                }
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, message: Msg) {
        match (self, message) {
            (Node::Server(s), Msg::Request { id, deadline }) => s.on_request(ctx, from, id, deadline),
            (Node::Server(s), Msg::Response { id, ok }) => s.on_answer(ctx, id, ok, false),
            (Node::Server(s), Msg::Degraded { id }) => s.on_answer(ctx, id, true, true),
            (Node::Client(c), Msg::Response { id, ok }) => {
                for done in c.caller.on_response(ctx, id, ok, false) {
                    c.done(ctx, done);
                }
            }
            (Node::Client(c), Msg::Degraded { id }) => {
                for done in c.caller.on_response(ctx, id, true, true) {
                    c.done(ctx, done);
                }
            }
            (Node::Client(_), Msg::Request { .. }) => panic!("a client received a request"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: Timer) {
        match self {
            Node::Client(c) => {
                let done = match timer {
                    Timer::Arrive => {
                        c.offer(ctx);
                        c.arrive_after(ctx);
                        Vec::new()
                    }
                    Timer::Think => {
                        c.offer(ctx);
                        Vec::new()
                    }
                    Timer::AttemptTimeout(a) => c.caller.on_timeout(ctx, a),
                    Timer::Retry(id) => c.caller.on_retry(ctx, id),
                    Timer::Hedge(id) => c.caller.on_hedge(ctx, id),
                    Timer::ServiceDone(_) | Timer::Degrade(..) | Timer::Recheck => {
                        panic!("server timer at a client")
                    }
                };
                for done in done {
                    c.done(ctx, done);
                }
            }
            Node::Server(s) => {
                let done = match timer {
                    Timer::ServiceDone(id) => {
                        s.on_service_done(ctx, id);
                        Vec::new()
                    }
                    Timer::Degrade(i, on) => {
                        if on {
                            s.active.push(i);
                        } else {
                            s.active.retain(|&k| k != i);
                        }
                        s.dispatch(ctx);
                        Vec::new()
                    }
                    Timer::Recheck => {
                        s.recheck_armed = false;
                        s.dispatch(ctx);
                        Vec::new()
                    }
                    Timer::AttemptTimeout(a) => s
                        .caller
                        .as_mut()
                        .map(|c| c.on_timeout(ctx, a))
                        .unwrap_or_default(),
                    Timer::Retry(id) => s.caller.as_mut().map(|c| c.on_retry(ctx, id)).unwrap_or_default(),
                    Timer::Hedge(id) => s.caller.as_mut().map(|c| c.on_hedge(ctx, id)).unwrap_or_default(),
                    Timer::Arrive | Timer::Think => panic!("client timer at a server"),
                };
                for done in done {
                    s.downstream_done(ctx, done);
                }
            }
        }
    }
}
