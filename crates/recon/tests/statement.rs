//! Statement parsing: strict, all-or-nothing, every problem with its line number.

mod fixture;

use fixture::*;
use ringfence_core::Amount;
use ringfence_recon::{Statement, StatementError, StatementFormat};
use sha2::Digest as _;

/// Parses `text` as `format` and returns the (line, message) of every problem; the parse must
/// have returned no statement.
fn problems(format: StatementFormat, text: &str) -> Vec<(usize, String)> {
    match Statement::parse(format, text.as_bytes(), &register()) {
        Ok(statement) => panic!("a bad statement was read: {statement:?}"),
        Err(error) => {
            let StatementError::Invalid { count, .. } = &error else { panic!("not a statement problem: {error}") };
            assert_eq!(*count, error.problems().len());
            error.problems().iter().map(|p| (p.line, p.message.clone())).collect()
        }
    }
}

/// The one problem of a CSV statement whose rows (from line 3) are these.
fn csv_problem(rows: &[&str]) -> (usize, String) {
    let found = problems(StatementFormat::Csv, &alpha_csv(rows));
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().expect("one problem")
}

fn assert_problem(found: (usize, String), line: usize, words: &str) {
    assert_eq!(found.0, line, "{found:?}");
    assert!(found.1.contains(words), "{:?} does not say {words:?}", found.1);
}

#[test]
fn a_good_statement_is_read_with_its_evidence() {
    let text = alpha_csv(&[&format!("omni-eth,{ETH},1000"), "", &format!("\"omni-btc\",{BTC},7")]);
    let statement = Statement::parse(StatementFormat::Csv, text.as_bytes(), &register()).expect("parses");
    assert_eq!(statement.sub_custodian.as_str(), "sc-alpha");
    assert_eq!(statement.reference, "ALPHA-2026-11-23");
    assert_eq!(statement.balances.len(), 2);
    assert_eq!((statement.balances[1].line, statement.balances[1].balance), (5, Amount::new(7)));
    assert_eq!(statement.sha256, <[u8; 32]>::from(sha2::Sha256::digest(text.as_bytes())));
    assert_eq!(statement.sha256_hex().len(), 64);
    let crlf = text.replace('\n', "\r\n");
    assert_eq!(Statement::parse(StatementFormat::Csv, crlf.as_bytes(), &register()).expect("CRLF parses").balances, statement.balances);
    let beta = Statement::parse(StatementFormat::JsonLines, beta_jsonl().as_bytes(), &register()).expect("parses");
    assert_eq!((beta.reference.as_str(), beta.balances.len()), ("BETA 23/11", 1));
}

#[test]
fn malformed_csv_row_is_rejected_with_its_line() {
    assert_problem(csv_problem(&[&format!("omni-eth,{ETH},1000"), &format!("omni-btc,{BTC}")]), 4, "3 fields");
    assert_problem(csv_problem(&[&format!("omni-eth,{ETH},1000,extra")]), 3, "3 fields");
    assert_problem(csv_problem(&["# a comment"]), 3, "only line 1");
}

#[test]
fn unknown_wallet_is_rejected_with_its_line() {
    assert_problem(csv_problem(&[&format!("omni-eth,{ETH},1"), &format!("ghost,{ETH},1")]), 4, "wallet ghost is not registered");
    // beta-eth is registered, but held at sc-beta, not at sc-alpha.
    assert_problem(csv_problem(&[&format!("beta-eth,{ETH},1")]), 3, "not held at sub-custodian sc-alpha");
    assert_problem(csv_problem(&[&format!("house-eth,{ETH},1")]), 3, "not held at sub-custodian sc-alpha");
}

#[test]
fn unknown_asset_is_rejected_with_its_line() {
    assert_problem(csv_problem(&["omni-eth,eip155:1/erc20:0x00000000000000000000000000000000000000aa,1"]), 3, "is not registered");
    assert_problem(csv_problem(&[&format!("omni-eth,{BTC},1")]), 3, "is on chain");
    assert_problem(csv_problem(&["omni-eth,not an asset,1"]), 3, "asset");
}

#[test]
fn negative_fractional_and_oversized_balances_are_rejected_with_their_lines() {
    assert_problem(csv_problem(&[&format!("omni-eth,{ETH},-5")]), 3, "negative");
    assert_problem(csv_problem(&[&format!("omni-eth,{ETH},1.5")]), 3, "fraction");
    assert_problem(csv_problem(&[&format!("omni-eth,{ETH},\"1,000\"")]), 3, "fraction or a separator");
    assert_problem(csv_problem(&[&format!("omni-eth,{ETH},1e18")]), 3, "fraction");
    assert_problem(csv_problem(&[&format!("omni-eth,{ETH}, 5")]), 3, "digits 0-9 only");
    assert_problem(csv_problem(&[&format!("omni-eth,{ETH},+5")]), 3, "digits 0-9 only");
    assert_problem(csv_problem(&[&format!("omni-eth,{ETH},")]), 3, "empty");
    assert_problem(csv_problem(&[&format!("omni-eth,{ETH},340282366920938463463374607431768211456")]), 3, "2^128 - 1");
    // The largest amount is read.
    let text = alpha_csv(&[&format!("omni-eth,{ETH},340282366920938463463374607431768211455")]);
    assert!(Statement::parse(StatementFormat::Csv, text.as_bytes(), &register()).is_ok());
}

#[test]
fn duplicate_rows_are_rejected_with_both_lines() {
    assert_problem(
        csv_problem(&[&format!("omni-eth,{ETH},1"), &format!("omni-btc,{BTC},1"), &format!("omni-eth,{ETH},1")]),
        5,
        "first on line 3",
    );
}

#[test]
fn bad_statement_headers_are_rejected_on_line_1() {
    let rows = "wallet,asset,balance\n";
    for (header, words) in [
        ("# sub_custodian=sc-alpha cut_off=2026-13-45T25:00:00Z reference=R", "cut_off"),
        ("# sub_custodian=sc-alpha cut_off=2026-11-23T23:59:59 reference=R", "not RFC 3339"),
        ("# sub_custodian=sc-gamma cut_off=2026-11-23 reference=R", "sc-gamma is not registered"),
        ("# sub_custodian=sc-alpha cut_off=2026-11-23", "lacks reference"),
        ("# sub_custodian=sc-alpha cut_off=2026-11-23 reference=R colour=blue", "unknown statement header field"),
        ("# sub_custodian=sc-alpha sub_custodian=sc-beta cut_off=2026-11-23 reference=R", "given twice"),
        ("wallet,asset,balance", "line 1 must be the statement header"),
    ] {
        let found = problems(StatementFormat::Csv, &format!("{header}\n{rows}"));
        assert_eq!(found.len(), 1, "{header}: {found:?}");
        assert_problem(found.into_iter().next().expect("one"), 1, words);
    }
    let found = problems(StatementFormat::Csv, "# sub_custodian=sc-alpha cut_off=2026-11-23 reference=R\nwallet,balance,asset\n");
    assert_eq!(
        found,
        vec![(
            2,
            "the column header must be exactly wallet,asset,balance (found \"wallet,balance,asset\"); the rows are not read".to_owned()
        )]
    );
    assert_problem(problems(StatementFormat::Csv, "").remove(0), 1, "empty");
}

#[test]
fn every_problem_is_listed_and_nothing_is_returned() {
    let found = problems(
        StatementFormat::Csv,
        &alpha_csv(&[
            &format!("omni-eth,{ETH},1000"),
            &format!("ghost,{ETH},-1"),
            "",
            &format!("omni-btc,{BTC},0.5"),
            &format!("omni-eth,{ETH},1000"),
        ]),
    );
    let lines: Vec<usize> = found.iter().map(|p| p.0).collect();
    assert_eq!(lines, vec![4, 4, 6, 7], "{found:?}");
}

#[test]
fn malformed_json_lines_are_rejected_with_their_lines() {
    let header = "{\"type\":\"statement\",\"sub_custodian\":\"sc-beta\",\"cut_off\":\"2026-11-23T23:59:59Z\",\"reference\":\"B\"}";
    let line = |balance: &str| format!("{{\"type\":\"balance\",\"wallet\":\"beta-eth\",\"asset\":\"{ETH}\",\"balance\":{balance}}}");
    for (body, words) in [
        (line("-5"), "negative"),
        (line("1.5"), "not a whole number"),
        (line("\"-5\""), "negative"),
        (line("\"340282366920938463463374607431768211456\""), "2^128 - 1"),
        (line("null"), "not a string of digits"),
        (format!("{{\"type\":\"balance\",\"wallet\":\"beta-eth\",\"asset\":\"{ETH}\",\"balance\":\"5\",\"note\":1}}"), "unknown field"),
        ("{\"type\":\"balance\",".to_owned(), "not a balance line"),
        (format!("{{\"type\":\"statement\",\"wallet\":\"beta-eth\",\"asset\":\"{ETH}\",\"balance\":\"5\"}}"), "\"type\":\"balance\""),
    ] {
        let found = problems(StatementFormat::JsonLines, &format!("{header}\n\n{body}\n"));
        assert_eq!(found.len(), 1, "{body}: {found:?}");
        assert_problem(found.into_iter().next().expect("one"), 3, words);
    }
    let found = problems(StatementFormat::JsonLines, &format!("{header}\n{}\n{}\n", line("5"), line("6")));
    assert_problem(found.into_iter().next().expect("one"), 3, "first on line 2");
    let found = problems(StatementFormat::JsonLines, &format!("{}\n{}\n", header.replace("2026-11-23T23:59:59Z", "yesterday"), line("5")));
    assert_problem(found.into_iter().next().expect("one"), 1, "cut_off");
    // A JSON integer is read up to 2^64 - 1.
    let big = format!("{header}\n{}\n", line("18446744073709551615"));
    assert!(Statement::parse(StatementFormat::JsonLines, big.as_bytes(), &register()).is_ok());
}

#[test]
fn statement_files_are_read_by_extension() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let csv = dir.path().join("alpha.csv");
    std::fs::write(&csv, alpha_csv(&[&format!("omni-eth,{ETH},1000")])).expect("written");
    assert_eq!(Statement::read(&csv, &register()).expect("reads").format, StatementFormat::Csv);
    let other = dir.path().join("alpha.txt");
    std::fs::write(&other, "x").expect("written");
    assert!(matches!(Statement::read(&other, &register()), Err(StatementError::UnknownFormat { .. })));
    assert!(matches!(Statement::read(&dir.path().join("missing.csv"), &register()), Err(StatementError::Io { .. })));
}
