//! Losses and compensation (issue 18, MiCA Art 75(8)) on the example register: 5 ETH lost from
//! the omnibus hot wallet, borne by the two clients whose assets were there (a `movement` of
//! kind `loss`), then made good by the firm from its own wallet and capital (`compensation`
//! lines). After each step the register is segregated (client positions equal client
//! holdings, nothing crosses between client and firm assets) and the journal verifies; both
//! movements are in the clients' history and statements. A loss larger than a position, a
//! compensation the firm cannot pay, and one that would credit a client without moving the
//! asset are refused and change nothing.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

mod common;

use std::path::Path;
use std::process::Output;

use common::{both, run_with, stdout};

const ETH: &str = "eip155:1/slip44:60";
const ONE_ETH: u128 = 1_000_000_000_000_000_000;

fn run(dir: &Path, args: &[&str]) -> Output {
    run_with(dir, args, &[])
}

fn import(dir: &Path, name: &str, lines: &[String]) -> Output {
    let file = dir.join(name);
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    run(dir, &["import", file.to_str().unwrap()])
}

/// The segregation summary's ETH figures: (client positions, client holdings, firm holdings).
fn eth_figures(dir: &Path) -> (u128, u128, u128) {
    let summary: serde_json::Value = serde_json::from_slice(&run(dir, &["summary", "--json"]).stdout).unwrap();
    let eth = summary["assets"].as_array().unwrap().iter().find(|a| a["asset"]["id"] == ETH).unwrap();
    assert_eq!(eth["segregated"], true, "{eth}");
    let units = |field: &str| eth[field].as_str().unwrap().parse::<u128>().unwrap();
    (units("client_positions"), units("client_holdings"), units("firm_holdings"))
}

/// A store holding the example register (examples/casp.jsonl).
fn example() -> tempfile::TempDir {
    let store = tempfile::tempdir().unwrap();
    assert!(run(store.path(), &["init"]).status.success());
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/casp.jsonl");
    assert!(run(store.path(), &["import", example]).status.success());
    store
}

fn verified(dir: &Path) {
    let verify = run(dir, &["journal", "verify"]);
    assert!(verify.status.success() && stdout(&verify).contains("journal intact"), "{}", both(&verify));
}

#[test]
fn a_loss_borne_by_clients_and_made_good_by_the_firm_keeps_every_invariant() {
    let store = example();
    let dir = store.path();
    // Six more ETH in the hot wallet: client-1 4, client-2 2.
    let deposits = [
        format!(
            r#"{{"type":"deposit","key":"dep-nov-1","client":"client-1","wallet":"omnibus-hot","asset":"{ETH}","amount":"{}","effective_at":"2026-11-02T09:00:00Z"}}"#,
            4 * ONE_ETH
        ),
        format!(
            r#"{{"type":"deposit","key":"dep-nov-2","client":"client-2","wallet":"omnibus-hot","asset":"{ETH}","amount":"{}","effective_at":"2026-11-02T10:00:00Z"}}"#,
            2 * ONE_ETH
        ),
    ];
    assert!(import(dir, "deposits.jsonl", &deposits).status.success());
    let (positions, holdings, firm) = eth_figures(dir);
    assert_eq!((positions, holdings), (positions, positions));

    // Refused, nothing changed: a loss larger than the position it is taken from.
    let head = stdout(&run(dir, &["journal", "head"]));
    let too_large = import(
        dir,
        "too-large.jsonl",
        &[format!(
            r#"{{"type":"loss","key":"loss-too-large","client":"client-2","wallet":"omnibus-hot","asset":"{ETH}","amount":"{}"}}"#,
            900 * ONE_ETH
        )],
    );
    assert!(!too_large.status.success() && stdout(&too_large).contains("position_would_go_negative"), "{}", both(&too_large));
    assert_eq!(stdout(&run(dir, &["journal", "head"])), head);

    // The hack: 5 ETH gone from the hot wallet, 3 of client-1's and 2 of client-2's.
    let loss = format!(
        r#"{{"type":"movement","key":"loss-2026-11-hack","kind":"loss","postings":[{{"side":"debit","account":"position:client-1","asset":"{ETH}","amount":"{three}"}},{{"side":"debit","account":"position:client-2","asset":"{ETH}","amount":"{two}"}},{{"side":"credit","account":"holding:omnibus-hot","asset":"{ETH}","amount":"{five}"}}],"effective_at":"2026-11-10T03:00:00Z","actor":"ops:alice"}}"#,
        three = 3 * ONE_ETH,
        two = 2 * ONE_ETH,
        five = 5 * ONE_ETH
    );
    let lost = import(dir, "loss.jsonl", &[loss]);
    assert!(lost.status.success() && stdout(&lost).contains("1 accepted"), "{}", both(&lost));
    assert_eq!(eth_figures(dir), (positions - 5 * ONE_ETH, holdings - 5 * ONE_ETH, firm));
    verified(dir);

    // Refused, nothing changed: the firm crediting a client without moving the asset, and
    // compensating into a firm wallet.
    let head = stdout(&run(dir, &["journal", "head"]));
    let unbacked = format!(
        r#"{{"type":"movement","key":"comp-unbacked","kind":"compensation","postings":[{{"side":"debit","account":"own:capital","asset":"{ETH}","amount":"1"}},{{"side":"credit","account":"position:client-1","asset":"{ETH}","amount":"1"}}]}}"#
    );
    let refused = import(dir, "unbacked.jsonl", &[unbacked]);
    assert!(!refused.status.success() && stdout(&refused).contains("posting_not_allowed"), "{}", both(&refused));
    let wrong = format!(
        r#"{{"type":"compensation","key":"comp-wrong","client":"client-1","client_wallet":"firm-hot","firm_wallet":"firm-hot","asset":"{ETH}","amount":"1"}}"#
    );
    let refused = import(dir, "wrong.jsonl", &[wrong]);
    assert!(!refused.status.success() && stdout(&refused).contains("wrong_wallet_class"), "{}", both(&refused));
    assert_eq!(stdout(&run(dir, &["journal", "head"])), head);

    // The firm makes both good from its hot wallet (5 ETH of its capital).
    let compensation = |client: &str, units: u128| {
        format!(
            r#"{{"type":"compensation","key":"comp-2026-11-hack-{client}","client":"{client}","client_wallet":"omnibus-hot","firm_wallet":"firm-hot","asset":"{ETH}","amount":"{units}","effective_at":"2026-11-12T09:00:00Z","actor":"treasury:tom"}}"#
        )
    };
    let paid = import(dir, "compensation.jsonl", &[compensation("client-1", 3 * ONE_ETH), compensation("client-2", 2 * ONE_ETH)]);
    assert!(paid.status.success() && stdout(&paid).contains("2 accepted"), "{}", both(&paid));
    assert_eq!(eth_figures(dir), (positions, holdings, firm - 5 * ONE_ETH));
    verified(dir);
    // The firm has nothing left to pay with: refused.
    let more = import(dir, "more.jsonl", &[compensation("client-2", 1).replace("hack-client-2", "more")]);
    assert!(!more.status.success() && stdout(&more).contains("holding_would_go_negative"), "{}", both(&more));

    // In the insolvency pack: what the firm owes each client for the loss until the
    // compensation takes effect.
    let uncompensated = |at: &str| -> Vec<(String, String)> {
        let pack = dir.join(format!("pack-{}", at.replace(':', "")));
        let made = run(dir, &["insolvency", "pack", "--at", at, "--out", pack.to_str().unwrap()]);
        assert!(made.status.success(), "{}", both(&made));
        let mut reader = csv::Reader::from_path(pack.join("client_positions.csv")).unwrap();
        let header = reader.headers().unwrap().clone();
        let [client, asset, column] = ["client", "asset", "uncompensated_loss"].map(|name| header.iter().position(|h| h == name).unwrap());
        reader
            .records()
            .map(Result::unwrap)
            .filter(|r| &r[asset] == ETH && &r[column] != "0")
            .map(|r| (r[client].to_owned(), r[column].to_owned()))
            .collect()
    };
    assert_eq!(
        uncompensated("2026-11-11T00:00:00Z"),
        [("client-1".to_owned(), (3 * ONE_ETH).to_string()), ("client-2".to_owned(), (2 * ONE_ETH).to_string())]
    );
    assert!(uncompensated("2026-11-30").is_empty());

    // In the client's history and statement.
    let history = stdout(&run(dir, &["history", "--client", "client-1"]));
    assert!(history.contains("loss            loss-2026-11-hack        -3 ETH"), "{history}");
    assert!(history.contains("compensation    comp-2026-11-hack-client-1 +3 ETH"), "{history}");
    let statement = run(
        dir,
        &["statement", "--casp-name", "Acme CASP", "--client", "client-2", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv"],
    );
    let csv = stdout(&statement);
    assert!(csv.contains(&format!("movement,{ETH},loss,loss-2026-11-hack,2026-11-10T03:00:00Z,-{},-2,", 2 * ONE_ETH)), "{csv}");
    assert!(
        csv.contains(&format!("movement,{ETH},compensation,comp-2026-11-hack-client-2,2026-11-12T09:00:00Z,{},2,", 2 * ONE_ETH)),
        "{csv}"
    );
}

#[test]
fn under_four_eyes_control_a_loss_waits_for_approval() {
    let store = example();
    let dir = store.path();
    assert!(import(dir, "policy.jsonl", &[r#"{"type":"approval_policy","approvals":1}"#.to_owned()]).status.success());
    // Without a token the line's actor is not an identity: refused before anything is applied.
    let loss = format!(r#"{{"type":"loss","key":"loss-1","client":"client-1","wallet":"omnibus-hot","asset":"{ETH}","amount":"1"}}"#);
    let refused = import(dir, "loss.jsonl", &[loss]);
    assert!(!refused.status.success() && both(&refused).contains("loss"), "{}", both(&refused));
}

#[test]
fn a_pool_loss_is_shared_pro_rata_among_forty_clients_to_the_smallest_unit() {
    let store = example();
    let dir = store.path();
    // Forty omnibus clients, client n holding n × 0.1 ETH + n wei in the hot wallet.
    let mut lines = Vec::new();
    for n in 1..=40u128 {
        lines.push(format!(
            r#"{{"type":"client","id":"pool-{n:02}","category":"retail","segregation":"omnibus","effective_at":"2026-11-01T08:00:00Z"}}"#
        ));
        lines.push(format!(
            r#"{{"type":"deposit","key":"pool-dep-{n:02}","client":"pool-{n:02}","wallet":"omnibus-hot","asset":"{ETH}","amount":"{}","effective_at":"2026-11-02T09:00:00Z"}}"#,
            n * ONE_ETH / 10 + n
        ));
    }
    assert!(import(dir, "pool.jsonl", &lines).status.success());
    let before = eth_figures(dir);
    let lost: u128 = 7 * ONE_ETH + 3;
    let file = dir.join("loss-lines.jsonl");
    let shared = run(
        dir,
        &[
            "loss",
            "share",
            "--wallet",
            "omnibus-hot",
            "--asset",
            ETH,
            "--amount",
            &lost.to_string(),
            "--at",
            "2026-11-10T02:00:00Z",
            "--key",
            "loss-pool",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(shared.status.success(), "{}", both(&shared));
    // 42 clients (the example's two omnibus clients too), 15 to a movement: three movements.
    assert!(both(&shared).contains("shared among 42 client(s)") && both(&shared).contains("(3 movement line(s)"), "{}", both(&shared));
    let text = std::fs::read_to_string(&file).unwrap();
    let mut debited = 0u128;
    for line in text.lines() {
        let movement: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(movement["kind"], "loss");
        for posting in movement["postings"].as_array().unwrap() {
            if posting["side"] == "debit" {
                debited += posting["amount"].as_str().unwrap().parse::<u128>().unwrap();
            }
        }
    }
    assert_eq!(debited, lost, "the parts sum to the loss exactly");
    let imported = run(dir, &["import", file.to_str().unwrap()]);
    assert!(imported.status.success() && stdout(&imported).contains("3 accepted"), "{}", both(&imported));
    assert_eq!(eth_figures(dir), (before.0 - lost, before.1 - lost, before.2));
    verified(dir);
    // More than the wallet held, a firm wallet, a loss in the future: refused, nothing written.
    for (args, words) in [
        (vec!["--wallet", "omnibus-hot", "--amount", "999000000000000000000", "--at", "2026-11-10T02:00:00Z"], "larger than what it held"),
        (vec!["--wallet", "firm-hot", "--amount", "1", "--at", "2026-11-10T02:00:00Z"], "firm wallet"),
        (vec!["--wallet", "omnibus-hot", "--amount", "1", "--at", "2999-01-01"], "after now"),
        (vec!["--wallet", "omnibus-hot", "--amount", "0", "--at", "2026-11-10T02:00:00Z"], "no loss"),
    ] {
        let target = dir.join("refused.jsonl");
        let refused = run(dir, &[&["loss", "share", "--asset", ETH, "--key", "k", "--out", target.to_str().unwrap()][..], &args].concat());
        assert!(!refused.status.success() && both(&refused).contains(words), "{args:?}: {}", both(&refused));
        assert!(!target.exists());
    }
}
