//! Applying the fault plan: each fault's begin and end, and the heal that undoes them all.

use super::Sim;
use crate::fault::Fault;
use crate::network::HostId;
use crate::process::{Process, ProcessId};
use crate::property::Lifecycle;
use crate::record::{EventDetail, EventRecord, NONE, RecordKind, digest};

impl<P: Process> Sim<P> {
    pub(super) fn apply_fault(&mut self, i: usize, begin: bool) {
        let fault = self.plan.actions[i].fault.clone();
        let kind = if begin {
            RecordKind::FaultBegin
        } else {
            RecordKind::FaultEnd
        };
        let r = EventRecord {
            index: self.core.event_index,
            time: self.core.now,
            kind,
            process: NONE,
            host: NONE,
            peer: i as u32,
            aux: 0,
            digest: digest(&format!("{fault:?}")),
        };
        self.core.emit(r, EventDetail::Fault(&fault));
        self.core.event_index += 1;
        // Ends of faults already undone by the heal are no-ops.
        if !begin && self.core.now > self.heal_at {
            return;
        }
        let now = self.core.now;
        let id = i as u64;
        match fault {
            Fault::CrashHost { host, .. } => {
                if begin {
                    self.crash_host(host)
                } else {
                    self.restart_host(host)
                }
            }
            Fault::PauseHost { host, .. } => {
                let hs = &mut self.core.hosts[host.index()];
                if begin {
                    if hs.up && !hs.paused {
                        hs.paused = true;
                        self.core.note_host_lifecycle(host, Lifecycle::Paused);
                    }
                } else {
                    self.resume_host(host);
                }
            }
            Fault::KillProcess {
                host, process_index, ..
            } => {
                if let Some(p) = self.boot_process_of(host, process_index) {
                    if begin {
                        if self.core.procs[p.index()].alive && self.core.hosts[host.index()].up {
                            self.kill(p, Lifecycle::Killed);
                            self.core.procs[p.index()].killed = true;
                        }
                    } else if self.core.procs[p.index()].killed && self.core.hosts[host.index()].up {
                        self.restart(p);
                    }
                }
            }
            Fault::Partition { partition, .. } => {
                if begin {
                    self.core.net.add_partition(id, partition)
                } else {
                    self.core.net.remove_partition(id)
                }
            }
            Fault::Clog { from, to, duration } => {
                if begin {
                    self.core.net.add_clog(id, from, to, now.saturating_add(duration));
                } else {
                    self.core.net.remove_link_fault(id);
                }
            }
            Fault::SlowLink { from, to, factor, .. } => {
                if begin {
                    self.core.net.add_slow(id, from, to, factor)
                } else {
                    self.core.net.remove_link_fault(id)
                }
            }
            Fault::ClockJump { host, delta_ns } => self.core.hosts[host.index()].clock.jump(now, delta_ns),
            Fault::ClockDrift { host, drift_ppm, .. } => {
                let hs = &mut self.core.hosts[host.index()];
                let ppm = if begin { drift_ppm } else { hs.base_drift_ppm };
                hs.clock.set_drift(now, ppm);
            }
            Fault::NetworkChaos { chaos, .. } => self.core.net.set_chaos(begin.then_some(chaos)),
            Fault::Degrade { host, mode, .. } => {
                let active = &mut self.core.hosts[host.index()].degradations;
                if begin {
                    active.push((i as u32, mode));
                } else {
                    active.retain(|(k, _)| *k != i as u32);
                }
            }
        }
    }

    /// Undoes every fault: restarts crashed hosts and killed processes, resumes paused hosts,
    /// heals the network, restores clock rates and ends degradations. Clock readings keep any
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
        self.core.emit(r, EventDetail::None);
        self.core.event_index += 1;
        self.core.net.heal();
        let now = self.core.now;
        for h in 0..self.core.hosts.len() {
            let host = HostId(h as u32);
            self.restart_host(host);
            self.resume_host(host);
            let hs = &mut self.core.hosts[h];
            let base = hs.base_drift_ppm;
            hs.clock.set_drift(now, base);
            hs.degradations.clear();
        }
        for p in 0..self.core.procs.len() {
            if self.core.procs[p].killed {
                self.restart(ProcessId(p as u32));
            }
        }
    }
}
