//! The network: a topology graph, partitions, slow and clogged links, and per-message chaos.
//!
//! The topology is a petgraph graph of hosts and switches joined by links, each with a latency
//! distribution; a switch may add its own fabric latency when traversed. When the network is
//! built, the shortest path (by mean latency) between every pair of hosts is folded into a
//! pair table: a constant part plus the few hops that must be sampled. Partitions, slow links and
//! clogs are applied to the same table when they change, so sending a message is a table lookup.

use crate::clock::ClockConfig;
use crate::rng::{Distribution, Random};
use crate::time::{Duration, Instant};
use petgraph::graph::{NodeIndex, UnGraph};
use petgraph::visit::EdgeRef;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;

/// Identifies a host (a machine) in a run; hosts are numbered from 0 in the order added.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HostId(pub u32);

impl HostId {
    /// The index into per-host tables.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}
impl fmt::Debug for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "h{}", self.0)
    }
}
impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "h{}", self.0)
    }
}

/// A host as the topology describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostSpec {
    /// Human-readable name, used in reports and traces.
    pub name: String,
    /// The failure domain the host lives in, if any (zone cuts act on it).
    pub zone: Option<String>,
    /// The host clock's initial offset and drift.
    pub clock: ClockConfig,
}

#[derive(Clone, Debug)]
enum Node {
    Host,
    Switch { fabric: Distribution },
}

/// The physical layout: hosts, switches and the links between them.
#[derive(Clone, Debug)]
pub struct Topology {
    graph: UnGraph<Node, Distribution>,
    hosts: Vec<HostSpec>,
    host_nodes: Vec<NodeIndex>,
    /// Latency between two processes on the same host.
    pub loopback: Distribution,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            graph: UnGraph::default(),
            hosts: Vec::new(),
            host_nodes: Vec::new(),
            loopback: Distribution::constant(Duration::from_micros(1)),
        }
    }
}

/// Identifies a switch in a topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwitchId(NodeIndex);

impl Topology {
    /// An empty topology.
    pub fn new() -> Topology {
        Topology::default()
    }

    /// Adds a host and returns its id.
    pub fn add_host(&mut self, spec: HostSpec) -> HostId {
        let id = HostId(self.hosts.len() as u32);
        self.host_nodes.push(self.graph.add_node(Node::Host));
        self.hosts.push(spec);
        id
    }

    /// Adds a switch that adds `fabric` latency to every path crossing it.
    pub fn add_switch(&mut self, fabric: Distribution) -> SwitchId {
        SwitchId(self.graph.add_node(Node::Switch { fabric }))
    }

    /// Connects a host to a switch.
    pub fn link_host(&mut self, host: HostId, switch: SwitchId, latency: Distribution) {
        self.graph
            .add_edge(self.host_nodes[host.index()], switch.0, latency);
    }

    /// Connects two switches.
    pub fn link_switches(&mut self, a: SwitchId, b: SwitchId, latency: Distribution) {
        self.graph.add_edge(a.0, b.0, latency);
    }

    /// Connects two hosts directly.
    pub fn link_hosts(&mut self, a: HostId, b: HostId, latency: Distribution) {
        self.graph
            .add_edge(self.host_nodes[a.index()], self.host_nodes[b.index()], latency);
    }

    /// `n` hosts named `h0..`, all on one switch whose fabric latency is `latency`; host links
    /// add nothing, so every pair of hosts sees exactly `latency`.
    pub fn single_switch(n: u32, latency: Distribution) -> Topology {
        let mut t = Topology::new();
        let switch = t.add_switch(latency);
        for i in 0..n {
            let h = t.add_host(HostSpec {
                name: format!("h{i}"),
                zone: None,
                clock: ClockConfig::default(),
            });
            t.link_host(h, switch, Distribution::constant(Duration::ZERO));
        }
        t
    }

    /// Hosts spread round-robin over `zones` zones: hosts in one zone share a switch (fabric
    /// `intra_zone`), and zone switches are joined in a full mesh by links of `inter_zone`.
    pub fn zoned(n: u32, zones: u32, intra_zone: Distribution, inter_zone: Distribution) -> Topology {
        assert!(zones > 0, "at least one zone");
        let mut t = Topology::new();
        let switches: Vec<SwitchId> = (0..zones).map(|_| t.add_switch(intra_zone)).collect();
        for (i, a) in switches.iter().enumerate() {
            for b in &switches[i + 1..] {
                t.link_switches(*a, *b, inter_zone);
            }
        }
        for i in 0..n {
            let z = i % zones;
            let h = t.add_host(HostSpec {
                name: format!("h{i}"),
                zone: Some(format!("z{z}")),
                clock: ClockConfig::default(),
            });
            t.link_host(h, switches[z as usize], Distribution::constant(Duration::ZERO));
        }
        t
    }

    /// The hosts, indexed by `HostId`.
    pub fn hosts(&self) -> &[HostSpec] {
        &self.hosts
    }

    /// Mutable access to a host's description (to set its clock or zone).
    pub fn host_mut(&mut self, host: HostId) -> &mut HostSpec {
        &mut self.hosts[host.index()]
    }

    /// The distinct zone names, sorted.
    pub fn zones(&self) -> Vec<String> {
        let mut z: Vec<String> = self.hosts.iter().filter_map(|h| h.zone.clone()).collect();
        z.sort();
        z.dedup();
        z
    }

    /// Shortest paths from `source` by mean latency; returns each host's predecessor chain as
    /// the list of latency distributions along the path (None if unreachable).
    fn paths_from(&self, source: HostId) -> Vec<Option<Vec<Distribution>>> {
        let g = &self.graph;
        let start = self.host_nodes[source.index()];
        let mut dist = vec![u64::MAX; g.node_count()];
        let mut prev: Vec<Option<(NodeIndex, Distribution)>> = vec![None; g.node_count()];
        let mut heap = BinaryHeap::new();
        dist[start.index()] = 0;
        heap.push(Reverse((0u64, start.index())));
        while let Some(Reverse((d, u))) = heap.pop() {
            if d > dist[u] {
                continue;
            }
            let u_idx = NodeIndex::new(u);
            // Paths go through switches only; a host is an endpoint, never a relay.
            if u_idx != start && matches!(g[u_idx], Node::Host) {
                continue;
            }
            // Edges in insertion order; ties keep the first path found, so routes are stable.
            let mut edges: Vec<_> = g.edges(u_idx).collect();
            edges.sort_by_key(|e| e.id());
            for e in edges {
                let v = if e.source() == u_idx {
                    e.target()
                } else {
                    e.source()
                };
                let mut cost = e.weight().mean().0;
                if let Node::Switch { fabric } = &g[v] {
                    cost += fabric.mean().0;
                }
                let nd = d.saturating_add(cost);
                if nd < dist[v.index()] {
                    dist[v.index()] = nd;
                    prev[v.index()] = Some((u_idx, *e.weight()));
                    heap.push(Reverse((nd, v.index())));
                }
            }
        }
        self.host_nodes
            .iter()
            .map(|&target| {
                if dist[target.index()] == u64::MAX {
                    return None;
                }
                let mut hops = Vec::new();
                let mut at = target;
                while at != start {
                    let (p, link) = prev[at.index()].expect("reachable node has a predecessor");
                    hops.push(link);
                    if let Node::Switch { fabric } = &g[p] {
                        hops.push(*fabric);
                    }
                    at = p;
                }
                hops.reverse();
                Some(hops)
            })
            .collect()
    }
}

/// A partition: which directed host pairs cannot talk while it lasts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Partition {
    /// The host can neither send nor receive.
    Isolate {
        /// The isolated host.
        host: HostId,
    },
    /// Two sides that cannot talk to each other; `side` is one of them, the rest the other.
    Halves {
        /// One side of the split.
        side: Vec<HostId>,
    },
    /// Messages from `from` to `to` are dropped; the reverse direction still works.
    OneWay {
        /// Senders whose messages are cut.
        from: Vec<HostId>,
        /// Receivers that do not hear them.
        to: Vec<HostId>,
    },
    /// `left` and `right` cannot talk, but `bridge` talks to both (the classic bridge split).
    Bridge {
        /// One side.
        left: Vec<HostId>,
        /// The other side.
        right: Vec<HostId>,
        /// The host that still sees everyone (it is in neither side).
        bridge: HostId,
    },
    /// Every host in the zone is cut off from every host outside it.
    Zone {
        /// The zone name, as in the topology.
        zone: String,
    },
}

impl Partition {
    /// Whether this partition drops messages from `a` to `b`.
    pub fn blocks(&self, a: HostId, b: HostId, hosts: &[HostSpec]) -> bool {
        if a == b {
            return false;
        }
        match self {
            Partition::Isolate { host } => a == *host || b == *host,
            Partition::Halves { side } => side.contains(&a) != side.contains(&b),
            Partition::OneWay { from, to } => from.contains(&a) && to.contains(&b),
            Partition::Bridge { left, right, .. } => {
                (left.contains(&a) && right.contains(&b)) || (right.contains(&a) && left.contains(&b))
            }
            Partition::Zone { zone } => {
                let za = hosts[a.index()].zone.as_deref() == Some(zone.as_str());
                let zb = hosts[b.index()].zone.as_deref() == Some(zone.as_str());
                za != zb
            }
        }
    }
}

/// Per-message misbehaviour applied to every send while active. A field left out takes its
/// default, so `--set faults.profile.chaos.loss=0.1` changes one rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkChaos {
    /// Probability a message is dropped.
    pub loss: f64,
    /// Probability a message is delivered twice (the copy has its own latency).
    pub duplicate: f64,
    /// Probability a message is held back by an extra delay, overtaking later messages.
    pub reorder: f64,
    /// The largest extra delay a reordered message gets (uniform from zero).
    pub reorder_window: Duration,
}

impl Default for NetworkChaos {
    /// 5% loss, 2% duplication, 5% reordering within 20 ms.
    fn default() -> Self {
        NetworkChaos {
            loss: 0.05,
            duplicate: 0.02,
            reorder: 0.05,
            reorder_window: Duration::from_millis(20),
        }
    }
}

/// A path's latency recipe, shared by every host pair whose path has the same parts (on a
/// single switch, every pair but the loopback shares one).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Route {
    /// Sum of the constant parts of the path.
    constant_ns: u64,
    /// The hops that must be sampled: `hops[hop_start..hop_start + hop_len]`.
    hop_start: u32,
    hop_len: u32,
}

/// One host pair of the table, packed into 32 bits so that the table of a large topology stays
/// in cache (500 hosts: 1 MB rather than 8 MB): the low bits index the pair's [`Route`], and two
/// flags say whether the pair is cut and whether a slow-link or clog fault applies to it.
type PairCell = u32;
/// No physical path, or cut by an active partition.
const PAIR_BLOCKED: PairCell = 1 << 31;
/// A slow-link or clog fault applies: look the pair up in `Network::link_faults`.
const PAIR_LINK_FAULT: PairCell = 1 << 30;
/// The route index bits.
const PAIR_ROUTE: PairCell = PAIR_LINK_FAULT - 1;

/// The active slow-link and clog faults of one directed pair, folded together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LinkFault {
    /// Index of the pair in the table.
    pair: usize,
    /// Latency multiplier from slow-link faults (1 = normal).
    slow_factor: u32,
    /// Messages sent while clogged arrive no earlier than this.
    clog_until: u64,
}

/// An exact, orderable key for a distribution, used only to share identical routes.
fn distribution_key(d: &Distribution) -> [u64; 3] {
    match *d {
        Distribution::Constant { value } => [0, value.0, 0],
        Distribution::Uniform { min, max } => [1, min.0, max.0],
        Distribution::Normal { mean, std_dev } => [2, mean.0, std_dev.0],
        Distribution::LogNormal { median, sigma } => [3, median.0, sigma.to_bits()],
        Distribution::Exponential { mean } => [4, mean.0, 0],
    }
}

/// A pair's route with its link faults, as one send sees it.
#[derive(Clone, Copy, Debug)]
struct Path {
    route: Route,
    slow_factor: u32,
    clog_until: u64,
}

/// Where a sent message goes: nowhere, once, or twice (duplicated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transmission {
    /// Cut by a partition, lost to chaos, or no route.
    Dropped,
    /// Delivered once at the given true time.
    Once(Instant),
    /// Delivered twice (duplication).
    Twice(Instant, Instant),
}

/// The live network of a run: the pair table and the faults that shape it.
#[derive(Clone, Debug)]
pub struct Network {
    hosts: Vec<HostSpec>,
    n: usize,
    /// `n * n` cells, row-major by (sender, receiver).
    pairs: Vec<PairCell>,
    routes: Vec<Route>,
    hops: Vec<Distribution>,
    physical: Vec<bool>,
    /// Pairs with an active slow-link or clog fault (few, so a short list).
    link_faults: Vec<LinkFault>,
    /// When every host talks to itself through one cell value and to every other host through
    /// another (a single switch with no partition or link fault, the common case), those two
    /// cells: a send then needs no lookup in the `n * n` table, which for hundreds of hosts is a
    /// cache miss per message.
    uniform: Option<(PairCell, PairCell)>,
    loopback: Distribution,
    partitions: Vec<(u64, Partition)>,
    slow: Vec<(u64, HostId, HostId, u32)>,
    clogs: Vec<(u64, HostId, HostId, Instant)>,
    chaos: Option<NetworkChaos>,
}

impl Network {
    /// Builds the pair table for `topology`.
    pub fn new(topology: &Topology) -> Network {
        let n = topology.hosts.len();
        let mut pairs = Vec::with_capacity(n * n);
        let mut routes: Vec<Route> = Vec::new();
        let mut route_ids: BTreeMap<(u64, Vec<[u64; 3]>), PairCell> = BTreeMap::new();
        let mut hops = Vec::new();
        let mut physical = Vec::with_capacity(n * n);
        for a in 0..n {
            for (b, path) in topology.paths_from(HostId(a as u32)).into_iter().enumerate() {
                let blocked = path.is_none() && a != b;
                let mut constant_ns = 0u64;
                let mut sampled: Vec<Distribution> = Vec::new();
                if a == b {
                    if let Distribution::Constant { value } = topology.loopback {
                        constant_ns = value.0;
                    } else {
                        sampled.push(topology.loopback);
                    }
                } else {
                    for d in path.into_iter().flatten() {
                        match d {
                            Distribution::Constant { value } => constant_ns += value.0,
                            other => sampled.push(other),
                        }
                    }
                }
                let key = (constant_ns, sampled.iter().map(distribution_key).collect());
                let route = *route_ids.entry(key).or_insert_with(|| {
                    let id = routes.len() as PairCell;
                    assert!(id <= PAIR_ROUTE, "too many distinct routes for the pair table");
                    routes.push(Route {
                        constant_ns,
                        hop_start: hops.len() as u32,
                        hop_len: sampled.len() as u32,
                    });
                    hops.extend_from_slice(&sampled);
                    id
                });
                physical.push(!blocked);
                pairs.push(if blocked { route | PAIR_BLOCKED } else { route });
            }
        }
        let mut network = Network {
            hosts: topology.hosts.clone(),
            n,
            pairs,
            routes,
            hops,
            physical,
            link_faults: Vec::new(),
            uniform: None,
            loopback: topology.loopback,
            partitions: Vec::new(),
            slow: Vec::new(),
            clogs: Vec::new(),
            chaos: None,
        };
        network.refresh_uniform();
        network
    }

    /// Number of hosts.
    pub fn host_count(&self) -> usize {
        self.n
    }

    /// Whether a message from `a` to `b` would currently get through (ignoring chaos loss).
    pub fn reachable(&self, a: HostId, b: HostId) -> bool {
        self.pairs[a.index() * self.n + b.index()] & PAIR_BLOCKED == 0
    }

    /// Decides the fate of one message sent from `a` to `b` at `now`, drawing from `rng`.
    #[inline]
    pub fn transmit(&self, a: HostId, b: HostId, now: Instant, rng: &mut Random) -> Transmission {
        let index = a.index() * self.n + b.index();
        let cell = match self.uniform {
            Some((own, other)) => {
                if a == b {
                    own
                } else {
                    other
                }
            }
            None => self.pairs[index],
        };
        if cell & PAIR_BLOCKED != 0 {
            return Transmission::Dropped;
        }
        let pair = self.path(index, cell);
        match &self.chaos {
            None => Transmission::Once(self.arrival(&pair, now, rng)),
            Some(chaos) => self.chaotic_transmit(&pair, chaos, now, rng),
        }
    }

    /// The rare path, kept out of line so the common one inlines into every send.
    #[cold]
    #[inline(never)]
    fn chaotic_transmit(
        &self,
        pair: &Path,
        chaos: &NetworkChaos,
        now: Instant,
        rng: &mut Random,
    ) -> Transmission {
        if rng.chance(chaos.loss) {
            return Transmission::Dropped;
        }
        let first = self.chaotic_arrival(pair, chaos, now, rng);
        if rng.chance(chaos.duplicate) {
            Transmission::Twice(first, self.chaotic_arrival(pair, chaos, now, rng))
        } else {
            Transmission::Once(first)
        }
    }

    /// The latency recipe of a pair, with its link faults folded in.
    #[inline]
    fn path(&self, index: usize, cell: PairCell) -> Path {
        let route = self.routes[(cell & PAIR_ROUTE) as usize];
        let (slow_factor, clog_until) = if cell & PAIR_LINK_FAULT == 0 {
            (1, 0)
        } else {
            self.link_faults
                .iter()
                .find(|f| f.pair == index)
                .map_or((1, 0), |f| (f.slow_factor, f.clog_until))
        };
        Path {
            route,
            slow_factor,
            clog_until,
        }
    }

    fn chaotic_arrival(&self, pair: &Path, chaos: &NetworkChaos, now: Instant, rng: &mut Random) -> Instant {
        let t = self.arrival(pair, now, rng);
        if rng.chance(chaos.reorder) {
            t.saturating_add(Duration(rng.range_inclusive(0, chaos.reorder_window.0)))
        } else {
            t
        }
    }

    #[inline]
    fn arrival(&self, pair: &Path, now: Instant, rng: &mut Random) -> Instant {
        let mut latency = pair.route.constant_ns;
        let start = pair.route.hop_start as usize;
        for hop in &self.hops[start..start + pair.route.hop_len as usize] {
            latency += hop.sample(rng).0;
        }
        latency = latency.saturating_mul(u64::from(pair.slow_factor));
        Instant(now.0.saturating_add(latency).max(pair.clog_until))
    }

    /// Adds a partition under `id` (used later to remove it).
    pub fn add_partition(&mut self, id: u64, partition: Partition) {
        self.partitions.push((id, partition));
        self.recompute_blocked();
    }

    /// Removes the partition added under `id`, if present.
    pub fn remove_partition(&mut self, id: u64) {
        self.partitions.retain(|(i, _)| *i != id);
        self.recompute_blocked();
    }

    /// The active partitions.
    pub fn partitions(&self) -> impl Iterator<Item = &Partition> {
        self.partitions.iter().map(|(_, p)| p)
    }

    fn recompute_blocked(&mut self) {
        for a in 0..self.n {
            for b in 0..self.n {
                let i = a * self.n + b;
                let (ha, hb) = (HostId(a as u32), HostId(b as u32));
                let blocked =
                    !self.physical[i] || self.partitions.iter().any(|(_, p)| p.blocks(ha, hb, &self.hosts));
                if blocked {
                    self.pairs[i] |= PAIR_BLOCKED;
                } else {
                    self.pairs[i] &= !PAIR_BLOCKED;
                }
            }
        }
        self.refresh_uniform();
    }

    /// Recomputes `uniform` after the table changed.
    fn refresh_uniform(&mut self) {
        let n = self.n;
        let (Some(&own), Some(&other)) = (self.pairs.first(), self.pairs.get(1)) else {
            self.uniform = None;
            return;
        };
        let all_same = (0..n * n).all(|i| self.pairs[i] == if i / n == i % n { own } else { other });
        self.uniform = all_same.then_some((own, other));
    }

    /// Multiplies latency from `from` to `to` by `factor` until removed.
    pub fn add_slow(&mut self, id: u64, from: HostId, to: HostId, factor: u32) {
        self.slow.push((id, from, to, factor.max(1)));
        self.recompute_pair(from, to);
    }

    /// Holds messages from `from` to `to` until `until` (they arrive then, in a burst).
    pub fn add_clog(&mut self, id: u64, from: HostId, to: HostId, until: Instant) {
        self.clogs.push((id, from, to, until));
        self.recompute_pair(from, to);
    }

    /// Removes a slow link or clog added under `id`.
    pub fn remove_link_fault(&mut self, id: u64) {
        let affected: Vec<(HostId, HostId)> = self
            .slow
            .iter()
            .filter(|s| s.0 == id)
            .map(|s| (s.1, s.2))
            .chain(self.clogs.iter().filter(|c| c.0 == id).map(|c| (c.1, c.2)))
            .collect();
        self.slow.retain(|s| s.0 != id);
        self.clogs.retain(|c| c.0 != id);
        for (a, b) in affected {
            self.recompute_pair(a, b);
        }
    }

    fn recompute_pair(&mut self, a: HostId, b: HostId) {
        let index = a.index() * self.n + b.index();
        let slow_factor = self
            .slow
            .iter()
            .filter(|s| s.1 == a && s.2 == b)
            .map(|s| s.3)
            .max()
            .unwrap_or(1);
        let clog_until = self
            .clogs
            .iter()
            .filter(|c| c.1 == a && c.2 == b)
            .map(|c| c.3.0)
            .max()
            .unwrap_or(0);
        self.link_faults.retain(|f| f.pair != index);
        if slow_factor == 1 && clog_until == 0 {
            self.pairs[index] &= !PAIR_LINK_FAULT;
        } else {
            self.pairs[index] |= PAIR_LINK_FAULT;
            self.link_faults.push(LinkFault {
                pair: index,
                slow_factor,
                clog_until,
            });
        }
        self.refresh_uniform();
    }

    /// Sets (or clears, with `None`) the per-message chaos applied to every send.
    pub fn set_chaos(&mut self, chaos: Option<NetworkChaos>) {
        self.chaos = chaos;
    }

    /// Removes every partition, slow link, clog and chaos setting.
    pub fn heal(&mut self) {
        self.partitions.clear();
        self.slow.clear();
        self.clogs.clear();
        self.chaos = None;
        self.link_faults.clear();
        for p in &mut self.pairs {
            *p &= !PAIR_LINK_FAULT;
        }
        self.recompute_blocked();
    }

    /// The latency distribution between two processes on one host.
    pub fn loopback(&self) -> Distribution {
        self.loopback
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn all_pairs(n: u32) -> impl Iterator<Item = (HostId, HostId)> {
        (0..n).flat_map(move |a| (0..n).map(move |b| (HostId(a), HostId(b))))
    }

    #[test]
    fn single_switch_latency_is_the_fabric_latency() {
        let net = Network::new(&Topology::single_switch(3, Distribution::uniform(ms(1), ms(10))));
        let mut rng = Random::stream(1, "net", 0);
        for _ in 0..1000 {
            let Transmission::Once(t) = net.transmit(HostId(0), HostId(2), Instant(0), &mut rng) else {
                panic!("dropped without faults")
            };
            assert!((ms(1).0..=ms(10).0).contains(&t.0));
        }
        let Transmission::Once(t) = net.transmit(HostId(1), HostId(1), Instant(0), &mut rng) else {
            panic!()
        };
        assert_eq!(t, Instant(1_000), "loopback latency");
    }

    #[test]
    fn pairs_with_the_same_path_share_one_route() {
        let net = Network::new(&Topology::single_switch(50, Distribution::uniform(ms(1), ms(10))));
        // The loopback and the switch fabric: two recipes for 2,500 pairs.
        assert_eq!(net.routes.len(), 2);
        assert_eq!(net.hops.len(), 1);
        let zoned = Network::new(&Topology::zoned(
            12,
            3,
            Distribution::uniform(ms(1), ms(2)),
            Distribution::uniform(ms(5), ms(9)),
        ));
        // Loopback, same zone, other zone.
        assert_eq!(zoned.routes.len(), 3);
    }

    #[test]
    fn link_faults_touch_only_their_pair_and_clear_on_removal() {
        let mut net = Network::new(&Topology::single_switch(3, Distribution::constant(ms(1))));
        let mut rng = Random::stream(1, "net", 0);
        net.add_slow(1, HostId(0), HostId(1), 3);
        net.add_clog(2, HostId(0), HostId(1), Instant(ms(7).0));
        net.add_slow(3, HostId(0), HostId(1), 5);
        let t = |net: &Network, rng: &mut Random, a: u32, b: u32| {
            net.transmit(HostId(a), HostId(b), Instant(0), rng)
        };
        // The largest factor wins, then the clog holds the message back.
        assert_eq!(t(&net, &mut rng, 0, 1), Transmission::Once(Instant(ms(7).0)));
        net.remove_link_fault(2);
        assert_eq!(t(&net, &mut rng, 0, 1), Transmission::Once(Instant(ms(5).0)));
        assert_eq!(t(&net, &mut rng, 0, 2), Transmission::Once(Instant(ms(1).0)));
        net.remove_link_fault(3);
        assert_eq!(t(&net, &mut rng, 0, 1), Transmission::Once(Instant(ms(3).0)));
        net.heal();
        assert_eq!(t(&net, &mut rng, 0, 1), Transmission::Once(Instant(ms(1).0)));
        assert!(net.link_faults.is_empty());
        assert!(
            net.pairs
                .iter()
                .all(|c| c & (PAIR_LINK_FAULT | PAIR_BLOCKED) == 0)
        );
    }

    #[test]
    fn the_uniform_shortcut_holds_only_while_every_pair_is_alike() {
        let mut net = Network::new(&Topology::single_switch(4, Distribution::constant(ms(2))));
        let mut rng = Random::stream(1, "net", 0);
        assert!(net.uniform.is_some());
        net.add_partition(1, Partition::Isolate { host: HostId(3) });
        assert!(net.uniform.is_none());
        assert_eq!(
            net.transmit(HostId(0), HostId(3), Instant(0), &mut rng),
            Transmission::Dropped
        );
        net.remove_partition(1);
        assert!(net.uniform.is_some());
        net.add_slow(2, HostId(1), HostId(2), 4);
        assert!(net.uniform.is_none());
        assert_eq!(
            net.transmit(HostId(1), HostId(2), Instant(0), &mut rng),
            Transmission::Once(Instant(ms(8).0))
        );
        net.heal();
        assert!(net.uniform.is_some());
        assert_eq!(
            net.transmit(HostId(1), HostId(2), Instant(0), &mut rng),
            Transmission::Once(Instant(ms(2).0))
        );
        // Zones give pairs different routes, so the table is used.
        let zoned = Topology::zoned(4, 2, Distribution::constant(ms(1)), Distribution::constant(ms(5)));
        assert!(Network::new(&zoned).uniform.is_none());
    }

    #[test]
    fn zoned_paths_add_inter_zone_links() {
        let t = Topology::zoned(
            4,
            2,
            Distribution::constant(ms(1)),
            Distribution::constant(ms(20)),
        );
        let net = Network::new(&t);
        let mut rng = Random::stream(1, "net", 0);
        // h0 and h2 share zone z0; h0 and h1 are in different zones.
        assert_eq!(
            net.transmit(HostId(0), HostId(2), Instant(0), &mut rng),
            Transmission::Once(Instant(ms(1).0))
        );
        assert_eq!(
            net.transmit(HostId(0), HostId(1), Instant(0), &mut rng),
            Transmission::Once(Instant(ms(22).0))
        );
    }

    #[test]
    fn partitions_block_exactly_the_cut_pairs() {
        let topo = Topology::zoned(6, 2, Distribution::constant(ms(1)), Distribution::constant(ms(5)));
        let hosts = topo.hosts().to_vec();
        let h = HostId;
        let cases = vec![
            Partition::Isolate { host: h(2) },
            Partition::Halves {
                side: vec![h(0), h(1), h(2)],
            },
            Partition::OneWay {
                from: vec![h(0)],
                to: vec![h(1), h(3)],
            },
            Partition::Bridge {
                left: vec![h(0), h(1)],
                right: vec![h(3), h(4)],
                bridge: h(2),
            },
            Partition::Zone { zone: "z1".into() },
        ];
        for p in cases {
            let mut net = Network::new(&topo);
            net.add_partition(7, p.clone());
            for (a, b) in all_pairs(6) {
                let expect_cut = match &p {
                    Partition::Isolate { host } => a != b && (a == *host || b == *host),
                    Partition::Halves { side } => side.contains(&a) != side.contains(&b),
                    Partition::OneWay { .. } => a == h(0) && (b == h(1) || b == h(3)),
                    Partition::Bridge { .. } => {
                        let l = |x: HostId| x.0 <= 1;
                        let r = |x: HostId| x.0 == 3 || x.0 == 4;
                        (l(a) && r(b)) || (r(a) && l(b))
                    }
                    Partition::Zone { .. } => {
                        let z1 = |x: HostId| hosts[x.index()].zone.as_deref() == Some("z1");
                        z1(a) != z1(b)
                    }
                };
                assert_eq!(!net.reachable(a, b), expect_cut, "{p:?} {a}->{b}");
            }
            net.remove_partition(7);
            assert!(all_pairs(6).all(|(a, b)| net.reachable(a, b)), "healed {p:?}");
        }
    }

    #[test]
    fn one_way_cuts_one_direction_only() {
        let mut net = Network::new(&Topology::single_switch(2, Distribution::constant(ms(1))));
        net.add_partition(
            1,
            Partition::OneWay {
                from: vec![HostId(0)],
                to: vec![HostId(1)],
            },
        );
        let mut rng = Random::stream(1, "net", 0);
        assert_eq!(
            net.transmit(HostId(0), HostId(1), Instant(0), &mut rng),
            Transmission::Dropped
        );
        assert_eq!(
            net.transmit(HostId(1), HostId(0), Instant(0), &mut rng),
            Transmission::Once(Instant(ms(1).0))
        );
    }

    #[test]
    fn slow_and_clogged_links_delay_messages() {
        let mut net = Network::new(&Topology::single_switch(2, Distribution::constant(ms(1))));
        let mut rng = Random::stream(1, "net", 0);
        net.add_slow(1, HostId(0), HostId(1), 10);
        assert_eq!(
            net.transmit(HostId(0), HostId(1), Instant(0), &mut rng),
            Transmission::Once(Instant(ms(10).0))
        );
        assert_eq!(
            net.transmit(HostId(1), HostId(0), Instant(0), &mut rng),
            Transmission::Once(Instant(ms(1).0))
        );
        net.add_clog(2, HostId(1), HostId(0), Instant(ms(50).0));
        assert_eq!(
            net.transmit(HostId(1), HostId(0), Instant(0), &mut rng),
            Transmission::Once(Instant(ms(50).0))
        );
        net.remove_link_fault(1);
        net.remove_link_fault(2);
        assert_eq!(
            net.transmit(HostId(0), HostId(1), Instant(0), &mut rng),
            Transmission::Once(Instant(ms(1).0))
        );
        assert_eq!(
            net.transmit(HostId(1), HostId(0), Instant(0), &mut rng),
            Transmission::Once(Instant(ms(1).0))
        );
    }

    #[test]
    fn chaos_loses_and_duplicates_at_about_the_set_rates() {
        let mut net = Network::new(&Topology::single_switch(2, Distribution::constant(ms(1))));
        net.set_chaos(Some(NetworkChaos {
            loss: 0.2,
            duplicate: 0.1,
            reorder: 0.0,
            reorder_window: Duration::ZERO,
        }));
        let mut rng = Random::stream(5, "net", 0);
        let (mut lost, mut dup) = (0, 0);
        for _ in 0..10_000 {
            match net.transmit(HostId(0), HostId(1), Instant(0), &mut rng) {
                Transmission::Dropped => lost += 1,
                Transmission::Twice(..) => dup += 1,
                Transmission::Once(_) => {}
            }
        }
        assert!((1800..2200).contains(&lost), "lost {lost}");
        assert!((650..950).contains(&dup), "dup {dup}");
        net.heal();
        assert!(matches!(
            net.transmit(HostId(0), HostId(1), Instant(0), &mut rng),
            Transmission::Once(_)
        ));
    }
}
