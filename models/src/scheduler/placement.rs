//! Placement: which node an allocation goes to. Pure functions over plain data, so they are
//! unit-tested with hand-computed numbers and shared by every scheduler worker.
//!
//! The shape follows Nomad's: filter the nodes to the feasible ones, rank a limited random
//! sample of them (service jobs: `max(2, ceil(log2 n))` nodes, batch jobs: 2, the "power of two
//! choices"), and take the best. A node's rank is the mean of the scores that apply to it: the
//! fit score (bin-pack or spread), the job anti-affinity penalty (only where the task group
//! already runs), and the spread score over an attribute (only when the group asks for one).

use ruckus_sim::{Duration, Random};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Identifies a node (a client host) in the cluster state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u32);

/// Compute resources: what a node offers and what an allocation asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resources {
    /// CPU in MHz.
    pub cpu_mhz: u64,
    /// Memory in MB.
    pub memory_mb: u64,
}

impl Resources {
    /// Resources of `cpu_mhz` MHz and `memory_mb` MB.
    pub const fn new(cpu_mhz: u64, memory_mb: u64) -> Resources {
        Resources { cpu_mhz, memory_mb }
    }

    /// The sum of two amounts.
    pub fn plus(self, other: Resources) -> Resources {
        Resources::new(self.cpu_mhz + other.cpu_mhz, self.memory_mb + other.memory_mb)
    }

    /// The difference of two amounts, never below zero.
    pub fn minus(self, other: Resources) -> Resources {
        Resources::new(
            self.cpu_mhz.saturating_sub(other.cpu_mhz),
            self.memory_mb.saturating_sub(other.memory_mb),
        )
    }

    /// Whether every dimension of `self` is at most `capacity`'s.
    pub fn fits_in(self, capacity: Resources) -> bool {
        self.cpu_mhz <= capacity.cpu_mhz && self.memory_mb <= capacity.memory_mb
    }
}

/// A node attribute that constraints and spreads name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    /// The node's datacenter.
    Datacenter,
    /// The node's rack.
    Rack,
    /// The node's class (hardware or role).
    Class,
    /// The node's availability zone.
    Zone,
}

/// The attributes a node registers with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeAttributes {
    /// Datacenter name.
    pub datacenter: String,
    /// Rack name.
    pub rack: String,
    /// Node class.
    pub class: String,
    /// Zone name.
    pub zone: String,
}

impl NodeAttributes {
    /// The value of one attribute.
    pub fn get(&self, attribute: Attribute) -> &str {
        match attribute {
            Attribute::Datacenter => &self.datacenter,
            Attribute::Rack => &self.rack,
            Attribute::Class => &self.class,
            Attribute::Zone => &self.zone,
        }
    }
}

/// Service jobs run until stopped; batch jobs run to completion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Long-running: failed allocations are replaced, forever.
    #[default]
    Service,
    /// Runs to completion: a completed allocation is not replaced.
    Batch,
}

/// A placement constraint of a task group.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Constraint {
    /// The node's attribute must equal the value.
    AttributeEquals {
        /// Which attribute.
        attribute: Attribute,
        /// The value it must have.
        value: String,
    },
    /// No two allocations of the job on one node.
    DistinctHosts,
}

/// A set of identical allocations of a job.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskGroup {
    /// How many allocations should run.
    pub count: u32,
    /// What each allocation needs.
    pub resources: Resources,
    /// Where allocations may go.
    pub constraints: Vec<Constraint>,
    /// Spread allocations evenly over the values of this attribute.
    pub spread: Option<Attribute>,
    /// How each allocation's task behaves once started (the workload, not a placement input).
    pub task: TaskSpec,
}

/// How a task behaves when run: the workload's side of a task group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskSpec {
    /// The task exits successfully after this long (batch work); `None`: runs until stopped.
    pub run_for: Option<Duration>,
    /// The task crashes this long after every start (a crash-looping release).
    pub fail_after: Option<Duration>,
    /// The service the task's instance offers, for a system that runs tasks as service
    /// instances (the platform's tier); `None` for the scheduler's own tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<u32>,
}

// By hand so that a task without a service hashes as before the field existed (message
// digests, and so fingerprints, of scheduler runs stay the same).
impl std::hash::Hash for TaskSpec {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.run_for.hash(state);
        self.fail_after.hash(state);
        if let Some(service) = self.service {
            service.hash(state);
        }
    }
}

impl Default for TaskGroup {
    fn default() -> Self {
        TaskGroup {
            count: 1,
            resources: Resources::new(500, 256),
            constraints: Vec::new(),
            spread: None,
            task: TaskSpec::default(),
        }
    }
}

/// A job: a name, a kind and task groups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Job {
    /// Unique name.
    pub name: String,
    /// Service or batch.
    pub kind: JobKind,
    /// The groups, scheduled independently.
    pub groups: Vec<TaskGroup>,
}

/// How the fit of a node is scored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitAlgorithm {
    /// Prefer the fullest node (Nomad's default): fewer nodes busy, room for big asks.
    #[default]
    Binpack,
    /// Prefer the emptiest node: load evenly spread.
    Spread,
}

/// One node as placement sees it, with what is already on it (committed and planned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// The node.
    pub id: NodeId,
    /// What it offers.
    pub capacity: Resources,
    /// What its allocations (committed and in this plan) use.
    pub used: Resources,
    /// Its attributes (borrowed from the state: cloning them per node per evaluation was a
    /// quarter of a 5,000-node run).
    pub attributes: &'a NodeAttributes,
    /// Allocations of the job being placed on it.
    pub job_allocs: u32,
    /// Allocations of the task group being placed on it.
    pub group_allocs: u32,
}

/// The number of feasible nodes ranked per placement: `max(2, ceil(log2 nodes))` for service
/// jobs, 2 for batch jobs (Nomad's limits: enough choice to pack well, cheap to compute).
pub fn sample_limit(kind: JobKind, nodes: usize) -> usize {
    match kind {
        JobKind::Batch => 2,
        JobKind::Service => {
            let log = if nodes <= 1 {
                0
            } else {
                (usize::BITS - (nodes - 1).leading_zeros()) as usize
            };
            log.max(2)
        }
    }
}

/// Whether an allocation of `group` (of a job) can go on `node`: it fits and every constraint
/// holds. Node status (ready, eligible, not draining) is the caller's filter.
pub fn feasible(node: &Candidate, group: &TaskGroup) -> bool {
    if !node.used.plus(group.resources).fits_in(node.capacity) {
        return false;
    }
    group.constraints.iter().all(|c| match c {
        Constraint::AttributeEquals { attribute, value } => node.attributes.get(*attribute) == value,
        Constraint::DistinctHosts => node.job_allocs == 0,
    })
}

fn free_fraction(used: u64, capacity: u64) -> f64 {
    if capacity == 0 {
        return 0.0;
    }
    1.0 - used as f64 / capacity as f64
}

/// The fit score of `node` once `ask` is added, in [0, 1]. With f the free fraction of CPU and
/// of memory after placing: bin-pack is `20 - (10^f_cpu + 10^f_mem)`, spread is
/// `(10^f_cpu + 10^f_mem) - 2`, each clamped to [0, 18] and divided by 18.
pub fn fit_score(algorithm: FitAlgorithm, node: &Candidate, ask: Resources) -> f64 {
    let after = node.used.plus(ask);
    let cpu = free_fraction(after.cpu_mhz, node.capacity.cpu_mhz);
    let mem = free_fraction(after.memory_mb, node.capacity.memory_mb);
    let total = 10f64.powf(cpu) + 10f64.powf(mem);
    let raw = match algorithm {
        FitAlgorithm::Binpack => 20.0 - total,
        FitAlgorithm::Spread => total - 2.0,
    };
    raw.clamp(0.0, 18.0) / 18.0
}

/// The job anti-affinity penalty: `-(allocations of the group already on the node) / count`,
/// at least -1; `None` (not counted in the mean) where the group has none on the node.
pub fn anti_affinity(node: &Candidate, group: &TaskGroup) -> Option<f64> {
    if node.group_allocs == 0 {
        return None;
    }
    let count = f64::from(group.count.max(1));
    Some((-f64::from(node.group_allocs) / count).max(-1.0))
}

/// Counts of the group's allocations per value of `attribute` over `nodes` (values with none
/// count zero), for the spread score.
pub fn spread_counts(nodes: &[Candidate], attribute: Attribute) -> BTreeMap<String, u32> {
    let mut counts = BTreeMap::new();
    for node in nodes {
        *counts
            .entry(node.attributes.get(attribute).to_owned())
            .or_insert(0) += node.group_allocs;
    }
    counts
}

/// The spread score of a node whose attribute value has `count` of the group's allocations,
/// given the counts of every value: `1 - 2 (count - min) / (max - min)`, so the emptiest value
/// scores 1 and the fullest -1; 0 when every value has the same count (no preference).
pub fn spread_score(count: u32, counts: &BTreeMap<String, u32>) -> f64 {
    let min = counts.values().copied().min().unwrap_or(0);
    let max = counts.values().copied().max().unwrap_or(0);
    if max == min {
        return 0.0;
    }
    1.0 - 2.0 * f64::from(count.saturating_sub(min)) / f64::from(max - min)
}

/// The rank of a feasible node: the mean of the fit score, the anti-affinity penalty (where
/// it applies) and the spread score (where the group asks for one).
pub fn rank(
    algorithm: FitAlgorithm,
    node: &Candidate,
    group: &TaskGroup,
    counts: Option<&BTreeMap<String, u32>>,
) -> f64 {
    let mut sum = fit_score(algorithm, node, group.resources);
    let mut terms = 1.0;
    if let Some(penalty) = anti_affinity(node, group) {
        sum += penalty;
        terms += 1.0;
    }
    if let (Some(attribute), Some(counts)) = (group.spread, counts) {
        let value = node.attributes.get(attribute);
        sum += spread_score(counts.get(value).copied().unwrap_or(0), counts);
        terms += 1.0;
    }
    sum / terms
}

/// The outcome of placing one allocation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    /// The chosen node's index in the candidate slice, if any node was feasible.
    pub index: Option<usize>,
    /// The chosen node's rank.
    pub score: f64,
    /// Nodes examined (feasibility checked), what scheduling time is charged for.
    pub examined: u32,
    /// Feasible nodes ranked.
    pub ranked: u32,
}

/// Places one allocation of `group`: walks the candidates in a random order drawn from `rng`,
/// checks feasibility, ranks the first `limit` feasible ones and returns the best (the first
/// of equals). Nodes are examined until the limit is reached or the candidates run out.
pub fn choose(
    algorithm: FitAlgorithm,
    nodes: &[Candidate],
    group: &TaskGroup,
    limit: usize,
    rng: &mut Random,
) -> Choice {
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    rng.shuffle(&mut order);
    let counts = group.spread.map(|a| spread_counts(nodes, a));
    let mut best: Option<(usize, f64)> = None;
    let mut examined = 0;
    let mut ranked = 0;
    for i in order {
        if ranked as usize >= limit {
            break;
        }
        examined += 1;
        let node = &nodes[i];
        if !feasible(node, group) {
            continue;
        }
        ranked += 1;
        let score = rank(algorithm, node, group, counts.as_ref());
        if best.is_none_or(|(_, b)| score > b) {
            best = Some((i, score));
        }
    }
    Choice {
        index: best.map(|(i, _)| i),
        score: best.map_or(0.0, |(_, s)| s),
        examined,
        ranked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u32, cap: (u64, u64), used: (u64, u64)) -> Candidate<'static> {
        Candidate {
            id: NodeId(id),
            capacity: Resources::new(cap.0, cap.1),
            used: Resources::new(used.0, used.1),
            attributes: Box::leak(Box::new(NodeAttributes {
                datacenter: "dc1".into(),
                rack: format!("r{}", id % 2),
                class: "std".into(),
                zone: format!("z{}", id % 3),
            })),
            job_allocs: 0,
            group_allocs: 0,
        }
    }

    fn group(cpu: u64, mem: u64) -> TaskGroup {
        TaskGroup {
            count: 4,
            resources: Resources::new(cpu, mem),
            constraints: vec![],
            spread: None,
            task: TaskSpec::default(),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn sample_limit_is_log2_for_service_and_two_for_batch() {
        let service: Vec<usize> = [0, 1, 2, 3, 4, 5, 8, 9, 16, 17, 100, 1000, 1024, 1025]
            .iter()
            .map(|&n| sample_limit(JobKind::Service, n))
            .collect();
        // ceil(log2 n): 5 -> 3, 9 -> 4, 17 -> 5, 100 -> 7, 1000 -> 10, 1025 -> 11; at least 2.
        assert_eq!(service, vec![2, 2, 2, 2, 2, 3, 3, 4, 4, 5, 7, 10, 10, 11]);
        for n in [0, 1, 5, 100, 10_000] {
            assert_eq!(sample_limit(JobKind::Batch, n), 2);
        }
    }

    #[test]
    fn choose_ranks_exactly_the_sample_limit() {
        let nodes: Vec<Candidate> = (0..100).map(|i| node(i, (4000, 4000), (0, 0))).collect();
        let g = group(100, 100);
        let mut rng = Random::stream(1, "t", 0);
        let c = choose(
            FitAlgorithm::Binpack,
            &nodes,
            &g,
            sample_limit(JobKind::Service, 100),
            &mut rng,
        );
        assert_eq!((c.ranked, c.examined), (7, 7));
        let c = choose(
            FitAlgorithm::Binpack,
            &nodes,
            &g,
            sample_limit(JobKind::Batch, 100),
            &mut rng,
        );
        assert_eq!((c.ranked, c.examined), (2, 2));
        // Infeasible nodes are examined (and charged for) but not ranked.
        let mut mixed = nodes.clone();
        for n in mixed.iter_mut().filter(|n| n.id.0 % 2 == 0) {
            n.used = n.capacity;
        }
        let c = choose(FitAlgorithm::Binpack, &mixed, &g, 7, &mut rng);
        assert_eq!(c.ranked, 7);
        assert!(c.examined >= 7);
        assert_eq!(mixed[c.index.unwrap()].id.0 % 2, 1);
    }

    #[test]
    fn binpack_and_spread_fit_scores_by_hand() {
        // Half free after placing: 10^0.5 = 3.16227766; total 6.32455532.
        let n = node(0, (1000, 2000), (400, 900));
        let ask = Resources::new(100, 100);
        assert!(close(
            fit_score(FitAlgorithm::Binpack, &n, ask),
            (20.0 - 6.324_555_320_336_759) / 18.0
        ));
        assert!(close(
            fit_score(FitAlgorithm::Spread, &n, ask),
            (6.324_555_320_336_759 - 2.0) / 18.0
        ));
        // Full after placing: 20 - 2 = 18 -> 1.0 (bin-pack's favourite), spread 0.
        let full = node(1, (1000, 1000), (900, 900));
        assert!(close(fit_score(FitAlgorithm::Binpack, &full, ask), 1.0));
        assert!(close(fit_score(FitAlgorithm::Spread, &full, ask), 0.0));
        // Empty node asking nothing: 20 - 20 = 0 for bin-pack, 18 -> 1.0 for spread.
        let empty = node(2, (1000, 1000), (0, 0));
        assert!(close(
            fit_score(FitAlgorithm::Binpack, &empty, Resources::default()),
            0.0
        ));
        assert!(close(
            fit_score(FitAlgorithm::Spread, &empty, Resources::default()),
            1.0
        ));
        // CPU 75% free (10^0.75 = 5.62341325), memory 10% free (10^0.1 = 1.25892541).
        let skew = node(3, (1000, 1000), (150, 800));
        let total = 5.623_413_251_903_491 + 1.258_925_411_794_167_2;
        assert!(close(
            fit_score(FitAlgorithm::Binpack, &skew, ask),
            (20.0 - total) / 18.0
        ));
    }

    #[test]
    fn binpack_prefers_the_fuller_node_and_spread_the_emptier() {
        let nodes = vec![node(0, (1000, 1000), (800, 800)), node(1, (1000, 1000), (0, 0))];
        let g = group(100, 100);
        let mut rng = Random::stream(2, "t", 0);
        let c = choose(FitAlgorithm::Binpack, &nodes, &g, 2, &mut rng);
        assert_eq!(c.index, Some(0));
        let c = choose(FitAlgorithm::Spread, &nodes, &g, 2, &mut rng);
        assert_eq!(c.index, Some(1));
    }

    #[test]
    fn feasibility_checks_capacity_and_constraints() {
        let mut g = group(600, 100);
        let n = node(0, (1000, 1000), (400, 0));
        assert!(feasible(&n, &g));
        g.resources.cpu_mhz = 601;
        assert!(!feasible(&n, &g));
        g.resources.cpu_mhz = 100;
        g.constraints = vec![Constraint::AttributeEquals {
            attribute: Attribute::Rack,
            value: "r1".into(),
        }];
        assert!(!feasible(&n, &g));
        assert!(feasible(&node(1, (1000, 1000), (0, 0)), &g));
        g.constraints = vec![Constraint::DistinctHosts];
        let mut busy = node(1, (1000, 1000), (0, 0));
        assert!(feasible(&busy, &g));
        busy.job_allocs = 1;
        assert!(!feasible(&busy, &g));
    }

    #[test]
    fn anti_affinity_and_spread_scores_by_hand() {
        let g = group(100, 100); // count 4
        let mut n = node(0, (1000, 1000), (0, 0));
        assert_eq!(anti_affinity(&n, &g), None);
        n.group_allocs = 1;
        assert_eq!(anti_affinity(&n, &g), Some(-0.25));
        n.group_allocs = 6;
        assert_eq!(anti_affinity(&n, &g), Some(-1.0));

        let counts: BTreeMap<String, u32> = [("a".into(), 1), ("b".into(), 3), ("c".into(), 5)].into();
        assert!(close(spread_score(1, &counts), 1.0));
        assert!(close(spread_score(3, &counts), 0.0));
        assert!(close(spread_score(5, &counts), -1.0));
        let even: BTreeMap<String, u32> = [("a".into(), 2), ("b".into(), 2)].into();
        assert!(close(spread_score(2, &even), 0.0));

        // The rank averages the terms that apply: fit, penalty and spread.
        let mut s = group(100, 100);
        s.spread = Some(Attribute::Zone);
        let mut m = node(0, (1000, 1000), (400, 400)); // zone z0, half free after placing
        m.group_allocs = 1;
        let zc: BTreeMap<String, u32> = [("z0".into(), 1), ("z1".into(), 0), ("z2".into(), 3)].into();
        let fit = (20.0 - 6.324_555_320_336_759) / 18.0;
        let expected = (fit - 0.25 + (1.0 - 2.0 / 3.0)) / 3.0;
        assert!(close(rank(FitAlgorithm::Binpack, &m, &s, Some(&zc)), expected));
    }

    #[test]
    fn spread_placement_fills_the_emptiest_zone() {
        let mut g = group(100, 100);
        g.spread = Some(Attribute::Zone);
        // Zones: nodes 0,3 in z0; 1,4 in z1; 2,5 in z2. z0 and z1 hold allocations already.
        let mut nodes: Vec<Candidate> = (0..6).map(|i| node(i, (4000, 4000), (0, 0))).collect();
        nodes[0].group_allocs = 2;
        nodes[1].group_allocs = 1;
        let mut rng = Random::stream(3, "t", 0);
        let c = choose(FitAlgorithm::Binpack, &nodes, &g, nodes.len(), &mut rng);
        assert_eq!(nodes[c.index.unwrap()].attributes.zone, "z2");
    }

    #[test]
    fn no_feasible_node_gives_no_choice() {
        let nodes = vec![node(0, (100, 100), (0, 0))];
        let mut rng = Random::stream(4, "t", 0);
        let c = choose(FitAlgorithm::Binpack, &nodes, &group(200, 10), 2, &mut rng);
        assert_eq!((c.index, c.examined, c.ranked), (None, 1, 0));
    }
}
