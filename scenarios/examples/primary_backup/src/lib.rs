//! A primary-backup register, as a user of ruckus would model their own system.
//!
//! Three processes: a **primary** (p0 on h0), a **backup** (p1 on h1) and a **client** (p2 on
//! h2). The client writes increasing sequence numbers to whichever server it believes is the
//! primary and remembers which writes were acknowledged. The primary replicates each write to
//! the backup and acknowledges it once the backup has it. The backup watches the primary's
//! heartbeats; when they stop for `failover_timeout` it promotes itself with a higher epoch and
//! takes writes alone. A server refuses replication from a lower epoch, so a deposed primary
//! can never get a write acknowledged.
//!
//! The property: every acknowledged write is held by the primary of the highest epoch
//! (`acknowledged_writes_survive_failover`). The planted bug, `ack_before_replicate`,
//! acknowledges a write before the backup has it: a partition between the two servers then
//! loses acknowledged writes at the failover.
//!
//! The fault profile of the scenario files cuts and slows links and pauses hosts, but does not
//! crash them: with two copies, a crash of the promoted primary loses data by design.

use ruckus_sim::{Context, Duration, HostId, Process, ProcessId, Property, Sim};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The model's parameters (`[model]` and `[workload]` in a scenario file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// How often the client writes.
    pub write_interval: Duration,
    /// How long the client waits for an acknowledgement before trying the other server.
    pub client_timeout: Duration,
    /// How often the primary sends a heartbeat to the backup.
    pub heartbeat_interval: Duration,
    /// Silence after which the backup promotes itself.
    pub failover_timeout: Duration,
    /// Writes the client makes in all.
    pub writes: u64,
    /// The planted bug: acknowledge before the backup has the write.
    pub ack_before_replicate: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            write_interval: Duration::from_millis(20),
            client_timeout: Duration::from_millis(100),
            heartbeat_interval: Duration::from_millis(50),
            failover_timeout: Duration::from_millis(200),
            writes: 200,
            ack_before_replicate: false,
        }
    }
}

/// What the processes send each other.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Msg {
    /// Client to server: store write `seq`.
    Write { seq: u64 },
    /// Server to client: write `seq` is stored (and replicated, unless the bug is on).
    Ack { seq: u64 },
    /// Primary to backup: store write `seq` (from the client `client`).
    Replicate { epoch: u64, seq: u64, client: ProcessId },
    /// Backup to primary: it has write `seq`.
    Replicated { epoch: u64, seq: u64, client: ProcessId },
    /// Primary to backup: still alive.
    Heartbeat { epoch: u64 },
}

/// Timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Timer {
    /// Primary: send a heartbeat.
    Heartbeat,
    /// Backup: check whether the primary has gone quiet.
    FailoverCheck,
    /// Client: make the next write.
    NextWrite,
    /// Client: the write `seq` was not acknowledged in time.
    WriteTimeout { seq: u64 },
}

/// A server's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Takes writes.
    Primary,
    /// Holds copies and watches the primary.
    Backup,
}

/// A server: the primary or the backup.
#[derive(Clone, Debug)]
pub struct Server {
    config: Config,
    /// The current role.
    pub role: Role,
    /// Raised at each promotion.
    pub epoch: u64,
    /// The writes this server holds.
    pub writes: BTreeSet<u64>,
    peer: ProcessId,
    last_heard: ruckus_sim::Instant,
}

/// The client.
#[derive(Clone, Debug)]
pub struct Client {
    config: Config,
    servers: [ProcessId; 2],
    /// Which of `servers` it writes to.
    target: usize,
    next_seq: u64,
    /// Writes the client saw acknowledged.
    pub acknowledged: BTreeSet<u64>,
}

/// The model's one process type.
#[derive(Clone, Debug)]
pub enum Node {
    /// p0 and p1.
    Server(Server),
    /// p2.
    Client(Client),
}

impl Process for Node {
    type Message = Msg;
    type Timer = Timer;
    type Operation = ();

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        match self {
            Node::Server(s) => {
                s.last_heard = ctx.now();
                match s.role {
                    Role::Primary => ctx.set_timer(s.config.heartbeat_interval, Timer::Heartbeat),
                    Role::Backup => ctx.set_timer(s.config.failover_timeout, Timer::FailoverCheck),
                };
            }
            Node::Client(c) => {
                ctx.set_timer(c.config.write_interval, Timer::NextWrite);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, msg: Msg) {
        match self {
            Node::Server(s) => s.on_message(ctx, from, msg),
            Node::Client(c) => c.on_message(ctx, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: Timer) {
        match self {
            Node::Server(s) => s.on_timer(ctx, timer),
            Node::Client(c) => c.on_timer(ctx, timer),
        }
    }
}

impl Server {
    fn on_message(&mut self, ctx: &mut Context<'_, Node>, from: ProcessId, msg: Msg) {
        match msg {
            Msg::Write { seq } if self.role == Role::Primary => {
                self.writes.insert(seq);
                if self.config.ack_before_replicate || self.epoch > 1 {
                    // A promoted backup has no one left to copy to and acknowledges alone.
                    ctx.send(from, Msg::Ack { seq });
                }
                if self.epoch == 1 {
                    let epoch = self.epoch;
                    ctx.send(
                        self.peer,
                        Msg::Replicate {
                            epoch,
                            seq,
                            client: from,
                        },
                    );
                }
            }
            Msg::Write { .. } => {} // not the primary: the client times out and tries the other
            Msg::Replicate { epoch, seq, client } if epoch >= self.epoch => {
                self.last_heard = ctx.now();
                self.writes.insert(seq);
                ctx.send(from, Msg::Replicated { epoch, seq, client });
            }
            Msg::Replicate { .. } => {} // from a deposed primary: refused
            Msg::Replicated { epoch, seq, client } => {
                if epoch == self.epoch && !self.config.ack_before_replicate {
                    ctx.send(client, Msg::Ack { seq });
                }
            }
            Msg::Heartbeat { epoch } if epoch >= self.epoch => self.last_heard = ctx.now(),
            Msg::Heartbeat { .. } | Msg::Ack { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Node>, timer: Timer) {
        match timer {
            Timer::Heartbeat => {
                ctx.send(self.peer, Msg::Heartbeat { epoch: self.epoch });
                ctx.set_timer(self.config.heartbeat_interval, Timer::Heartbeat);
            }
            Timer::FailoverCheck if self.role == Role::Backup => {
                let quiet = ctx.now().saturating_since(self.last_heard);
                if quiet >= self.config.failover_timeout {
                    self.role = Role::Primary;
                    self.epoch += 1;
                    ctx.note(&format!(
                        "backup promoted itself to primary of epoch {}",
                        self.epoch
                    ));
                } else {
                    ctx.set_timer(self.config.failover_timeout, Timer::FailoverCheck);
                }
            }
            Timer::FailoverCheck | Timer::NextWrite | Timer::WriteTimeout { .. } => {}
        }
    }
}

impl Client {
    fn on_message(&mut self, _ctx: &mut Context<'_, Node>, msg: Msg) {
        if let Msg::Ack { seq } = msg {
            self.acknowledged.insert(seq);
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Node>, timer: Timer) {
        match timer {
            Timer::NextWrite if self.next_seq < self.config.writes => {
                let seq = self.next_seq;
                self.next_seq += 1;
                ctx.send(self.servers[self.target], Msg::Write { seq });
                ctx.set_timer(self.config.client_timeout, Timer::WriteTimeout { seq });
                ctx.set_timer(self.config.write_interval, Timer::NextWrite);
            }
            Timer::WriteTimeout { seq } if !self.acknowledged.contains(&seq) => {
                self.target = 1 - self.target;
            }
            _ => {}
        }
    }
}

/// Places the primary, the backup and the client on hosts 0, 1 and 2.
pub fn setup(sim: &mut Sim<Node>, config: &Config) {
    let server = |role, peer| {
        Node::Server(Server {
            config: config.clone(),
            role,
            epoch: 1,
            writes: BTreeSet::new(),
            peer: ProcessId(peer),
            last_heard: ruckus_sim::Instant::ZERO,
        })
    };
    let primary = sim.spawn(HostId(0), server(Role::Primary, 1));
    let backup = sim.spawn(HostId(1), server(Role::Backup, 0));
    let client = Client {
        config: config.clone(),
        servers: [primary, backup],
        target: 0,
        next_seq: 0,
        acknowledged: BTreeSet::new(),
    };
    sim.spawn(HostId(2), Node::Client(client));
}

/// The invariant: the primary of the highest epoch holds every acknowledged write.
pub fn properties(_config: &Config) -> Vec<Property<Node>> {
    vec![Property::always("acknowledged_writes_survive_failover", |v| {
        let mut newest: Option<(u64, &Server)> = None;
        let mut acknowledged = None;
        for (_, _, node) in v.processes() {
            match node {
                Node::Server(s) if s.role == Role::Primary && newest.is_none_or(|(e, _)| s.epoch > e) => {
                    newest = Some((s.epoch, s));
                }
                Node::Client(c) => acknowledged = Some(&c.acknowledged),
                Node::Server(_) => {}
            }
        }
        let (Some((epoch, primary)), Some(acknowledged)) = (newest, acknowledged) else {
            return Ok(());
        };
        match acknowledged.difference(&primary.writes).next() {
            Some(lost) => Err(format!(
                "write {lost} was acknowledged, but the primary of epoch {epoch} does not have it"
            )),
            None => Ok(()),
        }
    })]
}

/// The model as ruckus tools see it: `[model] name = "primary_backup"` in a scenario file.
#[derive(Debug)]
pub struct PrimaryBackup;

impl ruckus_sim::Model for PrimaryBackup {
    const NAME: &'static str = "primary_backup";
    const ABOUT: &'static str = "a primary-backup register with failover (the own-model example)";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[("writes", 1)];
    type Config = Config;
    type Process = Node;
    fn setup(sim: &mut Sim<Node>, config: &Config) {
        setup(sim, config);
    }
    fn properties(config: &Config) -> Vec<Property<Node>> {
        properties(config)
    }
    fn check(config: &Config, hosts: u32) -> Result<(), String> {
        if hosts < 3 {
            return Err(format!("primary_backup needs 3 hosts, the topology has {hosts}"));
        }
        if config.writes == 0 {
            return Err("writes must be at least 1".into());
        }
        Ok(())
    }
}

/// The registry of this crate's binary and tests: the built-in models and scenarios, plus
/// this model and its two scenario files.
pub fn registry() -> ruckus_scenarios::registry::Registry {
    ruckus_scenarios::registry::Registry::builtin()
        .program("primary-backup")
        .with::<PrimaryBackup>()
        .with_scenario("primary_backup", include_str!("../scenarios/primary_backup.toml"))
        .with_scenario(
            "primary_backup_ack_early",
            include_str!("../scenarios/primary_backup_ack_early.toml"),
        )
}
