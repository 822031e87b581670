//! The insolvency pack (issue 18) on the worked example: examples/insolvency.jsonl (an omnibus
//! ETH pool owed 100 ETH by three clients, an individually segregated client with 10 ETH in its
//! own wallet, an omnibus USDC pool at a second sub-custodian) and the two sub-custodians'
//! statements of 30 June (examples/insolvency-*.csv), which observe 90 ETH in the ETH pool. The
//! pack gives each omnibus ETH client exactly 90 %, the segregated client and the USDC clients
//! 100 %, and the rest as claims on the estate; the numbers add up per pool to the smallest
//! unit; the same command gives the same bytes; bad input writes nothing.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use common::{both, run_with, stdout};
use serde_json::Value;
use sha2::Digest as _;

const ETH: &str = "eip155:1/slip44:60";
const USDC: &str = "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";
const ONE_ETH: u128 = 1_000_000_000_000_000_000;

fn run(dir: &Path, args: &[&str]) -> Output {
    run_with(dir, args, &[])
}

fn examples() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples")
}

/// The worked example's store, reconciled against the sub-custodians' statements of 30 June.
fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["init"]).status.success());
    let imported = run(dir.path(), &["import", &format!("{}/insolvency.jsonl", examples())]);
    assert!(imported.status.success() && !stdout(&imported).contains("rejected"), "{}", both(&imported));
    let reconciled = run(
        dir.path(),
        &[
            "recon",
            "run",
            "--at",
            "2026-06-30T23:59:59Z",
            "--statement",
            &format!("{}/insolvency-vaultco.csv", examples()),
            "--statement",
            &format!("{}/insolvency-nordbank.csv", examples()),
        ],
    );
    // Not clean: the ETH pool holds 10 ETH less than the register says.
    assert_eq!(reconciled.status.code(), Some(1), "{}", both(&reconciled));
    dir
}

/// A pack's CSV file as rows of named cells.
fn rows(dir: &Path, file: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(dir.join(file)).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    reader.records().map(|r| header.iter().cloned().zip(r.unwrap().iter().map(str::to_owned)).collect()).collect()
}

fn units(text: &str) -> u128 {
    text.parse().unwrap()
}

#[test]
fn the_pack_shares_the_pools_shortfall_pro_rata_and_leaves_the_segregated_client_whole() {
    let store = example();
    let dir = store.path();
    let out = tempfile::tempdir().unwrap();
    let pack = out.path().join("pack");
    let made = run(dir, &["insolvency", "pack", "--at", "2026-06-30T23:59:59Z", "--out", pack.to_str().unwrap()]);
    assert!(made.status.success(), "{}", both(&made));
    assert!(stdout(&made).contains("6 client positions in 3 pools, 1 of them short; 8 files"), "{}", both(&made));

    let shortfall = rows(&pack, "shortfall.csv");
    let row = |asset: &str, pool: &str, client: &str| {
        shortfall
            .iter()
            .find(|r| r["asset"] == asset && r["pool"] == pool && r["client"] == client)
            .unwrap_or_else(|| panic!("{asset} {pool} {client}"))
    };
    // The ETH pool: owed 100, holds 90 as observed; each client 90 % exactly.
    let pool = row(ETH, "omnibus", "*");
    assert_eq!((units(&pool["entitlement"]), units(&pool["holdings"])), (100 * ONE_ETH, 90 * ONE_ETH));
    assert_eq!((units(&pool["residual_claim"]), pool["share_percent"].as_str()), (10 * ONE_ETH, "90.000000"));
    let run_id = rows(&pack, "reconciliations.csv")[0]["run"].clone();
    assert_eq!(pool["holdings_from"], format!("observed by run {run_id}, rolled forward to the cut-off"));
    for (client, owed) in [("alice", 50), ("bob", 30), ("carol", 20)] {
        let r = row(ETH, "omnibus", client);
        assert_eq!(units(&r["entitlement"]), owed * ONE_ETH);
        assert_eq!(units(&r["share"]), owed * ONE_ETH / 10 * 9, "{client}");
        assert_eq!(units(&r["residual_claim"]), owed * ONE_ETH / 10, "{client}");
        assert_eq!(r["share_percent"], "90.000000");
    }
    // The segregated client bears nothing of the pool's shortfall: its own wallet is whole.
    let dora = row(ETH, "individual:dora", "dora");
    assert_eq!((units(&dora["share"]), units(&dora["residual_claim"]), dora["share_percent"].as_str()), (10 * ONE_ETH, 0, "100.000000"));
    // The USDC pool at the other sub-custodian is whole.
    assert_eq!(row(USDC, "omnibus", "*")["share_percent"], "100.000000");
    assert_eq!(units(&row(USDC, "omnibus", "alice")["share"]), 600_000_000);
    // Per pool, to the smallest unit: shares sum to what is shared, claims to the shortfall.
    for total in shortfall.iter().filter(|r| r["client"] == "*") {
        let members: Vec<_> =
            shortfall.iter().filter(|r| r["asset"] == total["asset"] && r["pool"] == total["pool"] && r["client"] != "*").collect();
        assert_eq!(members.iter().map(|r| units(&r["share"])).sum::<u128>(), units(&total["share"]), "{total:?}");
        assert_eq!(members.iter().map(|r| units(&r["residual_claim"])).sum::<u128>(), units(&total["residual_claim"]), "{total:?}");
        assert_eq!(members.iter().map(|r| units(&r["entitlement"])).sum::<u128>(), units(&total["entitlement"]), "{total:?}");
    }

    let positions = rows(&pack, "client_positions.csv");
    assert_eq!(positions.len(), 6);
    let alice = positions.iter().find(|r| r["client"] == "alice" && r["asset"] == ETH).unwrap();
    assert_eq!((alice["pool"].as_str(), alice["entitlement_decimal"].as_str(), alice["basis"].as_str()), ("omnibus", "50", "custody"));
    let holdings = rows(&pack, "pool_holdings.csv");
    let pool_eth = holdings.iter().find(|r| r["wallet"] == "pool-eth").unwrap();
    assert_eq!(
        (units(&pool_eth["holding"]), units(&pool_eth["observed"]), units(&pool_eth["rolled_forward"])),
        (100 * ONE_ETH, 90 * ONE_ETH, 90 * ONE_ETH)
    );
    assert!(pool_eth["custodian"].contains("VaultCo Custody B.V."), "{pool_eth:?}");
    assert_eq!(pool_eth["means_of_access"], "ks-pool (multisig 3 of 5: cfo, coo, cco, vault-1, vault-2)");
    assert!(pool_eth["reconciliation_source"].starts_with("statement VC-2026-06-30 of vaultco"), "{pool_eth:?}");
    assert!(pool_eth["reconciliation_breaks"].contains("wallet_difference"), "{pool_eth:?}");
    assert!(!rows(&pack, "exceptions.csv").is_empty(), "the run's breaks are open exceptions");
    // Client fiat funds owed at the cut-off, and where client funds are held.
    let fiat = rows(&pack, "client_fiat.csv");
    assert_eq!(fiat.len(), 1);
    assert_eq!((fiat[0]["client"].as_str(), fiat[0]["owed"].as_str(), fiat[0]["owed_money"].as_str()), ("carol", "250000", "EUR 2500.00"));
    let accounts = rows(&pack, "fiat_accounts.csv");
    assert_eq!((accounts[0]["institution_name"].as_str(), accounts[0]["class"].as_str()), ("Nordbank AG", "client_funds"));
    // Carol's EUR 2,500 placed there on 8 May.
    assert_eq!((accounts[0]["balance"].as_str(), accounts[0]["balance_money"].as_str()), ("250000", "EUR 2500.00"));
    assert_eq!(rows(&pack, "reconciliations.csv").len(), 1);

    // The manifest names every file with its SHA-256 and the entry the pack reflects.
    let manifest: Value = serde_json::from_slice(&std::fs::read(pack.join("manifest.json")).unwrap()).unwrap();
    let head = stdout(&run(dir, &["journal", "head"]));
    let seq = manifest["journal_seq"].as_u64().unwrap();
    assert!(head.contains(&format!("{seq}")) && head.contains(manifest["journal_head_hash"].as_str().unwrap()), "{head} {manifest}");
    for file in manifest["files"].as_array().unwrap() {
        let bytes = std::fs::read(pack.join(file["file"].as_str().unwrap())).unwrap();
        assert_eq!(file["sha256"].as_str().unwrap(), hex(&sha2::Sha256::digest(&bytes)), "{file}");
    }

    // The same command gives the same bytes; after later entries, --as-of the manifest's entry too.
    let again = out.path().join("again");
    assert!(run(dir, &["insolvency", "pack", "--at", "2026-06-30T23:59:59Z", "--out", again.to_str().unwrap()]).status.success());
    let later = dir.join("later.jsonl");
    std::fs::write(
        &later,
        format!(r#"{{"type":"deposit","key":"ins-dep-late","client":"bob","wallet":"pool-eth","asset":"{ETH}","amount":"1000000000000000000","actor":"ops:alice","effective_at":"2026-06-15T09:00:00Z"}}"#) + "\n",
    )
    .unwrap();
    assert!(run(dir, &["import", later.to_str().unwrap()]).status.success());
    let reflected = out.path().join("reflected");
    let remade = run(
        dir,
        &["insolvency", "pack", "--at", "2026-06-30T23:59:59Z", "--as-of", &seq.to_string(), "--out", reflected.to_str().unwrap()],
    );
    assert!(remade.status.success(), "{}", both(&remade));
    for name in [
        "client_positions.csv",
        "pool_holdings.csv",
        "shortfall.csv",
        "client_fiat.csv",
        "fiat_accounts.csv",
        "exceptions.csv",
        "reconciliations.csv",
        "manifest.json",
    ] {
        let first = std::fs::read(pack.join(name)).unwrap();
        assert!(first == std::fs::read(again.join(name)).unwrap(), "{name}: the same command, other bytes");
        assert!(first == std::fs::read(reflected.join(name)).unwrap(), "{name}: as of the same entry, other bytes");
    }
    // Recorded in the journal: its cut-off, the entry it reflects and its manifest's SHA-256;
    // the same pack (as of the same entry) recorded again is already there.
    let recorded_dir = out.path().join("recorded");
    let args = [
        "insolvency",
        "pack",
        "--at",
        "2026-06-30T23:59:59Z",
        "--as-of",
        &seq.to_string(),
        "--out",
        recorded_dir.to_str().unwrap(),
        "--record",
        "--actor",
        "compliance:carol",
    ];
    let recorded = run(dir, &args);
    assert!(recorded.status.success() && stdout(&recorded).contains("records the pack (accepted)"), "{}", both(&recorded));
    let again = run(dir, &args);
    assert!(again.status.success() && stdout(&again).contains("records the pack (already_exists)"), "{}", both(&again));
    // Made now, the backdated deposit counts: bob is owed 31 ETH.
    let now = out.path().join("now");
    assert!(run(dir, &["insolvency", "pack", "--at", "2026-06-30T23:59:59Z", "--out", now.to_str().unwrap()]).status.success());
    let bob = rows(&now, "shortfall.csv").into_iter().find(|r| r["client"] == "bob" && r["asset"] == ETH).unwrap();
    assert_eq!(units(&bob["entitlement"]), 31 * ONE_ETH);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn bad_input_is_refused_with_its_reason_and_writes_nothing() {
    let store = example();
    let dir = store.path();
    let out = tempfile::tempdir().unwrap();
    let report = dir.join("tampered.json");
    std::fs::write(
        &report,
        br#"{"findings":[{"check":"wallet","wallet":"pool-eth","asset":"eip155:1/slip44:60","observed":"100000000000000000000"}]}"#,
    )
    .unwrap();
    let head = stdout(&run(dir, &["journal", "head"]));
    for (args, words) in [
        (vec!["--at", "2999-01-01"], "after now"),
        (vec!["--at", "30 June"], "--at"),
        (vec!["--at", "2026-06-30", "--as-of", "999999"], "not 999999"),
        (vec!["--at", "2026-06-30", "--as-of", "0"], "numbered from 1"),
        (vec!["--at", "2026-06-30T23:59:59Z", "--recon-report", report.to_str().unwrap()], "not that run's report"),
    ] {
        let target = out.path().join("pack");
        let refused = run(dir, &[&["insolvency", "pack", "--out", target.to_str().unwrap()][..], &args].concat());
        assert!(!refused.status.success() && both(&refused).contains(words), "{args:?}: {}", both(&refused));
        assert!(!target.exists(), "{args:?}: nothing written");
    }
    assert_eq!(stdout(&run(dir, &["journal", "head"])), head, "nothing recorded");
    // Before any reconciliation the holdings are the register's, and nothing is short.
    let early = out.path().join("early");
    let made = run(dir, &["insolvency", "pack", "--at", "2026-06-01", "--out", early.to_str().unwrap()]);
    assert!(made.status.success() && stdout(&made).contains("0 of them short"), "{}", both(&made));
    let manifest: Value = serde_json::from_slice(&std::fs::read(early.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["holdings"], "the register's: no reconciliation in the 90 days to the cut-off");
}

#[test]
fn the_summary_at_a_cut_off_counts_what_was_effective_then() {
    let store = example();
    let dir = store.path();
    let at = |when: &str| -> Value {
        let output = run(dir, &["summary", "--at", when, "--json"]);
        assert!(output.status.success(), "{}", both(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    // After alice's deposit and before bob's: 50 ETH owed and held.
    let early = at("2026-05-04T10:30:00Z");
    assert_eq!(early["at"], "2026-05-04T10:30:00Z");
    assert_eq!(
        (early["assets"][0]["client_positions"].as_str(), early["assets"][0]["client_holdings"].as_str()),
        (Some("50000000000000000000"), Some("50000000000000000000"))
    );
    assert_eq!(early["assets"][0]["segregated"], true);
    assert_eq!(at("2026-05-01")["assets"][0]["client_positions"], "0");
    // At the cut-off, every deposit: the summary now, with the instant named.
    let mut then = at("2026-06-30T23:59:59Z");
    let now: Value = serde_json::from_slice(&run(dir, &["summary", "--json"]).stdout).unwrap();
    then.as_object_mut().unwrap().remove("at");
    assert_eq!(then, now);
    let text = stdout(&run(dir, &["summary", "--at", "2026-06-30"]));
    assert!(text.starts_with("segregation summary at 2026-06-30T23:59:59.999999Z"), "{text}");
    let refused = run(dir, &["summary", "--at", "yesterday"]);
    assert!(!refused.status.success() && both(&refused).contains("--at"), "{}", both(&refused));
}

/// Writes `lines` (JSON Lines) to a file in `dir` and imports it.
fn import(dir: &Path, name: &str, lines: &str) {
    let file = dir.join(name);
    std::fs::write(&file, lines).unwrap();
    let imported = run(dir, &["import", file.to_str().unwrap()]);
    assert!(imported.status.success() && !stdout(&imported).contains("rejected"), "{}", both(&imported));
}

#[test]
fn each_wallet_counts_its_latest_observation_rolled_forward_and_a_missing_report_is_not_a_clean_pack() {
    let store = example();
    let dir = store.path();
    let out = tempfile::tempdir().unwrap();
    let first_run = rows(
        &{
            let pack = out.path().join("first");
            assert!(run(dir, &["insolvency", "pack", "--at", "2026-06-30T23:59:59Z", "--out", pack.to_str().unwrap()]).status.success());
            pack
        },
        "reconciliations.csv",
    )[0]["run"]
        .clone();
    // Alice deposits 5 ETH into the pool on 10 July; on 15 July a run reads only Nordbank's
    // statement: it does not observe the ETH pool, whose shortfall must still show.
    import(
        dir,
        "july.jsonl",
        &format!(
            "{{\"type\":\"deposit\",\"key\":\"ins-dep-july\",\"client\":\"alice\",\"wallet\":\"pool-eth\",\"asset\":\"{ETH}\",\"amount\":\"5000000000000000000\",\"actor\":\"ops:alice\",\"effective_at\":\"2026-07-10T09:00:00Z\"}}\n"
        ),
    );
    let nordbank = dir.join("nordbank-july.csv");
    std::fs::write(&nordbank, format!("# sub_custodian=nordbank cut_off=2026-07-15T23:59:59Z reference=NB-2026-07-15\nwallet,asset,balance\npool-usdc,{USDC},1000000000\n")).unwrap();
    let narrow = run(dir, &["recon", "run", "--at", "2026-07-15T23:59:59Z", "--statement", nordbank.to_str().unwrap()]);
    assert!(narrow.status.code().is_some_and(|code| code <= 1), "{}", both(&narrow));
    let pack = out.path().join("july");
    let made = run(dir, &["insolvency", "pack", "--at", "2026-07-20", "--out", pack.to_str().unwrap()]);
    assert!(made.status.success() && stdout(&made).contains("1 of them short"), "{}", both(&made));
    let shortfall = rows(&pack, "shortfall.csv");
    let eth = shortfall.iter().find(|r| r["asset"] == ETH && r["pool"] == "omnibus" && r["client"] == "*").unwrap();
    // Owed 105; held the 90 observed on 30 June plus the 5 deposited since.
    assert_eq!((units(&eth["entitlement"]), units(&eth["holdings"])), (105 * ONE_ETH, 95 * ONE_ETH));
    assert_eq!(eth["holdings_from"], format!("observed by run {first_run}, rolled forward to the cut-off"));
    let holdings = rows(&pack, "pool_holdings.csv");
    let pool_eth = holdings.iter().find(|r| r["wallet"] == "pool-eth").unwrap();
    assert_eq!((units(&pool_eth["observed"]), units(&pool_eth["rolled_forward"])), (90 * ONE_ETH, 95 * ONE_ETH));
    assert!(pool_eth["last_reconciliation"].starts_with(&format!("run {first_run} (cut-off 2026-06-30")), "{pool_eth:?}");
    let manifest: Value = serde_json::from_slice(&std::fs::read(pack.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["observations_from_runs"].as_array().unwrap().len(), 2, "{manifest}");
    assert_eq!(rows(&pack, "reconciliations.csv").len(), 2);

    // The first run's kept report gone: refused, not a clean pack; nothing left that passes for
    // whole.
    let evidence = dir.join("evidence");
    let sha = rows(&pack, "reconciliations.csv").iter().find(|r| r["run"] == first_run).unwrap()["report_sha256"].clone();
    let kept = evidence.join(format!("report-{sha}.json"));
    let saved = out.path().join("first-report.json");
    std::fs::rename(&kept, &saved).unwrap();
    let refused = run(dir, &["insolvency", "pack", "--at", "2026-07-20", "--out", pack.to_str().unwrap()]);
    assert!(!refused.status.success(), "{}", both(&refused));
    assert!(
        both(&refused).contains(&format!("report of reconciliation run {first_run}")) && both(&refused).contains("--register-holdings"),
        "{}",
        both(&refused)
    );
    // Given back with --recon-report: the same bytes as before.
    let given = out.path().join("given");
    let remade = run(
        dir,
        &["insolvency", "pack", "--at", "2026-07-20", "--out", given.to_str().unwrap(), "--recon-report", saved.to_str().unwrap()],
    );
    assert!(remade.status.success(), "{}", both(&remade));
    assert_eq!(std::fs::read(given.join("shortfall.csv")).unwrap(), std::fs::read(pack.join("shortfall.csv")).unwrap());
    // Or passed over, said so: the register's figure for the ETH pool.
    let register = out.path().join("register");
    let passed = run(dir, &["insolvency", "pack", "--at", "2026-07-20", "--out", register.to_str().unwrap(), "--register-holdings"]);
    assert!(
        passed.status.success() && both(&passed).contains(&format!("the report of run {first_run} is not at hand")),
        "{}",
        both(&passed)
    );
    let manifest: Value = serde_json::from_slice(&std::fs::read(register.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["runs_passed_over"][0].as_u64().unwrap().to_string(), first_run);
    let eth =
        rows(&register, "shortfall.csv").into_iter().find(|r| r["asset"] == ETH && r["client"] == "*" && r["pool"] == "omnibus").unwrap();
    assert!(eth["holdings_from"].starts_with("the register's"), "{eth:?}");
    // A FIFO or a device is not read as a report.
    let refused =
        run(dir, &["insolvency", "pack", "--at", "2026-07-20", "--out", register.to_str().unwrap(), "--recon-report", "/dev/zero"]);
    assert!(!refused.status.success() && both(&refused).contains("not a regular file"), "{}", both(&refused));
}

#[test]
fn a_negative_position_is_owed_to_its_pool() {
    let store = example();
    let dir = store.path();
    // A withdrawal backdated before alice's deposit leaves her 1 ETH short on 4 May at 09:30.
    import(
        dir,
        "backdated.jsonl",
        &format!(
            "{{\"type\":\"withdrawal\",\"key\":\"ins-wd-early\",\"client\":\"alice\",\"wallet\":\"pool-eth\",\"asset\":\"{ETH}\",\"amount\":\"1000000000000000000\",\"actor\":\"ops:alice\",\"effective_at\":\"2026-05-04T09:00:00Z\"}}\n"
        ),
    );
    let out = tempfile::tempdir().unwrap();
    let pack = out.path().join("pack");
    assert!(run(dir, &["insolvency", "pack", "--at", "2026-05-04T09:30:00Z", "--out", pack.to_str().unwrap()]).status.success());
    let alice = rows(&pack, "client_positions.csv").into_iter().find(|r| r["client"] == "alice").unwrap();
    assert_eq!(alice["entitlement"], "-1000000000000000000");
    let pool = rows(&pack, "shortfall.csv").into_iter().find(|r| r["asset"] == ETH && r["client"] == "*").unwrap();
    assert_eq!(units(&pool["owed_by_clients"]), ONE_ETH, "{pool:?}");
}

#[test]
fn a_withdrawal_recorded_after_a_run_but_dated_before_it_does_not_hide_the_shortfall_it_saw() {
    let store = example();
    let dir = store.path();
    // After the run of 30 June (90 ETH observed against 100 owed), a withdrawal of bob's 10 ETH
    // dated 29 June: entitlements fall to 90, and the observation must not be taken as
    // covering it.
    import(
        dir,
        "backdated.jsonl",
        &format!(
            "{{\"type\":\"withdrawal\",\"key\":\"ins-wd-backdated\",\"client\":\"bob\",\"wallet\":\"pool-eth\",\"asset\":\"{ETH}\",\"amount\":\"{}\",\"actor\":\"ops:alice\",\"effective_at\":\"2026-06-29T12:00:00Z\"}}\n",
            10 * ONE_ETH
        ),
    );
    let out = tempfile::tempdir().unwrap();
    let pack = out.path().join("pack");
    let made = run(dir, &["insolvency", "pack", "--at", "2026-07-20", "--out", pack.to_str().unwrap()]);
    assert!(made.status.success() && stdout(&made).contains("1 of them short"), "{}", both(&made));
    let pool_eth = rows(&pack, "pool_holdings.csv").into_iter().find(|r| r["wallet"] == "pool-eth").unwrap();
    assert_eq!(pool_eth["recorded_since_run"], format!("-{}", 10 * ONE_ETH), "{pool_eth:?}");
    assert_eq!(units(&pool_eth["rolled_forward"]), 80 * ONE_ETH, "{pool_eth:?}");
    let eth = rows(&pack, "shortfall.csv").into_iter().find(|r| r["asset"] == ETH && r["pool"] == "omnibus" && r["client"] == "*").unwrap();
    assert_eq!((units(&eth["entitlement"]), units(&eth["holdings"])), (90 * ONE_ETH, 80 * ONE_ETH));
}
