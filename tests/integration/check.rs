//! `ruckus check`: hand-written histories in each format and model, through the command line.

use crate::support::{Ran, TempDir, ruckus};

/// Writes `text` to `name` in a fresh directory and runs `ruckus check` on it with `flags`.
fn check(name: &str, text: &str, flags: &[&str]) -> Ran {
    let dir = TempDir::new("check");
    let path = dir.file(name);
    std::fs::write(&path, text).unwrap();
    let path = path.display().to_string();
    let mut args = vec!["check", path.as_str()];
    args.extend_from_slice(flags);
    ruckus(&args)
}

/// A register history: a write of 1, an `:info` write of -2 that may land late, a nemesis
/// entry, and a read of `last`.
fn register_history(last: &str) -> String {
    format!(
        "{{:type :invoke, :f :write, :value 1, :process 0, :time 10, :index 0}}
{{:type :ok, :f :write, :value 1, :process 0, :time 20, :index 1}}
{{:type :info, :f :start-partition, :value nil, :process :nemesis, :time 25}}
{{:type :invoke, :f :write, :value -2, :process 1, :time 30}}
{{:type :info, :f :write, :value -2, :process 1, :time 40}}
{{:type :invoke, :f :write, :value 3, :process 5, :time 41}}
{{:type :fail, :f :write, :value 3, :process 5, :time 42}}
{{:type :invoke, :f :read, :value nil, :process 2, :time 50}}
{{:type :ok, :f :read, :value {last}, :process 2, :time 60}}
"
    )
}

#[test]
fn an_info_write_may_land_late_and_nemesis_entries_are_counted() {
    let ran = check("history.edn", &register_history("-2"), &["--model", "register"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.out.contains("verdict: linearizable"), "{}", ran.out);
    assert!(ran.out.contains("1 non-client entries ignored"), "{}", ran.out);
    assert!(ran.out.contains("decision: "), "{}", ran.out);
}

#[test]
fn a_failed_write_never_happened_so_reading_it_fails_with_a_witness() {
    let ran = check("history.edn", &register_history("3"), &["--model", "register"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.out.contains("NOT linearizable"), "{}", ran.out);
    assert!(ran.out.contains("witness: "), "{}", ran.out);
    assert!(ran.out.contains("read() -> 3"), "{}", ran.out);
    // The failing read's invocation is on line 8.
    assert!(ran.out.contains("(line 8)"), "{}", ran.out);
}

#[test]
fn no_witness_gives_the_verdict_alone() {
    let ran = check(
        "history.edn",
        &register_history("3"),
        &["--model", "register", "--no-witness"],
    );
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(!ran.out.contains("witness: "), "{}", ran.out);
}

#[test]
fn string_values_and_the_initial_value_in_json_lines() {
    let text = r#"{"process":0,"type":"invoke","f":"cas","value":["init","x"]}
{"process":0,"type":"ok","f":"cas","value":["init","x"]}
{"process":"nemesis","type":"info","f":"kill","value":null}

{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":"x"}
"#;
    let ran = check("h.jsonl", text, &["--model", "cas-register", "--initial", "init"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.out.contains("1 non-client entries ignored"), "{}", ran.out);
    // Unset registers cannot swap from "init".
    let ran = check("h.jsonl", text, &["--model", "cas-register"]);
    assert_eq!(ran.code, 1, "{ran:?}");
}

#[test]
fn kv_names_the_failing_key_and_draws_a_page() {
    let text = "{:process 0 :type :invoke :f :write :value [:a 1]}
{:process 0 :type :ok :f :write :value [:a 1]}
{:process 1 :type :invoke :f :write :value [:b -1]}
{:process 1 :type :ok :f :write :value [:b -1]}
{:process 2 :type :invoke :f :read :value [:b nil]}
{:process 2 :type :ok :f :read :value [:b -1]}
{:process 2 :type :invoke :f :read :value [:a nil]}
{:process 2 :type :ok :f :read :value [:a nil]}
";
    let dir = TempDir::new("check-html");
    let page = dir.file("witness.html");
    let page_arg = page.display().to_string();
    let ran = check("h.edn", text, &["--model", "kv", "--html", &page_arg]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.out.contains("key \":a\""), "{}", ran.out);
    assert!(ran.out.contains("on 2 key(s)"), "{}", ran.out);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("client 0") && html.contains("client 2"), "{html}");
    assert!(html.contains("linearizable up to here"), "{html}");
    assert!(html.contains("no ordering explains this completion"), "{html}");
    assert!(html.contains("state after: Register(1)"), "{html}");
    assert!(!html.contains("<script"), "no script needed");
}

#[test]
fn set_and_queue_models_check_their_reads() {
    let set = "{:process 0 :type :invoke :f :add :value 1}
{:process 0 :type :ok :f :add :value 1}
{:process 1 :type :invoke :f :add :value \"two\"}
{:process 1 :type :info :f :add :value \"two\"}
{:process 2 :type :invoke :f :read :value nil}
{:process 2 :type :ok :f :read :value #{1 \"two\"}}
";
    assert_eq!(check("s.edn", set, &["--model", "set"]).code, 0);
    let lost = set.replace("#{1 \"two\"}", "#{\"two\"}");
    assert_eq!(check("s.edn", &lost, &["--model", "set"]).code, 1);
    let queue = "{:process 0 :type :invoke :f :enqueue :value -5}
{:process 0 :type :ok :f :enqueue :value -5}
{:process 0 :type :invoke :f :enqueue :value 6}
{:process 0 :type :ok :f :enqueue :value 6}
{:process 1 :type :invoke :f :dequeue :value nil}
{:process 1 :type :ok :f :dequeue :value -5}
";
    assert_eq!(check("q.edn", queue, &["--model", "queue"]).code, 0);
    let reordered = queue.replace(":dequeue :value -5", ":dequeue :value 6");
    assert_eq!(check("q.edn", &reordered, &["--model", "queue"]).code, 1);
}

#[test]
fn a_tiny_budget_is_inconclusive_not_a_verdict() {
    // Many concurrent writes then a read: the search needs more than two steps.
    let mut text = String::new();
    for p in 0..6 {
        text.push_str(&format!("{{:process {p} :type :invoke :f :write :value {p}}}\n"));
    }
    for p in 0..6 {
        text.push_str(&format!("{{:process {p} :type :ok :f :write :value {p}}}\n"));
    }
    text.push_str(
        "{:process 9 :type :invoke :f :read :value nil}\n{:process 9 :type :ok :f :read :value 0}\n",
    );
    let ran = check("h.edn", &text, &["--model", "register", "--max-steps", "2"]);
    assert_eq!(ran.code, 4, "{ran:?}");
    assert!(ran.out.contains("INCONCLUSIVE"), "{}", ran.out);
    assert_eq!(check("h.edn", &text, &["--model", "register"]).code, 0);
}

#[test]
fn malformed_files_exit_2_with_file_line_and_field() {
    let cases: [(&str, &str, &str, &[&str]); 5] = [
        // EDN syntax: unbalanced map on line 2.
        (
            "bad.edn",
            "{:process 0 :type :invoke :f :read :value nil}\n{:process 0 :type :ok :f}\n",
            "line 2",
            &["--model", "register"],
        ),
        // Unknown type on line 2.
        (
            "bad.edn",
            "{:process 0 :type :invoke :f :read :value nil}\n{:process 0 :type :done :f :read :value 1}\n",
            "line 2, field `type`",
            &["--model", "register"],
        ),
        // A cas on a plain register.
        (
            "bad.edn",
            "{:process 0 :type :invoke :f :cas :value [1 2]}\n",
            "line 1, field `f`",
            &["--model", "register"],
        ),
        // JSON with a missing field on line 2.
        (
            "bad.jsonl",
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n{\"process\":0,\"f\":\"read\"}\n",
            "line 2",
            &["--model", "register"],
        ),
        // JSON with a value of the wrong shape.
        (
            "bad.jsonl",
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":[1,2]}\n",
            "line 1, field `value`",
            &["--model", "register"],
        ),
    ];
    for (name, text, located, flags) in cases {
        let ran = check(name, text, flags);
        assert_eq!(ran.code, 2, "{text}: {ran:?}");
        assert!(ran.err.contains(name), "{text}: {}", ran.err);
        assert!(ran.err.contains(located), "{text}: {}", ran.err);
    }
    let ran = check("h.edn", "", &["--model", "set", "--initial", "1"]);
    assert_eq!(ran.code, 2);
    assert!(ran.err.contains("starts empty"), "{}", ran.err);
    let ran = check("h.edn", "", &["--model", "btree"]);
    assert_eq!(ran.code, 2);
    assert!(ran.err.contains("unknown model"), "{}", ran.err);
}

/// An older Jepsen test's `jepsen.log`: client lines tab- or space-separated among log noise,
/// a nemesis line ignored; the read of 1 after the swap to 2 is not linearizable.
#[test]
fn a_jepsen_log_is_read_from_its_client_lines() {
    let log = "2017-03-21 12:00:00,000{GMT}\tINFO\t[jepsen worker 0] jepsen.core: starting\n\
INFO  jepsen.util - 0\t:invoke\t:write\t1\n\
INFO  jepsen.util - 0\t:ok\t:write\t1\n\
INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n\
INFO  jepsen.util - 1   :invoke :cas    [1 2]\n\
INFO  jepsen.util - 1   :ok     :cas    [1 2]\n\
INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
INFO  jepsen.util - 0\t:ok\t:read\t1\n";
    let ran = check("jepsen.log", log, &["--model", "cas-register"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.out.contains("3 operations"), "{}", ran.out);
    assert!(ran.out.contains("1 non-client entries ignored"), "{}", ran.out);
    assert!(ran.out.contains("read() -> 1"), "{}", ran.out);
    let linearizable = log.replace(":read\t1", ":read\t2");
    let ran = check("jepsen.log", &linearizable, &["--model", "cas-register"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    // A client line cut short is bad input naming its line.
    let cut = format!("{log}INFO  jepsen.util - 2\t:invoke\n");
    let ran = check("jepsen.log", &cut, &["--model", "cas-register"]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.err.contains("line 9"), "{}", ran.err);
}
