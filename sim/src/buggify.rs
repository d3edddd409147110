//! Buggify: code-level fault sites in models, in the manner of FoundationDB's `BUGGIFY`.
//!
//! A model marks a rare path it wants exercised (a slow disk write, a dropped reply, a
//! spurious timeout) with `if ctx.buggify("site") { ... }`. With buggify on, each site is
//! enabled or not for the whole run (half of the sites, drawn from the seed the first time the
//! site is met), and an enabled site fires on each call with [`BuggifyConfig::probability`].
//! So every run exercises a different few of the rare paths, and often.
//!
//! Each site draws from its own named stream (`buggify/<site>`), so a site never shifts the
//! network's, a process's or another site's draws. Every choice is a trace note
//! (`buggify <site>: enabled` / `disabled` when first met, `buggify <site>: fired` on each
//! firing), so a trace shows which paths a failure took. With buggify off (the default)
//! `buggify` returns false, draws nothing and notes nothing: a run is exactly the run without
//! sites, so switching it off confirms whether a failure needs them.

use crate::rng::Random;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The share of sites enabled in a run with buggify on.
pub const SITE_ENABLED_PROBABILITY: f64 = 0.5;

/// Whether buggify sites may fire, and how often an enabled one does.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BuggifyConfig {
    /// Off: every site returns false (the default).
    pub enabled: bool,
    /// The probability that an enabled site fires on one call.
    pub probability: f64,
}

/// [`BuggifyConfig::probability`] unless set.
pub const DEFAULT_FIRE_PROBABILITY: f64 = 0.25;

impl Default for BuggifyConfig {
    fn default() -> Self {
        BuggifyConfig {
            enabled: false,
            probability: DEFAULT_FIRE_PROBABILITY,
        }
    }
}

impl BuggifyConfig {
    /// Buggify on, with the default firing probability.
    pub fn on() -> BuggifyConfig {
        BuggifyConfig {
            enabled: true,
            ..BuggifyConfig::default()
        }
    }

    /// Checks the probability (a number from 0 to 1).
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(format!(
                "probability must be a number from 0 to 1, not {}",
                self.probability
            ));
        }
        Ok(())
    }
}

/// One site's state in a run.
#[derive(Clone, Debug)]
struct Site {
    enabled: bool,
    rng: Random,
}

/// What a call to a site decided, and what the trace should say about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Choice {
    /// Whether the site fires now.
    pub(crate) fires: bool,
    /// `Some(enabled)` the first time the site is met in the run.
    pub(crate) first: Option<bool>,
}

/// The sites met so far in a run.
#[derive(Clone, Debug)]
pub(crate) struct Buggify {
    config: BuggifyConfig,
    seed: u64,
    sites: BTreeMap<String, Site>,
}

impl Buggify {
    pub(crate) fn new(config: BuggifyConfig, seed: u64) -> Buggify {
        Buggify {
            config,
            seed,
            sites: BTreeMap::new(),
        }
    }

    pub(crate) fn config(&self) -> BuggifyConfig {
        self.config
    }

    pub(crate) fn set_config(&mut self, config: BuggifyConfig) {
        self.config = config;
    }

    /// Decides one call of `site`; `None` when buggify is off (nothing drawn, nothing to note).
    #[inline]
    pub(crate) fn decide(&mut self, site: &str) -> Option<Choice> {
        if !self.config.enabled {
            return None;
        }
        let mut first = None;
        if !self.sites.contains_key(site) {
            let mut rng = Random::stream(self.seed, &format!("buggify/{site}"), 0);
            let enabled = rng.chance(SITE_ENABLED_PROBABILITY);
            first = Some(enabled);
            self.sites.insert(site.to_owned(), Site { enabled, rng });
        }
        let state = self.sites.get_mut(site).expect("inserted above");
        let fires = state.enabled && state.rng.chance(self.config.probability);
        Some(Choice { fires, first })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(b: &mut Buggify, site: &str, calls: usize) -> Vec<bool> {
        (0..calls).map(|_| b.decide(site).unwrap().fires).collect()
    }

    #[test]
    fn off_draws_and_decides_nothing() {
        let mut b = Buggify::new(BuggifyConfig::default(), 1);
        assert_eq!(b.decide("slow write"), None);
        assert!(b.sites.is_empty());
    }

    #[test]
    fn a_sites_choices_do_not_depend_on_other_sites() {
        let config = BuggifyConfig {
            enabled: true,
            probability: 0.5,
        };
        // Find a seed where the site is enabled, then interleave another site's calls.
        let seed = (0..64)
            .find(|&s| Buggify::new(config, s).decide("a").unwrap().first == Some(true))
            .expect("half the seeds enable a site");
        let alone = fired(&mut Buggify::new(config, seed), "a", 40);
        let mut mixed = Buggify::new(config, seed);
        let mut interleaved = Vec::new();
        for _ in 0..40 {
            mixed.decide("b");
            interleaved.push(mixed.decide("a").unwrap().fires);
        }
        assert_eq!(alone, interleaved);
        assert!(alone.iter().any(|f| *f) && alone.iter().any(|f| !*f), "{alone:?}");
    }

    #[test]
    fn about_half_the_sites_are_enabled_and_a_disabled_one_never_fires() {
        let mut b = Buggify::new(BuggifyConfig::on(), 9);
        let sites: Vec<String> = (0..200).map(|i| format!("site {i}")).collect();
        let enabled = sites
            .iter()
            .filter(|s| b.decide(s).unwrap().first == Some(true))
            .count();
        assert!((70..=130).contains(&enabled), "{enabled} of 200");
        let off = sites
            .iter()
            .find(|s| !b.sites[s.as_str()].enabled)
            .unwrap()
            .clone();
        assert!(fired(&mut b, &off, 100).iter().all(|f| !f));
        assert_eq!(b.decide(&off).unwrap().first, None, "met before");
    }

    #[test]
    fn an_enabled_site_fires_at_about_the_probability() {
        let config = BuggifyConfig {
            enabled: true,
            probability: 0.25,
        };
        let seed = (0..64)
            .find(|&s| Buggify::new(config, s).decide("x").unwrap().first == Some(true))
            .unwrap();
        let mut b = Buggify::new(config, seed);
        let n = fired(&mut b, "x", 4000).iter().filter(|f| **f).count();
        assert!((850..=1150).contains(&n), "{n} of 4000");
        assert!(
            BuggifyConfig {
                enabled: true,
                probability: 1.5
            }
            .validate()
            .is_err()
        );
        assert!(BuggifyConfig::on().validate().is_ok());
    }
}
