//! The figures an experiment compares, from one run's metrics.

use super::*;

/// Summary figures of one run: the numbers experiments compare. `end` is when the run ended.
///
/// `goodput` (successes per second over the measured span), `success_rate`, `degraded_rate`
/// and `answered_rate` (fallback answers, and successes plus them, per offer), `tierN.load_ratio`
/// (requests received per request served), `tierN.wait_mean_ms` (mean queue wait, arrival to
/// start of service) and `tierN.waited_fraction` (the share of started requests that waited
/// at all), `amplification`
/// (attempts per offered request), `latency_{mean,p50,p99,p999}_ms`, `recovery_time_s` (from
/// the last degradation's end to the first window whose successes reach `recovery_threshold` of
/// the offers in it, warm-up included; the rest of the run if never, with `recovered` = 0),
/// `final_success_rate` (the share of the offers in the run's last `recovery_window` that
/// succeeded: where a run ended up, e.g. still stuck in a retry storm or not) and the raw counters.
pub fn summarize(config: &Config, metrics: &Metrics, end: Instant) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (name, v) in metrics.counters() {
        out.insert(name.clone(), *v as f64);
    }
    let offered = metrics.counter("offered") as f64;
    let ok = metrics.counter("ok") as f64;
    let attempts = metrics.counter("attempts") as f64;
    let span = end
        .saturating_since(Instant::ZERO + config.measure_after)
        .as_secs_f64();
    out.insert("goodput".into(), if span > 0.0 { ok / span } else { 0.0 });
    out.insert(
        "success_rate".into(),
        if offered > 0.0 { ok / offered } else { 0.0 },
    );
    // Answers from fallbacks: "degraded but answering", apart from successes.
    let degraded = metrics.counter("degraded") as f64;
    out.insert(
        "degraded_rate".into(),
        if offered > 0.0 { degraded / offered } else { 0.0 },
    );
    out.insert(
        "answered_rate".into(),
        if offered > 0.0 {
            (ok + degraded) / offered
        } else {
            0.0
        },
    );
    out.insert(
        "amplification".into(),
        if offered > 0.0 { attempts / offered } else { 0.0 },
    );
    let lat = metrics.samples("latency");
    if !lat.is_empty() {
        let mean = lat.iter().map(|&x| x as f64).sum::<f64>() / lat.len() as f64;
        out.insert("latency_mean_ms".into(), mean / 1e6);
        for (name, q) in [
            ("latency_p50_ms", 0.5),
            ("latency_p99_ms", 0.99),
            ("latency_p999_ms", 0.999),
        ] {
            out.insert(
                name.into(),
                metrics.quantile("latency", q).unwrap_or(0) as f64 / 1e6,
            );
        }
    }
    for (i, _) in config.tiers.iter().enumerate() {
        // What the tier received per request it served (about K under adaptive throttling).
        let served = metrics.counter(&format!("tier{i}.served")) as f64;
        if served > 0.0 {
            let received = metrics.counter(&format!("tier{i}.received")) as f64;
            out.insert(format!("tier{i}.load_ratio"), received / served);
        }
        let name = format!("tier{i}.sojourn");
        let s = metrics.samples(&name);
        if !s.is_empty() {
            let mean = s.iter().map(|&x| x as f64).sum::<f64>() / s.len() as f64;
            out.insert(format!("tier{i}.sojourn_mean_ms"), mean / 1e6);
        }
        // Queue wait, without service time, and P(wait > 0): Erlang C's two figures.
        let w = metrics.samples(&format!("tier{i}.wait"));
        if !w.is_empty() {
            let mean = w.iter().map(|&x| x as f64).sum::<f64>() / w.len() as f64;
            let waited = w.iter().filter(|&&x| x > 0).count() as f64;
            out.insert(format!("tier{i}.wait_mean_ms"), mean / 1e6);
            out.insert(format!("tier{i}.waited_fraction"), waited / w.len() as f64);
        }
    }
    // The trigger is the last degradation's end: scheduled in the config, or seen by a server
    // when a fault-plan `Fault::Degrade` on its host ended.
    let fault_end = metrics
        .samples(super::server::FAULT_DEGRADATION_END)
        .iter()
        .max()
        .map(|&ns| Duration(ns));
    let trigger = match (config.trigger_end(), fault_end) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    // Where the run ended up: the share of the last window's offers that succeeded (a success
    // started at its `ok_at` minus its `latency`: the two are recorded together).
    let w = config.recovery_window.0.max(1);
    let from = end.as_nanos().saturating_sub(w);
    let last_offers = metrics
        .samples("offered_at")
        .iter()
        .filter(|&&t| t >= from)
        .count();
    if last_offers > 0 {
        let last_ok = metrics
            .samples("ok_at")
            .iter()
            .zip(metrics.samples("latency"))
            .filter(|&(&done, &took)| done.saturating_sub(took) >= from)
            .count();
        out.insert("final_success_rate".into(), last_ok as f64 / last_offers as f64);
    }
    if let Some(trigger) = trigger {
        // From the trigger's end, even when it ends inside the warm-up: the warm-up's offers
        // and successes count here (else the first window with data would be `measure_after`).
        let both = |a: &str, b: &str| -> Vec<u64> {
            let mut v = metrics.samples(a).to_vec();
            v.extend_from_slice(metrics.samples(b));
            v
        };
        let (recovered, time) = recovery_time(
            Instant::ZERO + trigger,
            end,
            config.recovery_window,
            config.recovery_threshold,
            &both("warmup_offered_at", "offered_at"),
            &both("warmup_ok_at", "ok_at"),
        );
        out.insert("recovered".into(), if recovered { 1.0 } else { 0.0 });
        out.insert("recovery_time_s".into(), time.as_secs_f64());
    }
    out
}

/// Time from `trigger` to the start of the first whole window in which successes reach
/// `threshold` of offers. Returns `(false, end - trigger)` when no window does.
pub fn recovery_time(
    trigger: Instant,
    end: Instant,
    window: Duration,
    threshold: f64,
    offered_at: &[u64],
    ok_at: &[u64],
) -> (bool, Duration) {
    let w = window.0.max(1);
    let windows = end.saturating_since(trigger).0 / w;
    let bucket = |samples: &[u64]| {
        let mut counts = vec![0u64; windows as usize];
        for &t in samples {
            if t >= trigger.0 {
                let k = (t - trigger.0) / w;
                if k < windows {
                    counts[k as usize] += 1;
                }
            }
        }
        counts
    };
    let offers = bucket(offered_at);
    let oks = bucket(ok_at);
    for k in 0..windows as usize {
        if offers[k] > 0 && oks[k] as f64 >= threshold * offers[k] as f64 {
            return (true, Duration(k as u64 * w));
        }
    }
    (false, end.saturating_since(trigger))
}
