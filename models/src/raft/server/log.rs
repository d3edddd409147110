//! The durable state: term and vote, the log on disk, and recovering both at boot.

use super::{Cx, Server};
use crate::raft::storage::{self, META};
use crate::raft::{Entry, StateMachine};
use ruckus_sim::Process;

impl<S: StateMachine> Server<S> {
    pub(super) fn persist_meta<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        // The bug: the vote stays in memory only.
        let vote = self.voted_for.filter(|_| !self.config.bugs.vote_not_persisted);
        let mut disk = cx.storage();
        disk.put(META, storage::encode_meta(self.term, vote));
        disk.sync();
        // The sync covers every earlier write of this process, log entries included.
        self.durable = self.last_index();
    }

    pub(super) fn push_entry(&mut self, entry: Entry<S::Command>) {
        let h = storage::chain::<S>(self.hash_at(self.last_index()), &entry);
        self.log.push(entry);
        self.hashes.push(h);
    }

    /// Truncates the log after `keep` entries and appends `entries`, on disk too, then syncs.
    pub(super) fn store_entries<P: Process>(
        &mut self,
        cx: &mut Cx<'_, '_, P, S>,
        keep: u64,
        entries: &[Entry<S::Command>],
    ) {
        let append_only = keep == self.last_index();
        let mut disk = cx.storage();
        for i in keep + 1..=self.last_index() {
            disk.delete(&storage::log_key(i));
        }
        self.log.truncate(keep as usize);
        self.hashes.truncate(keep as usize);
        for e in entries {
            self.push_entry(e.clone());
            disk.put(
                &storage::log_key(self.last_index()),
                storage::encode_entry::<S>(e),
            );
        }
        if self.config.async_persist && append_only {
            self.persist_in_background(cx);
        } else {
            // A truncation syncs at once: deletes and appends lost unevenly at a crash could
            // leave an older term's entry after a newer one.
            disk.sync();
            self.durable = self.last_index();
        }
    }

    pub(super) fn recover<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        let mut disk = cx.storage();
        if self.config.async_persist {
            // After a process kill the page cache may still hold writes the last incarnation
            // never saw synced: make them durable before acknowledging anything they hold.
            disk.sync();
        }
        if let Some((term, vote)) = disk.get(META).and_then(storage::decode_meta) {
            self.term = term;
            self.voted_for = vote;
            self.recovered_term = Some(term);
        }
        let mut entries = Vec::new();
        while let Some(e) = disk
            .get(&storage::log_key(entries.len() as u64 + 1))
            .and_then(storage::decode_entry::<S>)
        {
            entries.push(e);
        }
        for e in entries {
            self.push_entry(e);
        }
        self.durable = self.last_index();
    }
}
