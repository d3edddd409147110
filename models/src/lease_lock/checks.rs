//! The model's invariants (`storage_fenced`, `tokens_increasing`, `writes_resume`) and the
//! holder-side coverage probes.

use ruckus_sim::{HostId, Instant, ProcessId, Property, View};
use std::cell::Cell;

use super::{ClientState, LeaseLock, LeaseLockConfig, LockOp, SERVER};

/// Reads the history entries not yet seen by a checker, advancing its cursor.
fn unseen<'a>(v: &View<'a, LeaseLock>, cursor: &Cell<usize>) -> &'a [ruckus_sim::HistoryEntry<LockOp>] {
    let history = v.history();
    let new = &history[cursor.get().min(history.len())..];
    cursor.set(history.len());
    new
}

/// Coverage of the holder's side: a client that believes in a lease the server has already
/// expired while its host is paused (what fencing exists for), and a holder whose clock runs
/// slow while the server's runs fast (the drift its margin must cover), by more than a
/// crystal's own spread: scenario files give every clock up to ±20 ppm, which no margin notices.
fn holder_probes(v: &View<'_, LeaseLock>) {
    const NOTABLE_DRIFT_PPM: i64 = 1_000;
    let Some(LeaseLock::Server(server)) = v.process(SERVER) else {
        return;
    };
    let server_drift = v.drift_ppm(HostId(0));
    for (_, host, p) in v.processes() {
        let LeaseLock::Client(c) = p else { continue };
        let (ClientState::Working { token, .. } | ClientState::Writing { token, .. }) = c.state else {
            continue;
        };
        let expired = server.holder.is_none_or(|h| h.token != token);
        v.sometimes(
            "lease_lock.lease_expired_while_holder_paused",
            expired && v.host_paused(host),
        );
        v.sometimes(
            "lease_lock.holder_clock_slow_while_server_clock_fast",
            server_drift > 0 && v.drift_ppm(host) < 0 && server_drift - v.drift_ppm(host) > NOTABLE_DRIFT_PPM,
        );
    }
}

/// The model's invariants; see the module docs for their exact statements.
pub fn properties(config: &LeaseLockConfig) -> Vec<Property<LeaseLock>> {
    // Each checker scans only history it has not seen yet; what it keeps is its own summary of
    // what it has seen, so checking stays O(1) per event. Checkers never steer the run.
    let fenced_cursor = Cell::new(0usize);
    let fenced_max: Cell<Option<(u64, ProcessId, Instant)>> = Cell::new(None);
    let storage_fenced = Property::always("storage_fenced", move |v| {
        holder_probes(v);
        for e in unseen(v, &fenced_cursor) {
            if let LockOp::WriteAccepted { token, client } = e.operation {
                match fenced_max.get() {
                    Some((max, holder, at)) if token < max => {
                        return Err(format!(
                            "storage accepted a write under token {token} from {client} at {}, after it had \
                             accepted token {max} from {holder} at {at}",
                            e.time
                        ));
                    }
                    Some((max, ..)) if token == max => {}
                    _ => fenced_max.set(Some((token, client, e.time))),
                }
            }
        }
        Ok(())
    });

    let grants_cursor = Cell::new(0usize);
    let grants_max: Cell<Option<(u64, ProcessId, Instant)>> = Cell::new(None);
    let last_grant_local: Cell<Option<Instant>> = Cell::new(None);
    let tokens_increasing = Property::always("tokens_increasing", move |v| {
        for e in unseen(v, &grants_cursor) {
            if let LockOp::Granted { token, client } = e.operation {
                // The window of `bug_clock_tokens`: the server's clock reads no later than at
                // an earlier grant (checked right after the grant, so this is its reading).
                let local = v.local_time(HostId(0));
                v.sometimes(
                    "lease_lock.grant_after_server_clock_stepped_back",
                    last_grant_local.get().is_some_and(|t| local <= t),
                );
                last_grant_local.set(Some(local));
                // The window of `bug_no_sync`: a grant by a restarted lock server.
                v.sometimes(
                    "lease_lock.grant_after_server_restart",
                    grants_max.get().is_some() && v.incarnation(SERVER) > 0,
                );
                if let Some((max, holder, at)) = grants_max.get()
                    && token <= max
                {
                    let earlier = if token == max {
                        format!("token {max} was already granted")
                    } else {
                        format!("it is lower than token {max}, granted")
                    };
                    return Err(format!(
                        "token {token} granted to {client} at {}, but {earlier} to {holder} at {at}",
                        e.time
                    ));
                }
                grants_max.set(Some((token, client, e.time)));
            }
        }
        Ok(())
    });

    // The first check runs at the heal; the property holds once writes completed exceed the
    // count seen then.
    let baseline: Cell<Option<u64>> = Cell::new(None);
    let writes_resume = Property::eventually("writes_resume", config.liveness_bound, move |v| {
        let done = v.metrics().counter("writes_completed");
        let base = *baseline.get().get_or_insert(done);
        baseline.set(Some(base));
        if done > base {
            Ok(())
        } else {
            Err(format!(
                "no client completed a write since the heal ({done} writes completed in all)"
            ))
        }
    });

    vec![storage_fenced, tokens_increasing, writes_resume]
}
