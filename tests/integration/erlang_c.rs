//! The services model's queue-wait figures against Erlang C: the built-in `mmc` experiment
//! (λ = 2400/s, μ = 1000/s per worker, a = 2.4 Erlangs), shortened, for c = 3..6.

use ruckus_scenarios::explore::{self, Experiment};
use ruckus_scenarios::registry::Registry;

/// Erlang C: the probability that an arrival waits with `c` workers and `a` Erlangs offered.
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / f64::from(k + 1);
    }
    let last = term * f64::from(c) / (f64::from(c) - a);
    last / (sum + last)
}

#[test]
fn waiting_probability_and_mean_wait_match_erlang_c() {
    let sets = ["limits.horizon=\"45s\"".to_owned()];
    let mut e = Experiment::load(&Registry::builtin(), "mmc", &sets).unwrap();
    e.spec.seeds = 4;
    let r = explore::run_all(&e, 1, &|| {}).unwrap();
    let (lambda, mu, a) = (2400.0, 1000.0, 2.4);
    for c in 3..=6u32 {
        let variant = format!("c{c}");
        let p = erlang_c(c, a);
        let wait_ms = p / (f64::from(c) * mu - lambda) * 1e3;
        let got_p = r.estimate(&variant, "tier0.waited_fraction").unwrap().mean;
        let got_w = r.estimate(&variant, "tier0.wait_mean_ms").unwrap().mean;
        assert!(
            (got_p - p).abs() <= 0.03 * p,
            "c = {c}: P(wait) {got_p}, Erlang C {p}"
        );
        assert!(
            (got_w - wait_ms).abs() <= 0.08 * wait_ms,
            "c = {c}: mean wait {got_w} ms, Erlang C {wait_ms} ms"
        );
        // The sojourn is the wait plus the 1 ms mean service: the wait is not the sojourn.
        let sojourn = r.estimate(&variant, "tier0.sojourn_mean_ms").unwrap().mean;
        assert!(
            (sojourn - got_w - 1.0).abs() < 0.03,
            "c = {c}: {sojourn} vs {got_w}"
        );
    }
}
