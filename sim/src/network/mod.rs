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

use crate::rng::{Distribution, Random};
use crate::time::{Duration, Instant};
use petgraph::visit::EdgeRef;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
mod topology;
use topology::Node;
pub use topology::{HostId, HostSpec, SwitchId, Topology};

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
    /// `(base, span)` when every send between two distinct hosts takes `base + below(span)`:
    /// one class of hosts joined by a route with one uniform hop, and no fault or chaos in
    /// force. A plain send then reads this and nothing else (see `plain_arrival`).
    direct: Option<(u64, u64)>,
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
        let mut network = Network {
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
            direct: None,
        };
        network.refresh_faulted();
        network
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
        let (a, b) = (a.index(), b.index());
        if a != b
            && let Some((base, span)) = self.direct
        {
            return Some(Instant(now.0.saturating_add(base.wrapping_add(rng.below(span)))));
        }
        if self.faulted || self.chaos.is_some() {
            return None;
        }
        let cell = self.cell(a, b);
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

    /// Recomputes `faulted` and `direct` after a fault or chaos came or went. (A partition
    /// that cuts no pair also sets `faulted`; sends then check the labels, with the same
    /// result.)
    fn refresh_faulted(&mut self) {
        self.faulted = !self.partitions.is_empty() || !self.link_faults.is_empty();
        self.direct = None;
        if !self.faulted && self.chaos.is_none() && self.classes == 1 {
            let cell = self.class_pairs[0];
            if cell & PAIR_BLOCKED == 0
                && let Quick::Uniform { base, span } = self.routes[(cell & PAIR_ROUTE) as usize].quick
            {
                self.direct = Some((base, span));
            }
        }
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
        self.refresh_faulted();
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
mod tests;
