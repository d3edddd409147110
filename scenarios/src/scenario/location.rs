//! Where an error is: the dotted path of a field, found from a byte offset of the text, and
//! the error blamed on a `--set` override when one touched that field.

use super::*;

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

pub(super) fn render_path(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The dotted path of the deepest key whose value spans byte `offset` of the text.
pub(super) fn path_at(table: &DeTable<'_>, offset: usize) -> Vec<Step> {
    let mut path = Vec::new();
    let mut table = Some(table);
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    loop {
        let found = if let Some(t) = table {
            // A `[table]`'s own span covers only its header: take the last key before `offset`.
            t.iter()
                .filter(|(k, _)| k.span().start <= offset)
                .max_by_key(|(k, _)| k.span().start)
                .map(|(k, v)| (Step::Key(k.get_ref().to_string()), v))
        } else if let Some(a) = array {
            a.iter()
                .enumerate()
                .find(|(_, v)| v.span().contains(&offset))
                .map(|(i, v)| (Step::Index(i), v))
        } else {
            None
        };
        let Some((step, value)) = found else { return path };
        path.push(step);
        table = None;
        array = None;
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(a),
            _ => return path,
        }
    }
}

/// What errors are reported against: the text, its origin, and the overrides applied to it.
pub(super) struct Context<'a> {
    pub(super) origin: String,
    pub(super) text: &'a str,
    pub(super) root: Option<toml::Spanned<DeTable<'a>>>,
    pub(super) overrides: Vec<Override>,
}

impl Context<'_> {
    /// An error about `path`: blamed on a `--set` when one touches it, else located in the text.
    pub(super) fn error(&self, path: &[Step], message: String) -> ScenarioError {
        // An override's path names array elements by number, so compare indexes as text.
        let keys: Vec<String> = path
            .iter()
            .map(|s| match s {
                Step::Key(k) => k.clone(),
                Step::Index(i) => i.to_string(),
            })
            .collect();
        for o in &self.overrides {
            let n = o.path.len().min(keys.len());
            if n > 0 && o.path[..n] == keys[..n] {
                return ScenarioError::new(format!("--set {}", o.raw), message).at_field(render_path(path));
            }
        }
        let mut e = ScenarioError::new(self.origin.clone(), message).at_field(render_path(path));
        if let Some(span) = self.locate(path) {
            e = e.at_offset(self.text, span.start);
        }
        e
    }

    /// The span of the deepest part of `path` present in the text.
    pub(super) fn locate(&self, path: &[Step]) -> Option<Range<usize>> {
        let root = self.root.as_ref()?;
        let mut span = root.span();
        let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
        let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
        for step in path {
            let value = match step {
                Step::Key(k) => {
                    let (key, value) = table?
                        .iter()
                        .find(|(key, _)| key.get_ref().as_ref() == k.as_str())?;
                    // Point at the key itself when it is the last step (unknown fields, bad values
                    // in inline tables both read best there).
                    span = key.span();
                    value
                }
                Step::Index(i) => {
                    let value = array?.get(*i)?;
                    span = value.span();
                    value
                }
            };
            table = None;
            array = None;
            match value.get_ref() {
                DeValue::Table(t) => table = Some(t),
                DeValue::Array(a) => array = Some(a),
                _ => {}
            }
        }
        Some(span)
    }

    /// Deserializes `value` into `T`, turning a failure into an error located at its field.
    pub(super) fn typed<T: DeserializeOwned>(
        &self,
        value: toml::Value,
        prefix: &[Step],
    ) -> Result<T, ScenarioError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let mut path = prefix.to_vec();
            for segment in e.path().iter() {
                match segment {
                    serde_path_to_error::Segment::Seq { index } => path.push(Step::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => path.push(Step::Key(key.clone())),
                    serde_path_to_error::Segment::Enum { variant } => path.push(Step::Key(variant.clone())),
                    serde_path_to_error::Segment::Unknown => {}
                }
            }
            let message = e.inner().message().trim().to_owned();
            self.explain(path, message)
        })
    }

    /// Adds the unknown name to the path and a suggestion, for serde's "unknown ..." messages.
    pub(super) fn explain(&self, mut path: Vec<Step>, message: String) -> ScenarioError {
        let unknown = ["unknown field `", "unknown variant `"]
            .iter()
            .find_map(|p| message.strip_prefix(p))
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, rest)| (name.to_owned(), expected_names(rest)));
        match unknown {
            Some((name, expected)) => {
                if message.starts_with("unknown field") && path.last() != Some(&Step::Key(name.clone())) {
                    path.push(Step::Key(name.clone()));
                }
                self.error(&path, message)
                    .suggest(&name, expected.iter().map(String::as_str))
            }
            None => self.error(&path, message),
        }
    }
}

/// The names in serde's "expected one of `a`, `b`" / "expected `a`" tail.
pub(super) fn expected_names(rest: &str) -> Vec<String> {
    rest.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}
