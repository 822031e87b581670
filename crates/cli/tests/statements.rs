//! Statements of position (issue 17) on the worked example: the sample CASP (examples/casp.jsonl,
//! safeguarding.jsonl), a second quarter of activity (examples/quarter.jsonl: an individually
//! segregated client at a sub-custodian, a staking reward, a deposit) and month-end prices
//! (examples/prices.csv). Every figure of every statement is checked against the register:
//! opening and closing positions equal `balance --at` at the period's bounds, the movements
//! sum to the difference, each value is amount × price exactly (rounded halves up); the PDF
//! reads back with pdftotext; the manifest's hashes are the files'; issuing again issues
//! nothing; a statement made again from the entry it reflects is the same bytes; a missing
//! price says "not valued" in all three formats; bad input issues nothing.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{BIN, both, stdout};
use ringfence_core::register::ISSUE_17_RULES_FROM;
use ringfence_core::time::Timestamp;
use ringfence_wire::clock;
use serde_json::Value;
use sha2::Digest as _;

const CASP: &str = "Example CASP B.V.";

fn run(dir: &Path, args: &[&str]) -> Output {
    common::run_with(dir, args, &[("RINGFENCE_CASP_NAME", CASP), ("RINGFENCE_CASP_LEI", "724500EXAMPLE0000001")])
}

fn json(output: &Output) -> Value {
    assert!(output.status.success(), "{}", both(output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The instant a client's first statement falls due, `days` after it was registered (between
/// `before` and `after`, read from the clock around building the store) or after the day the
/// rules came in, whichever is later: the store is built at the real time the test runs.
fn first_due(due_at: &str, before: Timestamp, after: Timestamp, days: i64) -> Timestamp {
    let due = clock::parse(due_at).unwrap();
    let counted = |at: Timestamp| Timestamp::from_micros(at.max(ISSUE_17_RULES_FROM).micros() + days * 86_400_000_000);
    assert!((counted(before)..=counted(after)).contains(&due), "{due_at} is not {days} days after the client was registered");
    due
}

fn plus(at: Timestamp, micros: i64) -> String {
    clock::format(Timestamp::from_micros(at.micros() + micros))
}

/// The worked example's store.
fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    assert!(run(dir.path(), &["init"]).status.success());
    for file in ["casp.jsonl", "safeguarding.jsonl", "quarter.jsonl"] {
        let imported = run(dir.path(), &["import", &format!("{examples}/{file}"), "--quiet"]);
        assert!(stdout(&imported).contains("accepted") && !stdout(&imported).contains("rejected"), "{file}: {}", both(&imported));
    }
    assert!(run(dir.path(), &["prices", "import", &format!("{examples}/prices.csv")]).status.success());
    dir
}

fn head(dir: &Path) -> String {
    stdout(&run(dir, &["journal", "head"]))
}

/// `units` × 10^-`scale` EUR per whole unit of an asset with `asset_scale` decimals, for
/// `amount`, in cents, halves up: the test's own arithmetic.
fn cents(amount: u128, asset_scale: u32, units: u128, scale: u32) -> u128 {
    let divisor = 10u128.pow(asset_scale + scale);
    (2 * amount * units * 100 + divisor) / (2 * divisor)
}

#[test]
fn every_figure_of_the_quarters_statements_is_the_registers() {
    let before = clock::now();
    let store = example();
    let after = clock::now();
    let dir = store.path();
    let out = tempfile::tempdir().unwrap();
    let issued = run(dir, &["statements", "issue", "--period", "2026-Q2", "--out", out.path().to_str().unwrap()]);
    assert!(issued.status.success(), "{}", both(&issued));
    assert!(stdout(&issued).contains("4 issued now, 0 issued before"), "{}", stdout(&issued));

    // Prices of 30 June: ETH EUR 2250.10 (units 22501, scale 1), USDC EUR 0.8802.
    let price_of = |asset: &str| if asset.ends_with("slip44:60") { (22_501u128, 1u32, 18u32) } else { (8_802, 4, 6) };
    for client in ["client-1", "client-2", "fund-1", "fund-2"] {
        let base = out.path().join(format!("statement-2026-Q2-{client}"));
        let statement: Value = serde_json::from_slice(&std::fs::read(base.with_extension("json")).unwrap()).unwrap();
        assert_eq!(statement["casp"]["name"], CASP);
        assert_eq!(
            (statement["from"].as_str(), statement["to"].as_str()),
            (Some("2026-04-01T00:00:00Z"), Some("2026-06-30T23:59:59.999999Z"))
        );
        let opening = json(&run(dir, &["balance", "--client", client, "--at", "2026-03-31", "--json"]));
        let closing = json(&run(dir, &["balance", "--client", client, "--at", "2026-06-30", "--json"]));
        let of = |balances: &Value, asset: &str| -> i128 {
            balances["balances"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["asset"] == asset)
                .map_or(0, |b| b["amount"].as_str().unwrap().parse().unwrap())
        };
        let mut total = 0u128;
        for asset in statement["assets"].as_array().unwrap() {
            let id = asset["asset"].as_str().unwrap();
            let amount = |v: &Value| v["amount"].as_str().unwrap().parse::<i128>().unwrap();
            assert_eq!(amount(&asset["opening"]), of(&opening, id), "{client} {id} opening");
            assert_eq!(amount(&asset["closing"]), of(&closing, id), "{client} {id} closing");
            let moved: i128 = asset["movements"].as_array().unwrap().iter().map(|m| amount(&m["change"])).sum();
            assert_eq!(moved, amount(&asset["closing"]) - amount(&asset["opening"]), "{client} {id}: movements sum to the difference");
            let encumbered: i128 = asset["encumbered"].as_array().unwrap().iter().map(|e| amount(&e["amount"])).sum();
            assert_eq!(amount(&asset["free"]), amount(&asset["closing"]) - encumbered, "{client} {id} free");
            let valued = statement["valuation"]["assets"].as_array().unwrap().iter().find(|v| v["asset"] == id).unwrap();
            let (units, scale, asset_scale) = price_of(id);
            let expected = cents(amount(&asset["closing"]) as u128, asset_scale, units, scale);
            assert_eq!(valued["value"]["amount"].as_str().unwrap().parse::<u128>().unwrap(), expected, "{client} {id} value");
            total += expected;
        }
        assert_eq!(statement["valuation"]["total"]["amount"].as_str().unwrap().parse::<u128>().unwrap(), total, "{client} total");
        assert_eq!(statement["valuation"]["complete"], true);

        // The PDF reads back, with the same figures.
        let text = Command::new("pdftotext").arg("-layout").arg(base.with_extension("pdf")).arg("-").output().unwrap();
        assert!(text.status.success(), "pdftotext (Debian package poppler-utils) must be installed: {}", both(&text));
        let text = stdout(&text);
        assert!(text.contains(&format!("Client {client}")) && text.contains(CASP), "{text}");
        assert!(text.contains(statement["valuation"]["total"]["money"].as_str().unwrap()), "{text}");
        let csv = std::fs::read_to_string(base.with_extension("csv")).unwrap();
        assert!(csv.starts_with("section,asset,item,reference,at,amount,decimal,detail\n"), "{csv}");
    }

    // The worked example's parts, by name.
    let read = |client: &str| -> Value {
        serde_json::from_slice(&std::fs::read(out.path().join(format!("statement-2026-Q2-{client}.json"))).unwrap()).unwrap()
    };
    let staking = read("client-1");
    let eth = &staking["assets"][0];
    assert_eq!(eth["encumbered"][0]["instruction"], "ci-client-1-staking");
    assert_eq!(eth["encumbered"][0]["purpose"], "staking");
    assert_eq!(eth["rewards"]["amount"], "3400000000000000");
    assert_eq!(eth["movements"][0]["client_instruction"], "ci-client-1-staking");
    assert_eq!(staking["fiat"][0]["closing"]["money"], "EUR 500.00");
    let custody = read("fund-2");
    assert_eq!(custody["assets"][0]["custody"]["segregation"], "individual wallets");
    assert_eq!(custody["assets"][0]["custody"]["sub_custodians"][0]["name"], "Nordbank Custody AG");
    assert_eq!(custody["assets"][0]["custody"]["cold_percent"], "100.00");
    let fiat = read("client-2");
    assert_eq!(fiat["fiat"][0]["receipts"][0]["amount"]["money"], "EUR 1250.00");
    assert_eq!(fiat["fiat"][0]["withdrawals"][0]["amount"]["money"], "EUR 200.00");
    assert_eq!(
        (fiat["fiat"][0]["opening"]["money"].as_str(), fiat["fiat"][0]["closing"]["money"].as_str()),
        (Some("EUR 0.00"), Some("EUR 1050.00"))
    );

    // The manifest lists every file with its SHA-256; the journal records each issue.
    let manifest = std::fs::read_to_string(out.path().join("manifest-2026-Q2.csv")).unwrap();
    let rows: Vec<&str> = manifest.lines().skip(1).collect();
    assert_eq!(rows.len(), 12, "{manifest}");
    for row in rows {
        let cells: Vec<&str> = row.split(',').collect();
        let bytes = std::fs::read(out.path().join(cells[2])).unwrap();
        assert_eq!(cells[3], ringfence_journal_hex(&sha2::Sha256::digest(&bytes)), "{row}");
    }
    let verified = run(dir, &["journal", "verify"]);
    assert!(verified.status.success(), "{}", both(&verified));

    // The second quarter's statements went out, before ringfence tracked these clients: the
    // next are due 92 days after each was registered (or after the rules came in, 2026-12-08).
    let overdue = run(dir, &["statements", "overdue", "--at", "9999-01-01", "--json"]);
    assert_eq!(overdue.status.code(), Some(1), "{}", both(&overdue));
    let report: Value = serde_json::from_slice(&overdue.stdout).unwrap();
    assert_eq!(report["clients"].as_array().map(Vec::len), Some(4), "{report}");
    assert_eq!(report["clients"][0]["last_period_end"], "2026-06-30T23:59:59.999999Z");
    let due = first_due(report["clients"][0]["due_at"].as_str().unwrap(), before, after, 92);
    let in_time = run(dir, &["statements", "overdue", "--at", &plus(due, 0)]);
    assert!(in_time.status.success() && stdout(&in_time).contains(": 0 client(s)"), "{}", both(&in_time));
    let late = run(dir, &["statements", "overdue", "--at", &plus(due, 1)]);
    assert_eq!(late.status.code(), Some(1), "{}", both(&late));
    // Issuing again issues nothing (the journal holds the four issues); a deleted file is written again with the same bytes.
    let pdf = out.path().join("statement-2026-Q2-client-2.pdf");
    let before = std::fs::read(&pdf).unwrap();
    std::fs::remove_file(&pdf).unwrap();
    let head_before = head(dir);
    let again = run(dir, &["statements", "issue", "--period", "2026-Q2", "--out", out.path().to_str().unwrap()]);
    assert!(stdout(&again).contains("0 issued now, 4 issued before (1 of them written again)"), "{}", both(&again));
    assert_eq!(std::fs::read(&pdf).unwrap(), before);
    assert_eq!(head(dir), head_before, "nothing was journaled");
    // A file altered behind the program's back is written again with the issued bytes.
    let csv = out.path().join("statement-2026-Q2-client-1.csv");
    let issued_csv = std::fs::read(&csv).unwrap();
    std::fs::write(&csv, "tampered").unwrap();
    let again = run(dir, &["statements", "issue", "--period", "2026-Q2", "--out", out.path().to_str().unwrap()]);
    assert!(stdout(&again).contains("(1 of them written again)"), "{}", both(&again));
    assert_eq!(std::fs::read(&csv).unwrap(), issued_csv);
    // With a token and no --actor, the token's holder issues (a statement of another period).
    let token = stdout(&run(dir, &["token", "create", "--actor", "compliance:ann", "--role", "compliance"]));
    let token = token.split_whitespace().find(|word| word.starts_with("rf_")).unwrap().to_owned();
    let issued = run(dir, &["--token", &token, "statement", "--client", "client-1", "--period", "2026-05", "--issue"]);
    assert!(issued.status.success() && both(&issued).contains("issued: journal entry"), "{}", both(&issued));
    // Later, the register changes what a statement shows of custody: the sub-custodian's
    // authorisation is renewed under a new reference, and fund-2's wallet comes in house.
    let changes = dir.join("changes.jsonl");
    std::fs::write(
        &changes,
        concat!(
            r#"{"type":"sub_custodian_authorisation","id":"nordbank","reference":"BaFin-CRR-10-4471/2027","valid_until":"2028-06-30T23:59:59Z","actor":"compliance:carol"}"#,
            "\n",
            r#"{"type":"wallet_change","id":"fund-2-nordbank","address":"eip155:1:0x0000000000000000000000000000000000002002","class":"client_individual","client":"fund-2","tier":"cold","key_set":"ks-fund-2","actor":"compliance:carol"}"#,
            "\n"
        ),
    )
    .unwrap();
    let changed = run(dir, &["import", changes.to_str().unwrap()]);
    assert!(stdout(&changed).contains("2 accepted"), "{}", both(&changed));
    let now = json(&run(dir, &["statement", "--client", "fund-2", "--period", "2026-Q2"]));
    assert_eq!(now["assets"][0]["custody"]["sub_custodians"], serde_json::json!([]), "today fund-2's wallet is in house");
    let now = json(&run(dir, &["statement", "--client", "client-2", "--period", "2026-Q2"]));
    assert_eq!(now["assets"][0]["custody"]["sub_custodians"][0]["reference"], "BaFin-CRR-10-4471/2027");
    // Made again from the entry each reflects: the same bytes, in every format, as issued.
    for client in ["client-1", "client-2", "fund-1", "fund-2"] {
        let issued = read(client);
        let seq = issued["journal_seq"].as_u64().unwrap().to_string();
        for (format, extension) in [("json", "json"), ("csv", "csv"), ("pdf", "pdf")] {
            let made = run(dir, &["statement", "--client", client, "--period", "2026-Q2", "--as-of", &seq, "--format", format]);
            assert!(made.status.success(), "{}", both(&made));
            let file = out.path().join(format!("statement-2026-Q2-{client}.{extension}"));
            assert!(made.stdout == std::fs::read(file).unwrap(), "{client} {format}: not the bytes issued");
        }
    }
    // And a file lost since is written again with the issued bytes, not today's.
    let pdf = out.path().join("statement-2026-Q2-fund-2.pdf");
    let issued_pdf = std::fs::read(&pdf).unwrap();
    std::fs::remove_file(&pdf).unwrap();
    let again = run(dir, &["statements", "issue", "--period", "2026-Q2", "--out", out.path().to_str().unwrap()]);
    assert!(again.status.success() && stdout(&again).contains("(1 of them written again)"), "{}", both(&again));
    assert_eq!(std::fs::read(&pdf).unwrap(), issued_pdf);
    // An entry the journal does not hold is refused, naming it.
    let beyond = run(dir, &["statement", "--client", "fund-2", "--period", "2026-Q2", "--as-of", "999999"]);
    assert!(!beyond.status.success() && both(&beyond).contains("not 999999"), "{}", both(&beyond));
}

fn ringfence_journal_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_missing_price_is_not_valued_in_every_format_and_bad_input_issues_nothing() {
    let before = clock::now();
    let store = example();
    let after = clock::now();
    let dir = store.path();
    // In USD there is no price: not valued, never zero.
    let usd = json(&run(dir, &["statement", "--client", "client-2", "--period", "2026-Q2", "--currency", "USD"]));
    assert_eq!(usd["valuation"]["assets"][0]["not_valued"]["code"], "no_price");
    assert_eq!(usd["valuation"]["complete"], false);
    let csv = stdout(&run(dir, &["statement", "--client", "client-2", "--period", "2026-Q2", "--currency", "USD", "--format", "csv"]));
    assert!(csv.contains("not valued: no price at or before the valuation instant"), "{csv}");
    let pdf_file = dir.join("usd.pdf");
    let made = run(
        dir,
        &[
            "statement",
            "--client",
            "client-2",
            "--period",
            "2026-Q2",
            "--currency",
            "USD",
            "--format",
            "pdf",
            "--out",
            pdf_file.to_str().unwrap(),
        ],
    );
    assert!(made.status.success(), "{}", both(&made));
    let text = stdout(&Command::new("pdftotext").arg(&pdf_file).arg("-").output().unwrap());
    assert!(text.contains("not valued: no price at or before the valuation instant"), "{text}");
    // A name in Greek or Cyrillic prints as written (the font is embedded); a character the
    // font lacks prints as `?` in the PDF and stays in the JSON.
    let name = "Θεματοφυλακή Αθηνών АО «Хранитель» 東京";
    let named = dir.join("named.pdf");
    let args = ["statement", "--client", "client-2", "--period", "2026-Q2", "--casp-name", name, "--format", "pdf", "--out"];
    let made = run(dir, &[&args[..], &[named.to_str().unwrap()]].concat());
    assert!(made.status.success(), "{}", both(&made));
    let text = stdout(&Command::new("pdftotext").arg(&named).arg("-").output().unwrap());
    assert!(text.contains("Statement of position: Θεματοφυλακή Αθηνών АО «Хранитель» ??"), "{text}");
    let fonts = stdout(&Command::new("pdffonts").arg(&named).output().unwrap());
    assert!(fonts.contains("+DejaVuSans") && fonts.contains("CID TrueType"), "{fonts}");
    let latin = stdout(&Command::new("pdffonts").arg(&pdf_file).output().unwrap());
    assert!(latin.contains("Helvetica") && !latin.contains("DejaVu"), "a text all in Windows-1252 embeds nothing: {latin}");
    let again = run(dir, &[&args[..], &[named.to_str().unwrap()]].concat());
    assert!(again.status.success() && both(&again) == both(&made), "the same bytes again: {}", both(&again));
    let named = json(&run(dir, &["statement", "--client", "client-2", "--period", "2026-Q2", "--casp-name", name]));
    assert_eq!(named["casp"]["name"], name);
    // A stale price: the first quarter's end price is 36 hours old on 2 April.
    let stale = json(&run(dir, &["statement", "--client", "client-2", "--from", "2026-04-01", "--to", "2026-04-02T04:00:00Z"]));
    assert_eq!(stale["valuation"]["assets"][0]["not_valued"]["code"], "stale_price", "{stale}");

    // Nothing issued yet: every client holding assets is overdue.
    let never = run(dir, &["statements", "overdue", "--at", "9999-01-01", "--interval-days", "30"]);
    assert_eq!(never.status.code(), Some(1));
    let printed = stdout(&never);
    let due_at = printed
        .split_once("fund-2: holds assets and was sent no statement; the first was due ")
        .and_then(|(_, rest)| rest.lines().next())
        .unwrap_or_else(|| panic!("{}", both(&never)));
    first_due(due_at, before, after, 30);
    let head_before = head(dir);
    let out = tempfile::tempdir().unwrap();
    for (args, words) in [
        (vec!["statement", "--client", "nobody", "--period", "2026-Q2", "--issue"], "client nobody is not registered"),
        (vec!["statement", "--client", "client-1", "--from", "2026-06-01", "--to", "2026-05-01", "--issue"], "starts"),
        (vec!["statement", "--client", "client-1", "--period", "2099-Q1", "--issue"], "a period that has ended"),
        (vec!["statement", "--client", "client-1", "--period", "2026-Q5"], "not a quarter"),
        (vec!["statement", "--client", "client-1", "--period", "2026-Q2", "--as-of", "999999"], "not 999999"),
        (vec!["statements", "issue", "--period", "2099-Q1", "--out", out.path().to_str().unwrap()], "in the future"),
    ] {
        let output = run(dir, &args);
        assert!(!output.status.success() && both(&output).contains(words), "{args:?}: {}", both(&output));
    }
    let nameless = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(["statement", "--client", "client-1", "--period", "2026-Q2"])
        .env_remove("RINGFENCE_CASP_NAME")
        .output()
        .unwrap();
    assert!(both(&nameless).contains("--casp-name"), "{}", both(&nameless));
    assert_eq!(head(dir), head_before, "nothing was issued");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "no file was written");
}
