//! Costs for some hosts: `[[topology.host_costs]]` entries over the all-hosts `costs`.
//!
//! ```toml
//! [topology]
//! costs = { handler = { exponential = { mean = "50us" } }, disk_sync = "2ms" }
//! [[topology.host_costs]]        # one slow host: every event takes 5 ms of its CPU
//! host = 2
//! handler = "5ms"
//! [[topology.host_costs]]        # a zone's disks are slow (layout = "zoned")
//! zone = "z1"
//! disk_sync = { uniform = { min = "10ms", max = "40ms" } }
//! ```
//!
//! An entry picks hosts by `host` (an index), `hosts` (a list of indexes) or `zone` (a zone's
//! name, `z0`...), exactly one of them, and sets `handler`, `disk_sync` or both for them; a
//! field it leaves out keeps what `costs` (or an earlier entry) gave. Later entries win.

use super::{Context, Step};
use crate::error::ScenarioError;
use ruckus_sim::{Distribution, HostCosts, HostId, Topology};
use serde::{Deserialize, Serialize};

/// One `[[topology.host_costs]]` entry: which hosts, and the costs they get instead.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCostsEntry {
    /// One host, by index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<u32>,
    /// Several hosts, by index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<u32>>,
    /// Every host of a zone (`layout = "zoned"`: `z0`, `z1`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// CPU time per handled event on these hosts (absent: as `costs` says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<Distribution>,
    /// Storage sync latency on these hosts (absent: as `costs` says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_sync: Option<Distribution>,
}

impl HostCostsEntry {
    /// The hosts of `topology` the entry picks (indexes out of range are left out: the
    /// scenario check refuses them first).
    fn picks(&self, topology: &Topology) -> Vec<HostId> {
        let n = topology.hosts().len() as u32;
        let mut ids: Vec<u32> = self.host.into_iter().collect();
        ids.extend(self.hosts.iter().flatten().copied());
        if let Some(zone) = &self.zone {
            ids.extend(
                topology
                    .hosts()
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| h.zone.as_deref() == Some(zone.as_str()))
                    .map(|(i, _)| i as u32),
            );
        }
        ids.into_iter().filter(|&i| i < n).map(HostId).collect()
    }

    /// Overrides the picked hosts' costs, field by field.
    fn apply(&self, topology: &mut Topology) {
        for id in self.picks(topology) {
            let costs: &mut HostCosts = &mut topology.host_mut(id).costs;
            if self.handler.is_some() {
                costs.handler = self.handler;
            }
            if self.disk_sync.is_some() {
                costs.disk_sync = self.disk_sync;
            }
        }
    }
}

/// Applies every entry in order over the all-hosts costs already set.
pub(crate) fn apply(entries: &[HostCostsEntry], topology: &mut Topology) {
    for e in entries {
        e.apply(topology);
    }
}

/// Each entry picks hosts that exist in one way, and sets valid distributions.
pub(super) fn check(
    cx: &Context<'_>,
    entries: &[HostCostsEntry],
    topology: &Topology,
) -> Result<(), ScenarioError> {
    let hosts = topology.hosts().len();
    for (i, e) in entries.iter().enumerate() {
        let at = |field: &str| {
            let mut p = vec![
                Step::Key("topology".into()),
                Step::Key("host_costs".into()),
                Step::Index(i),
            ];
            if !field.is_empty() {
                p.push(Step::Key(field.into()));
            }
            p
        };
        let given = [e.host.is_some(), e.hosts.is_some(), e.zone.is_some()];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(cx.error(
                &at(""),
                "name the hosts in exactly one way: `host = 2`, `hosts = [1, 2]` or `zone = \"z1\"`".into(),
            ));
        }
        if e.handler.is_none() && e.disk_sync.is_none() {
            return Err(cx.error(
                &at(""),
                "set `handler`, `disk_sync` or both for these hosts".into(),
            ));
        }
        let missing = |h: u32| {
            format!(
                "host {h} does not exist (the topology has {hosts} hosts, 0 to {})",
                hosts.saturating_sub(1)
            )
        };
        if let Some(h) = e.host.filter(|&h| h as usize >= hosts) {
            return Err(cx.error(&at("host"), missing(h)));
        }
        if let Some(list) = &e.hosts {
            if list.is_empty() {
                return Err(cx.error(&at("hosts"), "the list of hosts is empty".into()));
            }
            if let Some((k, h)) = list.iter().enumerate().find(|(_, h)| **h as usize >= hosts) {
                let mut path = at("hosts");
                path.push(Step::Index(k));
                return Err(cx.error(&path, missing(*h)));
            }
        }
        if let Some(zone) = &e.zone {
            let zones = topology.zones();
            if !zones.contains(zone) {
                let have = if zones.is_empty() {
                    "this topology has no zones (they come with layout = \"zoned\")".to_owned()
                } else {
                    format!("the zones are {}", zones.join(", "))
                };
                return Err(cx
                    .error(&at("zone"), format!("no zone `{zone}`: {have}"))
                    .suggest(zone, zones.iter().map(String::as_str)));
            }
        }
        for (field, d) in [("handler", &e.handler), ("disk_sync", &e.disk_sync)] {
            if let Some(d) = d {
                d.validate().map_err(|m| cx.error(&at(field), m))?;
            }
        }
    }
    Ok(())
}
