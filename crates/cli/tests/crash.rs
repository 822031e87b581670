//! Durability under crashes, on both backends: the real `ringfence import` loads movements in
//! batches while this test kills it with SIGKILL at random moments. `import --json` prints a
//! batch's lines only once the batch is durable, so every printed line is an acknowledged
//! movement. After each kill the store must open (chain verified, every entry re-decided, all
//! invariants audited), hold every acknowledged movement, hold whole batches only (the applied
//! lines are a prefix of the file, and balances equal exactly what that prefix deposits), and
//! a resubmission of the first unacknowledged batch must apply each of its movements once.
//!
//! The killed imports take a register checkpoint every few batches: after each kill, opening
//! from the newest checkpoint gives the same register as replaying from entry 1, and no
//! checkpoint is left damaged.
//!
//! Two processes importing one file at once on one database never fork the chain and apply
//! each line once.
//!
//! PostgreSQL is a throwaway cluster from `ringfence-testdb` (or RINGFENCE_TEST_DATABASE_URL).

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ringfence_core::{Account, Amount, AssetId, ClientId, IdempotencyKey};
use ringfence_store::{CheckpointPolicy, Location, Store};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");
const ETH: &str = "eip155:1/slip44:60";
const KILLS_MIN: usize = 20;
const BATCH_SIZE: usize = 20;
const CLIENTS: usize = 40;
const MOVEMENTS: usize = 60_000;
/// How long after its first acknowledged batch a child may run before it is killed.
const KILL_AFTER_MS_MAX: u64 = 120;
/// The killed imports take a register checkpoint every 5 batches, so kills land while one is
/// being written too.
const CHECKPOINT_EVERY: usize = 5 * BATCH_SIZE;
/// And move their postings to the posting index every 3 batches (in the transaction of the
/// batch after), so kills land in those batches too.
const POSTING_INDEX_EVERY: usize = 3 * BATCH_SIZE;
/// A child that prints nothing in this long is stuck.
const FIRST_LINE_WAIT_MAX: Duration = Duration::from_secs(60);

/// A small deterministic generator, so a failure can be replayed from its seed.
struct Sequence(u64);

impl Sequence {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// The store under test and how to name it to the binary.
struct Target {
    args: Vec<String>,
    location: Location,
    /// The database URL on PostgreSQL, whose sessions are waited for after a kill.
    postgres_url: Option<String>,
    _dir: tempfile::TempDir,
}

impl Target {
    fn sqlite() -> Target {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Target {
            args: vec!["--data-dir".into(), data.display().to_string()],
            location: Location::data_dir(&data),
            postgres_url: None,
            _dir: dir,
        }
    }

    fn postgres() -> Target {
        let url = ringfence_testdb::server().fresh_database();
        let location = Location::parse_url(&url).unwrap();
        Target { args: vec!["--database-url".into(), url.clone()], location, postgres_url: Some(url), _dir: tempfile::tempdir().unwrap() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command.args(&self.args).args(args).env_remove("RINGFENCE_DATA_DIR").env_remove("RINGFENCE_DATABASE_URL");
        command
    }

    /// Makes what the killed child left final: on PostgreSQL its server process may still be
    /// committing a batch whose `COMMIT` was sent just before the kill (SQLite has no such
    /// process; its commit happens in the killed process or not at all).
    fn settle(&self) {
        if let Some(url) = &self.postgres_url {
            ringfence_testdb::server().wait_for_other_sessions_to_end(url);
        }
    }

    fn file(&self, name: &str, lines: &[String]) -> PathBuf {
        let path = self._dir.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    }
}

/// Registrations, then `MOVEMENTS` deposits to omnibus clients (line numbers from 1).
struct Load {
    lines: Vec<String>,
    /// Per movement line: its idempotency key, client and amount.
    deposits: BTreeMap<usize, (String, usize, u128)>,
}

fn load(seed: u64) -> Load {
    let mut lines = vec![
        format!(r#"{{"type":"asset","id":"{ETH}","scale":18,"symbol":"ETH"}}"#),
        r#"{"type":"key_set","id":"ks","scheme":"multisig","threshold":2,"signers":["a","b","c"],"class":"client_omnibus"}"#.to_owned(),
        r#"{"type":"wallet","id":"hot","address":"eip155:1:0x0000000000000000000000000000000000000001","class":"client_omnibus","tier":"hot","key_set":"ks"}"#.to_owned(),
    ];
    for client in 0..CLIENTS {
        lines.push(format!(r#"{{"type":"client","id":"c{client}","category":"retail","segregation":"omnibus"}}"#));
    }
    let mut rng = Sequence(seed | 1);
    let mut deposits = BTreeMap::new();
    for n in 0..MOVEMENTS {
        let client = rng.below(CLIENTS as u64) as usize;
        let amount = u128::from(1 + rng.below(1_000_000_000));
        let key = format!("crash-{n}");
        lines.push(format!(
            r#"{{"type":"deposit","key":"{key}","client":"c{client}","wallet":"hot","asset":"{ETH}","amount":"{amount}","effective_at":"2026-01-01T00:00:00Z"}}"#
        ));
        deposits.insert(lines.len(), (key, client, amount));
    }
    Load { lines, deposits }
}

/// Runs `import --json` on the whole load and kills it at a random moment after its first
/// acknowledged batch. Returns the acknowledged (line, seq) pairs and whether it was killed
/// (false when it finished first).
fn import_and_kill(target: &Target, file: &Path, rng: &mut Sequence) -> (Vec<(usize, u64)>, bool) {
    let mut child = target
        .command(&[
            "import",
            "--json",
            "--batch-size",
            &BATCH_SIZE.to_string(),
            "--checkpoint-every",
            &CHECKPOINT_EVERY.to_string(),
            "--posting-index-every",
            &POSTING_INDEX_EVERY.to_string(),
            file.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let started = Instant::now();
    // Wait for the first acknowledged batch: the child is then surely loading.
    match lines_rx.recv_timeout(FIRST_LINE_WAIT_MAX) {
        Ok(line) => printed.push(line),
        Err(_) => panic!("the import printed nothing in {FIRST_LINE_WAIT_MAX:?} (started {:?} ago)", started.elapsed()),
    }
    let delay = Duration::from_millis(rng.below(KILL_AFTER_MS_MAX + 1));
    let deadline = Instant::now() + delay;
    let mut finished = false;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            finished = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let killed = !finished && child.kill().is_ok();
    child.wait().unwrap();
    target.settle();
    reader.join().unwrap();
    printed.extend(lines_rx.try_iter());
    let acknowledged = printed
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|value| value.get("line").is_some())
        .map(|value| {
            let status = value["status"].as_str().unwrap().to_owned();
            assert!(status == "accepted" || status == "already_exists", "line {value}: unexpected status");
            (value["line"].as_u64().unwrap() as usize, value["seq"].as_u64().unwrap())
        })
        .collect();
    (acknowledged, killed)
}

/// What must hold of the store after a crash; returns the number of the last applied line.
fn check_after_crash(target: &Target, load: &Load, acknowledged: &BTreeMap<usize, u64>) -> usize {
    // Opening verifies the chain, re-decides every entry (after the newest checkpoint) and
    // audits every invariant. A kill while a checkpoint was written leaves none damaged (it
    // is one transaction), and checkpoint + tail is the state of the full replay.
    let store = Store::open(&target.location).unwrap();
    assert!(store.opened().passed_over.is_empty(), "{:?}", store.opened().passed_over);
    let full = Store::open_configured(&target.location, None, CheckpointPolicy { full_replay: true, every: 0 }).unwrap();
    assert!(
        store.register() == full.register(),
        "checkpoint {:?} + tail differs from the full replay in {:?}",
        store.opened().checkpoint,
        store.register().differences(full.register())
    );
    drop(full);
    assert_eq!(store.verify().unwrap(), Ok(store.head()));
    let register = store.register();
    for (&line, &seq) in acknowledged {
        let Some((key, _, _)) = load.deposits.get(&line) else { continue };
        // Read back from the movement index for those the register no longer holds.
        assert_eq!(
            store.movement_seq(&IdempotencyKey::parse(key).unwrap()).unwrap(),
            Some(seq),
            "acknowledged line {line} ({key}) is missing"
        );
    }
    // Whole batches only: the applied movements are exactly a prefix of the file.
    let applied = register.movement_count() as usize;
    let mut expected = vec![0u128; CLIENTS];
    let mut last_line = 0;
    for (index, (&line, (key, client, amount))) in load.deposits.iter().enumerate() {
        let present = store.movement_seq(&IdempotencyKey::parse(key).unwrap()).unwrap().is_some();
        assert_eq!(present, index < applied, "line {line} ({key}): present {present}, but {applied} movements are applied");
        if present {
            expected[*client] += amount;
            last_line = line;
        }
    }
    let eth = AssetId::parse(ETH).unwrap();
    for (client, amount) in expected.iter().enumerate() {
        let account = Account::Position(ClientId::parse(&format!("c{client}")).unwrap());
        assert_eq!(register.balance(&account, &eth).unwrap_or_default(), Amount::new(*amount), "client c{client}");
        // The posting index and the postings in memory add up to the same: none lost or
        // counted twice by a kill in a batch that moved them.
        let at_end = store.balance_at(&account, &eth, ringfence_core::Timestamp::MAX).unwrap();
        assert_eq!((at_end.negative, at_end.amount), (false, Amount::new(*amount)), "client c{client} from the posting index");
    }
    assert!(register.log_floor() > 0 || register.seq() < 2 * POSTING_INDEX_EVERY as u64, "nothing was ever indexed");
    assert!(register.summary().iter().all(|summary| summary.is_segregated()));
    last_line
}

/// Resubmits the first unacknowledged batch (the lines after `last_line`, whether or not
/// they reached the disk) and checks each of its movements is applied exactly once.
fn resubmit_unacknowledged_batch(target: &Target, load: &Load, last_line: usize, round: usize) {
    // Line numbers count from 1, so the line after `last_line` is at index `last_line`.
    let start = last_line.max(load.lines.len() - MOVEMENTS);
    let batch: Vec<String> = load.lines[start..(start + BATCH_SIZE).min(load.lines.len())].to_vec();
    if batch.is_empty() {
        return;
    }
    let before = Store::open(&target.location).unwrap().register().movement_count();
    let file = target.file(&format!("resubmit-{round}.jsonl"), &batch);
    for attempt in 0..2 {
        let output = target.command(&["import", "--json", file.to_str().unwrap()]).output().unwrap();
        assert!(output.status.success(), "resubmission {attempt}: {}", String::from_utf8_lossy(&output.stdout));
        let statuses: Vec<Value> =
            String::from_utf8_lossy(&output.stdout).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(statuses.len(), batch.len());
        let accepted = statuses.iter().filter(|s| s["status"] == "accepted").count();
        let expected_accepted = if attempt == 0 { batch.len() } else { 0 };
        assert_eq!(accepted, expected_accepted, "attempt {attempt}: {statuses:?}");
    }
    let after = Store::open(&target.location).unwrap().register().movement_count();
    assert_eq!(after, before + batch.len() as u64, "each movement of the resubmitted batch applied exactly once");
}

fn crash_many_times(target: &Target, seed: u64) {
    let load = load(seed);
    let file = target.file("load.jsonl", &load.lines);
    let init = target.command(&["init"]).output().unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let mut rng = Sequence(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut acknowledged = BTreeMap::new();
    let mut kills = 0;
    let mut round = 0;
    while kills < KILLS_MIN {
        round += 1;
        let (acked, killed) = import_and_kill(target, &file, &mut rng);
        assert!(killed, "round {round}: the import finished before {KILLS_MIN} kills ({kills} so far); make the load larger");
        kills += 1;
        for (line, seq) in acked {
            // A line acknowledged twice keeps its sequence number.
            assert_eq!(*acknowledged.entry(line).or_insert(seq), seq, "line {line}");
        }
        let last_line = check_after_crash(target, &load, &acknowledged);
        resubmit_unacknowledged_batch(target, &load, last_line, round);
    }
    // Finally the whole file again, uninterrupted: everything is applied exactly once.
    let output = target.command(&["import", "--quiet", file.to_str().unwrap()]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    let store = Store::open(&target.location).unwrap();
    assert_eq!(store.register().movement_count(), MOVEMENTS as u64);
    check_after_crash(target, &load, &acknowledged);
    let checkpoint = store.opened().checkpoint;
    assert!(checkpoint.is_some(), "the imports took checkpoints");
    eprintln!("{kills} kills; {} lines acknowledged before a kill; opened from the checkpoint at entry {checkpoint:?}", acknowledged.len());
}

#[test]
fn sqlite_survives_sigkill_at_random_moments_with_every_acknowledged_batch_and_no_partial_one() {
    crash_many_times(&Target::sqlite(), 0x5eed_0001);
}

#[test]
fn postgres_survives_sigkill_at_random_moments_with_every_acknowledged_batch_and_no_partial_one() {
    crash_many_times(&Target::postgres(), 0x5eed_0002);
}

/// Two `ringfence import` processes load the same file at once, in small batches: every line
/// is accepted by exactly one of them and `already_exists` for the other, with the same
/// sequence number, and the journal is one unforked chain. (How the work splits is up to the
/// database: PostgreSQL's row lock queues the writers so both record lines; SQLite's busy
/// handler favours the writer already running, so there one process often records all.)
fn two_processes_race(target: &Target) {
    const RACE_MOVEMENTS: usize = 2_000;
    let load = load(0x0ace);
    let lines: Vec<String> = load.lines[..load.lines.len() - MOVEMENTS + RACE_MOVEMENTS].to_vec();
    let file = target.file("race.jsonl", &lines);
    let init = target.command(&["init"]).output().unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let spawn =
        || target.command(&["import", "--json", "--batch-size", "10", file.to_str().unwrap()]).stdout(Stdio::piped()).spawn().unwrap();
    let (first, second) = (spawn(), spawn());
    let outputs = [first.wait_with_output().unwrap(), second.wait_with_output().unwrap()];
    let mut by_line: BTreeMap<u64, Vec<(String, u64)>> = BTreeMap::new();
    for (process, output) in outputs.iter().enumerate() {
        let accepted = String::from_utf8_lossy(&output.stdout).matches(r#""status":"accepted""#).count();
        eprintln!("process {process} accepted {accepted} line(s)");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let value: Value = serde_json::from_str(line).unwrap();
            let status = value["status"].as_str().unwrap().to_owned();
            by_line.entry(value["line"].as_u64().unwrap()).or_default().push((status, value["seq"].as_u64().unwrap()));
        }
    }
    assert_eq!(by_line.len(), lines.len());
    for (line, outcomes) in &by_line {
        let mut statuses: Vec<&str> = outcomes.iter().map(|(status, _)| status.as_str()).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, ["accepted", "already_exists"], "line {line}: {outcomes:?}");
        assert_eq!(outcomes[0].1, outcomes[1].1, "line {line}: two sequence numbers {outcomes:?}");
    }
    let store = Store::open(&target.location).unwrap();
    assert_eq!(store.verify().unwrap(), Ok(store.head()));
    // Each line once, and the safeguarding check after an import when a breach had no
    // exception yet: the first process to finish journals it, the second finds it done.
    let checks = store.register().safeguard_checks().len();
    assert!(checks <= 1, "{checks} checks; one breach gets one exception");
    assert_eq!(store.head().seq, (lines.len() + checks) as u64);
    assert_eq!(store.register().movement_count(), RACE_MOVEMENTS as u64);
}

#[test]
fn two_processes_importing_at_once_on_sqlite_apply_every_line_once_on_one_chain() {
    two_processes_race(&Target::sqlite());
}

#[test]
fn two_processes_importing_at_once_on_postgres_apply_every_line_once_on_one_chain() {
    two_processes_race(&Target::postgres());
}
