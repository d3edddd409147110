//! Means, 95% confidence intervals and paired differences over seeds.
//!
//! With common random numbers every variant runs the same seeds, so the difference between
//! a variant and the baseline is taken seed by seed (a paired comparison): the noise the two
//! share cancels, and the interval of the difference is much narrower than the two intervals
//! side by side would suggest.

use serde::{Deserialize, Serialize};

/// A sample mean with its 95% confidence interval (Student's t).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Number of values.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Sample standard deviation (0 with fewer than two values).
    pub std_dev: f64,
    /// Half-width of the 95% interval: the mean is `mean ± half_width`.
    pub half_width: f64,
}

impl Estimate {
    /// The estimate from `values` (finite ones only); `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Estimate> {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let n = v.len();
        if n == 0 {
            return None;
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Some(Estimate {
                n,
                mean,
                std_dev: 0.0,
                half_width: f64::INFINITY,
            });
        }
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        let std_dev = var.sqrt();
        let half_width = t_975(n - 1) * std_dev / (n as f64).sqrt();
        Some(Estimate {
            n,
            mean,
            std_dev,
            half_width,
        })
    }

    /// Lower end of the interval.
    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }

    /// Upper end of the interval.
    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }

    /// Whether the interval excludes zero (the difference is significant at 5%).
    pub fn excludes_zero(&self) -> bool {
        self.low() > 0.0 || self.high() < 0.0
    }
}

/// The paired difference `variant - baseline` over the seeds both have a value for.
pub fn paired_difference(variant: &[Option<f64>], baseline: &[Option<f64>]) -> Option<Estimate> {
    let diffs: Vec<f64> = variant
        .iter()
        .zip(baseline)
        .filter_map(|(a, b)| Some((*a)? - (*b)?))
        .collect();
    Estimate::of(&diffs)
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom (two-sided 95%).
pub fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        // Beyond the table, the Cornish–Fisher expansion's first terms are good to 3 decimals.
        _ => {
            let z = 1.959_964;
            let d = df as f64;
            z + (z * z * z + z) / (4.0 * d) + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_interval() {
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(e.n, 5);
        assert!((e.mean - 3.0).abs() < 1e-12);
        assert!((e.std_dev - 2.5f64.sqrt()).abs() < 1e-12);
        // t(4) = 2.776; sd/sqrt(n) = sqrt(2.5/5)
        assert!((e.half_width - 2.776 * (2.5f64 / 5.0).sqrt()).abs() < 1e-4);
        assert!(e.excludes_zero());
        assert!(Estimate::of(&[]).is_none());
        assert!(Estimate::of(&[f64::NAN]).is_none());
        assert!(Estimate::of(&[7.0]).unwrap().half_width.is_infinite());
    }

    #[test]
    fn pairing_cancels_shared_noise() {
        // Big seed-to-seed noise shared by both, a constant difference of 1.
        let base: Vec<Option<f64>> = [10.0, 50.0, 30.0, 90.0].iter().map(|&x| Some(x)).collect();
        let var: Vec<Option<f64>> = base.iter().map(|x| x.map(|v| v + 1.0)).collect();
        let d = paired_difference(&var, &base).unwrap();
        assert!((d.mean - 1.0).abs() < 1e-12 && d.half_width < 1e-9);
        // Unpaired, the intervals overlap widely.
        let a = Estimate::of(&[10.0, 50.0, 30.0, 90.0]).unwrap();
        assert!(a.half_width > 10.0);
        // Seeds missing on either side are left out.
        let partial = [Some(2.0), None, Some(4.0)];
        let other = [Some(1.0), Some(1.0), None];
        assert_eq!(paired_difference(&partial, &other).unwrap().n, 1);
    }

    #[test]
    fn t_quantiles() {
        assert_eq!(t_975(1), 12.706);
        assert!((t_975(31) - 2.040).abs() < 2e-3);
        assert!((t_975(60) - 2.000).abs() < 2e-3);
        assert!((t_975(1000) - 1.962).abs() < 2e-3);
    }
}
