//! Clients contending on one optimistic-concurrency row: the backoff-and-jitter experiment.
//!
//! Every writer wants to make one successful read-modify-write. An attempt reads the row's
//! version, then sends a conditional write carrying it; the row accepts the write if the version
//! still matches and bumps it, otherwise it rejects it. A rejected writer waits as its
//! [`RetryPolicy`] says and starts a new attempt (a fresh read). An attempt conflicts when
//! another write lands between its read and its write (about one round trip), so writers whose
//! attempts bunch up in time waste work. All writers start at time zero: without backoff they
//! collide in waves, exponential backoff without jitter keeps the waves together, jitter
//! spreads them out.
//!
//! Metrics: counter `calls` (conditional writes, one per attempt), counter `done`, distribution
//! `finish_at` (true time of each writer's success, so its maximum is the completion time). The
//! run stops when the last writer succeeds.

use super::policy::{Backoff, RetryPolicy};
use ruckus_sim::{
    Context, Distribution, Duration, HostId, Metrics, Process, ProcessId, Property, Sim, Topology, View,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Parameters of a contention run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Writers contending on the row.
    pub clients: u32,
    /// Backoff between attempts (`max_attempts` 0: keep trying until the write lands).
    pub retry: RetryPolicy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            clients: 100,
            retry: RetryPolicy {
                backoff: Backoff::FullJitter,
                base: Duration::from_millis(5),
                cap: Duration::from_secs(2),
                max_attempts: 0,
            },
        }
    }
}

impl Config {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        if self.clients == 0 {
            return Err("clients must be at least 1".into());
        }
        if self.retry.backoff == Backoff::None {
            return Err(
                "retry.backoff = \"none\" would leave writers that never finish; use \"immediate\"".into(),
            );
        }
        self.retry.validate()
    }

    /// Hosts a run needs: the row's, then one per writer.
    pub fn hosts(&self) -> u32 {
        self.clients + 1
    }

    /// The experiment's network: every pair of hosts sees `|N(10 ms, 2 ms)|`.
    pub fn topology(&self) -> Topology {
        let latency = Distribution::Normal {
            mean: Duration::from_millis(10),
            std_dev: Duration::from_millis(2),
        };
        Topology::single_switch(self.hosts(), latency)
    }
}

/// Messages between writers and the row.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Msg {
    /// What is the version now?
    Read,
    /// The version now.
    Version {
        /// The row's version.
        version: u64,
    },
    /// Write if the row is still at `expect`.
    Write {
        /// The version the writer last saw.
        expect: u64,
    },
    /// The row's answer and its version now.
    Answer {
        /// Whether the write landed.
        ok: bool,
        /// The row's version after handling the write.
        version: u64,
    },
}

/// The row (process 0) or a writer.
#[derive(Clone, Debug)]
pub enum Node {
    /// The contended row.
    Row {
        /// Current version.
        version: u64,
        /// Writers still to finish.
        remaining: u32,
    },
    /// A writer.
    Writer {
        /// Backoff policy.
        retry: RetryPolicy,
        /// The version it will expect next.
        seen: u64,
        /// Failed attempts so far.
        failures: u32,
        /// The previous wait (for decorrelated jitter).
        last_delay: Duration,
        /// Whether its write landed.
        done: bool,
    },
}

impl Node {
    fn write(ctx: &mut Context<'_, Node>, expect: u64) {
        ctx.count("calls", 1);
        ctx.send(ProcessId(0), Msg::Write { expect });
    }
    fn read(ctx: &mut Context<'_, Node>) {
        ctx.send(ProcessId(0), Msg::Read);
    }
}

impl Process for Node {
    type Message = Msg;
    type Timer = ();
    type Operation = ();

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        if let Node::Writer { .. } = self {
            Node::read(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, message: Msg) {
        match (self, message) {
            (Node::Row { version, remaining }, Msg::Write { expect }) => {
                let ok = expect == *version;
                if ok {
                    *version += 1;
                    *remaining -= 1;
                    ctx.count("done", 1);
                    ctx.observe("finish_at", ctx.now().as_nanos());
                    if *remaining == 0 {
                        ctx.stop_run();
                    }
                }
                ctx.send(
                    from,
                    Msg::Answer {
                        ok,
                        version: *version,
                    },
                );
            }
            (Node::Row { version, .. }, Msg::Read) => ctx.send(from, Msg::Version { version: *version }),
            (Node::Writer { seen, .. }, Msg::Version { version }) => {
                *seen = version;
                Node::write(ctx, version);
            }
            (
                Node::Writer {
                    retry,
                    seen,
                    failures,
                    last_delay,
                    done,
                },
                Msg::Answer { ok, version },
            ) => {
                *seen = version;
                if ok {
                    *done = true;
                    return;
                }
                let delay = retry.delay(*failures, *last_delay, ctx.random());
                *failures += 1;
                *last_delay = delay;
                if !retry.allows_retry(*failures) {
                    return;
                }
                if delay == Duration::ZERO {
                    Node::read(ctx);
                } else {
                    ctx.set_timer(delay, ());
                }
            }
            (node, m) => panic!("unexpected {m:?} at {node:?}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _: ()) {
        if let Node::Writer { .. } = self {
            Node::read(ctx);
        }
    }
}

/// Places the row on host 0 and one writer per further host. The config must be valid.
pub fn setup(sim: &mut Sim<Node>, config: &Config) {
    if let Err(e) = config.validate() {
        panic!("invalid contention config: {e}");
    }
    sim.spawn(
        HostId(0),
        Node::Row {
            version: 0,
            remaining: config.clients,
        },
    );
    for i in 0..config.clients {
        let writer = Node::Writer {
            retry: config.retry,
            seen: 0,
            failures: 0,
            last_delay: config.retry.base,
            done: false,
        };
        sim.spawn(HostId(i + 1), writer);
    }
}

/// Safety: the row's version counts exactly the writers that finished (no write lands twice
/// and none is lost).
pub fn properties(_config: &Config) -> Vec<Property<Node>> {
    vec![Property::always("version_counts_writes", |v: &View<'_, Node>| {
        let Some(Node::Row { version, .. }) = v.process(ProcessId(0)) else {
            return Err("the row is gone".into());
        };
        let done = v
            .processes()
            .filter(|(_, _, p)| matches!(p, Node::Writer { done: true, .. }))
            .count() as u64;
        // An answer may still be in flight, so the row can be ahead of the writers.
        if done <= *version && *version == v.metrics().counter("done") {
            Ok(())
        } else {
            Err(format!("row version {version}, writers done {done}"))
        }
    })]
}

/// Summary figures: `calls`, `calls_per_client`, `completion_ms` (when the last write landed),
/// `done`.
pub fn summarize(config: &Config, metrics: &Metrics) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let calls = metrics.counter("calls") as f64;
    out.insert("calls".into(), calls);
    out.insert(
        "calls_per_client".into(),
        calls / f64::from(config.clients.max(1)),
    );
    out.insert("done".into(), metrics.counter("done") as f64);
    let finish = metrics.samples("finish_at").iter().copied().max().unwrap_or(0);
    out.insert("completion_ms".into(), finish as f64 / 1e6);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::{SimConfig, Verdict};

    fn run(backoff: Backoff, clients: u32, seed: u64) -> BTreeMap<String, f64> {
        let mut config = Config {
            clients,
            ..Config::default()
        };
        config.retry.backoff = backoff;
        let mut sim = Sim::new(SimConfig::with_seed(seed), &config.topology());
        setup(&mut sim, &config);
        for p in properties(&config) {
            sim.add_property(p);
        }
        let report = sim.run();
        assert_eq!(report.verdict, Verdict::Held, "{report}");
        summarize(&config, sim.metrics())
    }

    #[test]
    fn every_writer_finishes_exactly_once() {
        for backoff in [
            Backoff::Immediate,
            Backoff::Exponential,
            Backoff::FullJitter,
            Backoff::DecorrelatedJitter,
        ] {
            let s = run(backoff, 20, 3);
            assert_eq!(s["done"], 20.0, "{backoff:?}");
            assert!(s["calls"] >= 20.0);
        }
    }

    #[test]
    fn one_writer_needs_one_call() {
        let s = run(Backoff::Exponential, 1, 1);
        assert_eq!(s["calls"], 1.0);
        assert!(s["completion_ms"] > 0.0 && s["completion_ms"] < 30.0, "{s:?}");
    }

    #[test]
    fn none_backoff_is_rejected() {
        let mut config = Config::default();
        config.retry.backoff = Backoff::None;
        assert!(config.validate().unwrap_err().contains("immediate"));
    }
}
