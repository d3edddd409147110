//! Hosts, switches and the links between them: what a run's network is built from.

use crate::clock::ClockConfig;
use crate::costs::{ClockSpread, HostCosts};
use crate::rng::Distribution;
use crate::time::Duration;
use petgraph::graph::{NodeIndex, UnGraph};
use petgraph::visit::EdgeRef;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
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
pub(super) enum Node {
    Host,
    Switch { fabric: Distribution },
}

/// The physical layout: hosts, switches and the links between them.
#[derive(Clone, Debug)]
pub struct Topology {
    pub(super) graph: UnGraph<Node, Distribution>,
    pub(super) hosts: Vec<HostSpec>,
    pub(super) host_nodes: Vec<NodeIndex>,
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
    pub(super) fn paths_from(&self, source: HostId) -> Vec<Option<Vec<Distribution>>> {
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
