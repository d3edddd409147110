//! Exit codes: what a script or CI job learns from `ruckus` without reading its output.

use ruckus_sim::Verdict;

/// The help text's exit-code section (shown by `ruckus --help`).
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  every run held
  1  a safety property was violated
  2  bad input or usage (scenario file, flags, trace file)
  3  a liveness property failed
  4  a model panicked, a limit (event budget, queue bound) was exceeded, or a
     check was inconclusive (a linearizability check out of its step budget)
  5  a sweep's runs all held, but no run reached a coverage probe the scenario
     requires ([coverage] require): the sweep never explored that state
When a sweep has several kinds of failure, the first in the order 1, 3, 4, 5 wins.";

/// How `ruckus` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Every run held (0).
    Held,
    /// A safety violation (1).
    Safety,
    /// Bad input or usage (2).
    BadInput,
    /// A liveness failure (3).
    Liveness,
    /// A model panic or an exceeded limit (4).
    PanicOrLimit,
    /// A required coverage probe no run of a sweep reached (5).
    Uncovered,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Held => 0,
            Exit::Safety => 1,
            Exit::BadInput => 2,
            Exit::Liveness => 3,
            Exit::PanicOrLimit => 4,
            Exit::Uncovered => 5,
        }
    }

    /// The exit for one verdict.
    pub fn of(verdict: Verdict) -> Exit {
        match verdict {
            Verdict::Held => Exit::Held,
            Verdict::SafetyViolation => Exit::Safety,
            Verdict::LivenessFailure => Exit::Liveness,
            Verdict::ModelPanic | Verdict::LimitExceeded => Exit::PanicOrLimit,
        }
    }

    /// The exit for a verdict and its failure message: a safety failure whose check was
    /// inconclusive (its message starts with
    /// [`INCONCLUSIVE`](ruckus_models::linearizability::INCONCLUSIVE)) is a limit, not a
    /// proven violation.
    pub fn of_failure(verdict: Verdict, message: Option<&str>) -> Exit {
        let inconclusive =
            message.is_some_and(|m| m.starts_with(ruckus_models::linearizability::INCONCLUSIVE));
        match Exit::of(verdict) {
            Exit::Safety if inconclusive => Exit::PanicOrLimit,
            exit => exit,
        }
    }

    /// The exit for a verdict by its JSON name (`held`, `safety_violation`, ...).
    pub fn of_name(name: &str) -> Exit {
        match name {
            "held" => Exit::Held,
            "safety_violation" => Exit::Safety,
            "liveness_failure" => Exit::Liveness,
            _ => Exit::PanicOrLimit,
        }
    }

    /// The exit for many runs: safety first, then liveness, then panics and limits, then
    /// unreached coverage.
    pub fn worst(exits: impl IntoIterator<Item = Exit>) -> Exit {
        let rank = |e: Exit| match e {
            Exit::Safety => 5,
            Exit::Liveness => 4,
            Exit::PanicOrLimit => 3,
            Exit::Uncovered => 2,
            Exit::BadInput => 1,
            Exit::Held => 0,
        };
        exits.into_iter().max_by_key(|e| rank(*e)).unwrap_or(Exit::Held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_documentation() {
        for (exit, code) in [
            (Exit::Held, 0),
            (Exit::Safety, 1),
            (Exit::BadInput, 2),
            (Exit::Liveness, 3),
            (Exit::PanicOrLimit, 4),
            (Exit::Uncovered, 5),
        ] {
            assert_eq!(exit.code(), code);
            assert!(EXIT_CODES_HELP.contains(&format!("  {code}  ")));
        }
    }

    #[test]
    fn safety_outranks_liveness_outranks_panics() {
        assert_eq!(
            Exit::worst([Exit::PanicOrLimit, Exit::Safety, Exit::Liveness]),
            Exit::Safety
        );
        assert_eq!(
            Exit::worst([Exit::PanicOrLimit, Exit::Liveness, Exit::Held]),
            Exit::Liveness
        );
        assert_eq!(Exit::worst([Exit::Held, Exit::PanicOrLimit]), Exit::PanicOrLimit);
        assert_eq!(Exit::worst([Exit::Uncovered, Exit::Held]), Exit::Uncovered);
        assert_eq!(
            Exit::worst([Exit::Uncovered, Exit::PanicOrLimit]),
            Exit::PanicOrLimit
        );
        assert_eq!(Exit::worst([]), Exit::Held);
        assert_eq!(Exit::of(Verdict::LimitExceeded), Exit::PanicOrLimit);
    }

    #[test]
    fn an_inconclusive_check_is_a_limit_not_a_violation() {
        let message = format!(
            "{}: step budget exhausted",
            ruckus_models::linearizability::INCONCLUSIVE
        );
        assert_eq!(
            Exit::of_failure(Verdict::SafetyViolation, Some(&message)),
            Exit::PanicOrLimit
        );
        assert_eq!(
            Exit::of_failure(Verdict::SafetyViolation, Some("stale read")),
            Exit::Safety
        );
        assert_eq!(
            Exit::of_failure(Verdict::LivenessFailure, Some(&message)),
            Exit::Liveness
        );
        // Raft's failure text must keep using the shared prefix.
        assert_eq!(
            ruckus_models::raft::INCONCLUSIVE,
            ruckus_models::linearizability::INCONCLUSIVE
        );
    }
}
