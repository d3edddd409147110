//! The history files `ruckus check` reads besides traces: which format a file is, and the
//! JSON Lines and `jepsen.log` readers (EDN is `linearizability::edn`).

use super::HistoryFormat;
use ruckus_models::linearizability::edn::{self, Edn};
use ruckus_models::linearizability::jepsen::JsonEntry;
use ruckus_sim::trace::MAGIC;
use std::io::Read as _;
use std::path::Path;

/// The format of `path`: a trace if it starts with the trace magic or is named `.trace`, else
/// by extension (jsonl for `.jsonl`/`.json`/`.ndjson`, log for `.log`, edn otherwise).
pub(super) fn format_of(path: &Path) -> HistoryFormat {
    let mut head = [0u8; MAGIC.len()];
    let starts_as_trace = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == MAGIC);
    if starts_as_trace {
        return HistoryFormat::Trace;
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("trace") => HistoryFormat::Trace,
        Some("jsonl" | "json" | "ndjson") => HistoryFormat::Jsonl,
        Some("log") => HistoryFormat::Log,
        _ => HistoryFormat::Edn,
    }
}

/// The marker of a client line in `jepsen.log`, before `PROCESS<TAB>:TYPE<TAB>:F<TAB>VALUE`.
const JEPSEN_LOG_MARKER: &str = "jepsen.util - ";

/// Reads the client lines of a `jepsen.log` as history entries, each with its line. A client
/// line is split at whitespace into process, type and function, the rest being the value (each
/// EDN); lines without the marker are skipped.
pub(super) fn read_jepsen_log(text: &str) -> Result<Vec<(usize, Edn)>, String> {
    let keyword = |k: &str| Edn::Keyword(k.to_owned());
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(at) = line.find(JEPSEN_LOG_MARKER) else {
            continue;
        };
        // Tabs in most logs, spaces in some: the first three words, then the value's text.
        let mut rest = line[at + JEPSEN_LOG_MARKER.len()..].trim();
        let mut fields = Vec::with_capacity(4);
        while fields.len() < 3 && !rest.is_empty() {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
        if fields.len() < 3 {
            return Err(format!(
                "line {}: a client line needs PROCESS :TYPE :F VALUE, found {} field(s)",
                i + 1,
                fields.len()
            ));
        }
        let value_text = if rest.is_empty() { "nil" } else { rest.trim_end() };
        let mut map = Vec::with_capacity(4);
        for (name, text) in [
            ("process", fields[0]),
            ("type", fields[1]),
            ("f", fields[2]),
            ("value", value_text),
        ] {
            let form = edn::read_one(text).map_err(|e| format!("line {}, field `{name}`: {e}", i + 1))?;
            map.push((keyword(name), form));
        }
        entries.push((i + 1, Edn::Map(map)));
    }
    Ok(entries)
}

/// Reads JSON Lines entries, each with its line; blank lines are skipped.
pub(super) fn read_jsonl(text: &str) -> Result<Vec<(usize, Edn)>, String> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut de = serde_json::Deserializer::from_str(line);
        let entry: JsonEntry = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = e.path().to_string();
            let field = if field == "." {
                String::new()
            } else {
                format!(", field `{field}`")
            };
            format!("line {}{field}: {}", i + 1, e.inner())
        })?;
        entries.push((i + 1, entry.to_edn()));
    }
    Ok(entries)
}
