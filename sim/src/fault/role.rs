//! Role targets: a fault that names a role ("the leader", "a random follower", "30% of
//! tier1") instead of a host, resolved when the fault begins by asking the live processes
//! ([`Process::has_role`](crate::Process::has_role)).
//!
//! A target is written and stored as one short string, so a plan with role faults reads the
//! same in a scenario file, a trace header and a printed plan:
//!
//! | text                       | pick                | hits                                   |
//! |----------------------------|---------------------|----------------------------------------|
//! | `"leader"`, `"the leader"` | [`Pick::First`]     | the live player with the lowest id     |
//! | `"a random follower"`      | [`Pick::Random`]    | one live player, drawn from the stream |
//! | `"30% of tier1"`           | [`Pick::Percent`]   | that share of the live players (rounded up), drawn |
//! | `"all tier1"`              | `Pick::Percent(100)`| every live player                      |

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which of the processes playing a role a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pick {
    /// The live player with the lowest process id: deterministic without a draw.
    First,
    /// One live player, chosen uniformly from the fault-target stream.
    Random,
    /// This percentage (1..=100) of the live players, rounded up, chosen without repetition.
    Percent(u32),
}

/// A role and a pick: what a role-targeted fault aims at. Stored as its text (see the module
/// docs), so old and new readers see the same string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct RoleTarget {
    /// The role name the model answers to (`leader`, `follower`, `tier1`, `group:api`, ...).
    pub role: String,
    /// Which players of it.
    pub pick: Pick,
}

impl RoleTarget {
    /// The first (lowest-id) live process playing `role`.
    pub fn first(role: &str) -> RoleTarget {
        RoleTarget {
            role: role.to_string(),
            pick: Pick::First,
        }
    }

    /// A random live process playing `role`.
    pub fn random(role: &str) -> RoleTarget {
        RoleTarget {
            role: role.to_string(),
            pick: Pick::Random,
        }
    }

    /// `percent` % (rounded up) of the live processes playing `role`.
    pub fn percent(role: &str, percent: u32) -> RoleTarget {
        RoleTarget {
            role: role.to_string(),
            pick: Pick::Percent(percent),
        }
    }

    /// Checks the role name and the percentage.
    pub fn validate(&self) -> Result<(), String> {
        if self.role.is_empty() || self.role.chars().any(char::is_whitespace) {
            return Err(format!(
                "role {:?} must be one word without spaces (e.g. \"leader\", \"tier1\")",
                self.role
            ));
        }
        if let Pick::Percent(p) = self.pick
            && !(1..=100).contains(&p)
        {
            return Err(format!(
                "a role target's percentage must be within 1..=100, got {p}"
            ));
        }
        Ok(())
    }

    /// Which of `players` (the live processes of the role, in id order) are hit; `draw(n)`
    /// gives a uniform index below `n` and is called only for random picks, so a first pick
    /// uses no randomness. The result is in pick order and never repeats a player.
    pub fn choose<T: Copy>(&self, players: &[T], mut draw: impl FnMut(u64) -> u64) -> Vec<T> {
        if players.is_empty() {
            return Vec::new();
        }
        match self.pick {
            Pick::First => vec![players[0]],
            Pick::Random => vec![players[draw(players.len() as u64) as usize]],
            Pick::Percent(p) => {
                let n = players.len();
                let k = (n * p.min(100) as usize).div_ceil(100).max(1);
                // A partial Fisher-Yates shuffle: k draws.
                let mut pool = players.to_vec();
                for i in 0..k {
                    let j = i + draw((n - i) as u64) as usize;
                    pool.swap(i, j);
                }
                pool.truncate(k);
                pool
            }
        }
    }
}

impl fmt::Display for RoleTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pick {
            Pick::First => write!(f, "the {}", self.role),
            Pick::Random => write!(f, "a random {}", self.role),
            Pick::Percent(100) => write!(f, "all {}", self.role),
            Pick::Percent(p) => write!(f, "{p}% of {}", self.role),
        }
    }
}

impl From<RoleTarget> for String {
    fn from(t: RoleTarget) -> String {
        t.to_string()
    }
}

impl TryFrom<String> for RoleTarget {
    type Error = String;
    fn try_from(text: String) -> Result<RoleTarget, String> {
        text.parse()
    }
}

impl std::str::FromStr for RoleTarget {
    type Err = String;
    fn from_str(text: &str) -> Result<RoleTarget, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let (pick, role) = match words.as_slice() {
            [role] => (Pick::First, *role),
            ["the" | "first", role] => (Pick::First, *role),
            ["random", role] | ["a", "random", role] => (Pick::Random, *role),
            ["all", role] => (Pick::Percent(100), *role),
            [share, "of", role] if share.ends_with('%') => {
                let p = share
                    .trim_end_matches('%')
                    .parse::<u32>()
                    .map_err(|_| format!("role target {text:?}: {share:?} is not a whole percentage"))?;
                (Pick::Percent(p), *role)
            }
            _ => {
                return Err(format!(
                    "role target {text:?} is not understood: write \"the <role>\", \"a random <role>\", \"<n>% of <role>\" or \"all <role>\""
                ));
            }
        };
        let target = RoleTarget {
            role: role.to_string(),
            pick,
        };
        target.validate()?;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_from_and_print_to_the_same_text() {
        for (text, pick, role) in [
            ("the leader", Pick::First, "leader"),
            ("a random follower", Pick::Random, "follower"),
            ("30% of tier1", Pick::Percent(30), "tier1"),
            ("all group:api", Pick::Percent(100), "group:api"),
        ] {
            let t: RoleTarget = text.parse().unwrap();
            assert_eq!((t.pick, t.role.as_str()), (pick, role), "{text}");
            assert_eq!(t.to_string(), text);
        }
        assert_eq!(
            "leader".parse::<RoleTarget>().unwrap(),
            RoleTarget::first("leader")
        );
        assert_eq!(
            "random server".parse::<RoleTarget>().unwrap(),
            RoleTarget::random("server")
        );
        assert!("0% of x".parse::<RoleTarget>().unwrap_err().contains("1..=100"));
        assert!(
            "the big leader"
                .parse::<RoleTarget>()
                .unwrap_err()
                .contains("not understood")
        );
        assert!("".parse::<RoleTarget>().is_err());
    }

    #[test]
    fn first_random_and_percent_choose_as_documented() {
        let players = [3u32, 5, 8, 13];
        let mut draws = Vec::new();
        let mut draw = |n: u64| {
            draws.push(n);
            n - 1
        };
        assert_eq!(RoleTarget::first("x").choose(&players, &mut draw), vec![3]);
        assert_eq!(RoleTarget::random("x").choose(&players, &mut draw), vec![13]);
        let half = RoleTarget::percent("x", 50).choose(&players, &mut draw);
        assert_eq!(half, vec![13, 3]);
        // First drew nothing; random drew once below 4; 50% of 4 drew twice (below 4, then 3).
        assert_eq!(draws, vec![4, 4, 3]);
        // Rounded up, never more than there are, never a repeat.
        let mut seq = 0u64;
        let all = RoleTarget::percent("x", 100).choose(&players, |n| {
            seq += 1;
            seq % n
        });
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(sorted, players.to_vec());
        assert_eq!(RoleTarget::percent("x", 1).choose(&players, |_| 0).len(), 1);
        assert!(RoleTarget::first("x").choose::<u32>(&[], |_| 0).is_empty());
    }
}
