//! The `ringfence` binary on PostgreSQL (`--database-url`): init, migrate, import and every
//! query against a real server (a throwaway cluster from `ringfence-testdb`, or
//! RINGFENCE_TEST_DATABASE_URL), and clear errors that change nothing for bad or unreachable
//! URLs.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::process::{Command, Output};

use ringfence_store::{Location, StoreError, Verification};

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/casp.jsonl");

fn ringfence(url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--database-url")
        .arg(url)
        .args(args)
        .env_remove("RINGFENCE_DATA_DIR")
        .env_remove("RINGFENCE_DATABASE_URL")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn assert_code(output: &Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
}

#[test]
fn init_import_and_every_query_work_on_postgres_and_a_second_init_is_refused() {
    let url = ringfence_testdb::server().fresh_database();
    let init = ringfence(&url, &["init"]);
    assert_code(&init, 0);
    assert!(text(&init).contains("initialised an empty ringfence store at postgres://"), "{}", text(&init));
    let again = ringfence(&url, &["init"]);
    assert_code(&again, 2);
    assert!(text(&again).contains("a ringfence store already exists"), "{}", text(&again));

    let import = ringfence(&url, &["import", EXAMPLE]);
    assert_code(&import, 0);
    assert!(text(&import).contains("25 line(s): 25 accepted"), "{}", text(&import));
    // The example keeps its USDC hot and its retail omnibus ETH below the floor: the
    // safeguarding check after the import is entry 26.
    assert!(text(&import).contains("safeguarding check (sequence 26) opened 2 exception(s)"), "{}", text(&import));
    let reimport = ringfence(&url, &["import", "--quiet", EXAMPLE]);
    assert_code(&reimport, 0);
    assert!(text(&reimport).contains("25 line(s): 25 already_exists"), "{}", text(&reimport));

    let summary = ringfence(&url, &["summary"]);
    assert_code(&summary, 0);
    assert!(text(&summary).contains("journal at sequence 26"), "{}", text(&summary));
    assert!(!text(&summary).contains("NOT SEGREGATED"), "{}", text(&summary));
    let balance = ringfence(&url, &["balance", "--client", "client-1", "--at", "2026-01-06"]);
    assert_code(&balance, 0);
    assert!(text(&balance).contains("2.5 ETH"), "{}", text(&balance));
    let history = ringfence(&url, &["history", "--client", "client-1", "--limit", "2"]);
    assert_code(&history, 0);
    assert!(text(&history).contains("dep-0001"), "{}", text(&history));
    let verify = ringfence(&url, &["journal", "verify"]);
    assert_code(&verify, 0);
    assert!(text(&verify).contains("journal intact: 26 entries"), "{}", text(&verify));
    let head = ringfence(&url, &["journal", "head"]);
    assert_code(&head, 0);
    assert!(text(&head).starts_with("26 "), "{}", text(&head));
}

#[test]
fn migrate_creates_the_schema_in_an_empty_database_and_is_then_up_to_date() {
    let url = ringfence_testdb::server().fresh_database();
    let migrate = ringfence(&url, &["migrate"]);
    assert_code(&migrate, 0);
    assert!(text(&migrate).contains("from schema 0 to 5"), "{}", text(&migrate));
    assert!(!text(&migrate).contains("checkpoint"), "an empty journal has nothing to checkpoint: {}", text(&migrate));
    let again = ringfence(&url, &["migrate"]);
    assert_code(&again, 0);
    assert!(text(&again).contains("is up to date (schema 5)"), "{}", text(&again));
    assert_code(&ringfence(&url, &["summary"]), 0);
}

/// A store of schema 2 (before register checkpoints) with entries: other commands ask for
/// `migrate`, which adds the tables and takes a first checkpoint; opening then starts from it.
#[test]
fn migrate_brings_a_schema_2_store_to_5_indexes_its_postings_and_takes_a_first_checkpoint() {
    let url = ringfence_testdb::server().fresh_database();
    assert_code(&ringfence(&url, &["init"]), 0);
    assert_code(&ringfence(&url, &["import", "--quiet", EXAMPLE]), 0);
    let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    client
        .batch_execute(
            "DROP TABLE register_checkpoint; DROP TABLE register_checkpoint_part; DROP TABLE posting_run; DROP TABLE posting_index; DROP TABLE movement_run; UPDATE schema_version SET version = 2",
        )
        .unwrap();
    let refused = ringfence(&url, &["summary"]);
    assert_code(&refused, 2);
    assert!(text(&refused).contains("run `ringfence migrate`"), "{}", text(&refused));
    let migrate = ringfence(&url, &["migrate"]);
    assert_code(&migrate, 0);
    assert!(text(&migrate).contains("from schema 2 to 5"), "{}", text(&migrate));
    assert!(text(&migrate).contains("the posting index holds the postings up to entry 26"), "{}", text(&migrate));
    assert!(text(&migrate).contains("took a register checkpoint at entry 26"), "{}", text(&migrate));
    let runs: i64 = client.query_one("SELECT count(*) FROM posting_run", &[]).unwrap().get(0);
    assert!(runs > 0, "no posting runs after migrate");
    let past = ringfence(&url, &["balance", "--client", "client-1", "--at", "2026-01-06"]);
    assert!(text(&past).contains("2.5 ETH"), "{}", text(&past));
    let list = ringfence(&url, &["checkpoint", "--list"]);
    assert!(text(&list).contains("entry 26") && text(&list).contains("used to open the store"), "{}", text(&list));
    let again = ringfence(&url, &["migrate"]);
    assert!(!text(&again).contains("took a register checkpoint"), "{}", text(&again));
    let verify = ringfence(&url, &["journal", "verify"]);
    assert_code(&verify, 0);
    assert!(text(&verify).contains("register checkpoint at entry 26: matches the replay from entry 1"), "{}", text(&verify));
    assert!(
        text(&verify).contains("posting index: 1 run(s) through entry 26 match the postings and movement records the replay made"),
        "{}",
        text(&verify)
    );

    // A damaged index is a clear error naming the repair, and the full verify names the run;
    // the repair rebuilds it.
    client.batch_execute("UPDATE posting_run SET bytes = '\\x00'").unwrap();
    let damaged = ringfence(&url, &["balance", "--client", "client-1", "--at", "2026-01-06"]);
    assert_code(&damaged, 2);
    let found = ringfence(&url, &["journal", "verify"]);
    assert_code(&found, 1);
    assert!(text(&found).contains("posting index: the run ending at entry 26 DIFFERS"), "{}", text(&found));
    assert!(
        text(&damaged).contains("the posting index is damaged") && text(&damaged).contains("migrate --rebuild-index"),
        "{}",
        text(&damaged)
    );
    let rebuilt = ringfence(&url, &["migrate", "--rebuild-index"]);
    assert_code(&rebuilt, 0);
    assert!(text(&rebuilt).contains("emptied the posting index"), "{}", text(&rebuilt));
    assert!(text(&rebuilt).contains("the posting index holds the postings up to entry 26"), "{}", text(&rebuilt));
    assert!(text(&rebuilt).contains("took a register checkpoint at entry 26"), "{}", text(&rebuilt));
    let past = ringfence(&url, &["balance", "--client", "client-1", "--at", "2026-01-06"]);
    assert_code(&past, 0);
    assert!(text(&past).contains("2.5 ETH"), "{}", text(&past));
    let history = ringfence(&url, &["history", "--client", "client-1", "--limit", "2"]);
    assert!(text(&history).contains("dep-0001"), "{}", text(&history));
}

#[test]
fn an_unreachable_server_is_a_clear_error_that_never_shows_the_password() {
    // Port 1 on loopback: nothing listens there.
    let url = "postgres://ops:s3cret-pw@127.0.0.1:1/ringfence?connect_timeout=5";
    for args in [&["init"][..], &["summary"], &["import", EXAMPLE], &["journal", "verify"], &["migrate"]] {
        let output = ringfence(url, args);
        assert_code(&output, 2);
        let message = text(&output);
        assert!(message.contains("cannot connect to PostgreSQL at postgres://ops:***@127.0.0.1:1/ringfence"), "{args:?}: {message}");
        assert!(!message.contains("s3cret-pw"), "{args:?} printed the password: {message}");
    }
}

#[test]
fn a_malformed_url_is_refused_before_anything_is_touched() {
    for url in ["postgres://host:notaport/db", "mysql://localhost/db", "sqlite:"] {
        let output = ringfence(url, &["init"]);
        assert_code(&output, 2);
        assert!(text(&output).contains("is not a database URL ringfence understands"), "{url}: {}", text(&output));
    }
}

#[test]
fn commands_on_an_empty_database_say_to_run_init_and_create_nothing() {
    let url = ringfence_testdb::server().fresh_database();
    for args in [&["summary"][..], &["import", EXAMPLE], &["journal", "verify"], &["balance", "--client", "client-1"]] {
        let output = ringfence(&url, args);
        assert_code(&output, 2);
        assert!(text(&output).contains("run `ringfence init` first"), "{args:?}: {}", text(&output));
    }
    // Still no store there: nothing was created on the way.
    let location = Location::parse_url(&url).unwrap();
    assert!(matches!(Verification::open(&location), Err(StoreError::NotInitialised(_))));
}

/// Prices, statements and their issue on PostgreSQL: the worked example's second quarter
/// (docs/statements.md), its figures, and the same bytes when made again from its entry.
#[test]
fn statements_of_the_worked_example_are_made_and_issued_on_postgres() {
    let url = ringfence_testdb::server().fresh_database();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    assert_code(&ringfence(&url, &["init"]), 0);
    for file in ["casp.jsonl", "safeguarding.jsonl", "quarter.jsonl"] {
        assert_code(&ringfence(&url, &["import", "--quiet", &format!("{examples}/{file}")]), 0);
    }
    assert_code(&ringfence(&url, &["prices", "import", &format!("{examples}/prices.csv")]), 0);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let issued = ringfence(&url, &["statements", "issue", "--period", "2026-Q2", "--out", dir, "--casp-name", "Example CASP B.V."]);
    assert_code(&issued, 0);
    assert!(text(&issued).contains("4 issued now"), "{}", text(&issued));
    let bytes = std::fs::read(out.path().join("statement-2026-Q2-client-2.json")).unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(statement["assets"][1]["closing"]["decimal"], "1497.5");
    assert_eq!(statement["fiat"][0]["closing"]["money"], "EUR 1050.00");
    assert_eq!(statement["valuation"]["total"]["money"], "EUR 4243.23");
    let seq = statement["journal_seq"].to_string();
    let again =
        ringfence(&url, &["statement", "--client", "client-2", "--period", "2026-Q2", "--as-of", &seq, "--casp-name", "Example CASP B.V."]);
    assert_code(&again, 0);
    assert_eq!(again.stdout, bytes, "the same bytes from the same entry");
    let rerun = ringfence(&url, &["statements", "issue", "--period", "2026-Q2", "--out", dir, "--casp-name", "Example CASP B.V."]);
    assert!(text(&rerun).contains("0 issued now, 4 issued before"), "{}", text(&rerun));
}
