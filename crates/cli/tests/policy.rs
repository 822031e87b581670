//! `ringfence policy show`: the policies in force and the access-separation report, with a
//! signer on both sides of the wall flagged (exit 1).

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("RINGFENCE_DATA_DIR")
        .env_remove("RINGFENCE_DATABASE_URL")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn policy_show_lists_key_sets_with_their_wallets_and_flags_a_signer_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    assert!(run(dir.path(), &["init"]).status.success());
    assert!(run(dir.path(), &["import", &format!("{examples}/casp.jsonl")]).status.success());

    let clean = run(dir.path(), &["policy", "show"]);
    assert!(clean.status.success(), "{}", stdout(&clean));
    let text = stdout(&clean);
    assert!(text.contains("four-eyes approvals: none in force"), "{text}");
    assert!(
        text.contains("ks-omnibus-cold (client-omnibus, multisig 3 of 5): signers cfo, coo, cco, vault-1, vault-2; wallets omnibus-cold"),
        "{text}"
    );
    assert!(text.contains("no signer holds keys for both"), "{text}");

    // The CFO also signs for the firm's treasury.
    let line = r#"{"type":"key_set","id":"ks-treasury","scheme":"multisig","threshold":1,"signers":["cfo"],"class":"firm"}"#;
    let file = dir.path().join("treasury.jsonl");
    std::fs::write(&file, format!("{line}\n")).unwrap();
    assert!(run(dir.path(), &["import", file.to_str().unwrap()]).status.success());
    let flagged = run(dir.path(), &["policy", "show", "--json"]);
    assert_eq!(flagged.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout(&flagged)).unwrap();
    let shared = &report["access_separation"]["signers_on_both_sides"];
    assert_eq!(shared.as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(shared[0]["signer"], "cfo");
    assert_eq!(shared[0]["client_key_sets"], serde_json::json!(["ks-omnibus-cold"]));
    assert_eq!(shared[0]["firm_key_sets"], serde_json::json!(["ks-treasury"]));
}
