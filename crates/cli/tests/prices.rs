//! `ringfence prices` and `ringfence valuation` (issue 17): a price provider's CSV file is
//! recorded row by row (again: `already_exists`), a malformed file records nothing, and a
//! valuation names each price, its source and its instant, values exactly, and says "not
//! valued" with the reason for a missing or stale price, never zero.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

mod common;

use std::path::Path;
use std::process::Output;

use common::{both, stdout};

const ETH: &str = "eip155:1/slip44:60";
const USDC: &str = "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";

fn run(dir: &Path, args: &[&str]) -> Output {
    common::run_with(dir, args, &[])
}

/// A store with the sample CASP: client-2 holds 1.3 ETH and 997.5 USDC since January 2026.
fn casp() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    assert!(run(dir.path(), &["init"]).status.success());
    run(dir.path(), &["import", &format!("{examples}/casp.jsonl")]);
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn entries(dir: &Path) -> String {
    stdout(&run(dir, &["journal", "head"]))
}

#[test]
fn a_providers_file_is_recorded_once_and_a_valuation_names_each_price() {
    let dir = casp();
    // CoinGecko's export: one asset per file, instants as "YYYY-MM-DD HH:MM:SS UTC".
    let coingecko = write(
        dir.path(),
        "eth-eur.csv",
        "snapped_at,price,market_cap,total_volume\n2026-03-30 00:00:00 UTC,1650.12,1,1\n2026-03-31 00:00:00 UTC,1712.345,1,1\n",
    );
    let first = run(dir.path(), &["prices", "import", &coingecko, "--asset", ETH, "--source", "coingecko"]);
    assert!(first.status.success(), "{}", both(&first));
    assert!(stdout(&first).contains("2 line(s): 2 accepted"), "{}", stdout(&first));
    let again = run(dir.path(), &["prices", "import", &coingecko, "--asset", ETH, "--source", "coingecko"]);
    assert!(again.status.success() && stdout(&again).contains("2 already_exists"), "{}", both(&again));
    // A file with every column, USDC in EUR on 31 March.
    let full = write(dir.path(), "usdc.csv", &format!("at,asset,currency,price,source\n2026-03-31T16:00:00Z,{USDC},EUR,0.9213,ecb\n"));
    assert!(run(dir.path(), &["prices", "import", &full]).status.success());

    let list = run(dir.path(), &["prices", "list", "--asset", ETH]);
    let text = stdout(&list);
    assert!(
        text.contains("2026-03-31T00:00:00Z") && text.contains("EUR 1712.345") && text.contains("source \"coingecko\" by cli"),
        "{text}"
    );

    // 1.3 ETH × EUR 1712.345 = EUR 2226.0485 → 2226.05; 997.5 USDC × EUR 0.9213 = EUR
    // 918.99675 → 919.00; in all EUR 3145.05.
    let valued = run(dir.path(), &["valuation", "--client", "client-2", "--at", "2026-03-31", "--json"]);
    assert!(valued.status.success(), "{}", both(&valued));
    let view: serde_json::Value = serde_json::from_str(&stdout(&valued)).unwrap();
    assert_eq!(view["at"], "2026-03-31T23:59:59.999999Z");
    assert_eq!(view["assets"][0]["value"]["amount"], "222605");
    assert_eq!(view["assets"][0]["price"]["price"], "1712.345");
    assert_eq!(view["assets"][0]["price"]["source"], "coingecko");
    assert_eq!(view["assets"][0]["price"]["at"], "2026-03-31T00:00:00Z");
    assert_eq!(view["assets"][1]["value"]["money"], "EUR 919.00");
    assert_eq!(view["total"]["money"], "EUR 3145.05");
    assert_eq!(view["complete"], true);
    assert!(view["rounding"].as_str().unwrap().contains("halves up"));

    // On 1 April at noon the ETH price is 36 hours old: not valued, never zero.
    let stale = run(dir.path(), &["valuation", "--client", "client-2", "--at", "2026-04-01T12:00:00Z"]);
    let text = stdout(&stale);
    assert!(text.contains("not valued: the latest price (2026-03-31T00:00:00Z) is older than the 24h allowed"), "{text}");
    assert!(
        text.contains("= EUR 919.00") && text.contains("total of the assets valued: EUR 919.00 (not complete: 1 asset(s) not valued)"),
        "{text}"
    );
    let longer = run(dir.path(), &["valuation", "--client", "client-2", "--at", "2026-04-01T12:00:00Z", "--max-price-age", "2d", "--json"]);
    let view: serde_json::Value = serde_json::from_str(&stdout(&longer)).unwrap();
    assert_eq!((view["complete"].as_bool(), view["max_price_age"].as_str()), (Some(true), Some("48h")));
    // In another currency there is no price at all.
    let yen = run(dir.path(), &["valuation", "--client", "client-2", "--currency", "JPY", "--json"]);
    let view: serde_json::Value = serde_json::from_str(&stdout(&yen)).unwrap();
    assert_eq!(view["assets"][0]["not_valued"]["code"], "no_price");
    assert_eq!(view["assets"][0]["value"], serde_json::Value::Null);
    assert_eq!(view["total"]["money"], "JPY 0");
}

#[test]
fn a_malformed_file_records_nothing_and_names_each_bad_row() {
    let dir = casp();
    let before = entries(dir.path());
    let bad = write(
        dir.path(),
        "bad.csv",
        &format!(
            "at,asset,price,source\n2026-03-31,{ETH},1712.3,ecb\n2026-03-31,{ETH},-1,ecb\nyesterday,{ETH},1,ecb\n2026-03-31,{ETH},1e3,ecb\n2999-01-01,{ETH},1,ecb\n2026-03-31,{ETH},0,ecb\n"
        ),
    );
    let output = run(dir.path(), &["prices", "import", &bad]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let text = stdout(&output);
    for expected in [
        "line 3: error: price \"-1\" is not a decimal number",
        "line 4: error: time \"yesterday\" is not RFC 3339",
        "line 5: error: price \"1e3\" is not a decimal number",
        "line 6: error: the instant 2999-01-01T00:00:00Z is in the future",
        "line 7: error: price \"0\" is zero",
        "nothing was imported: 5 malformed line(s)",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    assert_eq!(entries(dir.path()), before, "nothing was recorded");

    for (args, words) in [
        (vec!["prices", "import", &bad, "--currency", "eur"], "--currency"),
        (vec!["valuation", "--client", "nobody"], "client nobody is not registered"),
        (vec!["valuation", "--client", "client-2", "--max-price-age", "1 day"], "not a whole number"),
        (vec!["valuation", "--client", "client-2", "--currency", "euro"], "ISO 4217"),
        (vec!["prices", "list", "--asset", "eip155:1/slip44:61"], "not registered"),
    ] {
        let output = run(dir.path(), &args);
        assert!(!output.status.success() && both(&output).contains(words), "{args:?}: {}", both(&output));
    }
    let no_source = write(dir.path(), "no-source.csv", &format!("at,asset,price\n2026-03-31,{ETH},1\n"));
    let output = run(dir.path(), &["prices", "import", &no_source]);
    assert!(!output.status.success() && both(&output).contains("--source"), "{}", both(&output));
    // An unregistered asset is a well-formed row the register refuses: exit 1, the others kept.
    let mixed =
        write(dir.path(), "mixed.csv", &format!("at,asset,price,source\n2026-03-31,{ETH},1,ecb\n2026-03-31,eip155:1/slip44:61,1,ecb\n"));
    let output = run(dir.path(), &["prices", "import", &mixed]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert!(stdout(&output).contains("line 3: rejected: unknown_asset"), "{}", stdout(&output));
}
