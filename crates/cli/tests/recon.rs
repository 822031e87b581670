//! `ringfence chain`, `recon` and `exceptions` end to end: the real binary against a real node
//! (anvil) and a real ERC-20. A clean run exits 0; an unrecorded transfer out of a client
//! wallet makes the next run exit 1 with a critical exception, which is then investigated,
//! resolved and approved by someone else, all from the command line.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");

struct Desk {
    node: ringfence_testchain::Node,
    token: String,
    dir: tempfile::TempDir,
}

impl Desk {
    fn new() -> Option<Desk> {
        let node = ringfence_testchain::anvil()?;
        let minter = node.accounts()[0].clone();
        let token = node.deploy_erc20(&minter, "Test Dollar", "TUSD");
        node.mint(&token, &minter, &node.accounts()[3], 10_000);
        let desk = Desk { node, token, dir: tempfile::tempdir().unwrap() };
        ok(&desk.run(&["init"]));
        let chain = desk.chain();
        let asset = desk.asset();
        let setup = [
            format!(r#"{{"type":"asset","id":"{asset}","scale":6,"symbol":"TUSD"}}"#),
            r#"{"type":"client","id":"alice","category":"retail","segregation":"omnibus"}"#.to_owned(),
            r#"{"type":"key_set","id":"ks-client","scheme":"multisig","threshold":1,"signers":["s1"],"class":"client_omnibus"}"#.to_owned(),
            format!(
                r#"{{"type":"wallet","id":"client-hot","address":"{chain}:{}","class":"client_omnibus","tier":"hot","key_set":"ks-client"}}"#,
                desk.node.accounts()[1]
            ),
        ];
        ok(&desk.import("setup.jsonl", &setup));
        let watched = desk.run(&["chain", "watch", &chain, "--node", &desk.node_spec(), "--confirmations", "0"]);
        ok(&watched);
        assert!(stdout(&watched).starts_with(&format!("watching {chain} from block ")), "{}", stdout(&watched));
        Some(desk)
    }

    fn chain(&self) -> String {
        format!("eip155:{}", self.node.chain_id())
    }
    fn asset(&self) -> String {
        format!("{}/erc20:{}", self.chain(), self.token)
    }
    fn node_spec(&self) -> String {
        format!("{}={}", self.chain(), self.node.url())
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(args)
            .env_remove("RINGFENCE_DATA_DIR")
            .env_remove("RINGFENCE_DATABASE_URL")
            .env_remove("RINGFENCE_NODES")
            .output()
            .unwrap()
    }

    fn import(&self, name: &str, lines: &[String]) -> Output {
        let path: PathBuf = self.dir.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        self.run(&["import", path.to_str().unwrap()])
    }

    fn recon(&self, extra: &[&str]) -> Output {
        let spec = self.node_spec();
        let mut args = vec!["recon", "run", "--node", &spec, "--confirmations", "0", "--actor", "recon-bot"];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn deposit(&self, key: &str, amount: u128) {
        self.node.transfer_erc20(&self.token, &self.node.accounts()[3], &self.node.accounts()[1], amount);
        let line = format!(
            r#"{{"type":"deposit","key":"{key}","client":"alice","wallet":"client-hot","asset":"{}","amount":"{amount}"}}"#,
            self.asset()
        );
        ok(&self.import(&format!("{key}.jsonl"), &[line]));
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn ok(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_run_is_clean_then_an_unrecorded_outflow_is_a_critical_exception_resolved_by_four_eyes() {
    let Some(desk) = Desk::new() else { return };
    desk.deposit("dep-1", 500);

    let report = desk.dir.path().join("report.csv");
    let clean = desk.recon(&["--report-csv", report.to_str().unwrap()]);
    ok(&clean);
    let text = stdout(&clean);
    assert!(text.contains("no breaks: clean"), "{text}");
    assert!(text.contains("ingested eip155:31337 through block"), "{text}");
    assert!(std::fs::read_to_string(&report).unwrap().starts_with("check,severity,verdict,"));

    // 50 leave the client wallet; nobody records it.
    desk.node.transfer_erc20(&desk.token, &desk.node.accounts()[1], &desk.node.accounts()[3], 50);
    let broken = desk.recon(&["--json"]);
    assert_eq!(broken.status.code(), Some(1), "{}", stdout(&broken));
    let run: Value = serde_json::from_str(&stdout(&broken)).unwrap();
    assert_eq!(run["clean"], false);
    let outflow = run["breaks"].as_array().unwrap().iter().find(|b| b["kind"] == "unmatched_outflow").unwrap().clone();
    assert_eq!(outflow["severity"], "critical");
    let id = outflow["exception"].as_u64().unwrap().to_string();

    let listed = desk.run(&["exceptions", "list", "--severity", "critical"]);
    ok(&listed);
    assert!(stdout(&listed).contains("unmatched_outflow"), "{}", stdout(&listed));

    // The lifecycle: investigate, propose, the investigator cannot approve, someone else does.
    ok(&desk.run(&["exceptions", "investigate", &id, "--actor", "ops-ann"]));
    let correction = format!(
        r#"{{"type":"withdrawal","key":"late-wd","client":"alice","wallet":"client-hot","asset":"{}","amount":"50"}}"#,
        desk.asset()
    );
    ok(&desk.import("late.jsonl", &[correction]));
    ok(&desk.run(&[
        "exceptions",
        "resolve",
        &id,
        "--actor",
        "ops-ann",
        "--reason",
        "client withdrawal booked late",
        "--movement",
        "late-wd",
    ]));
    let refused = desk.run(&["exceptions", "approve", &id, "--actor", "ops-ann"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stdout(&refused).contains("investigator_cannot_approve"), "{}", stdout(&refused));
    ok(&desk.run(&["exceptions", "approve", &id, "--actor", "cco-bea"]));
    let shown = desk.run(&["exceptions", "show", &id, "--json"]);
    ok(&shown);
    let exception: Value = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!((exception["state"].as_str(), exception["resolved_by"].as_str()), (Some("resolved"), Some("cco-bea")));
    assert_eq!(exception["proposal"]["movement"], "late-wd");

    // The late withdrawal now links to the outflow on chain, and the next run is clean again.
    let again = desk.recon(&[]);
    ok(&again);
    let runs = desk.run(&["recon", "runs"]);
    ok(&runs);
    assert_eq!(stdout(&runs).lines().count(), 3, "{}", stdout(&runs));
    let csv = desk.run(&["recon", "show", run["id"].as_u64().unwrap().to_string().as_str(), "--csv"]);
    ok(&csv);
    assert!(stdout(&csv).starts_with("exception,kind,severity,subject,detail\r\n"), "{}", stdout(&csv));
    assert!(stdout(&csv).contains("unmatched_outflow,critical"), "{}", stdout(&csv));
    ok(&desk.run(&["journal", "verify"]));
}

#[test]
fn bad_input_is_refused_with_a_clear_error_and_changes_nothing() {
    let Some(desk) = Desk::new() else { return };
    let head = stdout(&desk.run(&["journal", "head"]));
    let statement = desk.dir.path().join("bad.csv");
    std::fs::write(&statement, "wallet,asset\n\"unterminated\n").unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["recon", "run", "--statement", statement.to_str().unwrap()], "line 1"),
        (&["recon", "run", "--at", "2999-01-01"], "in the future"),
        (&["recon", "run", "--node", "bitcoin=http://x"], "eip155:<chain id>"),
        (&["exceptions", "investigate", "42", "--actor", "ann"], "unknown_exception"),
        (&["exceptions", "list", "--state", "lost"], "is not one of"),
        (&["recon", "show", "42"], "no reconciliation run has id 42"),
    ];
    for (args, expected) in cases {
        let output = desk.run(args);
        assert!(!output.status.success(), "{args:?} should fail");
        let said = format!("{}{}", stdout(&output), String::from_utf8_lossy(&output.stderr));
        assert!(said.contains(expected), "{args:?}: {said}");
    }
    assert_eq!(stdout(&desk.run(&["journal", "head"])), head, "nothing was recorded");
}

/// Without a node: the sample CASP and its sub-custodian's statement. The run takes the
/// statement's cut-off, reads the statement, and says the chain is unavailable (exit 1, not
/// clean); a run at another cut-off than the statement's is refused and records nothing.
#[test]
fn a_statement_sets_the_cut_off_and_a_chain_without_a_node_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env_remove("RINGFENCE_DATA_DIR")
            .env_remove("RINGFENCE_DATABASE_URL")
            .env_remove("RINGFENCE_NODES")
            .output()
            .unwrap()
    };
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    ok(&run(&["init"]));
    ok(&run(&["import", &format!("{examples}/casp.jsonl")]));
    let statement = format!("{examples}/nordbank-statement.csv");

    let output = run(&["recon", "run", "--statement", &statement, "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["cut_off"], "2026-11-23T23:59:59Z");
    // The chain without a node is a break of its own (it used to leave nothing to resolve).
    let breaks = report["breaks"].as_array().unwrap();
    assert_eq!(breaks.len(), 1, "{report}");
    assert_eq!(
        (breaks[0]["kind"].as_str(), breaks[0]["subject"].as_str()),
        (Some("source_unavailable"), Some("source-unavailable:eip155:1"))
    );
    let kinds: Vec<&str> = report["sources"].as_array().unwrap().iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["statement", "unavailable"]);
    assert_eq!(report["sources"][1]["reason"], "no node is given for eip155:1");
    assert!(dir.path().join("evidence").read_dir().unwrap().count() >= 2, "the statement and the report are kept");
    // The list says why a run with no break is not clean (it used to show "0 break(s)" only).
    let runs = stdout(&run(&["recon", "runs"]));
    assert!(runs.contains("1 break(s)  NOT clean: source unavailable (eip155:1)"), "{runs}");
    let exceptions = stdout(&run(&["exceptions", "list"]));
    assert!(exceptions.contains("source_unavailable"), "{exceptions}");

    let head = stdout(&run(&["journal", "head"]));
    let refused = run(&["recon", "run", "--statement", &statement, "--at", "2026-11-24"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("run at the statement's cut-off"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(stdout(&run(&["journal", "head"])), head);
}

/// Issue 15: the daily run in `serve` could not use sub-custodian statements, so their wallets
/// were always `not_observed` there. A statements inbox gives it them: the run takes the
/// statements of the newest cut-off that no run has used (here through `recon run
/// --statements-inbox`, the same code as the daily run), skips malformed, older and used
/// ones, and `serve` refuses an inbox that is not a directory.
#[test]
fn a_statements_inbox_gives_a_run_the_newest_unused_statements_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(args)
            .env_remove("RINGFENCE_DATA_DIR")
            .env_remove("RINGFENCE_DATABASE_URL")
            .env_remove("RINGFENCE_NODES")
            .env_remove("RINGFENCE_STATEMENTS_INBOX")
            .output()
            .unwrap()
    };
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    ok(&run(&["init"]));
    ok(&run(&["import", &format!("{examples}/casp.jsonl")]));
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let statement = |cut_off: &str, reference: &str| {
        format!(
            "# sub_custodian=nordbank cut_off={cut_off} reference={reference}\nwallet,asset,balance\nomnibus-cold,eip155:1/slip44:60,2000000000000000000\n"
        )
    };
    std::fs::write(inbox.join("nordbank-2026-11-22.csv"), statement("2026-11-22T23:59:59Z", "NB-22")).unwrap();
    std::fs::write(inbox.join("nordbank-2026-11-23.csv"), statement("2026-11-23T23:59:59Z", "NB-23")).unwrap();
    std::fs::write(inbox.join("garbled.csv"), "wallet,asset\n\"unterminated\n").unwrap();
    std::fs::write(inbox.join("notes.txt"), "not a statement").unwrap();
    // A link is not followed: it could point the run, and its log, at any file.
    std::os::unix::fs::symlink(inbox.join("nordbank-2026-11-23.csv"), inbox.join("linked.csv")).unwrap();
    let inbox_arg = inbox.to_str().unwrap();

    let output = run(&["recon", "run", "--statements-inbox", inbox_arg]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "not clean: the chain has no node\n{text}");
    assert!(text.contains("inbox: using ") && text.contains("nordbank-2026-11-23.csv"), "{text}");
    assert!(text.contains("nordbank-2026-11-22.csv: an older cut-off (2026-11-22T23:59:59Z)"), "{text}");
    assert!(text.contains("garbled.csv: "), "{text}");
    assert!(!text.contains("notes.txt") && !text.contains("linked.csv"), "{text}");
    let runs: Value = serde_json::from_str(&stdout(&run(&["recon", "runs", "--json"]))).unwrap();
    let last = runs.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["cut_off"], "2026-11-23T23:59:59Z", "{last}");
    assert_eq!(last["sources"][0]["kind"], "statement", "{last}");
    assert_eq!(last["sources"][0]["reference"], "NB-23", "{last}");

    // Run again: the statement was used, so the run is at now, without statements.
    let again = stdout(&run(&["recon", "run", "--statements-inbox", inbox_arg]));
    assert!(again.contains("nordbank-2026-11-23.csv: a recorded run used this statement already"), "{again}");
    assert!(again.contains("nordbank-2026-11-22.csv: a run used a statement of nordbank at a later or the same cut-off"), "{again}");
    assert!(again.contains("inbox: no statement that a run has not used yet"), "{again}");

    let missing = dir.path().join("no-such-inbox");
    let serve = run(&["serve", "--listen", "127.0.0.1:0", "--statements-inbox", missing.to_str().unwrap()]);
    assert_eq!(serve.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&serve.stderr).contains("not a directory; create it"), "{}", String::from_utf8_lossy(&serve.stderr));
}
