//! Coverage probes ("sometimes" assertions): states a model expects *some* run to reach.
//!
//! An `always` property says a bad state never happens; a probe says an interesting state
//! does happen, at least in some runs: a leader change during a partition, a lease that
//! expires while its holder is paused, a vote asked for in a term a restarted server forgot.
//! A planted bug can only show in such states, so a sweep that never reaches them proves
//! nothing about the bug, however many seeds held.
//!
//! Handlers call [`Context::sometimes`](crate::Context::sometimes) (or the component's
//! [`Scope::sometimes`](crate::Scope::sometimes)), checkers [`View::sometimes`](crate::View::sometimes).
//! A run records the probes whose condition was true at least once, in first-hit order, in
//! [`RunReport::probes`](crate::RunReport::probes). Probes only observe: recording one draws
//! no randomness, schedules nothing and stays outside the fingerprint, so adding probes to a
//! model changes none of its runs. A model lists the probes it has in
//! [`Model::probes`](crate::Model::probes), so tools can name the ones no run reached.

use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One probe a run reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeHit {
    /// The probe's name, as the model wrote it.
    pub name: String,
    /// True time at which its condition first held.
    pub first_at: Instant,
    /// How many times its condition held (each call with a true condition counts).
    pub hits: u64,
}

/// The probes a run has reached so far, in first-hit order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Probes {
    index: BTreeMap<String, usize>,
    hits: Vec<ProbeHit>,
}

impl Probes {
    /// Records that `name`'s condition holds at `now`.
    pub(crate) fn hit(&mut self, name: &str, now: Instant) {
        match self.index.get(name) {
            Some(&i) => self.hits[i].hits += 1,
            None => {
                self.index.insert(name.to_owned(), self.hits.len());
                self.hits.push(ProbeHit {
                    name: name.to_owned(),
                    first_at: now,
                    hits: 1,
                });
            }
        }
    }

    /// Every probe reached, in first-hit order.
    pub(crate) fn reached(&self) -> Vec<ProbeHit> {
        self.hits.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Context, Distribution, Duration, HostId, Process, ProcessId, Property, Sim, SimConfig, Topology,
    };

    /// Pings its peer `rounds` times; probes the even rounds from the handler, and a checker
    /// probes the moment both have answered once.
    #[derive(Clone, Debug)]
    struct Pinger {
        peer: ProcessId,
        rounds: u32,
        seen: u32,
    }

    impl Process for Pinger {
        type Message = u32;
        type Timer = ();
        type Operation = ();
        fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
            ctx.sometimes("never", false);
            if self.peer.0 == 1 {
                ctx.send(self.peer, 0);
            }
        }
        fn on_message(&mut self, ctx: &mut Context<'_, Self>, _: ProcessId, round: u32) {
            self.seen += 1;
            ctx.sometimes("even round", round % 2 == 0);
            ctx.sometimes("third round", round == 3);
            if round < self.rounds {
                ctx.send(self.peer, round + 1);
            }
        }
        fn on_timer(&mut self, _: &mut Context<'_, Self>, _: ()) {}
    }

    fn run(seed: u64) -> crate::RunReport {
        let topology = Topology::single_switch(
            2,
            Distribution::uniform(Duration::from_millis(1), Duration::from_millis(3)),
        );
        let mut sim = Sim::new(SimConfig::with_seed(seed), &topology);
        for (host, peer) in [(0, 1), (1, 0)] {
            sim.spawn(
                HostId(host),
                Pinger {
                    peer: ProcessId(peer),
                    rounds: 5,
                    seen: 0,
                },
            );
        }
        sim.add_property(Property::always(
            "both answered",
            |v: &crate::View<'_, Pinger>| {
                let both = v.processes().all(|(_, _, p)| p.seen > 0);
                v.sometimes("both answered", both);
                Ok(())
            },
        ));
        sim.run()
    }

    #[test]
    fn a_run_records_the_probes_whose_condition_held_in_first_hit_order() {
        let report = run(4);
        let names: Vec<&str> = report.probes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["even round", "both answered", "third round"]);
        let even = &report.probes[0];
        assert_eq!(even.hits, 3, "rounds 0, 2 and 4");
        assert!(even.first_at > Instant::ZERO);
        assert!(report.probes[2].first_at > even.first_at);
    }

    #[test]
    fn probes_stay_outside_the_fingerprint() {
        /// The same process without a single probe.
        #[derive(Clone, Debug)]
        struct Plain(Pinger);
        impl Process for Plain {
            type Message = u32;
            type Timer = ();
            type Operation = ();
            fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
                if self.0.peer.0 == 1 {
                    ctx.send(self.0.peer, 0);
                }
            }
            fn on_message(&mut self, ctx: &mut Context<'_, Self>, _: ProcessId, round: u32) {
                if round < self.0.rounds {
                    ctx.send(self.0.peer, round + 1);
                }
            }
            fn on_timer(&mut self, _: &mut Context<'_, Self>, _: ()) {}
        }
        let topology = Topology::single_switch(
            2,
            Distribution::uniform(Duration::from_millis(1), Duration::from_millis(3)),
        );
        let mut sim = Sim::new(SimConfig::with_seed(4), &topology);
        for (host, peer) in [(0, 1), (1, 0)] {
            sim.spawn(
                HostId(host),
                Plain(Pinger {
                    peer: ProcessId(peer),
                    rounds: 5,
                    seen: 0,
                }),
            );
        }
        let plain = sim.run();
        let probed = run(4);
        assert!(plain.probes.is_empty());
        assert_eq!(plain.fingerprint, probed.fingerprint);
        assert_eq!(plain.events, probed.events);
    }
}
