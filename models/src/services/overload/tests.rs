use super::*;
use crate::discovery::swim::log10;
use ruckus_sim::{Duration, Instant, ProcessId, Random};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
fn at(n: u64) -> Instant {
    Instant::ZERO + ms(n)
}

#[test]
fn sre_rejection_probability_by_hand() {
    // (100 - 2*30) / 101 = 40/101.
    assert!((rejection_probability(100, 30, 2.0) - 40.0 / 101.0).abs() < 1e-12);
    // Accepting half or more with K = 2: never reject.
    assert_eq!(rejection_probability(100, 50, 2.0), 0.0);
    assert_eq!(rejection_probability(100, 80, 2.0), 0.0);
    // Nothing accepted: 100/101.
    assert!((rejection_probability(100, 0, 2.0) - 100.0 / 101.0).abs() < 1e-12);
    // K = 1.1: (100 - 55) / 101.
    assert!((rejection_probability(100, 50, 1.1) - 45.0 / 101.0).abs() < 1e-12);
    assert_eq!(rejection_probability(0, 0, 2.0), 0.0);
}

#[test]
fn throttle_counts_over_a_sliding_window() {
    let cfg = ThrottleConfig {
        k: 2.0,
        window: ms(1000),
    };
    let mut t = AdaptiveThrottle::new(cfg);
    let mut rng = Random::stream(1, "t", 0);
    // No history: probability 0, so the request goes and nothing is drawn.
    let before = rng.clone();
    assert!(t.admit(at(0), &mut rng));
    assert_eq!(rng.clone().next_u64(), before.clone().next_u64());
    // One request, no accepts yet: (1 - 0) / 2.
    assert_eq!(t.probability(at(1)), 0.5);
    for _ in 1..10 {
        t.slot().0 += 1;
    }
    t.on_accept(at(50));
    // 10 requests, 1 accept: (10 - 2) / 11.
    assert!((t.probability(at(99)) - 8.0 / 11.0).abs() < 1e-12);
    // Buckets of 100 ms: at t = 1000 ms the first bucket (0..100 ms) falls out.
    assert_eq!(t.totals(at(999)), (10, 1));
    t.admit(at(500), &mut rng);
    assert_eq!(t.totals(at(1000)), (1, 0));
    assert_eq!(t.totals(at(5000)), (0, 0), "a long gap clears it all");
    // Under overload the admitted share follows the formula.
    let mut t = AdaptiveThrottle::new(cfg);
    for _ in 0..1000 {
        t.slot().0 += 1;
    }
    t.slot().1 += 100;
    let p = t.probability(at(0));
    assert!((p - 800.0 / 1001.0).abs() < 1e-12);
    let admitted = (0..10_000).filter(|_| t.admit(at(0), &mut rng)).count();
    // The probability drifts up as requests are counted; it stays near 0.8-0.99.
    assert!(admitted < 2_000, "{admitted} admitted");
}

#[test]
fn bulkhead_grants_queues_rejects_and_hands_over() {
    let mut b = Bulkhead::new(BulkheadConfig {
        max_concurrent: 2,
        max_queue: 1,
    });
    assert_eq!(b.acquire(1), Permit::Granted);
    assert_eq!(b.acquire(2), Permit::Granted);
    assert_eq!(b.acquire(3), Permit::Queued);
    assert_eq!(b.acquire(4), Permit::Rejected);
    assert_eq!(b.release(), Some(3), "the slot passes to the waiting call");
    assert_eq!(b.in_use(), 2);
    assert_eq!(b.release(), None);
    assert_eq!(b.in_use(), 1);
    assert_eq!(b.acquire(5), Permit::Granted);
    assert_eq!(b.acquire(6), Permit::Queued);
}

#[test]
fn fallback_static_and_cached_staleness() {
    let s = Fallback::new(FallbackConfig::Static);
    assert_eq!(s.answer(at(5)), Some(Duration::ZERO));
    let mut c = Fallback::new(FallbackConfig::Cached {
        max_staleness: ms(100),
    });
    assert_eq!(c.answer(at(5)), None, "nothing cached yet");
    c.on_success(at(10));
    assert_eq!(c.answer(at(60)), Some(ms(50)));
    assert_eq!(c.answer(at(110)), Some(ms(100)), "the bound itself is allowed");
    assert_eq!(c.answer(at(111)), None);
    c.on_success(at(200));
    assert_eq!(c.answer(at(250)), Some(ms(50)));
}

fn sample(latency_ms: u64, in_flight: u32, dropped: bool) -> Sample {
    Sample {
        latency: ms(latency_ms),
        in_flight,
        dropped,
    }
}

#[test]
fn aimd_steps_by_hand() {
    let t = ms(100);
    assert_eq!(
        aimd_step(20.0, sample(10, 10, false), 0.9, t),
        21.0,
        "half in use: +1"
    );
    assert_eq!(
        aimd_step(20.0, sample(10, 9, false), 0.9, t),
        20.0,
        "app-limited: keep"
    );
    assert_eq!(
        aimd_step(20.0, sample(10, 20, true), 0.9, t),
        18.0,
        "drop: floor(20*0.9)"
    );
    assert_eq!(
        aimd_step(25.0, sample(101, 20, false), 0.9, t),
        22.0,
        "slow: floor(22.5)"
    );
    let mut l = ConcurrencyLimiter::new(LimiterConfig::Aimd(AimdConfig {
        initial_limit: 2,
        min_limit: 2,
        max_limit: 3,
        ..AimdConfig::default()
    }));
    l.on_sample(sample(1, 2, false));
    l.on_sample(sample(1, 2, false));
    assert_eq!(l.limit(), 3, "capped at max_limit");
    l.on_sample(sample(1, 3, true));
    assert_eq!(l.limit(), 2, "floor(2.7) = 2, and min_limit holds");
    l.on_sample(sample(1, 3, true));
    assert_eq!(l.limit(), 2);
    assert!(l.admits(1) && !l.admits(2));
}

#[test]
fn vegas_queue_estimate_and_steps_by_hand() {
    // limit 100, no-load 10 ms, now 20 ms: ceil(100 * (1 - 0.5)) = 50 queued.
    assert_eq!(vegas_queue(100.0, 10.0, 20.0), 50.0);
    assert_eq!(vegas_queue(100.0, 10.0, 10.0), 0.0);
    assert_eq!(vegas_queue(10.0, 10.0, 11.0), 1.0, "ceil(0.909)");
    assert!((vegas_step(100.0) - 2.0).abs() < 1e-12);
    assert_eq!(vegas_step(5.0), 1.0, "at least 1");
    let cfg = VegasConfig {
        initial_limit: 100,
        window: 1,
        ..VegasConfig::default()
    };
    let mut l = ConcurrencyLimiter::new(LimiterConfig::Vegas(cfg));
    // First sample sets the no-load latency; queue 0 <= log10(100) = 2: grow by beta*2 = 12.
    l.on_sample(sample(10, 60, false));
    assert_eq!(l.limit(), 112);
    // 112 * (1 - 10/11) = 10.18 -> 11 queued; step log10(112) = 2.049; alpha*step = 6.15,
    // beta*step = 12.29: 11 is between, keep.
    l.on_sample(sample(11, 60, false));
    assert_eq!(l.limit(), 112);
    // 112 * (1 - 10/20) = 56 > 12.29: shrink by log10(112).
    l.on_sample(sample(20, 60, false));
    assert!((l.limit - (112.0 - log10(112.0))).abs() < 1e-9, "{}", l.limit);
    // App-limited (fewer than half in flight): no change.
    let before = l.limit;
    l.on_sample(sample(30, 10, false));
    assert_eq!(l.limit, before);
    // A drop shrinks by log10 too.
    l.on_sample(sample(10, 10, true));
    assert!((l.limit - (before - log10(before))).abs() < 1e-9);
}

#[test]
fn gradient_ratio_by_hand() {
    // Latency doubled against the long average: 1.5 * 10/20 = 0.75; 100 * 0.75 + 4 = 79.
    assert_eq!(gradient_limit(100.0, 10.0, 20.0, 1.5, 4.0), 79.0);
    // Faster than average: the gradient is capped at 1, so the limit grows by queue_size.
    assert_eq!(gradient_limit(100.0, 10.0, 5.0, 1.5, 4.0), 104.0);
    // Much slower: floored at 0.5.
    assert_eq!(gradient_limit(100.0, 10.0, 100.0, 1.5, 4.0), 54.0);
    let cfg = GradientConfig {
        initial_limit: 100,
        long_window: 9, // EWMA weight 2 / (9 + 1) = 0.2
        window: 1,
        ..GradientConfig::default()
    };
    let mut l = ConcurrencyLimiter::new(LimiterConfig::Gradient(cfg));
    // First sample: long = 10 ms, gradient min(1, 1.5) = 1: 100 + 4 = 104, smoothed
    // 0.8 * 100 + 0.2 * 104 = 100.8.
    l.on_sample(sample(10, 80, false));
    assert!((l.limit - 100.8).abs() < 1e-9, "{}", l.limit);
    // long = 10 + (40 - 10) * 0.2 = 16 ms; gradient 1.5 * 16 / 40 = 0.6:
    // 100.8 * 0.6 + 4 = 64.48; smoothed 0.8 * 100.8 + 0.2 * 64.48 = 93.536.
    l.on_sample(sample(40, 80, false));
    assert!((l.limit - 93.536).abs() < 1e-9, "{}", l.limit);
    assert_eq!(l.limit(), 93);
}

#[test]
fn windowed_limiters_average_their_samples() {
    let cfg = GradientConfig {
        initial_limit: 100,
        long_window: 9,
        window: 2,
        ..GradientConfig::default()
    };
    let mut l = ConcurrencyLimiter::new(LimiterConfig::Gradient(cfg));
    l.on_sample(sample(5, 60, false));
    assert_eq!(l.limit, 100.0, "half a window: nothing yet");
    // Mean 10 ms, most in flight 80: the same step as one 10 ms sample.
    l.on_sample(sample(15, 80, false));
    assert!((l.limit - 100.8).abs() < 1e-9, "{}", l.limit);
}

#[test]
fn token_bucket_refill_by_hand() {
    // 100 tokens/s, burst 5: starts full.
    let mut b = TokenBucket::new(100.0, 5.0, at(0));
    for _ in 0..5 {
        assert!(b.try_take(at(0)));
    }
    assert!(!b.try_take(at(0)));
    // 25 ms later: 2.5 tokens, two whole ones.
    assert!((b.tokens(at(25)) - 2.5).abs() < 1e-9);
    assert!(b.try_take(at(25)) && b.try_take(at(25)) && !b.try_take(at(25)));
    // A long pause refills only up to the burst.
    assert_eq!(b.tokens(at(10_000)), 5.0);
}

#[test]
fn rate_limiter_global_or_per_client() {
    let cfg = RateLimitConfig {
        rate: 10.0,
        burst: 2.0,
        per_client: false,
    };
    let (a, b) = (ProcessId(7), ProcessId(8));
    let mut global = RateLimiter::new(cfg);
    assert!(global.allow(a, at(0)) && global.allow(b, at(0)));
    assert!(!global.allow(b, at(0)), "one bucket for everyone");
    let mut each = RateLimiter::new(RateLimitConfig {
        per_client: true,
        ..cfg
    });
    assert!(each.allow(a, at(0)) && each.allow(a, at(0)) && !each.allow(a, at(0)));
    assert!(each.allow(b, at(0)), "b has its own bucket");
    assert!(each.allow(a, at(100)), "10/s: a token after 100 ms");
}

#[test]
fn limiter_configs_validate() {
    assert!(LimiterConfig::Fixed { limit: 0 }.validate().is_err());
    assert!(LimiterConfig::Aimd(AimdConfig::default()).validate().is_ok());
    let bad = AimdConfig {
        initial_limit: 2000,
        ..AimdConfig::default()
    };
    assert!(LimiterConfig::Aimd(bad).validate().is_err());
    let bad = VegasConfig {
        alpha: 6.0,
        beta: 3.0,
        ..VegasConfig::default()
    };
    assert!(LimiterConfig::Vegas(bad).validate().is_err());
    assert!(
        LimiterConfig::Gradient(GradientConfig::default())
            .validate()
            .is_ok()
    );
}
