//! Errors in scenario files and flags: where the problem is, what it is, and what was probably meant.
//!
//! Bad input from a user is ordinary data, never a panic. Every error names its origin (a file,
//! a built-in scenario, or a `--set` flag), the line and column when there is one, the dotted
//! path of the field, and — when the problem is an unknown name — the closest valid one.

use std::fmt;

/// A problem with a scenario or a command-line parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (or `built-in NAME`, or `--set ...`) the problem is in.
    pub origin: String,
    /// One-based line and column, when the problem has a place in a file.
    pub position: Option<(usize, usize)>,
    /// Dotted path of the field at fault (`topology.latency`), empty for the whole file.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// The closest valid name, when the problem is an unknown name.
    pub suggestion: Option<String>,
}

impl ScenarioError {
    /// An error with no position and no field.
    pub fn new(origin: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            origin: origin.into(),
            position: None,
            field: String::new(),
            message: message.into(),
            suggestion: None,
        }
    }

    /// Sets the field path.
    pub fn at_field(mut self, field: impl Into<String>) -> ScenarioError {
        self.field = field.into();
        self
    }

    /// Sets the one-based line and column from a byte offset into `text`.
    pub fn at_offset(mut self, text: &str, offset: usize) -> ScenarioError {
        self.position = Some(line_column(text, offset));
        self
    }

    /// Adds "did you mean" when one of `candidates` is close to `unknown`.
    pub fn suggest<'a>(
        mut self,
        unknown: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> ScenarioError {
        self.suggestion = closest(unknown, candidates).map(str::to_owned);
        self
    }
}

/// `text` cut to `max` characters (with how long it was) when longer: a 10 KB bad value is
/// not echoed in full.
pub fn clip(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}... ({count} characters)")
}

/// `message` with every quoted part (between backticks or double quotes) longer than `max`
/// characters cut, and the whole kept under a few lines.
pub fn clip_quoted(message: &str, max: usize) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(start) = rest.find(['`', '"']) {
        let quote = rest[start..].chars().next().unwrap_or('`');
        let after = &rest[start + 1..];
        let Some(len) = after.find(quote) else { break };
        out.push_str(&rest[..=start]);
        out.push_str(&clip(&after[..len], max));
        out.push(quote);
        rest = &after[len + 1..];
    }
    out.push_str(rest);
    clip(&out, 20 * max)
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = crate::limits::MAX_ECHO_CHARS;
        write!(f, "{}", clip(&self.origin, 3 * max))?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": field `{}`", clip(&self.field, max))?;
        }
        write!(f, ": {}", clip_quoted(&self.message, max))?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// One-based (line, column) of a byte offset; columns count characters, not bytes.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut cut = offset;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let before = &text[..cut];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Levenshtein distance over characters (insert, delete, substitute all cost one).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// The candidate closest to `unknown`, if it is close enough to be a plausible typo: at most a
/// third of the longer name's characters differ (and at least one may always differ). Ties go to
/// the first candidate, so the answer is stable.
pub fn closest<'a>(unknown: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&unknown.to_lowercase(), &c.to_lowercase());
        let allowed = (unknown.chars().count().max(c.chars().count()) / 3).max(1);
        if d <= allowed && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("horizon", "horizon"), 0);
        assert_eq!(edit_distance("horizn", "horizon"), 1);
        assert_eq!(edit_distance("hosts", "ghosts"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn closest_finds_typos_but_not_strangers() {
        let names = ["pingpong", "lease_lock", "raft"];
        assert_eq!(closest("pingpnog", names), Some("pingpong"));
        assert_eq!(closest("lease-lock", names), Some("lease_lock"));
        assert_eq!(closest("zookeeper", names), None);
    }

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        let offset = text.find('=').unwrap();
        assert_eq!(line_column(text, offset), (1, 3));
        let second = text.rfind('=').unwrap();
        assert_eq!(line_column(text, second), (2, 4));
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let huge = "x".repeat(10_000);
        let e = ScenarioError::new(
            format!("--set model.name={huge}"),
            format!("unknown model `{huge}`"),
        );
        let text = e.to_string();
        assert!(text.len() < 1_000, "{} bytes", text.len());
        assert!(text.contains("(10000 characters)"), "{text}");
        assert_eq!(clip_quoted("a `b` \"c\"", 5), "a `b` \"c\"");
    }

    #[test]
    fn display_names_origin_place_field_and_suggestion() {
        let e = ScenarioError::new("x.toml", "unknown field `horizn`")
            .at_offset("a\nbb", 3)
            .at_field("limits.horizn")
            .suggest("horizn", ["horizon", "max_events"]);
        assert_eq!(
            e.to_string(),
            "x.toml:2:2: field `limits.horizn`: unknown field `horizn` (did you mean `horizon`?)"
        );
    }
}
