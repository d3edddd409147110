//! Crash, kill, stop, restart, pause and resume: what each does to processes, their
//! incarnations and their lifecycle records.

use super::Sim;
use super::core::{Core, Payload};
use crate::network::HostId;
use crate::process::{Process, ProcessId};
use crate::property::{Lifecycle, LifecycleEvent};

impl<P: Process> Core<P> {
    /// Appends a lifecycle event for `id` at the current time and incarnation.
    pub(super) fn note_lifecycle(&mut self, id: ProcessId, kind: Lifecycle) {
        let incarnation = self.procs[id.index()].incarnation;
        let events = &mut self.lifecycles[id.index()];
        debug_assert!(
            events.last().is_none_or(|e| e.incarnation <= incarnation),
            "incarnations never decrease"
        );
        events.push(LifecycleEvent {
            time: self.now,
            kind,
            incarnation,
        });
    }

    /// Pauses or resumes the lifecycle of every live process on `host`.
    pub(super) fn note_host_lifecycle(&mut self, host: HostId, kind: Lifecycle) {
        for i in 0..self.hosts[host.index()].processes.len() {
            let id = self.hosts[host.index()].processes[i];
            if self.procs[id.index()].alive {
                self.note_lifecycle(id, kind);
            }
        }
    }
}

impl<P: Process> Sim<P> {
    /// Ends a process's current incarnation: state gone, pending events and timers void.
    /// `why` is what its lifecycle records (with the incarnation that ended).
    pub(super) fn kill(&mut self, id: ProcessId, why: Lifecycle) {
        if self.core.procs[id.index()].alive {
            self.core.note_lifecycle(id, why);
            let meta = &mut self.core.procs[id.index()];
            meta.alive = false;
            meta.incarnation += 1;
            self.states[id.index()] = None;
        }
    }

    /// Starts a new incarnation from the boot image.
    pub(super) fn restart(&mut self, id: ProcessId) {
        let meta = &mut self.core.procs[id.index()];
        if meta.alive {
            return;
        }
        meta.alive = true;
        meta.killed = false;
        meta.incarnation += 1;
        let incarnation = meta.incarnation;
        self.core.note_lifecycle(id, Lifecycle::Restarted);
        let image = self.boot_images[id.index()].clone();
        self.install(id, image);
        self.core.push(self.core.now, id.0, incarnation, Payload::Start);
    }

    pub(super) fn crash_host(&mut self, h: HostId) {
        let status = &mut self.core.status[h.index()];
        if !status.up {
            return;
        }
        status.up = false;
        status.paused = false;
        let host = &mut self.core.hosts[h.index()];
        host.deferred.clear();
        // Whatever the CPU was doing is gone with the host.
        host.busy_until = host.busy_until.min(self.core.now);
        host.disk.crash(&self.core.disk_faults, &mut host.disk_rng);
        // Queued asynchronous syncs die with the host (their completions go to the dead
        // incarnations and are dropped).
        host.disk_timing.crash(self.core.now);
        for id in host.processes.clone() {
            self.kill(id, Lifecycle::Crashed);
            // A spawned process dies with its host for good: a kill fault that hit it earlier
            // must not bring it back when it ends (or at the heal).
            if !self.core.procs[id.index()].boot {
                self.core.procs[id.index()].killed = false;
            }
        }
    }

    pub(super) fn restart_host(&mut self, h: HostId) {
        let status = &mut self.core.status[h.index()];
        if status.up {
            return;
        }
        status.up = true;
        for id in self.core.hosts[h.index()].processes.clone() {
            if self.core.procs[id.index()].boot {
                self.restart(id);
            }
        }
    }

    pub(super) fn resume_host(&mut self, h: HostId) {
        let now = self.core.now;
        let status = &mut self.core.status[h.index()];
        if !status.paused {
            return;
        }
        status.paused = false;
        self.core.note_host_lifecycle(h, Lifecycle::Resumed);
        let host = &mut self.core.hosts[h.index()];
        // Re-queued in arrival order at the resume time: handled in order, timers late.
        for ev in std::mem::take(&mut host.deferred) {
            self.core.push(now, ev.target, ev.incarnation, ev.payload);
        }
    }

    /// Pauses a host that is up: its events wait in `deferred` until it resumes.
    pub(super) fn pause_host(&mut self, h: HostId) {
        let status = &mut self.core.status[h.index()];
        if status.up && !status.paused {
            status.paused = true;
            self.core.note_host_lifecycle(h, Lifecycle::Paused);
        }
    }

    /// A `KillProcess` fault: at its begin, kills the chosen boot process (if alive on a host
    /// that is up) and marks it for restart; at its end, restarts it if still so marked.
    pub(super) fn kill_fault(&mut self, h: HostId, process_index: u32, begin: bool) {
        let Some(p) = self.boot_process_of(h, process_index) else {
            return;
        };
        let host_up = self.core.status[h.index()].up;
        if begin {
            if self.core.procs[p.index()].alive && host_up {
                self.kill(p, Lifecycle::Killed);
                self.core.procs[p.index()].killed = true;
            }
        } else if self.core.procs[p.index()].killed && host_up {
            self.restart(p);
        }
    }

    /// The process a [`Fault::KillProcess`](crate::Fault::KillProcess) on `host` with
    /// `process_index` kills: the host's boot process number `index` (modulo their count), if
    /// it has any. Lets reports name the process instead of the raw index.
    pub fn boot_process_of(&self, h: HostId, index: u32) -> Option<ProcessId> {
        let boots: Vec<ProcessId> = self.core.hosts[h.index()]
            .processes
            .iter()
            .copied()
            .filter(|p| self.core.procs[p.index()].boot)
            .collect();
        (!boots.is_empty()).then(|| boots[index as usize % boots.len()])
    }
}
