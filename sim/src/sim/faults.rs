//! Applying the fault plan: each fault's begin and end, and the heal that undoes them all.
//! Host and process faults act through `lifecycle`; the rest set network, clock and
//! degradation state. Role-targeted faults first resolve their target among the live
//! processes (`Process::has_role`), then act on what they hit as the host faults do.
//! Each begin, end and the heal also go into the metrics' fault windows (outside the
//! fingerprint, like every metric), so summaries and checkers see what faults really did.

use super::{Sim, StreamLayout};
use crate::fault::{Fault, FaultPlan, RoleTarget};
use crate::metrics::FaultWindow;
use crate::network::{HostId, Partition};
use crate::process::{Process, ProcessId};
use crate::property::Lifecycle;
use crate::record::digest;
use crate::record::{EventDetail, EventRecord, NONE, RecordKind};
use crate::rng::Random;
use std::collections::BTreeMap;

impl<P: Process> Sim<P> {
    /// Begins or ends fault `i` of the plan. Ends of faults the heal already undid do nothing.
    pub(super) fn apply_fault(&mut self, i: usize, begin: bool) {
        let fault = self.plan.actions[i].fault.clone();
        if fault.target().is_some() {
            self.apply_role_fault(i, begin, &fault);
            return;
        }
        self.record_fault(i, begin, &fault);
        if begin {
            let (hosts, processes) = self.host_fault_hits(&fault);
            self.open_window(i, &fault, hosts, processes);
        } else if self.core.now > self.heal_at {
            return;
        } else {
            self.core.metrics.fault_ended(i, self.core.now);
        }
        let (now, id, net) = (self.core.now, i as u64, &mut self.core.net);
        match fault {
            Fault::CrashHost { host, .. } if begin => self.crash_host(host),
            Fault::CrashHost { host, .. } => self.restart_host(host),
            Fault::PauseHost { host, .. } if begin => self.pause_host(host),
            Fault::PauseHost { host, .. } => self.resume_host(host),
            Fault::KillProcess {
                host, process_index, ..
            } => self.kill_fault(host, process_index, begin),
            Fault::Partition { partition, .. } if begin => net.add_partition(id, partition),
            Fault::Partition { .. } => net.remove_partition(id),
            Fault::Clog { from, to, duration } if begin => {
                net.add_clog(id, from, to, now.saturating_add(duration))
            }
            Fault::SlowLink { from, to, factor, .. } if begin => net.add_slow(id, from, to, factor),
            Fault::Clog { .. } | Fault::SlowLink { .. } => net.remove_link_fault(id),
            Fault::NetworkChaos { chaos, .. } => net.set_chaos(begin.then_some(chaos)),
            Fault::ClockJump { host, delta_ns } => self.core.clocks[host.index()].jump(now, delta_ns),
            Fault::ClockDrift { host, drift_ppm, .. } => {
                let h = host.index();
                let ppm = if begin {
                    drift_ppm
                } else {
                    self.core.hosts[h].base_drift_ppm
                };
                self.core.clocks[h].set_drift(now, ppm);
            }
            Fault::Degrade { host, mode, .. } => self.degrade(host, i, mode, begin),
            Fault::SlowDisk { host, factor, .. } => {
                let slow = &mut self.core.hosts[host.index()].disk_timing.slow;
                if begin {
                    slow.push((i as u32, factor));
                } else {
                    slow.retain(|(k, _)| *k != i as u32);
                }
            }
            Fault::CrashRole { .. }
            | Fault::PauseRole { .. }
            | Fault::KillRole { .. }
            | Fault::IsolateRole { .. }
            | Fault::DegradeRole { .. } => unreachable!("role faults are applied by apply_role_fault"),
        }
    }

    /// Records fault `i`'s window as begun now (an instantaneous one also ends now).
    fn open_window(&mut self, i: usize, fault: &Fault, hosts: Vec<HostId>, processes: Vec<ProcessId>) {
        let now = self.core.now;
        self.core.metrics.fault_began(FaultWindow {
            index: i,
            kind: fault.kind(),
            label: fault.to_string(),
            begin: now,
            end: fault.duration().is_none().then_some(now),
            hosts,
            processes,
        });
    }

    /// The live processes on `hosts` that are up (and, with `unpaused`, not paused): what a
    /// crash (or pause) of those hosts acts on.
    fn processes_on(&self, hosts: &[HostId], unpaused: bool) -> Vec<ProcessId> {
        let mut out = Vec::new();
        for h in hosts {
            let status = self.core.status[h.index()];
            if !status.up || (unpaused && status.paused) {
                continue;
            }
            out.extend(
                self.core.hosts[h.index()]
                    .processes
                    .iter()
                    .copied()
                    .filter(|p| self.core.procs[p.index()].alive),
            );
        }
        out
    }

    /// What a fault naming hosts acts on as it begins (see [`FaultWindow`]), read before it
    /// is applied.
    fn host_fault_hits(&self, fault: &Fault) -> (Vec<HostId>, Vec<ProcessId>) {
        match fault {
            Fault::CrashHost { host, .. } => (vec![*host], self.processes_on(&[*host], false)),
            Fault::PauseHost { host, .. } => (vec![*host], self.processes_on(&[*host], true)),
            Fault::KillProcess {
                host, process_index, ..
            } => {
                let killed = self
                    .boot_process_of(*host, *process_index)
                    .filter(|p| self.core.procs[p.index()].alive && self.core.status[host.index()].up);
                (vec![*host], killed.into_iter().collect())
            }
            Fault::Partition { partition, .. } => {
                let hosts = match partition {
                    Partition::Isolate { host } => vec![*host],
                    Partition::Halves { side } => side.clone(),
                    Partition::OneWay { from, to } => from.iter().chain(to).copied().collect(),
                    Partition::Bridge { left, right, bridge } => {
                        left.iter().chain(right).chain([bridge]).copied().collect()
                    }
                    Partition::Zone { zone } => (0..self.hosts.len() as u32)
                        .map(HostId)
                        .filter(|h| self.hosts[h.index()].zone.as_deref() == Some(zone.as_str()))
                        .collect(),
                };
                (hosts, Vec::new())
            }
            Fault::Clog { from, to, .. } | Fault::SlowLink { from, to, .. } => (vec![*from, *to], Vec::new()),
            Fault::ClockJump { host, .. }
            | Fault::ClockDrift { host, .. }
            | Fault::Degrade { host, .. }
            | Fault::SlowDisk { host, .. } => (vec![*host], Vec::new()),
            Fault::NetworkChaos { .. } => (Vec::new(), Vec::new()),
            Fault::CrashRole { .. }
            | Fault::PauseRole { .. }
            | Fault::KillRole { .. }
            | Fault::IsolateRole { .. }
            | Fault::DegradeRole { .. } => unreachable!("role faults are resolved when they begin"),
        }
    }

    /// Begins or ends degradation `mode` of fault `i` on `host`.
    fn degrade(&mut self, host: HostId, i: usize, mode: String, begin: bool) {
        self.core.set_degradations(host, |active| {
            if begin {
                active.push((i as u32, mode));
            } else {
                active.retain(|(k, _)| *k != i as u32);
            }
        });
    }

    /// The live processes that play `target`'s role now, picked as it says: random picks draw,
    /// only when there is someone to pick, from plan action `i`'s own stream (or the shared
    /// `"faults/targets"` stream under [`StreamLayout::Shared`]).
    pub(super) fn resolve_target(&mut self, i: usize, target: &RoleTarget) -> Vec<ProcessId> {
        let players: Vec<ProcessId> = self
            .states
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                self.core.procs[*i].alive && s.as_ref().is_some_and(|p| p.has_role(&target.role))
            })
            .map(|(i, _)| ProcessId(i as u32))
            .collect();
        match self.config.streams {
            StreamLayout::Shared => {
                let rng = &mut self.targets_rng;
                target.choose(&players, |n| rng.below(n))
            }
            StreamLayout::PerSource => {
                // Each action resolves once, at its begin: a fresh stream, nothing kept.
                let mut rng = Random::stream(self.config.seed, "faults/targets", self.target_keys[i]);
                target.choose(&players, |n| rng.below(n))
            }
        }
    }

    /// A role-targeted fault: resolved at its begin (the same processes at its end), recorded
    /// with what it hit, then applied to those processes or their hosts. Hitting nobody, it
    /// does nothing; its records say so (no process, `aux` 0) and `faults.role_skipped` counts it.
    fn apply_role_fault(&mut self, i: usize, begin: bool, fault: &Fault) {
        if begin {
            let target = fault.target().expect("a role fault");
            let hit = self.resolve_target(i, target);
            if hit.is_empty() {
                self.core.metrics.count("faults.role_skipped", 1);
            }
            self.role_hits.insert(i, hit);
        }
        let hit = self.role_hits.get(&i).cloned().unwrap_or_default();
        self.record_role_fault(i, begin, fault, &hit);
        let mut hosts: Vec<HostId> = Vec::new();
        for p in &hit {
            let h = self.core.procs[p.index()].host;
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        if begin {
            let processes = match fault {
                Fault::CrashRole { .. } => self.processes_on(&hosts, false),
                Fault::PauseRole { .. } => self.processes_on(&hosts, true),
                _ => hit.clone(),
            };
            self.open_window(i, fault, hosts.clone(), processes);
        } else if self.core.now <= self.heal_at {
            self.core.metrics.fault_ended(i, self.core.now);
        }
        if hit.is_empty() || (!begin && self.core.now > self.heal_at) {
            return;
        }
        let id = i as u64;
        match fault {
            Fault::CrashRole { .. } => {
                for h in hosts {
                    if begin {
                        self.crash_host(h)
                    } else {
                        self.restart_host(h)
                    }
                }
            }
            Fault::PauseRole { .. } => {
                for h in hosts {
                    if begin {
                        self.pause_host(h)
                    } else {
                        self.resume_host(h)
                    }
                }
            }
            Fault::KillRole { .. } => {
                for p in hit {
                    let host_up = self.core.status[self.core.procs[p.index()].host.index()].up;
                    if begin {
                        if self.core.procs[p.index()].alive && host_up {
                            self.kill(p, Lifecycle::Killed);
                            self.core.procs[p.index()].killed = true;
                        }
                    } else if self.core.procs[p.index()].killed && host_up {
                        self.restart(p);
                    }
                }
            }
            Fault::IsolateRole { .. } if begin => {
                let partition = if let [host] = hosts[..] {
                    Partition::Isolate { host }
                } else {
                    hosts.sort();
                    Partition::Halves { side: hosts }
                };
                self.core.net.add_partition(id, partition);
            }
            Fault::IsolateRole { .. } => self.core.net.remove_partition(id),
            Fault::DegradeRole { mode, .. } => {
                for h in hosts {
                    self.degrade(h, i, mode.clone(), begin);
                }
            }
            _ => unreachable!("only role faults have a target"),
        }
    }

    /// A role fault's begin or end records: one per process hit (`process`, `host` say which;
    /// `aux` is how many were hit), sharing one event index, or one with no process when it
    /// hit nobody.
    fn record_role_fault(&mut self, i: usize, begin: bool, fault: &Fault, hit: &[ProcessId]) {
        let digest = self.fault_digests[i];
        let kind = if begin {
            RecordKind::FaultBegin
        } else {
            RecordKind::FaultEnd
        };
        let mut r = EventRecord {
            index: self.core.event_index,
            time: self.core.now,
            kind,
            process: NONE,
            host: NONE,
            peer: i as u32,
            aux: hit.len() as u64,
            digest,
        };
        if hit.is_empty() {
            self.core.emit(r, || EventDetail::Fault(fault));
        }
        for p in hit {
            r.process = p.0;
            r.host = self.core.procs[p.index()].host.0;
            self.core.emit(r, || EventDetail::Fault(fault));
        }
        self.core.event_index += 1;
    }

    /// The fault's begin or end event in the record (every one counts, even a no-op end).
    fn record_fault(&mut self, i: usize, begin: bool, fault: &Fault) {
        let r = EventRecord {
            index: self.core.event_index,
            time: self.core.now,
            kind: if begin {
                RecordKind::FaultBegin
            } else {
                RecordKind::FaultEnd
            },
            process: NONE,
            host: NONE,
            peer: i as u32,
            aux: 0,
            digest: self.fault_digests[i],
        };
        self.core.emit(r, || EventDetail::Fault(fault));
        self.core.event_index += 1;
    }

    /// Undoes every fault: restarts crashed hosts and killed processes, resumes paused hosts,
    /// heals the network, restores clock rates and ends degradations and slow disks. Clock readings keep any
    /// jumps.
    pub(super) fn heal(&mut self) {
        let r = EventRecord {
            index: self.core.event_index,
            time: self.core.now,
            kind: RecordKind::Heal,
            process: NONE,
            host: NONE,
            peer: NONE,
            aux: 0,
            digest: 0,
        };
        self.core.emit(r, || EventDetail::None);
        self.core.event_index += 1;
        self.core.metrics.faults_healed(self.core.now);
        self.core.net.heal();
        let now = self.core.now;
        for h in 0..self.core.hosts.len() {
            let host = HostId(h as u32);
            self.restart_host(host);
            self.resume_host(host);
            let hs = &mut self.core.hosts[h];
            let base = hs.base_drift_ppm;
            hs.disk_timing.slow.clear();
            self.core.clocks[h].set_drift(now, base);
            self.core.set_degradations(host, Vec::clear);
        }
        for p in 0..self.core.procs.len() {
            if self.core.procs[p].killed {
                self.restart(ProcessId(p as u32));
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// The target stream index of each action of a sorted `plan`: a digest of the action's start
/// time and role, and of how many earlier actions share both. Neither its place in the plan,
/// its kind, its pick nor its duration counts, so removing other actions, halving durations,
/// or turning a crash into a kill (as shrinking does) leaves an action's picks as they were.
/// Actions without a role target get a key too; it is never used.
pub(super) fn target_stream_keys(plan: &FaultPlan) -> Vec<u64> {
    let mut seen: BTreeMap<(u64, &str), u64> = BTreeMap::new();
    plan.actions
        .iter()
        .map(|a| {
            let role = a.fault.target().map_or("", |t| t.role.as_str());
            let n = seen.entry((a.at.0, role)).or_default();
            let key = digest(&(a.at.0, role, *n));
            *n += 1;
            key
        })
        .collect()
}
