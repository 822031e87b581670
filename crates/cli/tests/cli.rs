//! End-to-end tests of the `ringfence` binary: each test runs the real executable against its
//! own fresh data directory and checks exit codes and output.
//!
//! Tampering with the database is tested in the store's own suite (crates/store/tests), which
//! can reach the SQLite file through the store's connection; this crate has no SQLite driver
//! of its own and the tests do not depend on a `sqlite3` shell being installed.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");
const ETH: &str = "eip155:1/slip44:60";

/// A fresh data directory and the binary pointed at it.
struct Ringfence {
    dir: TempDir,
}

impl Ringfence {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    /// A fresh data directory with an initialised, empty store.
    fn initialised() -> Self {
        let ringfence = Self::new();
        let output = ringfence.run(&["init"]);
        assert_success(&output);
        assert!(stdout(&output).contains("initialised an empty ringfence store"), "{}", stdout(&output));
        ringfence
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("RINGFENCE_DATA_DIR")
            .env_remove("RINGFENCE_DATABASE_URL")
            .env_remove("RINGFENCE_TOKEN")
            .output()
            .unwrap()
    }

    /// Writes `lines` to a file in the temporary directory and imports it.
    fn import(&self, name: &str, lines: &[String]) -> Output {
        let path = self.file(name, lines);
        self.run(&["import", path.to_str().unwrap()])
    }

    fn file(&self, name: &str, lines: &[String]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    }

    /// The output of `journal head`: the last sequence number and its hash.
    fn head(&self) -> String {
        let output = self.run(&["journal", "head"]);
        assert_success(&output);
        stdout(&output)
    }

    fn json(&self, args: &[&str]) -> Value {
        let output = self.run(args);
        assert_success(&output);
        serde_json::from_str(&stdout(&output)).unwrap_or_else(|error| panic!("{args:?} printed no JSON ({error}): {}", stdout(&output)))
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "stdout:\n{}\nstderr:\n{}", stdout(output), stderr(output));
}

fn assert_success(output: &Output) {
    assert_exit(output, 0);
}

/// The registrations of a small CASP: one asset, two omnibus clients and an individually
/// segregated one, a sub-custodian (and a renewal of its authorisation), a key set per class
/// and four wallets, one of them at the sub-custodian.
fn registrations() -> Vec<String> {
    vec![
        format!(r#"{{"type":"asset","id":"{ETH}","scale":18,"symbol":"ETH"}}"#),
        r#"{"type":"client","id":"alice","category":"retail","segregation":"omnibus"}"#.into(),
        r#"{"type":"client","id":"bob","category":"professional","segregation":"omnibus"}"#.into(),
        r#"{"type":"client","id":"carol","category":"retail","segregation":"individual","actor":"compliance:carol","instruction":"onboard-carol"}"#.into(),
        r#"{"type":"sub_custodian","id":"sc-1","name":"Custody AG","basis":"mica_casp","reference":"BaFin-123","valid_until":"2099-12-31"}"#.into(),
        r#"{"type":"sub_custodian_authorisation","id":"sc-1","reference":"BaFin-123-renewed","valid_until":"2099-12-31T23:59:59Z"}"#.into(),
        r#"{"type":"key_set","id":"ks-omnibus","scheme":"multisig","threshold":2,"signers":["s1","s2","s3"],"class":"client_omnibus"}"#.into(),
        r#"{"type":"key_set","id":"ks-carol","scheme":"mpc","threshold":2,"signers":["m1","m2"],"class":"client_individual"}"#.into(),
        r#"{"type":"key_set","id":"ks-firm","scheme":"hsm","signers":["h1","h2"],"class":"firm"}"#.into(),
        r#"{"type":"wallet","id":"w-omni-hot","address":"eip155:1:0x0000000000000000000000000000000000000001","class":"client_omnibus","tier":"hot","key_set":"ks-omnibus"}"#.into(),
        r#"{"type":"wallet","id":"w-omni-cold","address":"eip155:1:0x0000000000000000000000000000000000000002","class":"client_omnibus","tier":"cold","sub_custodian":"sc-1","key_set":"ks-omnibus"}"#.into(),
        r#"{"type":"wallet","id":"w-carol","address":"eip155:1:0x0000000000000000000000000000000000000003","class":"client_individual","client":"carol","tier":"cold","key_set":"ks-carol"}"#.into(),
        r#"{"type":"wallet","id":"w-firm","address":"eip155:1:0x0000000000000000000000000000000000000004","class":"firm","tier":"hot","key_set":"ks-firm"}"#.into(),
    ]
}

/// Every line type of the import format after the registrations: each movement shorthand, a
/// correction and an explicit movement with postings, effective on consecutive days of
/// January 2026.
fn movements() -> Vec<String> {
    [
        r#"{"type":"deposit","key":"d-1","client":"alice","wallet":"w-omni-hot","asset":"ETH","amount":"1000","effective_at":"2026-01-10T10:00:00Z"}"#,
        r#"{"type":"deposit","key":"d-2","client":"bob","wallet":"w-omni-hot","asset":"ETH","amount":500,"effective_at":"2026-01-11T10:00:00+01:00"}"#,
        r#"{"type":"deposit","key":"d-3","client":"carol","wallet":"w-carol","asset":"ETH","amount":"300","effective_at":"2026-01-12"}"#,
        r#"{"type":"transfer","key":"t-1","from_client":"alice","to_client":"bob","asset":"ETH","amount":"100","effective_at":"2026-01-13T10:00:00Z"}"#,
        r#"{"type":"fee","key":"f-1","client":"alice","client_wallet":"w-omni-hot","firm_wallet":"w-firm","asset":"ETH","amount":"10","effective_at":"2026-01-14T10:00:00Z"}"#,
        r#"{"type":"rebalance","key":"r-1","from_wallet":"w-omni-hot","to_wallet":"w-omni-cold","asset":"ETH","amount":"600","effective_at":"2026-01-15T10:00:00Z"}"#,
        r#"{"type":"firm_funding","key":"ff-1","wallet":"w-firm","asset":"ETH","amount":"50","effective_at":"2026-01-16T10:00:00Z"}"#,
        r#"{"type":"firm_withdrawal","key":"fw-1","wallet":"w-firm","asset":"ETH","amount":"20","effective_at":"2026-01-17T10:00:00Z"}"#,
        r#"{"type":"withdrawal","key":"wd-1","client":"bob","wallet":"w-omni-hot","asset":"ETH","amount":"100","effective_at":"2026-01-18T10:00:00Z"}"#,
        r#"{"type":"deposit","key":"d-4","client":"alice","wallet":"w-omni-hot","asset":"ETH","amount":"7","effective_at":"2026-01-19T10:00:00Z"}"#,
        r#"{"type":"correction","key":"c-1","corrects":"d-4","effective_at":"2026-01-20T10:00:00Z","actor":"ops:bob","instruction":"fix-d-4"}"#,
        r#"{"type":"movement","key":"m-1","kind":"transfer","postings":[{"side":"debit","account":"position:bob","asset":"ETH","amount":"50"},{"side":"credit","account":"position:carol","asset":"ETH","amount":"50"},{"side":"debit","account":"holding:w-carol","asset":"ETH","amount":"50"},{"side":"credit","account":"holding:w-omni-hot","asset":"ETH","amount":"50"}],"effective_at":"2026-01-21T10:00:00Z"}"#,
    ]
    .iter()
    .map(|line| line.replace("\"ETH\"", &format!("\"{ETH}\"")))
    .collect()
}

fn good_file() -> Vec<String> {
    let mut lines = registrations();
    lines.extend(movements());
    lines
}

/// A store with the good file imported.
fn populated() -> Ringfence {
    let ringfence = Ringfence::initialised();
    assert_success(&ringfence.import("good.jsonl", &good_file()));
    ringfence
}

fn balance_of(value: &Value) -> Vec<(String, String)> {
    value["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["asset"].as_str().unwrap().to_owned(), row["amount"].as_str().unwrap().to_owned()))
        .collect()
}

fn eth_balance(units: &str) -> Vec<(String, String)> {
    vec![(ETH.to_owned(), units.to_owned())]
}

#[test]
fn importing_a_good_file_accepts_every_line_and_reimporting_it_changes_nothing() {
    let ringfence = Ringfence::initialised();
    let lines = good_file();
    let output = ringfence.import("good.jsonl", &lines);
    assert_success(&output);
    let text = stdout(&output);
    for number in 1..=lines.len() {
        let prefix = format!("line {number}: accepted (sequence {number})");
        assert_eq!(text.lines().filter(|line| line.starts_with(&format!("line {number}: "))).count(), 1, "{text}");
        assert!(text.lines().any(|line| line == prefix), "no {prefix:?} in:\n{text}");
    }
    assert!(text.contains(&format!("{} line(s): {} accepted", lines.len(), lines.len())), "{text}");
    // The file keeps its retail omnibus ETH 44.77 % cold: the check after the import opens one
    // exception.
    let check = format!("safeguarding check (sequence {}) opened 1 exception(s):", lines.len() + 1);
    assert!(text.contains(&check) && text.contains("cold_floor"), "{text}");
    let head = ringfence.head();
    assert!(head.starts_with(&format!("{} ", lines.len() + 1)), "{head}");

    // Importing the file again (as after an interrupted import) applies nothing twice, the
    // sub-custodian registered before its authorisation was renewed included (a regression).
    let again = lines.clone();
    let output = ringfence.import("again.jsonl", &again);
    assert_success(&output);
    let text = stdout(&output);
    for number in 1..=again.len() {
        assert!(text.contains(&format!("line {number}: already_exists")), "line {number} in:\n{text}");
    }
    assert_eq!(ringfence.head(), head);
}

#[test]
fn a_rejected_line_is_named_and_the_import_exits_1() {
    let ringfence = Ringfence::initialised();
    assert_success(&ringfence.import("setup.jsonl", &registrations()));
    let lines = vec![
        format!(r#"{{"type":"deposit","key":"d-1","client":"alice","wallet":"w-omni-hot","asset":"{ETH}","amount":"1000"}}"#),
        // Misappropriation: a sweep from a client wallet into the firm's without a client debit.
        format!(r#"{{"type":"rebalance","key":"sweep-1","from_wallet":"w-omni-hot","to_wallet":"w-firm","asset":"{ETH}","amount":"5"}}"#),
        format!(r#"{{"type":"withdrawal","key":"wd-1","client":"alice","wallet":"w-omni-hot","asset":"{ETH}","amount":"1"}}"#),
    ];
    let output = ringfence.import("sweep.jsonl", &lines);
    assert_exit(&output, 1);
    let text = stdout(&output);
    let first = registrations().len() + 1;
    assert!(text.contains(&format!("line 1: accepted (sequence {first})")), "{text}");
    assert!(text.contains("line 2: rejected: segregation_breach: "), "{text}");
    assert!(text.contains(&format!("line 3: accepted (sequence {})", first + 1)), "{text}");
    assert!(text.contains("1 segregation_breach"), "{text}");
    let summary = ringfence.json(&["summary", "--json"]);
    assert_eq!(summary["assets"][0]["firm_holdings"], "0");
    assert_eq!(summary["assets"][0]["segregated"], true);
}

#[test]
fn a_malformed_file_is_refused_whole_with_the_line_numbers_and_exit_2() {
    let ringfence = Ringfence::initialised();
    assert_success(&ringfence.import("setup.jsonl", &registrations()));
    let head = ringfence.head();
    let deposit = |amount: &str| {
        format!(r#"{{"type":"deposit","key":"d-1","client":"alice","wallet":"w-omni-hot","asset":"{ETH}","amount":{amount}}}"#)
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("bad JSON", r#"{"type":"deposit","key":"d-9","#.into(), "not valid JSON"),
        ("not an object", "[1, 2]".into(), "JSON object"),
        (
            "unknown field",
            r#"{"type":"client","id":"dave","category":"retail","segregation":"omnibus","colour":"red"}"#.into(),
            "unknown field `colour`",
        ),
        ("unknown line type", r#"{"type":"spaceship","id":"x"}"#.into(), "unknown variant `spaceship`"),
        ("negative amount", deposit("-5"), "negative"),
        ("negative amount text", deposit("\"-5\""), "negative"),
        ("fractional amount", deposit("1.5"), "fraction"),
        ("fractional amount text", deposit("\"1.5\""), "fraction"),
        ("amount beyond u128", deposit("\"340282366920938463463374607431768211456\""), "larger than the largest"),
        ("amount beyond u64 as a number", deposit("340282366920938463463374607431768211456"), "string of digits"),
        ("amount not digits", deposit("\"12a\""), "digits"),
        ("bad CAIP-19 id", r#"{"type":"asset","id":"ETH","scale":18}"#.into(), "CAIP-19"),
        (
            "bad CAIP-19 id in a movement",
            r#"{"type":"deposit","key":"d-1","client":"alice","wallet":"w-omni-hot","asset":"eip155:1/ETH","amount":"1"}"#.into(),
            "CAIP-19",
        ),
        ("missing field", r#"{"type":"client","id":"dave","category":"retail"}"#.into(), "missing field `segregation`"),
        ("bad client id", r#"{"type":"client","id":"da ve","category":"retail","segregation":"omnibus"}"#.into(), "client id"),
        (
            "bad time",
            format!(
                r#"{{"type":"deposit","key":"d-1","client":"alice","wallet":"w-omni-hot","asset":"{ETH}","amount":"1","effective_at":"yesterday"}}"#
            ),
            "RFC 3339",
        ),
    ];
    for (what, bad, expected) in cases {
        // A good line, a blank line (which still counts) and the bad line at line 3.
        let lines = vec![deposit("\"10\""), String::new(), bad.clone(), deposit("\"20\"").replace("d-1", "d-2")];
        let output = ringfence.import("bad.jsonl", &lines);
        assert_exit(&output, 2);
        let text = stdout(&output);
        let reported: Vec<&str> = text.lines().filter(|line| line.starts_with("line ")).collect();
        assert_eq!(reported.len(), 1, "{what}: {text}");
        assert!(reported[0].starts_with("line 3: error: "), "{what}: {text}");
        assert!(reported[0].contains(expected), "{what}: expected {expected:?} in {:?}", reported[0]);
        assert!(text.contains("nothing was imported"), "{what}: {text}");
        assert_eq!(ringfence.head(), head, "{what}: the store changed");
    }

    // Every malformed line is listed, not only the first.
    let lines = vec![deposit("\"10\""), deposit("-1"), deposit("\"10\""), deposit("2.5"), "{".into()];
    let output = ringfence.import("many.jsonl", &lines);
    assert_exit(&output, 2);
    let text = stdout(&output);
    for number in [2, 4, 5] {
        assert!(text.contains(&format!("line {number}: error: ")), "line {number}: {text}");
    }
    assert!(!text.contains("line 1:") && !text.contains("line 3:"), "{text}");
    assert!(text.contains("3 malformed line(s)"), "{text}");
    assert_eq!(ringfence.head(), head);
}

#[test]
fn balances_now_and_at_an_instant() {
    let ringfence = populated();
    let balance = |args: &[&str]| balance_of(&ringfence.json(&[&["balance", "--json"], args].concat()));
    assert_eq!(balance(&["--client", "alice"]), eth_balance("890"));
    assert_eq!(balance(&["--client", "bob"]), eth_balance("450"));
    assert_eq!(balance(&["--client", "carol"]), eth_balance("350"));
    assert_eq!(balance(&["--wallet", "w-omni-hot"]), eth_balance("740"));
    assert_eq!(balance(&["--wallet", "w-omni-cold"]), eth_balance("600"));
    assert_eq!(balance(&["--wallet", "w-carol"]), eth_balance("350"));
    assert_eq!(balance(&["--wallet", "w-firm"]), eth_balance("40"));
    assert_eq!(balance(&["--own", "fee_income"]), eth_balance("10"));
    assert_eq!(balance(&["--own", "capital"]), eth_balance("30"));

    // Effective time: d-1 on the 10th, t-1 on the 13th, f-1 on the 14th, d-4 on the 19th and
    // its correction on the 20th.
    assert_eq!(balance(&["--client", "alice", "--at", "2026-01-09"]), vec![]);
    assert_eq!(balance(&["--client", "alice", "--at", "2026-01-09", "--asset", ETH]), eth_balance("0"));
    assert_eq!(balance(&["--client", "alice", "--at", "2026-01-10T10:00:00Z"]), eth_balance("1000"));
    // A date as a cut-off means the end of that day: the 12th holds d-1 only, the 13th t-1 too.
    assert_eq!(balance(&["--client", "alice", "--at", "2026-01-12"]), eth_balance("1000"));
    assert_eq!(balance(&["--client", "alice", "--at", "2026-01-13"]), eth_balance("900"));
    assert_eq!(balance(&["--client", "alice", "--at", "2026-01-13T10:00:00Z"]), eth_balance("900"));
    assert_eq!(balance(&["--client", "alice", "--at", "2026-01-19T12:00:00+00:00"]), eth_balance("897"));
    assert_eq!(balance(&["--client", "alice", "--at", "2026-01-20T11:00:00+01:00"]), eth_balance("890"));
    // d-2 is effective at 09:00Z (10:00+01:00).
    assert_eq!(balance(&["--client", "bob", "--at", "2026-01-11T09:00:00Z"]), eth_balance("500"));
    assert_eq!(balance(&["--client", "bob", "--at", "2026-01-11T08:59:59Z"]), vec![]);

    let at = ringfence.json(&["balance", "--client", "alice", "--at", "2026-01-13", "--json"]);
    assert_eq!(at["at"], "2026-01-13T23:59:59.999999Z", "a date as a cut-off is the end of that day");
    let text = stdout(&ringfence.run(&["balance", "--client", "alice"]));
    assert!(text.contains("client alice") && text.contains("890") && text.contains(ETH), "{text}");
}

#[test]
fn history_lists_a_clients_movements_oldest_first_within_the_period_and_limit() {
    let ringfence = populated();
    let keys = |args: &[&str]| -> Vec<String> {
        let page = ringfence.json(&[&["history", "--json"], args].concat());
        page["movements"].as_array().unwrap().iter().map(|entry| entry["movement"]["key"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(keys(&["--client", "alice"]), ["d-1", "t-1", "f-1", "d-4", "c-1"]);
    assert_eq!(keys(&["--client", "carol"]), ["d-3", "m-1"]);
    assert_eq!(keys(&["--wallet", "w-firm"]), ["f-1", "ff-1", "fw-1"]);
    assert_eq!(keys(&["--client", "alice", "--limit", "2"]), ["d-1", "t-1"]);
    // Paging as `GET /v1/history` does: a full page names the `after` of the next one.
    let first = ringfence.json(&["history", "--client", "alice", "--limit", "2", "--json"]);
    assert_eq!(first["subject"], "position:alice");
    let after = first["next_after"].as_u64().expect("a full page has a next one").to_string();
    assert_eq!(keys(&["--client", "alice", "--limit", "2", "--after", &after]), ["f-1", "d-4"]);
    assert_eq!(keys(&["--client", "alice", "--limit", "10", "--after", &after]), ["f-1", "d-4", "c-1"]);
    assert_eq!(ringfence.json(&["history", "--client", "alice", "--limit", "10", "--json"])["next_after"], Value::Null);
    assert_eq!(keys(&["--client", "alice", "--from", "2026-01-13", "--to", "2026-01-14T10:00:00Z"]), ["t-1", "f-1"]);
    assert_eq!(keys(&["--client", "alice", "--from", "2026-02-01"]), Vec::<String>::new());

    let page = ringfence.json(&["history", "--client", "alice", "--json", "--from", "2026-01-20"]);
    let entries = page["movements"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let correction = &entries[0];
    assert_eq!(correction["movement"]["kind"], "correction");
    assert_eq!(correction["movement"]["corrects"], "d-4");
    assert_eq!(correction["actor"], "ops:bob");
    assert_eq!(correction["instruction"], "fix-d-4");
    assert_eq!(correction["changes"][0]["amount"], "-7");

    let text = stdout(&ringfence.run(&["history", "--client", "alice"]));
    assert!(text.contains("movements of client alice") && text.contains("(corrects d-4)"), "{text}");
    let reversed = ringfence.run(&["history", "--client", "alice", "--from", "2026-02-01", "--to", "2026-01-01"]);
    assert_ne!(reversed.status.code(), Some(0));
    assert!(stderr(&reversed).contains("--from is after --to"), "{}", stderr(&reversed));
}

#[test]
fn summary_json_shows_every_asset_segregated() {
    let ringfence = populated();
    let summary = ringfence.json(&["summary", "--json"]);
    let assets = summary["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 1);
    let eth = &assets[0];
    assert_eq!(eth["asset"], serde_json::json!({"id": ETH, "scale": 18, "symbol": "ETH"}));
    assert!(summary["journal_seq"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(eth["client_positions"], "1690");
    assert_eq!(eth["client_holdings"], "1690");
    assert_eq!(eth["client_hot"], "740");
    assert_eq!(eth["client_cold"], "950");
    assert_eq!(eth["firm_holdings"], "40");
    assert_eq!(eth["own_accounts"], "40");
    assert_eq!(eth["firm_hot"], "40");
    assert_eq!(eth["firm_cold"], "0");
    assert_eq!(eth["segregated"], true);
    let text = stdout(&ringfence.run(&["summary"]));
    assert!(text.contains("segregated") && !text.contains("NOT SEGREGATED"), "{text}");
}

#[test]
fn journal_verify_and_head_report_the_same_head() {
    let ringfence = populated();
    let output = ringfence.run(&["journal", "verify"]);
    assert_success(&output);
    let head = ringfence.head();
    let (seq, hash) = head.trim().split_once(' ').unwrap();
    assert_eq!(seq, (good_file().len() + 1).to_string(), "the lines and the safeguarding check after them");
    assert_eq!(hash.len(), 64);
    assert_eq!(stdout(&output).trim(), format!("journal intact: {seq} entries, head hash {hash}"));

    let empty = Ringfence::initialised();
    assert_success(&empty.run(&["journal", "verify"]));
    assert_eq!(empty.head().trim(), format!("0 {}", "0".repeat(64)));
}

/// `ringfence checkpoint`, then more entries: opening replays only those, and the
/// incremental verify reads only those; the full verify compares the checkpoint.
#[test]
fn a_checkpoint_then_the_incremental_verify_reads_only_what_follows_it() {
    let ringfence = populated();
    let seq: u64 = ringfence.head().split_whitespace().next().unwrap().parse().unwrap();
    let none = ringfence.run(&["journal", "verify", "--since-checkpoint"]);
    assert_success(&none);
    assert!(stdout(&none).contains("no usable register checkpoint: the whole journal was checked"), "{}", stdout(&none));

    let taken = ringfence.run(&["checkpoint"]);
    assert_success(&taken);
    assert!(stdout(&taken).contains(&format!("register checkpoint at entry {seq} ")), "{}", stdout(&taken));
    let more = [r#"{"type":"deposit","key":"d-after","client":"alice","wallet":"w-omni-hot","asset":"ETH","amount":"5"}"#
        .replace("\"ETH\"", &format!("\"{ETH}\""))];
    assert_success(&ringfence.import("more.jsonl", &more));
    let head: u64 = ringfence.head().split_whitespace().next().unwrap().parse().unwrap();
    assert!(head > seq);

    let since = ringfence.run(&["journal", "verify", "--since-checkpoint"]);
    assert_success(&since);
    assert!(
        stdout(&since).starts_with(&format!(
            "journal intact from the register checkpoint at entry {seq}: {} entries after it checked, head {head}",
            head - seq
        )),
        "{}",
        stdout(&since)
    );
    let json = ringfence.json(&["journal", "verify", "--since-checkpoint", "--json"]);
    assert_eq!(
        (json["intact"].as_bool(), json["since_checkpoint"].as_u64(), json["head_seq"].as_u64()),
        (Some(true), Some(seq), Some(head))
    );
    let full = ringfence.run(&["journal", "verify"]);
    assert_success(&full);
    assert!(stdout(&full).contains(&format!("register checkpoint at entry {seq}: matches the replay from entry 1")), "{}", stdout(&full));
    assert!(ringfence.json(&["journal", "verify", "--json"]).get("since_checkpoint").is_none());
}

/// Someone who can write the database puts another register's state in a checkpoint and
/// seals it again (the seal is not keyed): opening uses it, so the balance shows the forged
/// figure; the full verify replays from entry 1, says the checkpoint DIFFERS and exits 1, and
/// `checkpoint --discard` puts things right.
#[test]
fn a_forged_checkpoint_is_found_by_the_full_verify_and_discarded() {
    let ringfence = populated();
    let forger = Ringfence::initialised();
    let other: Vec<String> = good_file()
        .into_iter()
        .map(|line| line.replace(r#""amount":"1000","effective_at":"2026-01-10"#, r#""amount":"1900","effective_at":"2026-01-10"#))
        .collect();
    assert_ne!(other, good_file(), "the other book deposits another amount");
    assert_success(&forger.import("other.jsonl", &other));
    assert_success(&ringfence.run(&["checkpoint"]));
    assert_success(&forger.run(&["checkpoint"]));
    let (seq, head) = {
        let head = ringfence.head();
        let (seq, hash) = head.trim().split_once(' ').unwrap();
        (seq.parse::<u64>().unwrap(), hash.to_owned())
    };
    assert_eq!(forger.head().split_whitespace().next(), Some(seq.to_string().as_str()), "both at the same entry");
    let before = stdout(&ringfence.run(&["balance", "--client", "alice"]));

    let state: Vec<u8> = rusqlite::Connection::open(forger.data_dir().join("ringfence.sqlite3"))
        .unwrap()
        .query_row("SELECT bytes FROM register_checkpoint_part WHERE part = 0", [], |row| row.get(0))
        .unwrap();
    let mut hash = [0u8; 32];
    for (index, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&head[index * 2..index * 2 + 2], 16).unwrap();
    }
    let seal = ringfence_store::checkpoint_hash(ringfence_journal::Head { seq, hash }, ringfence_core::register::STATE_LAYOUT, &state);
    let db = rusqlite::Connection::open(ringfence.data_dir().join("ringfence.sqlite3")).unwrap();
    db.execute("UPDATE register_checkpoint_part SET bytes = ?1 WHERE part = 0", [&state]).unwrap();
    db.execute("UPDATE register_checkpoint SET hash = ?1, size = ?2", rusqlite::params![seal.to_vec(), state.len() as i64]).unwrap();
    drop(db);

    let forged = stdout(&ringfence.run(&["balance", "--client", "alice"]));
    assert_ne!(forged, before, "opening uses the forged checkpoint: its hash and binding check out");
    let verify = ringfence.run(&["journal", "verify"]);
    assert_exit(&verify, 1);
    assert!(
        stdout(&verify).contains(&format!("register checkpoint at entry {seq}: DIFFERS from the replay from entry 1")),
        "{}",
        stdout(&verify)
    );
    let json = ringfence.run(&["journal", "verify", "--json"]);
    assert_exit(&json, 1);
    assert!(stdout(&json).contains(r#""verdict":"differs""#), "{}", stdout(&json));

    assert_success(&ringfence.run(&["checkpoint", "--discard"]));
    assert_eq!(stdout(&ringfence.run(&["balance", "--client", "alice"])), before, "the journal's figures again");
    assert_success(&ringfence.run(&["journal", "verify"]));
}

#[test]
fn unknown_subjects_and_missing_stores_are_clear_errors() {
    let ringfence = populated();
    for (args, expected) in [
        (&["balance", "--client", "nobody"][..], "client nobody is not registered"),
        (&["history", "--client", "nobody"][..], "client nobody is not registered"),
        (&["balance", "--wallet", "w-nowhere"][..], "wallet w-nowhere is not registered"),
        (&["balance", "--client", "alice", "--asset", "eip155:1/erc20:0xdead"][..], "is not registered"),
        (&["balance", "--client", "alice", "--at", "last tuesday"][..], "RFC 3339"),
        (&["balance", "--client", "bad id"][..], "client id"),
        (&["init"][..], "already exists"),
    ] {
        let output = ringfence.run(args);
        assert_ne!(output.status.code(), Some(0), "{args:?}: {}", stdout(&output));
        assert!(stderr(&output).contains(expected), "{args:?}: expected {expected:?} in {}", stderr(&output));
        assert!(stdout(&output).is_empty(), "{args:?}: {}", stdout(&output));
    }

    let empty = Ringfence::new();
    for args in [&["balance", "--client", "alice"][..], &["summary"][..], &["journal", "verify"][..], &["journal", "head"][..]] {
        let output = empty.run(args);
        assert_ne!(output.status.code(), Some(0), "{args:?}");
        assert!(stderr(&output).contains("ringfence init"), "{args:?}: {}", stderr(&output));
    }
    let output = empty.import("orphan.jsonl", &registrations());
    assert_ne!(output.status.code(), Some(0));
    assert!(stderr(&output).contains("ringfence init"), "{}", stderr(&output));
    assert!(!empty.data_dir().exists(), "a failed command created the store");
}

#[test]
fn every_subcommand_has_help() {
    let ringfence = Ringfence::new();
    for args in [
        &["--help"][..],
        &["init", "--help"],
        &["import", "--help"],
        &["balance", "--help"],
        &["history", "--help"],
        &["summary", "--help"],
        &["journal", "--help"],
        &["journal", "verify", "--help"],
        &["journal", "head", "--help"],
        &["demo", "--help"],
        &["bench", "--help"],
        &["help", "import"],
    ] {
        let output = ringfence.run(args);
        assert_success(&output);
        assert!(stdout(&output).contains("Usage: ringfence"), "{args:?}: {}", stdout(&output));
    }
    assert!(!ringfence.data_dir().exists());
}

#[test]
fn demo_refuses_the_breaches_and_verifies_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let output = Command::new(BIN).args(["demo", "--dir"]).arg(&demo).output().unwrap();
    assert_success(&output);
    let text = stdout(&output);
    assert!(text.contains("segregation_breach"), "{text}");
    assert!(text.contains("journal verified"), "{text}");
    assert_demo_store_is_usable(&demo);
}

/// The demo leaves a store that the other commands open.
fn assert_demo_store_is_usable(dir: &Path) {
    let output = Command::new(BIN).arg("--data-dir").arg(dir).args(["journal", "verify"]).output().unwrap();
    assert_success(&output);
    let output = Command::new(BIN).arg("--data-dir").arg(dir).args(["summary", "--json"]).output().unwrap();
    assert_success(&output);
    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let assets = summary["assets"].as_array().unwrap();
    assert!(!assets.is_empty());
    assert!(assets.iter().all(|asset| asset["segregated"] == true), "{summary}");
}

/// The README's quick start imports this file: every line must be accepted.
#[test]
fn the_readme_example_imports_cleanly_and_stays_segregated() {
    let ringfence = Ringfence::initialised();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/casp.jsonl")).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let output = ringfence.import("casp.jsonl", &lines);
    assert_success(&output);
    assert!(stdout(&output).contains(&format!("{} line(s): {} accepted", lines.len(), lines.len())), "{}", stdout(&output));
}

#[test]
fn a_token_is_shown_once_listed_without_its_secret_and_revoked() {
    let ringfence = Ringfence::initialised();
    let created = ringfence.run(&["token", "create", "--actor", "ops:alice", "--role", "operator,approver"]);
    assert_success(&created);
    let printed = stdout(&created);
    let token = printed.lines().find(|line| line.starts_with("rf_t")).unwrap().to_owned();
    let id = token.split('_').nth(1).unwrap().to_owned();
    let secret = token.split('_').nth(2).unwrap().to_owned();
    assert_eq!(secret.len(), 64, "{printed}");

    let listed = ringfence.run(&["token", "list"]);
    assert_success(&listed);
    assert!(stdout(&listed).contains(&format!("{id}  ops:alice  operator,approver")), "{}", stdout(&listed));
    assert!(!stdout(&listed).contains(&secret));
    let journal = std::fs::read(ringfence.data_dir().join("ringfence.sqlite3")).unwrap();
    assert!(!journal.windows(secret.len()).any(|window| window == secret.as_bytes()), "the secret reached the database");

    let revoked = ringfence.run(&["token", "revoke", &id]);
    assert_success(&revoked);
    assert!(stdout(&revoked).contains(&format!("revoked token {id}")), "{}", stdout(&revoked));
    assert!(stdout(&ringfence.run(&["token", "list"])).contains("REVOKED at sequence 2"));
    let again = ringfence.run(&["token", "revoke", &id]);
    assert!(stdout(&again).contains("already revoked"), "{}", stdout(&again));

    for (args, message) in [
        (&["token", "create", "--actor", "x", "--role", "root"][..], "is not a role"),
        (&["token", "create", "--actor", "x", "--role", "client"], "a client-role token must name its client"),
        (&["token", "create", "--actor", "x", "--role", "auditor", "--expires-at", "2020-01-01"], "is in the past"),
        (&["token", "revoke", "tnope"], "unknown_token"),
    ] {
        let output = ringfence.run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains(message), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
    assert!(stdout(&ringfence.run(&["journal", "verify"])).contains("journal intact: 2 entries"));
}

/// The `rf_…` token that `token create` printed.
fn created_token(output: &Output) -> String {
    assert_success(output);
    stdout(output).lines().find(|line| line.starts_with("rf_")).expect("the token is printed once").to_owned()
}

#[test]
fn under_an_approval_policy_decisions_need_a_token_not_a_typed_actor() {
    let ringfence = populated();
    let approver = created_token(&ringfence.run(&["token", "create", "--actor", "risk:grace", "--role", "approver"]));
    let operator = created_token(&ringfence.run(&["token", "create", "--actor", "ops:alice", "--role", "operator"]));
    let compliance = created_token(&ringfence.run(&["token", "create", "--actor", "cco:bea", "--role", "compliance"]));
    // Without a policy, a typed actor still records (nothing is four-eyes yet).
    let policy = format!(r#"{{"type":"approval_policy","approvals":1,"withdrawal_thresholds":{{"{ETH}":"0"}}}}"#);
    let withdrawal =
        format!(r#"{{"type":"withdrawal","key":"wd-big","client":"alice","wallet":"w-omni-hot","asset":"{ETH}","amount":"5"}}"#);
    let proposed = ringfence.import("policy.jsonl", &[policy]);
    assert_success(&proposed);
    // Under it, the withdrawal it holds back needs an identity too: the operator's token.
    let refused = ringfence.import("withdrawal.jsonl", std::slice::from_ref(&withdrawal));
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    assert!(stdout(&refused).contains("needs an identity") && stdout(&refused).contains("nothing was imported"), "{}", stdout(&refused));
    let path = ringfence.file("withdrawal.jsonl", &[withdrawal]);
    let proposed = ringfence.run(&["--token", &operator, "import", path.to_str().unwrap()]);
    assert_eq!(proposed.status.code(), Some(0), "{}", stdout(&proposed));
    let id: String =
        stdout(&proposed).split("pending instruction ").nth(1).map(|rest| rest.chars().take_while(char::is_ascii_digit).collect()).unwrap();
    assert!(stdout(&proposed).contains("pending_approval"), "{}", stdout(&proposed));

    // An approval line whose actor is typed: refused, nothing changes.
    let before = ringfence.head();
    let typed = format!(r#"{{"type":"approve","pending":{id},"actor":"risk:grace"}}"#);
    let refused = ringfence.import("approve.jsonl", std::slice::from_ref(&typed));
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    assert_eq!(ringfence.head(), before);
    // A token that is not an approver's, a token that is not valid, a line naming someone else:
    // refused.
    let path = ringfence.file("approve.jsonl", &[typed]);
    let wrong_role = ringfence.run(&["--token", &operator, "import", path.to_str().unwrap()]);
    assert!(stdout(&wrong_role).contains("needs a token with one of the roles approver"), "{}", stdout(&wrong_role));
    let forged = ringfence.run(&["--token", "rf_t-nobody_0123456789abcdef0123456789", "import", path.to_str().unwrap()]);
    assert!(!forged.status.success() && stderr(&forged).contains("the token is not valid"), "{}", stderr(&forged));
    let other = ringfence.file("other.jsonl", &[format!(r#"{{"type":"approve","pending":{id},"actor":"risk:someone-else"}}"#)]);
    let mismatch = ringfence.run(&["--token", &approver, "import", other.to_str().unwrap()]);
    assert!(stdout(&mismatch).contains("is not the token's (risk:grace)"), "{}", stdout(&mismatch));
    assert_eq!(ringfence.head(), before);
    // The approver's token: applied, recorded as risk:grace.
    let approved = ringfence.run(&["--token", &approver, "import", path.to_str().unwrap()]);
    assert_eq!(approved.status.code(), Some(0), "{}{}", stdout(&approved), stderr(&approved));
    assert!(stdout(&approved).contains("accepted"), "{}", stdout(&approved));

    // The exception clocks: a typed --actor is refused, an approver's token lacks the role,
    // compliance's proposes the change (it waits for approval).
    let set = ["exceptions", "policy", "--resolution-hours", "48", "--confirmation-hours", "24"];
    let typed = ringfence.run(&[&set[..], &["--actor", "cco:bea"]].concat());
    assert!(
        !typed.status.success() && stderr(&typed).contains("needs an identity while an approval policy is in force"),
        "{}",
        stderr(&typed)
    );
    let wrong = ringfence.run(&[&["--token", approver.as_str()][..], &set[..]].concat());
    assert!(!wrong.status.success() && stderr(&wrong).contains("one of the roles compliance"), "{}", stderr(&wrong));
    let proposed = ringfence.run(&[&["--token", compliance.as_str()][..], &set[..]].concat());
    assert!(proposed.status.success() && stdout(&proposed).contains("pending approval"), "{}{}", stdout(&proposed), stderr(&proposed));
}

#[test]
fn demo_never_replaces_a_store_it_did_not_create_and_takes_the_global_options() {
    let ringfence = populated();
    let head = ringfence.head();
    let data = ringfence.data_dir();
    // The real register, by --data-dir or by --dir: refused, untouched.
    for args in [vec!["demo".to_owned()], vec!["demo".to_owned(), "--dir".to_owned(), data.display().to_string()]] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let refused = ringfence.run(&args);
        assert!(!refused.status.success(), "{args:?}");
        assert!(stderr(&refused).contains("did not create; the demo never replaces one"), "{}", stderr(&refused));
        assert_eq!(ringfence.head(), head, "the register is untouched");
    }
    // --database-url is refused, not ignored.
    let url = Command::new(BIN).args(["--database-url", "postgres://nobody@127.0.0.1:1/none", "demo"]).output().unwrap();
    assert!(!url.status.success() && stderr(&url).contains("does not take --database-url"), "{}", stderr(&url));
    // --data-dir names where the demo builds; a second demo there replaces the first.
    let dir = tempfile::tempdir().unwrap();
    let place = dir.path().join("sample");
    for _ in 0..2 {
        let built = Command::new(BIN).arg("--data-dir").arg(&place).args(["demo", "--clients", "10"]).output().unwrap();
        assert_success(&built);
        assert!(place.join("ringfence-demo.marker").exists());
    }
    let both = Command::new(BIN).arg("--data-dir").arg(&place).args(["demo", "--dir", "elsewhere"]).output().unwrap();
    assert!(!both.status.success() && stderr(&both).contains("name two places"), "{}", stderr(&both));
}

// ----- issue 15: what a compliance officer misread --------------------------------------

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");

/// The sample CASP with its safeguarding records (fiat, an encumbrance).
fn sample_with_safeguarding() -> Ringfence {
    let ringfence = Ringfence::initialised();
    ringfence.run(&["import", &format!("{EXAMPLES}/casp.jsonl")]);
    let safeguarding = ringfence.run(&["import", &format!("{EXAMPLES}/safeguarding.jsonl")]);
    assert_success(&safeguarding);
    ringfence
}

#[test]
fn a_pending_approval_is_reported_as_pending_not_rejected_and_exits_0() {
    let ringfence = populated();
    let operator = created_token(&ringfence.run(&["token", "create", "--actor", "ops:alice", "--role", "operator"]));
    assert_success(
        &ringfence
            .import("policy.jsonl", &[format!(r#"{{"type":"approval_policy","approvals":1,"withdrawal_thresholds":{{"{ETH}":"0"}}}}"#)]),
    );
    let path = ringfence.file(
        "wd.jsonl",
        &[format!(r#"{{"type":"withdrawal","key":"wd-p","client":"alice","wallet":"w-omni-hot","asset":"{ETH}","amount":"5"}}"#)],
    );
    let pending = ringfence.run(&["--token", &operator, "import", path.to_str().unwrap()]);
    assert_exit(&pending, 0);
    let text = stdout(&pending);
    assert!(text.contains("pending_approval") && !text.contains("rejected"), "{text}");
}

#[test]
fn a_deadline_prints_as_a_date_and_fiat_as_money_not_raw_units() {
    let ringfence = sample_with_safeguarding();
    // A receipt never placed: the check opens an exception whose deadline is an instant in
    // RFC 3339 and whose amount is money.
    let path = ringfence.file(
        "late.jsonl",
        &[r#"{"type":"fiat_receipt","key":"fiat-late","client":"client-1","currency":"EUR","amount":"99900","effective_at":"2026-05-04T10:00:00Z"}"#.into()],
    );
    let imported = ringfence.run(&["import", path.to_str().unwrap()]);
    let text = stdout(&imported);
    assert!(text.contains("EUR 999.00 (99900 minor units) of EUR 999.00"), "{text}");
    assert!(text.contains("the deadline was 2026-05-06T00:00:00Z") && !text.contains("µs"), "{text}");
    let policy = stdout(&ringfence.run(&["policy", "show"]));
    assert!(policy.contains("EUR 2549.00 (254900 minor units) owed to clients"), "{policy}");
}

#[test]
fn a_date_that_ends_a_period_includes_that_day() {
    let ringfence = populated();
    // t-1 is effective at 2026-01-13T10:00:00Z: `--to 2026-01-13` includes it, as the
    // README's quarter example (`--to 2026-03-31`) includes 31 March.
    let history = ringfence.json(&["history", "--client", "alice", "--from", "2026-01-13", "--to", "2026-01-13", "--json"]);
    let keys: Vec<&str> = history["movements"].as_array().unwrap().iter().filter_map(|m| m["movement"]["key"].as_str()).collect();
    assert_eq!(keys, ["t-1"], "{history}");
}

#[test]
fn a_movement_dated_in_the_future_is_refused_and_nothing_is_imported() {
    let ringfence = populated();
    let head = ringfence.head();
    let lines = [
        format!(r#"{{"type":"deposit","key":"d-now","client":"alice","wallet":"w-omni-hot","asset":"{ETH}","amount":"1"}}"#),
        format!(
            r#"{{"type":"deposit","key":"d-2031","client":"alice","wallet":"w-omni-hot","asset":"{ETH}","amount":"1","effective_at":"2031-01-01T00:00:00Z"}}"#
        ),
    ];
    let refused = ringfence.import("future.jsonl", &lines);
    assert_exit(&refused, 2);
    assert!(stdout(&refused).contains("line 2: error: effective_at 2031-01-01T00:00:00Z is in the future"), "{}", stdout(&refused));
    assert_eq!(ringfence.head(), head);
}

#[test]
fn history_says_when_more_movements_follow_the_page() {
    let ringfence = populated();
    let page = stdout(&ringfence.run(&["history", "--client", "alice", "--limit", "2"]));
    assert!(page.contains("(more: --after "), "{page}");
}

#[test]
fn every_kind_of_entity_can_be_listed_in_text_and_json() {
    let ringfence = sample_with_safeguarding();
    for (kind, id) in [
        ("assets", "eip155:1/slip44:60"),
        ("clients", "client-1"),
        ("wallets", "omnibus-hot"),
        ("key-sets", "ks-omnibus-hot"),
        ("sub-custodians", "nordbank"),
        ("institutions", "bundesbank"),
        ("fiat-accounts", "eur-clients-nordbank"),
        ("client-instructions", "ci-client-1-staking"),
    ] {
        let page = ringfence.json(&["list", kind, "--json"]);
        assert!(page["items"].as_array().unwrap().iter().any(|item| item["id"] == id), "{kind}: {page}");
        let text = stdout(&ringfence.run(&["list", kind]));
        assert!(text.contains(&format!("id={id}")), "{kind}: {text}");
    }
    let unknown = ringfence.run(&["list", "unicorns"]);
    assert!(!unknown.status.success() && stderr(&unknown).contains("use one of assets, clients"), "{}", stderr(&unknown));
}

#[test]
fn a_client_sees_its_encumbered_part_and_its_fiat_funds() {
    let ringfence = sample_with_safeguarding();
    let balances = ringfence.json(&["balance", "--client", "client-1", "--json"]);
    assert_eq!(balances["encumbered"][0]["amount"], "500000000000000000", "{balances}");
    assert_eq!(balances["fiat"][0]["money"], "EUR 500.00", "{balances}");
    let text = stdout(&ringfence.run(&["balance", "--client", "client-1"]));
    assert!(text.contains("of which encumbered") && text.contains("client fiat funds owed: EUR 500.00"), "{text}");
    // The encumbrance is in the client's history too.
    let history = ringfence.json(&["history", "--client", "client-1", "--json"]);
    let events = history["encumbrances"].as_array().unwrap();
    assert_eq!((events[0]["type"].as_str(), events[0]["key"].as_str()), (Some("encumbrance"), Some("enc-0001")), "{history}");
    assert_eq!(events[0]["amount"], "500000000000000000", "{history}");
    let text = stdout(&ringfence.run(&["history", "--client", "client-1"]));
    assert!(text.contains("encumbered and released under the client's instructions (1)"), "{text}");
}

#[test]
fn an_import_ends_with_the_safeguarding_checks_result() {
    let ringfence = Ringfence::initialised();
    let imported = stdout(&ringfence.run(&["import", &format!("{EXAMPLES}/casp.jsonl")]));
    assert!(imported.contains("safeguarding: 2 breach(es) stand"), "{imported}");
    let clean = populated();
    let again = stdout(&clean.import(
        "one.jsonl",
        &[format!(r#"{{"type":"deposit","key":"d-x","client":"alice","wallet":"w-omni-hot","asset":"{ETH}","amount":"1"}}"#)],
    ));
    assert!(again.contains("safeguarding: "), "{again}");
}
