//! The processes: messages and timers, and how each event reaches a client or a server (the
//! model's own process hosts each part as a component with an identity [`Scope`]).

use super::*;

/// What services send each other.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Msg {
    /// An attempt, with the caller's attempt id and how long its answer stays useful.
    Request {
        /// The caller's attempt id, echoed in the response.
        id: u64,
        /// The time the caller has left when it sends, relative like gRPC's `grpc-timeout`:
        /// the server's deadline runs from the arrival on its own clock, so no two clocks are
        /// ever compared (an absolute deadline breaks for good when a clock steps).
        timeout: Duration,
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
                "caller" => s.caller().is_some(),
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
        let mut cx = ctx.scope(|m| m, |t| t);
        match self {
            Node::Client(c) => c.on_start(&mut cx),
            Node::Server(s) => s.on_start(&mut cx),
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, message: Msg) {
        let mut cx = ctx.scope(|m| m, |t| t);
        match self {
            Node::Client(c) => c.on_message(&mut cx, from, message),
            Node::Server(s) => s.on_message(&mut cx, from, message),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: Timer) {
        let mut cx = ctx.scope(|m| m, |t| t);
        match self {
            Node::Client(c) => c.on_timer(&mut cx, timer),
            Node::Server(s) => s.on_timer(&mut cx, timer),
        }
    }
}
