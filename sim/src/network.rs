//! The network: a topology graph, partitions, slow and clogged links, and per-message chaos.
//!
//! The topology is a petgraph graph of hosts and switches joined by links, each with a latency
//! distribution; a switch may add its own fabric latency when traversed. When the network is
//! built, the shortest path (by mean latency) between hosts is folded into a route table: a
//! constant part plus the few hops that must be sampled. Hosts attached alike (one link to the
//! same switch, same latency) share a class, and the table is kept per pair of classes, so a
//! send is a lookup in a table whose size does not grow with the hosts of a switch.
//!
//! Partitions are per-host labels: each active partition takes one or two of 64 label bits (a
//! side bit for isolate, halves and zone cuts; a from/to bit per direction for one-way and
//! bridge cuts), so applying or removing one costs time proportional to the hosts, and a send
//! checks two hosts' label words. Partitions beyond the 64 bits fall back to a per-pair count.
//! `ruckus run raft_commit_previous_term --set topology.hosts=N` (release, partitions coming
//! and going, same fingerprints before and after): with per-pair counts 1,024 hosts took 1.2 s
//! and 4,096 hosts 21 s; now 0.12 s and 0.26 s (148 MB -> 34 MB peak at 4,096), same
//! fingerprints. The partition-heavy Raft run of `benches/benches/hosts.rs` now costs
//! the same per event at 4,096 hosts as at 16 (0.89x-1.29x over two runs, 2026-12-02), and one
//! halves split over 4,096 hosts is added and removed in 5.6 us.

use crate::clock::ClockConfig;
use crate::costs::{ClockSpread, HostCosts};
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

    /// Writes `h` and the decimal id in one piece (what `write!(f, "h{}", id)` writes, about
    /// five times faster): every fault record formats its partition, thousands of hosts long.
    fn write_name(self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 11];
        let (mut at, mut rest) = (buf.len(), self.0);
        loop {
            at -= 1;
            buf[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        at -= 1;
        buf[at] = b'h';
        f.write_str(std::str::from_utf8(&buf[at..]).map_err(|_| fmt::Error)?)
    }
}
impl fmt::Debug for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_name(f)
    }
}
impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_name(f)
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
    /// CPU time per handled event and storage sync latency (none by default).
    #[serde(default)]
    pub costs: HostCosts,
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
    /// Per-host clock offsets, drift and boot times drawn from the seed (off by default).
    pub clock_spread: ClockSpread,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            graph: UnGraph::default(),
            hosts: Vec::new(),
            host_nodes: Vec::new(),
            loopback: Distribution::constant(Duration::from_micros(1)),
            clock_spread: ClockSpread::default(),
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
                costs: HostCosts::default(),
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
                costs: HostCosts::default(),
            });
            t.link_host(h, switches[z as usize], Distribution::constant(Duration::ZERO));
        }
        t
    }

    /// The hosts, indexed by `HostId`.
    pub fn hosts(&self) -> &[HostSpec] {
        &self.hosts
    }

    /// Gives every host the same costs (CPU time per event, disk sync latency).
    pub fn set_costs(&mut self, costs: HostCosts) {
        for h in &mut self.hosts {
            h.costs = costs;
        }
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

/// Most partitions active at once (past the label bits, each pair counts the partitions cutting
/// it in 16 bits).
pub const MAX_ACTIVE_PARTITIONS: usize = u16::MAX as usize;

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
    /// The same recipe in the form a plain send computes without walking `hops`.
    quick: Quick,
}

/// A route's latency without a loop over its hops, for sends no fault or chaos touches.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Quick {
    /// Only constant parts: the latency, with no draw.
    Fixed(u64),
    /// The constants plus one uniform hop: `base + below(span)`, exactly the draw that
    /// `Random::range_inclusive` makes for that hop.
    Uniform { base: u64, span: u64 },
    /// Anything else: each hop is sampled.
    General,
}

impl Quick {
    fn of(constant_ns: u64, sampled: &[Distribution]) -> Quick {
        match sampled {
            [] => Quick::Fixed(constant_ns),
            // The whole u64 range draws differently (one raw word): left to the general path.
            [Distribution::Uniform { min, max }] if min.0 <= max.0 && !(min.0 == 0 && max.0 == u64::MAX) => {
                Quick::Uniform {
                    base: constant_ns.wrapping_add(min.0),
                    span: max.0 - min.0 + 1,
                }
            }
            _ => Quick::General,
        }
    }
}

/// A class pair's cell, packed into 32 bits: the low bits index the pair's [`Route`], and the
/// top bit says the classes have no physical path between them.
type PairCell = u32;
/// No physical path.
const PAIR_BLOCKED: PairCell = 1 << 31;
/// The route index bits.
const PAIR_ROUTE: PairCell = PAIR_BLOCKED - 1;

/// Bits of per-host partition labels: partitions beyond them fall back to per-pair counts.
const PARTITION_BITS: u32 = u64::BITS;

/// The active slow-link and clog faults of one directed pair, folded together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LinkFault {
    /// Sender and receiver host indices.
    pair: (usize, usize),
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

/// One host's labels in the active partitions that fit in bits. A pair `a != b` is cut when
/// some bit differs between their `side`s (a symmetric split) or is in `a.from` and `b.to`
/// (a directed cut).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct HostLabels {
    side: u64,
    from: u64,
    to: u64,
}

/// Where an active partition is kept: as per-host label bits, or (once the bits run out) as
/// per-pair counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placement {
    Bits(u64),
    Counted,
}

/// An active partition and where it is kept.
#[derive(Clone, Debug)]
struct ActivePartition {
    id: u64,
    partition: Partition,
    placement: Placement,
}

/// The live network of a run: the route table and the faults that shape it.
///
/// Hosts attached the same way (one link, to the same switch, with the same latency) have the
/// same path to every other host, so routes are kept per pair of such classes, not per pair of
/// hosts: a single switch of 4,096 hosts needs one cell (plus loopback), not 16 M.
#[derive(Clone, Debug)]
pub struct Network {
    hosts: Vec<HostSpec>,
    n: usize,
    /// Each host's class.
    class_of: Vec<u32>,
    classes: usize,
    /// `classes * classes` cells, row-major by (sender class, receiver class), for two
    /// distinct hosts.
    class_pairs: Vec<PairCell>,
    /// The cell of two processes on one host.
    loopback_cell: PairCell,
    routes: Vec<Route>,
    hops: Vec<Distribution>,
    /// Pairs with an active slow-link or clog fault (few, so a short list).
    link_faults: Vec<LinkFault>,
    /// Per host, its labels in the partitions kept as bits.
    labels: Vec<HostLabels>,
    /// Label bits in use.
    used_bits: u64,
    /// Label bits available (all 64; fewer in tests of the fallback).
    bit_capacity: u32,
    /// Per directed host pair, how many counted partitions cut it (allocated on first use).
    cuts: Vec<u16>,
    /// Active partitions kept as counts.
    counted: usize,
    /// Whether any partition or link fault is active: without, a send reads one cell.
    faulted: bool,
    loopback: Distribution,
    partitions: Vec<ActivePartition>,
    slow: Vec<(u64, HostId, HostId, u32)>,
    clogs: Vec<(u64, HostId, HostId, Instant)>,
    chaos: Option<NetworkChaos>,
}

/// How a host is attached, when hosts attached alike are interchangeable: one link to a switch
/// (by node index and latency). Hosts with other attachments each get their own class.
fn attachment(topology: &Topology, host: HostId) -> Option<(usize, [u64; 3])> {
    let g = &topology.graph;
    let node = topology.host_nodes[host.index()];
    let mut edges = g.edges(node);
    let edge = edges.next()?;
    if edges.next().is_some() {
        return None;
    }
    let other = if edge.source() == node {
        edge.target()
    } else {
        edge.source()
    };
    matches!(g[other], Node::Switch { .. }).then(|| (other.index(), distribution_key(edge.weight())))
}

impl Network {
    /// Builds the route table for `topology`: one shortest-path search per class of hosts.
    pub fn new(topology: &Topology) -> Network {
        let n = topology.hosts.len();
        // Classes, and up to two members of each (a class's pair with itself needs two hosts).
        let mut class_of = Vec::with_capacity(n);
        let mut members: Vec<(HostId, Option<HostId>)> = Vec::new();
        let mut by_attachment: BTreeMap<(usize, [u64; 3]), u32> = BTreeMap::new();
        for h in (0..n as u32).map(HostId) {
            let fresh = members.len() as u32;
            let class = match attachment(topology, h) {
                Some(key) => *by_attachment.entry(key).or_insert(fresh),
                None => fresh,
            };
            if class == fresh {
                members.push((h, None));
            } else if members[class as usize].1.is_none() {
                members[class as usize].1 = Some(h);
            }
            class_of.push(class);
        }
        let classes = members.len();
        let mut routes: Vec<Route> = Vec::new();
        let mut route_ids: BTreeMap<(u64, Vec<[u64; 3]>), PairCell> = BTreeMap::new();
        let mut hops = Vec::new();
        let mut route_of = |parts: &[Distribution]| -> PairCell {
            let mut constant_ns = 0u64;
            let mut sampled: Vec<Distribution> = Vec::new();
            for d in parts {
                match *d {
                    Distribution::Constant { value } => constant_ns += value.0,
                    other => sampled.push(other),
                }
            }
            let key = (constant_ns, sampled.iter().map(distribution_key).collect());
            *route_ids.entry(key).or_insert_with(|| {
                let id = routes.len() as PairCell;
                assert!(id <= PAIR_ROUTE, "too many distinct routes for the pair table");
                routes.push(Route {
                    constant_ns,
                    hop_start: hops.len() as u32,
                    hop_len: sampled.len() as u32,
                    quick: Quick::of(constant_ns, &sampled),
                });
                hops.extend_from_slice(&sampled);
                id
            })
        };
        let loopback_cell = route_of(&[topology.loopback]);
        let mut class_pairs = Vec::with_capacity(classes * classes);
        for &(first, _) in &members {
            let mut paths = topology.paths_from(first);
            for &(other_first, other_second) in &members {
                // A class's pair with itself: from its first member to its second, if any.
                let target = if other_first == first {
                    other_second
                } else {
                    Some(other_first)
                };
                let cell = match target.and_then(|t| paths[t.index()].take()) {
                    Some(path) => route_of(&path),
                    None => PAIR_BLOCKED | loopback_cell,
                };
                class_pairs.push(cell);
            }
        }
        Network {
            hosts: topology.hosts.clone(),
            n,
            class_of,
            classes,
            class_pairs,
            loopback_cell,
            routes,
            hops,
            link_faults: Vec::new(),
            labels: vec![HostLabels::default(); n],
            used_bits: 0,
            bit_capacity: PARTITION_BITS,
            cuts: Vec::new(),
            counted: 0,
            faulted: false,
            loopback: topology.loopback,
            partitions: Vec::new(),
            slow: Vec::new(),
            clogs: Vec::new(),
            chaos: None,
        }
    }

    /// Number of hosts.
    pub fn host_count(&self) -> usize {
        self.n
    }

    /// The physical cell of a pair: its route, or blocked when no path joins them.
    #[inline]
    fn cell(&self, a: usize, b: usize) -> PairCell {
        if a == b {
            self.loopback_cell
        } else if self.classes == 1 {
            self.class_pairs[0]
        } else {
            self.class_pairs[self.class_of[a] as usize * self.classes + self.class_of[b] as usize]
        }
    }

    /// Whether an active partition cuts `a` from `b`: two label words per host, and a count
    /// only when partitions overflowed the label bits.
    #[inline]
    fn cut(&self, a: usize, b: usize) -> bool {
        if a == b {
            return false;
        }
        let (la, lb) = (&self.labels[a], &self.labels[b]);
        (la.side ^ lb.side) | (la.from & lb.to) != 0 || (self.counted > 0 && self.cuts[a * self.n + b] != 0)
    }

    /// Whether a message from `a` to `b` would currently get through (ignoring chaos loss).
    pub fn reachable(&self, a: HostId, b: HostId) -> bool {
        let (a, b) = (a.index(), b.index());
        self.cell(a, b) & PAIR_BLOCKED == 0 && !self.cut(a, b)
    }

    /// Decides the fate of one message sent from `a` to `b` at `now`, drawing from `rng`.
    #[inline]
    pub fn transmit(&self, a: HostId, b: HostId, now: Instant, rng: &mut Random) -> Transmission {
        let (a, b) = (a.index(), b.index());
        let cell = self.cell(a, b);
        if cell & PAIR_BLOCKED != 0 {
            return Transmission::Dropped;
        }
        let mut pair = Path {
            route: self.routes[(cell & PAIR_ROUTE) as usize],
            slow_factor: 1,
            clog_until: 0,
        };
        if self.faulted && !self.apply_faults(a, b, &mut pair) {
            return Transmission::Dropped;
        }
        match &self.chaos {
            None => Transmission::Once(self.arrival(&pair, now, rng)),
            Some(chaos) => self.chaotic_transmit(&pair, chaos, now, rng),
        }
    }

    /// The arrival time of a message from `a` to `b` sent at `now` when its route alone decides
    /// it (no partition, link fault or chaos in force, and a physical path): the same draws and
    /// the same result as [`transmit`](Self::transmit)'s `Once`, without its general path.
    /// `None` when `transmit` must decide (it has drawn nothing then).
    #[inline(always)]
    pub(crate) fn plain_arrival(
        &self,
        a: HostId,
        b: HostId,
        now: Instant,
        rng: &mut Random,
    ) -> Option<Instant> {
        if self.faulted || self.chaos.is_some() {
            return None;
        }
        let cell = self.cell(a.index(), b.index());
        if cell & PAIR_BLOCKED != 0 {
            return None;
        }
        let route = &self.routes[(cell & PAIR_ROUTE) as usize];
        let latency = match route.quick {
            Quick::Fixed(ns) => ns,
            Quick::Uniform { base, span } => base.wrapping_add(rng.below(span)),
            Quick::General => {
                let pair = Path {
                    route: *route,
                    slow_factor: 1,
                    clog_until: 0,
                };
                return Some(self.arrival(&pair, now, rng));
            }
        };
        Some(Instant(now.0.saturating_add(latency)))
    }

    /// With faults active: whether a partition cuts the pair (false), else folds its link
    /// faults into `pair` (true).
    #[inline(never)]
    fn apply_faults(&self, a: usize, b: usize, pair: &mut Path) -> bool {
        if self.cut(a, b) {
            return false;
        }
        if let Some(f) = self.link_faults.iter().find(|f| f.pair == (a, b)) {
            pair.slow_factor = f.slow_factor;
            pair.clog_until = f.clog_until;
        }
        true
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

    /// Adds a partition under `id` (used later to remove it). While fewer than 64 label bits
    /// are in use (one per isolate, halves, zone or one-way cut, two per bridge) it costs time
    /// proportional to the hosts; beyond that it is counted on every pair it cuts.
    ///
    /// # Panics
    /// With more than [`MAX_ACTIVE_PARTITIONS`] partitions active at once
    /// ([`FaultPlan::validate`](crate::FaultPlan::validate) refuses such plans).
    pub fn add_partition(&mut self, id: u64, partition: Partition) {
        assert!(
            self.partitions.len() < MAX_ACTIVE_PARTITIONS,
            "more than {MAX_ACTIVE_PARTITIONS} partitions active at once"
        );
        let wanted = match partition {
            Partition::Bridge { .. } => 2,
            _ => 1,
        };
        let placement = match self.free_bits(wanted) {
            Some(bits) => {
                self.label(&partition, bits);
                self.used_bits |= bits;
                Placement::Bits(bits)
            }
            None => {
                if self.cuts.is_empty() {
                    self.cuts = vec![0; self.n * self.n];
                }
                let mut cuts = std::mem::take(&mut self.cuts);
                self.for_each_cut(&partition, |i| cuts[i] += 1);
                self.cuts = cuts;
                self.counted += 1;
                Placement::Counted
            }
        };
        self.partitions.push(ActivePartition {
            id,
            partition,
            placement,
        });
        self.refresh_faulted();
    }

    /// Removes the partition added under `id`, if present: the pairs it cut and no other
    /// active partition cuts get through again.
    pub fn remove_partition(&mut self, id: u64) {
        let Some(at) = self.partitions.iter().position(|p| p.id == id) else {
            return;
        };
        let removed = self.partitions.remove(at);
        match removed.placement {
            Placement::Bits(bits) => {
                for l in &mut self.labels {
                    l.side &= !bits;
                    l.from &= !bits;
                    l.to &= !bits;
                }
                self.used_bits &= !bits;
            }
            Placement::Counted => {
                let mut cuts = std::mem::take(&mut self.cuts);
                self.for_each_cut(&removed.partition, |i| cuts[i] -= 1);
                self.cuts = cuts;
                self.counted -= 1;
            }
        }
        self.refresh_faulted();
    }

    /// `wanted` free label bits (the lowest), if there are that many.
    fn free_bits(&self, wanted: u32) -> Option<u64> {
        let mut free = !self.used_bits;
        if self.bit_capacity < u64::BITS {
            free &= (1u64 << self.bit_capacity) - 1;
        }
        if free.count_ones() < wanted {
            return None;
        }
        let mut bits = 0;
        for _ in 0..wanted {
            let low = free & free.wrapping_neg();
            bits |= low;
            free &= !low;
        }
        Some(bits)
    }

    /// Sets the labels that make `partition` cut exactly the pairs [`Partition::blocks`] does:
    /// a side bit for a split into two groups, a from/to bit per direction otherwise. Hosts
    /// named out of range are ignored, as they name no pair.
    fn label(&mut self, partition: &Partition, bits: u64) {
        let low = bits & bits.wrapping_neg();
        let high = bits & !low;
        let labels = &mut self.labels;
        let mut mark = |hosts: &[HostId], set: fn(&mut HostLabels, u64), bit: u64| {
            for h in hosts {
                if let Some(l) = labels.get_mut(h.index()) {
                    set(l, bit);
                }
            }
        };
        let side: fn(&mut HostLabels, u64) = |l, b| l.side |= b;
        let from: fn(&mut HostLabels, u64) = |l, b| l.from |= b;
        let to: fn(&mut HostLabels, u64) = |l, b| l.to |= b;
        match partition {
            Partition::Isolate { host } => mark(&[*host], side, low),
            Partition::Halves { side: group } => mark(group, side, low),
            Partition::OneWay {
                from: senders,
                to: receivers,
            } => {
                mark(senders, from, low);
                mark(receivers, to, low);
            }
            Partition::Bridge { left, right, .. } => {
                mark(left, from, low);
                mark(right, to, low);
                mark(right, from, high);
                mark(left, to, high);
            }
            Partition::Zone { zone } => {
                for (l, h) in self.labels.iter_mut().zip(&self.hosts) {
                    if h.zone.as_deref() == Some(zone.as_str()) {
                        l.side |= low;
                    }
                }
            }
        }
    }

    /// Calls `cut` with the index (`a * n + b`) of every directed pair `partition` blocks, each
    /// once (the same pairs as [`Partition::blocks`]): time proportional to those pairs plus
    /// the hosts.
    fn for_each_cut(&self, partition: &Partition, mut cut: impl FnMut(usize)) {
        let n = self.n;
        let set = |hosts: &[HostId]| {
            let mut member = vec![false; n];
            for h in hosts {
                if let Some(m) = member.get_mut(h.index()) {
                    *m = true;
                }
            }
            member
        };
        let listed =
            |member: &[bool], want: bool| -> Vec<usize> { (0..n).filter(|&i| member[i] == want).collect() };
        let mut product = |from: &[usize], to: &[usize], skip: &dyn Fn(usize, usize) -> bool| {
            for &a in from {
                for &b in to {
                    if a != b && !skip(a, b) {
                        cut(a * n + b);
                    }
                }
            }
        };
        let never = |_: usize, _: usize| false;
        match partition {
            Partition::Isolate { host } => {
                let h = host.index();
                if h < n {
                    let others: Vec<usize> = (0..n).filter(|&i| i != h).collect();
                    product(&[h], &others, &never);
                    product(&others, &[h], &never);
                }
            }
            Partition::Halves { side } => {
                let member = set(side);
                let (inside, outside) = (listed(&member, true), listed(&member, false));
                product(&inside, &outside, &never);
                product(&outside, &inside, &never);
            }
            Partition::OneWay { from, to } => {
                let (from, to) = (set(from), set(to));
                product(&listed(&from, true), &listed(&to, true), &never);
            }
            Partition::Bridge { left, right, .. } => {
                let (l, r) = (set(left), set(right));
                let (left, right) = (listed(&l, true), listed(&r, true));
                product(&left, &right, &never);
                // A pair already cut as left -> right (a host on both sides) is cut once.
                product(&right, &left, &|a, b| l[a] && r[b]);
            }
            Partition::Zone { zone } => {
                let member: Vec<bool> = self
                    .hosts
                    .iter()
                    .map(|h| h.zone.as_deref() == Some(zone.as_str()))
                    .collect();
                let (inside, outside) = (listed(&member, true), listed(&member, false));
                product(&inside, &outside, &never);
                product(&outside, &inside, &never);
            }
        }
    }

    /// The active partitions.
    pub fn partitions(&self) -> impl Iterator<Item = &Partition> {
        self.partitions.iter().map(|p| &p.partition)
    }

    /// Recomputes `faulted` after a fault came or went. (A partition that cuts no pair also
    /// sets it; sends then check the labels, with the same result.)
    fn refresh_faulted(&mut self) {
        self.faulted = !self.partitions.is_empty() || !self.link_faults.is_empty();
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
        let pair = (a.index(), b.index());
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
        self.link_faults.retain(|f| f.pair != pair);
        if slow_factor != 1 || clog_until != 0 {
            self.link_faults.push(LinkFault {
                pair,
                slow_factor,
                clog_until,
            });
        }
        self.refresh_faulted();
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
        self.labels.fill(HostLabels::default());
        self.used_bits = 0;
        self.cuts.fill(0);
        self.counted = 0;
        self.refresh_faulted();
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
    fn host_names_read_h_and_the_id() {
        for id in [0, 7, 10, 99, 4_095, 65_536, 1_000_000_007, u32::MAX] {
            let expect = format!("h{id}");
            assert_eq!(format!("{}", HostId(id)), expect);
            assert_eq!(format!("{:?}", HostId(id)), expect);
        }
        assert_eq!(format!("{:?}", vec![HostId(1), HostId(20)]), "[h1, h20]");
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
        // The loopback and the switch fabric: two recipes for 2,500 pairs, in one class.
        assert_eq!(net.routes.len(), 2);
        assert_eq!(net.hops.len(), 1);
        assert_eq!((net.classes, net.class_pairs.len()), (1, 1));
        let zoned = Network::new(&Topology::zoned(
            12,
            3,
            Distribution::uniform(ms(1), ms(2)),
            Distribution::uniform(ms(5), ms(9)),
        ));
        // Loopback, same zone, other zone; a class per zone.
        assert_eq!(zoned.routes.len(), 3);
        assert_eq!(zoned.classes, 3);
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
        assert!(!net.faulted);
    }

    /// The inline path of a plain send must draw and decide exactly as `transmit` does, for
    /// every route shape it folds (constants only, one uniform hop, several hops, the whole
    /// u64 range), and step aside whenever a fault or chaos is in force.
    #[test]
    fn a_plain_arrival_is_exactly_what_transmit_decides() {
        let mut zoned = Topology::zoned(
            9,
            3,
            Distribution::uniform(ms(1), ms(10)),
            Distribution::Normal {
                mean: ms(20),
                std_dev: ms(3),
            },
        );
        zoned.loopback = Distribution::uniform(Duration(0), Duration(u64::MAX));
        let topologies = [
            Topology::single_switch(4, Distribution::uniform(ms(1), ms(10))),
            Topology::single_switch(4, Distribution::constant(ms(3))),
            zoned,
        ];
        for topology in &topologies {
            let mut net = Network::new(topology);
            let n = net.host_count() as u32;
            let (mut plain, mut full) = (Random::stream(7, "net", 0), Random::stream(7, "net", 0));
            for round in 0..400u64 {
                let (a, b) = (
                    HostId((round % u64::from(n)) as u32),
                    HostId((round / 3 % u64::from(n)) as u32),
                );
                let now = Instant(round * 1_000);
                let got = net.plain_arrival(a, b, now, &mut plain);
                assert_eq!(
                    got.map(Transmission::Once),
                    Some(net.transmit(a, b, now, &mut full)),
                    "{a}->{b} on {topology:?}"
                );
                // Same draws: the streams are still in step.
                assert_eq!(plain.clone().next_u64(), full.clone().next_u64());
            }
            net.add_partition(1, Partition::Isolate { host: HostId(0) });
            assert_eq!(
                net.plain_arrival(HostId(1), HostId(2), Instant(0), &mut plain),
                None
            );
            net.heal();
            net.set_chaos(Some(NetworkChaos::default()));
            assert_eq!(
                net.plain_arrival(HostId(1), HostId(2), Instant(0), &mut plain),
                None
            );
            // Stepping aside draws nothing.
            assert_eq!(plain.clone().next_u64(), full.clone().next_u64());
        }
    }

    #[test]
    fn sends_skip_the_fault_checks_only_while_no_fault_is_active() {
        let mut net = Network::new(&Topology::single_switch(4, Distribution::constant(ms(2))));
        let mut rng = Random::stream(1, "net", 0);
        assert!(!net.faulted);
        net.add_partition(1, Partition::Isolate { host: HostId(3) });
        assert!(net.faulted);
        assert_eq!(
            net.transmit(HostId(0), HostId(3), Instant(0), &mut rng),
            Transmission::Dropped
        );
        net.remove_partition(1);
        assert!(!net.faulted);
        net.add_slow(2, HostId(1), HostId(2), 4);
        assert!(net.faulted);
        assert_eq!(
            net.transmit(HostId(1), HostId(2), Instant(0), &mut rng),
            Transmission::Once(Instant(ms(8).0))
        );
        net.heal();
        assert!(!net.faulted);
        assert_eq!(
            net.transmit(HostId(1), HostId(2), Instant(0), &mut rng),
            Transmission::Once(Instant(ms(2).0))
        );
    }

    /// Latency parts of the shortest path from `a` to `b`, as the table would fold them:
    /// the constant sum and the sampled hops' keys, or `None` without a path.
    fn own_route(topo: &Topology, a: HostId, b: HostId) -> Option<(u64, Vec<[u64; 3]>)> {
        let parts = if a == b {
            vec![topo.loopback]
        } else {
            topo.paths_from(a)[b.index()].clone()?
        };
        let constant = parts
            .iter()
            .map(|d| match d {
                Distribution::Constant { value } => value.0,
                _ => 0,
            })
            .sum();
        let sampled = parts
            .iter()
            .filter(|d| !matches!(d, Distribution::Constant { .. }))
            .map(distribution_key)
            .collect();
        Some((constant, sampled))
    }

    /// Sharing routes by class gives every pair exactly the route its own shortest-path search
    /// finds, in a topology mixing shared switches, distinct link latencies, a host on two
    /// switches, a host linked straight to another, and an unlinked host.
    #[test]
    fn class_routes_match_every_pairs_own_path() {
        let mut t = Topology::new();
        let s1 = t.add_switch(Distribution::uniform(ms(1), ms(3)));
        let s2 = t.add_switch(Distribution::constant(ms(2)));
        t.link_switches(s1, s2, Distribution::constant(ms(7)));
        let hosts: Vec<HostId> = (0..11)
            .map(|i| {
                t.add_host(HostSpec {
                    name: format!("h{i}"),
                    zone: None,
                    clock: ClockConfig::default(),
                    costs: HostCosts::default(),
                })
            })
            .collect();
        let zero = Distribution::constant(Duration::ZERO);
        for &h in &hosts[0..4] {
            t.link_host(h, s1, zero);
        }
        t.link_host(hosts[4], s1, Distribution::constant(ms(1)));
        t.link_host(hosts[5], s2, zero);
        t.link_host(hosts[6], s2, zero);
        t.link_host(hosts[7], s1, zero);
        t.link_host(hosts[7], s2, Distribution::uniform(ms(1), ms(2)));
        t.link_hosts(hosts[8], hosts[0], Distribution::constant(ms(4)));
        t.link_host(hosts[9], s1, zero);
        // hosts[10] has no link.
        let net = Network::new(&t);
        // {1,2,3,9}, {4}, {5,6}, and h0 (two links), h7, h8, h10 alone.
        assert_eq!(net.classes, 7);
        let (mut blocked, mut open) = (0, 0);
        for (a, b) in all_pairs(11) {
            let cell = net.cell(a.index(), b.index());
            match own_route(&t, a, b) {
                None => {
                    blocked += 1;
                    assert_ne!(cell & PAIR_BLOCKED, 0, "{a}->{b} has no path");
                    assert!(!net.reachable(a, b));
                }
                Some((constant, sampled)) => {
                    open += 1;
                    assert_eq!(cell & PAIR_BLOCKED, 0, "{a}->{b} has a path");
                    let r = net.routes[(cell & PAIR_ROUTE) as usize];
                    let hops = &net.hops[r.hop_start as usize..(r.hop_start + r.hop_len) as usize];
                    let keys: Vec<[u64; 3]> = hops.iter().map(distribution_key).collect();
                    assert_eq!((r.constant_ns, keys), (constant, sampled), "{a}->{b}");
                }
            }
        }
        // h10 reaches nobody and nobody reaches it; h8 reaches only h0 (hosts never relay).
        assert_eq!(blocked, 2 * 10 + 2 * 8);
        assert_eq!(open + blocked, 121);
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

    /// The labels (and, past the label bits, the per-pair counts) after any sequence of
    /// partitions coming and going (overlapping, with hosts named twice or on both sides of a
    /// bridge) block exactly what checking every active partition on every pair would. Run
    /// with all 64 bits, with 3 (so some partitions are counted while others hold bits), and
    /// with none (all counted).
    #[test]
    fn incremental_partitions_match_a_full_recomputation() {
        for bits in [PARTITION_BITS, 3, 0] {
            partitions_match_a_full_recomputation(bits);
        }
    }

    fn partitions_match_a_full_recomputation(bit_capacity: u32) {
        let topo = Topology::zoned(9, 3, Distribution::constant(ms(1)), Distribution::constant(ms(5)));
        let hosts = topo.hosts().to_vec();
        let mut net = Network::new(&topo);
        net.bit_capacity = bit_capacity;
        let mut rng = Random::stream(11, "test", 0);
        let pick = |rng: &mut Random, k: u64| -> Vec<HostId> {
            (0..rng.below(k) + 1)
                .map(|_| HostId(rng.below(9) as u32))
                .collect()
        };
        let mut active: Vec<(u64, Partition)> = Vec::new();
        let (mut most_counted, mut most_bits) = (0, 0);
        for step in 0..400u64 {
            if active.is_empty() || rng.chance(0.55) {
                let p = match rng.below(5) {
                    0 => Partition::Isolate {
                        host: HostId(rng.below(9) as u32),
                    },
                    1 => Partition::Halves {
                        side: pick(&mut rng, 6),
                    },
                    2 => Partition::OneWay {
                        from: pick(&mut rng, 5),
                        to: pick(&mut rng, 5),
                    },
                    3 => Partition::Bridge {
                        left: pick(&mut rng, 4),
                        right: pick(&mut rng, 4),
                        bridge: HostId(rng.below(9) as u32),
                    },
                    _ => Partition::Zone {
                        zone: format!("z{}", rng.below(3)),
                    },
                };
                net.add_partition(step, p.clone());
                active.push((step, p));
            } else {
                let (id, _) = active.remove(rng.below(active.len() as u64) as usize);
                net.remove_partition(id);
            }
            most_counted = most_counted.max(net.counted);
            most_bits = most_bits.max(net.used_bits.count_ones());
            for (a, b) in all_pairs(9) {
                let cut = active.iter().any(|(_, p)| p.blocks(a, b, &hosts));
                assert_eq!(
                    !net.reachable(a, b),
                    cut,
                    "{bit_capacity} bits, step {step}: {a}->{b} under {active:?}"
                );
            }
            assert_eq!(net.faulted, !active.is_empty());
        }
        // Both ways of keeping a partition were exercised as the capacity asks.
        assert_eq!(most_bits > 0, bit_capacity > 0);
        assert_eq!(most_counted > 0, bit_capacity < 8, "{bit_capacity} bits");
        assert!(most_bits <= bit_capacity);
        net.heal();
        assert!(all_pairs(9).all(|(a, b)| net.reachable(a, b)));
        assert!(net.cuts.iter().all(|&c| c == 0));
        assert_eq!((net.used_bits, net.counted), (0, 0));
        assert!(net.labels.iter().all(|l| *l == HostLabels::default()));
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
