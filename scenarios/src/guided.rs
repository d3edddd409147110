//! Guided search over fault plans (`ruckus hunt`): keep the runs that reached new coverage,
//! mutate their plans, stop at the first failure.
//!
//! - **Coverage** of a run is the set of probe names it reached (`RunReport::probes`). A run is
//!   *new* when it reached a probe, or a pair of probes together, that no earlier run did, or
//!   reached a probe a number of times in a class no earlier run did (classes 1, 2, 3, 4-7,
//!   8-15, ...: powers of two, as AFL counts branch hits), so a run that sat in a rare state
//!   longer than any before is kept too.
//! - **Corpus**: the (seed, plan) of every new run. The seed stands for everything the plan does
//!   not hold: the workload's draws and the buggify choices (each site's stream derives from
//!   it), so keeping the seed keeps those choices.
//! - **Rounds** run in batches of [`BATCH`]. The first batch is the random search's first
//!   runs (run `i` is `sweep`'s run `i`: seed [`sweep::seed_for`]`(base, i)`, the profile's plan
//!   for it). After that each slot is, with probability 1/5, the random search's next fresh
//!   run, and otherwise a corpus entry with one to three [`Mutation`]s stacked on its plan.
//!   An entry is picked with weight the sum, over the probes it reached, of one over the
//!   number of runs that reached that probe: entries in rarely reached states are mutated
//!   most (the states a planted bug needs are the rare ones). A candidate that breaks the bounds ([`Bounds::check`]) after eight
//!   tries becomes a fresh run instead.
//! - Every draw comes from the stream `("guided", 0)` of the base seed, and a batch is
//!   planned before it runs and read in order after, so the plan sequence depends on the base
//!   seed alone, never on `--jobs`.
//!
//! The random search ([`Strategy::Random`]) is `sweep --stop-on-failure` run by run: it is
//! what the guided one is compared with on the same budget.

pub mod mutate;

use crate::runner::{self, Outcome};
use crate::scenario::Scenario;
use crate::sweep;
pub use mutate::{Bounds, Mutation, mutate};
use ruckus_sim::{FaultPlan, Random, Verdict};
use std::collections::{BTreeMap, BTreeSet};

/// Candidates planned (and run in parallel) together; fixed, so results do not depend on jobs.
pub const BATCH: usize = 8;

/// The share of guided slots given to a fresh random run.
pub const FRESH_SHARE: f64 = 0.2;

/// Tries at a valid mutant before a slot falls back to a fresh run.
const TRIES: usize = 8;

/// Which search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Coverage-guided mutation of fault plans.
    Guided,
    /// Plain seeds, as a sweep runs them.
    Random,
}

/// Where a candidate came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The random search's run with this index (its seed and the profile's plan for it).
    Fresh(u64),
    /// Corpus entry `parent` with these mutations applied in order.
    Mutated {
        /// Index into the corpus.
        parent: usize,
        /// The mutations, in the order applied.
        mutations: Vec<Mutation>,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Fresh(i) => write!(f, "fresh run (sweep index {i})"),
            Origin::Mutated { parent, mutations } => {
                let names: Vec<&str> = mutations.iter().map(|m| m.name()).collect();
                write!(f, "corpus entry {parent} mutated by {}", names.join(", "))
            }
        }
    }
}

/// One run the search decided on.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The run's seed.
    pub seed: u64,
    /// Its fault plan.
    pub plan: FaultPlan,
    /// How it was made.
    pub origin: Origin,
}

/// A corpus entry: a run that reached new coverage.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The run's seed (its workload draws and buggify choices).
    pub seed: u64,
    /// Its plan.
    pub plan: FaultPlan,
    /// The probes it reached.
    pub probes: BTreeSet<String>,
}

/// The search's state between batches.
#[derive(Debug)]
pub struct Search {
    scenario: Scenario,
    strategy: Strategy,
    base_seed: u64,
    bounds: Bounds,
    rng: Random,
    next_fresh: u64,
    corpus: Vec<Entry>,
    probes: BTreeSet<String>,
    pairs: BTreeSet<(String, String)>,
    counts: BTreeSet<(String, u32)>,
    /// Runs that reached each probe.
    reached: BTreeMap<String, u64>,
}

/// The class of a hit count: 1, 2 and 3 apart, then one class per power of two.
pub fn hit_class(hits: u64) -> u32 {
    if hits < 4 {
        hits as u32
    } else {
        64 - hits.leading_zeros() + 1
    }
}

impl Search {
    /// A search of `scenario` from `base_seed`. `Err` when the scenario injects no faults.
    pub fn new(scenario: &Scenario, strategy: Strategy, base_seed: u64) -> Result<Search, String> {
        if !scenario.faults.enabled {
            return Err(format!(
                "scenario `{}` injects no faults (faults.enabled = false): there is no fault plan to search",
                scenario.name
            ));
        }
        let first = runner::fault_plan(scenario, sweep::seed_for(base_seed, 0));
        let topology = runner::topology(&scenario.topology);
        let profile = scenario
            .faults
            .plan
            .is_none()
            .then(|| scenario.faults.profile.clone());
        let bounds = Bounds::new(topology.hosts(), &first, scenario.limits.horizon, profile);
        Ok(Search {
            scenario: scenario.clone(),
            strategy,
            base_seed,
            bounds,
            rng: Random::stream(base_seed, "guided", 0),
            next_fresh: 0,
            corpus: Vec::new(),
            probes: BTreeSet::new(),
            pairs: BTreeSet::new(),
            counts: BTreeSet::new(),
            reached: BTreeMap::new(),
        })
    }

    /// The bounds mutations keep to.
    pub fn bounds(&self) -> &Bounds {
        &self.bounds
    }

    /// The corpus so far.
    pub fn corpus(&self) -> &[Entry] {
        &self.corpus
    }

    /// Probes and pairs of probes reached so far.
    pub fn coverage(&self) -> (usize, usize) {
        (self.probes.len(), self.pairs.len())
    }

    fn fresh(&mut self) -> Candidate {
        let index = self.next_fresh;
        self.next_fresh += 1;
        let seed = sweep::seed_for(self.base_seed, index);
        Candidate {
            seed,
            plan: runner::fault_plan(&self.scenario, seed),
            origin: Origin::Fresh(index),
        }
    }

    /// The next batch of `n` candidates.
    pub fn plan_batch(&mut self, n: usize) -> Vec<Candidate> {
        (0..n).map(|_| self.next_candidate()).collect()
    }

    fn next_candidate(&mut self) -> Candidate {
        if self.strategy == Strategy::Random || self.corpus.is_empty() || self.next_fresh < BATCH as u64 {
            return self.fresh();
        }
        // Always drawn, so the stream's use does not depend on the corpus's size.
        if self.rng.chance(FRESH_SHARE) {
            return self.fresh();
        }
        for _ in 0..TRIES {
            if let Some(c) = self.mutant() {
                return c;
            }
        }
        self.fresh()
    }

    /// A corpus entry, weighted by the rarity of the probes it reached (see the module docs).
    fn pick_parent(&mut self) -> usize {
        let weights: Vec<f64> = self
            .corpus
            .iter()
            .map(|e| {
                let rarity: f64 = e
                    .probes
                    .iter()
                    .map(|p| 1.0 / self.reached.get(p).copied().unwrap_or(1).max(1) as f64)
                    .sum();
                // An entry that reached no probe still gets picked now and then.
                rarity.max(1.0 / (1.0 + self.corpus.len() as f64))
            })
            .collect();
        let mut ticket = self.rng.unit() * weights.iter().sum::<f64>();
        for (i, w) in weights.iter().enumerate() {
            if ticket < *w {
                return i;
            }
            ticket -= w;
        }
        self.corpus.len() - 1
    }

    /// One mutant of a corpus entry, or `None` if it breaks the bounds.
    fn mutant(&mut self) -> Option<Candidate> {
        let parent = self.pick_parent();
        let mut seed = self.corpus[parent].seed;
        let mut plan = self.corpus[parent].plan.clone();
        let allowed: Vec<Mutation> = Mutation::ALL
            .into_iter()
            .filter(|m| self.bounds.allows(*m))
            .filter(|m| *m != Mutation::Combine || self.corpus.len() >= 2)
            .collect();
        let total: u64 = allowed.iter().map(|m| m.weight()).sum();
        let count = 1 + self.rng.below(3);
        let mut mutations = Vec::new();
        for _ in 0..count {
            let mut ticket = self.rng.below(total);
            let m = *allowed
                .iter()
                .find(|m| {
                    let hit = ticket < m.weight();
                    ticket = ticket.saturating_sub(m.weight());
                    hit
                })
                .unwrap_or(&Mutation::Move);
            let applied = match m {
                Mutation::Reseed => {
                    seed = self.rng.next_u64();
                    true
                }
                Mutation::Combine => {
                    let mut other = self.rng.index(self.corpus.len() - 1);
                    if other >= parent {
                        other += 1;
                    }
                    let other = self.corpus[other].plan.clone();
                    mutate(&mut plan, m, Some(&other), &self.bounds, &mut self.rng)
                }
                _ => mutate(&mut plan, m, None, &self.bounds, &mut self.rng),
            };
            if applied {
                mutations.push(m);
            }
        }
        if mutations.is_empty() || self.bounds.check(&plan).is_err() {
            return None;
        }
        Some(Candidate {
            seed,
            plan,
            origin: Origin::Mutated { parent, mutations },
        })
    }

    /// Takes in a finished run: its coverage, and the corpus entry if it was new. Returns
    /// whether it was.
    pub fn observe(&mut self, candidate: &Candidate, outcome: &Outcome) -> bool {
        let reached: BTreeSet<String> = outcome.report.probes.iter().map(|p| p.name.clone()).collect();
        let mut new = self.corpus.is_empty();
        for p in &reached {
            new |= self.probes.insert(p.clone());
            *self.reached.entry(p.clone()).or_insert(0) += 1;
        }
        for p in &outcome.report.probes {
            new |= self.counts.insert((p.name.clone(), hit_class(p.hits)));
        }
        let names: Vec<&String> = reached.iter().collect();
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                new |= self.pairs.insert(((*a).clone(), (*b).clone()));
            }
        }
        if new && self.strategy == Strategy::Guided {
            self.corpus.push(Entry {
                seed: candidate.seed,
                plan: candidate.plan.clone(),
                probes: reached,
            });
        }
        new
    }
}

/// A failure the search found.
#[derive(Clone, Debug)]
pub struct Found {
    /// Runs made up to and including the failing one (1-based).
    pub runs: u64,
    /// The failing candidate.
    pub candidate: Candidate,
    /// Its run.
    pub outcome: Outcome,
}

/// What a search did.
#[derive(Clone, Debug)]
pub struct HuntResult {
    /// Runs made (up to the failure when one was found).
    pub runs: u64,
    /// The first failure, if any.
    pub found: Option<Found>,
    /// Corpus entries at the end.
    pub corpus: usize,
    /// Distinct probes reached.
    pub probes: usize,
    /// Distinct pairs of probes reached together.
    pub pairs: usize,
    /// Events processed by the runs counted.
    pub events: u64,
}

/// Searches `scenario` from `base_seed` for at most `budget` runs on `jobs` threads, stopping
/// at the first run whose verdict is not `held`. `on_run` sees every counted run in order.
pub fn hunt(
    scenario: &Scenario,
    strategy: Strategy,
    base_seed: u64,
    budget: u64,
    jobs: usize,
    on_run: &mut dyn FnMut(u64, &Candidate, &Outcome),
) -> Result<HuntResult, String> {
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| format!("cannot start {jobs} worker threads: {e}"))?;
    let mut search = Search::new(scenario, strategy, base_seed)?;
    let mut runs = 0u64;
    let mut events = 0u64;
    let mut found = None;
    while runs < budget && found.is_none() {
        let n = usize::try_from((budget - runs).min(BATCH as u64)).unwrap_or(BATCH);
        let batch = search.plan_batch(n);
        let outcomes: Vec<Outcome> = pool.install(|| {
            batch
                .par_iter()
                .with_max_len(1)
                .map(|c| runner::run_plan(scenario, c.seed, c.plan.clone()))
                .collect()
        });
        for (candidate, outcome) in batch.into_iter().zip(outcomes) {
            runs += 1;
            events += outcome.report.events;
            on_run(runs, &candidate, &outcome);
            search.observe(&candidate, &outcome);
            if outcome.report.verdict != Verdict::Held {
                found = Some(Found {
                    runs,
                    candidate,
                    outcome,
                });
                break;
            }
        }
    }
    let (probes, pairs) = search.coverage();
    Ok(HuntResult {
        runs,
        found,
        corpus: search.corpus().len(),
        probes,
        pairs,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn scenario(name: &str) -> Scenario {
        Registry::builtin().scenario(name, &[]).unwrap()
    }

    /// The candidates of the first `runs` runs of a guided search of `name`.
    fn sequence(name: &str, base: u64, runs: u64) -> Vec<(u64, FaultPlan)> {
        let s = scenario(name);
        let mut seen = Vec::new();
        // A bug-free scenario, so the search runs its whole budget.
        hunt(&s, Strategy::Guided, base, runs, 2, &mut |_, c, _| {
            seen.push((c.seed, c.plan.clone()));
        })
        .unwrap();
        seen
    }

    #[test]
    fn the_same_base_seed_gives_the_same_plans() {
        let a = sequence("lease_lock", 5, 40);
        assert_eq!(a.len(), 40);
        assert_eq!(a, sequence("lease_lock", 5, 40));
        assert_ne!(a, sequence("lease_lock", 6, 40));
        // Past the first batch, the search mutates: plans no profile draw gave.
        let s = scenario("lease_lock");
        let mutated = a[BATCH..]
            .iter()
            .filter(|(seed, plan)| *plan != runner::fault_plan(&s, *seed))
            .count();
        assert!(mutated > 10, "{mutated} of {} mutated", a.len() - BATCH);
    }

    #[test]
    fn the_first_batch_is_the_random_searchs_first_runs() {
        let s = scenario("lease_lock");
        let mut search = Search::new(&s, Strategy::Guided, 3).unwrap();
        let batch = search.plan_batch(BATCH);
        for (i, c) in batch.iter().enumerate() {
            assert_eq!(c.origin, Origin::Fresh(i as u64));
            assert_eq!(c.seed, sweep::seed_for(3, i as u64));
        }
    }

    #[test]
    fn hit_classes_are_powers_of_two_past_three() {
        let classes: Vec<u32> = [1, 2, 3, 4, 7, 8, 15, 16, 1000].map(hit_class).to_vec();
        assert_eq!(classes, vec![1, 2, 3, 4, 4, 5, 5, 6, 11]);
    }

    #[test]
    fn a_scenario_without_faults_is_refused() {
        let s = Registry::builtin()
            .scenario("lease_lock", &["faults.enabled=false".to_owned()])
            .unwrap();
        let err = Search::new(&s, Strategy::Guided, 1).unwrap_err();
        assert!(err.contains("injects no faults"), "{err}");
    }
}
