//! The PostgreSQL backend: schema and migrations, connecting, the reader and the write
//! session. Released migrations are never edited: add a new one at the end.
//!
//! Several ringfence processes may share one database. Each batch runs in one transaction
//! that first locks the recorded head's row (`SELECT … FOR UPDATE`): that row lock is the
//! journal's write lock, so writers take turns, and the one that gets it reads (on its reader
//! session, which sees every committed batch) whatever the others appended before deciding
//! anything. Entries go in with `COPY … FROM STDIN (FORMAT binary)`, a chunk at a time while
//! the state machine decides the rest; the new head and `COMMIT` travel in one round trip.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::Type;
use postgres::{Client, Config, IsolationLevel, NoTls, Statement};
use ringfence_journal::Head;

use crate::movement_index::BucketVisit;
use crate::writer::{Rows, Sink};
use crate::{CheckpointInfo, Intent, Migrated, Reader, RowVisit, RunSource, RunVisit, Runs, Scan, StoreError, Visit, Walk, read_hash};
use ringfence_journal::signing::CommitSignature;

/// Migrations in order; `schema_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: the journal (the truth) and the chain head recorded at every commit, whose row is
    // also the writers' lock.
    "CREATE TABLE journal (
         seq  BIGINT PRIMARY KEY,
         body BYTEA NOT NULL,
         hash BYTEA NOT NULL
     );
     CREATE TABLE chain_head (
         id        SMALLINT PRIMARY KEY CHECK (id = 0),
         head_seq  BIGINT NOT NULL,
         head_hash BYTEA NOT NULL
     );
     INSERT INTO chain_head (id, head_seq, head_hash)
         VALUES (0, 0, '\\x0000000000000000000000000000000000000000000000000000000000000000');",
    // 2: commit signatures (issue 14), in the row of each signed commit's last entry: its first
    // entry (u64 LE), the public key and the Ed25519 signature (104 bytes); NULL elsewhere.
    "ALTER TABLE journal ADD COLUMN signature BYTEA;",
    // 3: register checkpoints (issue 16): the register's state after entry `seq`, bound to that
    // entry's hash, in parts of at most `CHECKPOINT_PART_BYTES`; `hash` covers all of it.
    "CREATE TABLE register_checkpoint (
         seq       BIGINT PRIMARY KEY,
         head_hash BYTEA NOT NULL,
         layout    TEXT NOT NULL,
         size      BIGINT NOT NULL,
         hash      BYTEA NOT NULL,
         taken_at  BIGINT NOT NULL
     );
     CREATE TABLE register_checkpoint_part (
         seq   BIGINT NOT NULL,
         part  INTEGER NOT NULL,
         bytes BYTEA NOT NULL,
         PRIMARY KEY (seq, part)
     );",
    // 4: the posting index (issue 16), as on SQLite: one row per group of 64 accounts per run
    // of entries indexed together; `posting_index.through_seq` is where the index ends, and its row is
    // the indexers' lock (taken after the journal's).
    "CREATE TABLE posting_run (
         accounts    BIGINT NOT NULL,
         after_seq   BIGINT NOT NULL,
         through_seq BIGINT NOT NULL,
         bytes       BYTEA NOT NULL,
         PRIMARY KEY (accounts, after_seq)
     );
     CREATE INDEX posting_run_through ON posting_run (through_seq);
     -- Packed varints barely compress: stored out of line as they are, not through pglz.
     ALTER TABLE posting_run ALTER COLUMN bytes SET STORAGE EXTERNAL;
     CREATE TABLE posting_index (
         id          SMALLINT PRIMARY KEY CHECK (id = 0),
         through_seq BIGINT NOT NULL
     );
     INSERT INTO posting_index (id, through_seq) VALUES (0, 0);",
    // 5: the movement index (issue 16), as on SQLite; the posting index is emptied so that it
    // is built again with it.
    "CREATE TABLE movement_run (
         bucket      BIGINT NOT NULL,
         through_seq BIGINT NOT NULL,
         bytes       BYTEA NOT NULL,
         PRIMARY KEY (bucket, through_seq)
     );
     CREATE INDEX movement_run_through ON movement_run (through_seq);
     -- Digests do not compress: stored out of line as they are.
     ALTER TABLE movement_run ALTER COLUMN bytes SET STORAGE EXTERNAL;
     DELETE FROM posting_run;
     UPDATE posting_index SET through_seq = 0 WHERE id = 0;",
];

/// Serialises `init` and `migrate` of ringfence processes on one database (an arbitrary
/// constant: "ring" in ASCII).
const MIGRATION_LOCK: i64 = 0x7269_6e67;

/// How long connecting may take when the URL does not say.
const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

/// A PostgreSQL database, and optionally the schema inside it that holds ringfence's tables.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresTarget {
    url: String,
    schema: Option<String>,
}

impl fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password.
        f.write_str(&self.describe())
    }
}

impl PostgresTarget {
    /// Checks a `postgres://` URL as the client library reads it.
    pub fn parse(url: &str) -> Result<PostgresTarget, StoreError> {
        Config::from_str(url).map_err(|error| StoreError::UnsupportedUrl { url: redact(url), reason: error.to_string() })?;
        Ok(PostgresTarget { url: url.to_owned(), schema: None })
    }

    /// The same database with ringfence's tables in `schema` (which must exist), for scratch
    /// stores side by side in one database (benchmarks, tests).
    pub fn with_schema(&self, schema: &str) -> PostgresTarget {
        PostgresTarget { url: self.url.clone(), schema: Some(schema.to_owned()) }
    }

    /// A URL that names this target on its own, schema included (as `options=-c search_path=…`),
    /// for another process (`bench --serve` starts `ringfence serve` on a scratch schema). It
    /// holds the password: pass it in the environment, not on a command line. `None` when the
    /// URL sets `options` already (the two would not combine).
    pub fn url_for_process(&self) -> Option<String> {
        let Some(schema) = &self.schema else { return Some(self.url.clone()) };
        if self.url.contains("options=") {
            return None;
        }
        // A schema ringfence creates is lower-case letters, digits and `_`: nothing to escape.
        let separator = if self.url.contains('?') { '&' } else { '?' };
        Some(format!("{}{separator}options=-c%20search_path%3D{schema}", self.url))
    }

    /// The URL without its password, and the schema if one is set.
    /// The schema the store is in, when not the database's default.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    pub fn describe(&self) -> String {
        let url = redact(&self.url);
        match &self.schema {
            Some(schema) => format!("{url} (schema {schema})"),
            None => url,
        }
    }

    /// Creates an empty schema `name` (lower-case letters, digits and `_`) in this database,
    /// for a scratch store, and returns the target inside it.
    pub fn create_schema(&self, name: &str) -> Result<PostgresTarget, StoreError> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(StoreError::Postgres(format!(
                "{name:?} is not a schema name ringfence creates; use lower-case letters, digits and _"
            )));
        }
        self.connect()?.batch_execute(&format!("CREATE SCHEMA \"{name}\"")).map_err(pg)?;
        Ok(self.with_schema(name))
    }

    /// Drops the target's schema and everything in it (a scratch store made by
    /// [`PostgresTarget::create_schema`]).
    pub fn drop_schema(&self) -> Result<(), StoreError> {
        let Some(schema) = &self.schema else { return Ok(()) };
        self.connect()?.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).map_err(pg)
    }

    /// A new session. Sessions are durable (`synchronous_commit = on` whatever the server's
    /// default) and use the target's schema.
    pub(crate) fn connect(&self) -> Result<Client, StoreError> {
        let mut config = Config::from_str(&self.url)
            .map_err(|error| StoreError::UnsupportedUrl { url: redact(&self.url), reason: error.to_string() })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT_DEFAULT);
        }
        let mut options = config.get_options().unwrap_or_default().to_owned();
        options.push_str(" -c synchronous_commit=on");
        if let Some(schema) = &self.schema {
            options.push_str(&format!(" -c search_path={schema}"));
        }
        config.options(options.trim());
        if config.get_application_name().is_none() {
            config.application_name("ringfence");
        }
        config.connect(NoTls).map_err(|error| StoreError::Unreachable { target: self.describe(), reason: describe_error(&error) })
    }
}

/// A URL with its password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The whole message of a client error: the server's own words when it sent an error.
fn describe_error(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

fn pg(error: postgres::Error) -> StoreError {
    StoreError::Postgres(describe_error(&error))
}

/// The schema version, or None when ringfence's tables are not there at all.
fn schema_version(client: &mut Client) -> Result<Option<i64>, StoreError> {
    let exists: bool = client.query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[]).map_err(pg)?.get(0);
    if !exists {
        return Ok(None);
    }
    let version: Option<i32> = client.query_opt("SELECT version FROM schema_version WHERE id = 0", &[]).map_err(pg)?.map(|row| row.get(0));
    Ok(Some(i64::from(version.unwrap_or(0))))
}

/// Runs the missing migrations in one transaction under the migration lock. With `Intent::
/// Create`, fails if a store is there already.
fn migrate_client(client: &mut Client, target: &PostgresTarget, intent: Intent) -> Result<Migrated, StoreError> {
    let mut tx = client.transaction().map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(pg)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (id SMALLINT PRIMARY KEY CHECK (id = 0), version INTEGER NOT NULL)")
        .map_err(pg)?;
    let version: i64 =
        tx.query_opt("SELECT version FROM schema_version WHERE id = 0", &[]).map_err(pg)?.map_or(0, |row| i64::from(row.get::<_, i32>(0)));
    let supported = MIGRATIONS.len() as i64;
    if intent == Intent::Create && version > 0 {
        return Err(StoreError::AlreadyInitialised(target.describe()));
    }
    if version > supported {
        return Err(StoreError::SchemaTooNew { found: version, supported });
    }
    for sql in MIGRATIONS.iter().skip(version as usize) {
        tx.batch_execute(sql).map_err(pg)?;
    }
    tx.execute(
        "INSERT INTO schema_version (id, version) VALUES (0, $1) ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
        &[&(supported as i32)],
    )
    .map_err(pg)?;
    tx.commit().map_err(pg)?;
    Ok(Migrated { from: version, to: supported })
}

/// `ringfence migrate` on PostgreSQL: creates the schema in an empty database too.
pub(crate) fn migrate(target: &PostgresTarget) -> Result<Migrated, StoreError> {
    migrate_client(&mut target.connect()?, target, Intent::Open)
}

/// The store's own session, for catching up and queries.
pub(crate) struct PostgresReader {
    client: Client,
    target: PostgresTarget,
    since: Statement,
    at: Statement,
    after: Statement,
    /// The index queries, prepared on first use: a query by its text alone costs a second
    /// round trip to parse it every time (a movement lookup made four).
    prepared: std::collections::HashMap<&'static str, Statement>,
}

impl fmt::Debug for PostgresReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresReader").field("target", &self.target).finish_non_exhaustive()
    }
}

impl PostgresReader {
    /// The statement of `sql`, prepared once per session.
    fn prepared(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).map_err(pg)?;
        self.prepared.insert(sql, statement.clone());
        Ok(statement)
    }

    /// Streams the rows of `sql` (an entry number, bytes) to `visit` until it says to stop.
    fn visit_rows(
        &mut self,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        visit: RunVisit<'_>,
    ) -> Result<(), StoreError> {
        let statement = self.prepared(sql)?;
        let mut rows = self.client.query_raw(&statement, params.iter().copied()).map_err(pg)?;
        while let Some(row) = rows.next().map_err(pg)? {
            if !visit(row.get::<_, i64>(0) as u64, row.get::<_, &[u8]>(1))? {
                break;
            }
        }
        Ok(())
    }

    pub(crate) fn open(target: &PostgresTarget, intent: Intent) -> Result<PostgresReader, StoreError> {
        let mut client = target.connect()?;
        match intent {
            Intent::Create => {
                migrate_client(&mut client, target, Intent::Create)?;
            }
            Intent::Open | Intent::Inspect | Intent::ReadOnly => match schema_version(&mut client)? {
                None | Some(0) => return Err(StoreError::NotInitialised(target.describe())),
                Some(found) if found > MIGRATIONS.len() as i64 => {
                    return Err(StoreError::SchemaTooNew { found, supported: MIGRATIONS.len() as i64 });
                }
                Some(found) if found < MIGRATIONS.len() as i64 && matches!(intent, Intent::Open | Intent::ReadOnly) => {
                    return Err(StoreError::SchemaTooOld { location: target.describe(), found, supported: MIGRATIONS.len() as i64 });
                }
                Some(_) => {}
            },
        }
        match intent {
            // Every transaction of this session read-only, whatever the database is.
            Intent::ReadOnly => client.batch_execute("SET default_transaction_read_only = on").map_err(pg)?,
            // A hot standby takes no writes: say so now rather than at the first commit.
            Intent::Open if client.query_one("SELECT pg_is_in_recovery()", &[]).map_err(pg)?.get::<_, bool>(0) => {
                return Err(StoreError::HotStandby(target.describe()));
            }
            _ => {}
        }
        let since =
            client.prepare("SELECT seq, body, hash, signature FROM journal WHERE seq > $1 AND seq <= $2 ORDER BY seq").map_err(pg)?;
        let at = client.prepare("SELECT seq, body, hash FROM journal WHERE seq = ANY($1)").map_err(pg)?;
        let after = client.prepare("SELECT seq, body, hash FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2").map_err(pg)?;
        Ok(PostgresReader { client, target: target.clone(), since, at, after, prepared: std::collections::HashMap::new() })
    }
}

fn recorded_head(client: &mut impl postgres::GenericClient) -> Result<Head, StoreError> {
    let row = client.query_opt("SELECT head_seq, head_hash FROM chain_head WHERE id = 0", &[]).map_err(pg)?;
    Ok(row.map_or(Head::EMPTY, |row| Head { seq: row.get::<_, i64>(0) as u64, hash: read_hash(row.get::<_, &[u8]>(1)) }))
}

/// Visits each row of (seq, body, hash) as it arrives, without collecting them.
fn visit_rows(rows: postgres::RowIter<'_>, visit: Visit<'_>) -> Result<(), StoreError> {
    let mut rows = rows;
    while let Some(row) = rows.next().map_err(pg)? {
        visit(row.get::<_, i64>(0) as u64, row.get::<_, &[u8]>(1), row.get::<_, &[u8]>(2))?;
    }
    Ok(())
}

impl Reader for PostgresReader {
    fn read(&mut self, scan: Scan, walk: &mut dyn Walk) -> Result<Head, StoreError> {
        // One snapshot for the head, the signatures and the entries, even while another
        // process commits.
        let mut tx = self.client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().map_err(pg)?;
        let recorded = recorded_head(&mut tx)?;
        let Some((after, through)) = scan.bounds(recorded) else { return Ok(recorded) };
        // Sequence numbers fit an i64; a bound beyond them is after everything.
        let through = i64::try_from(through).unwrap_or(i64::MAX);
        let mut rows = tx.query_raw(&self.since, [after as i64, through]).map_err(pg)?;
        while let Some(row) = rows.next().map_err(pg)? {
            walk.entry(row.get::<_, i64>(0) as u64, row.get::<_, &[u8]>(1), row.get::<_, &[u8]>(2), row.get::<_, Option<&[u8]>>(3))?;
        }
        drop(rows);
        tx.commit().map_err(pg)?;
        Ok(recorded)
    }

    fn entries_at(&mut self, seqs: &[u64], visit: Visit<'_>) -> Result<(), StoreError> {
        let wanted: Vec<i64> = seqs.iter().map(|&seq| seq as i64).collect();
        let rows = self.client.query(&self.at, &[&wanted]).map_err(pg)?;
        // The rows come in any order: give them back in the order asked.
        let mut found: Vec<(u64, &[u8], &[u8])> = rows.iter().map(|row| (row.get::<_, i64>(0) as u64, row.get(1), row.get(2))).collect();
        found.sort_unstable_by_key(|(seq, _, _)| *seq);
        for &seq in seqs {
            if let Ok(index) = found.binary_search_by_key(&seq, |(seq, _, _)| *seq) {
                let (_, body, hash) = found[index];
                visit(seq, body, hash)?;
            }
        }
        Ok(())
    }

    fn entries_after(&mut self, after: u64, limit: u32, visit: Visit<'_>) -> Result<(), StoreError> {
        // Sequence numbers fit an i64; an `after` beyond them is after everything.
        let rows = self.client.query_raw(&self.after, [i64::try_from(after).unwrap_or(i64::MAX), i64::from(limit)]).map_err(pg)?;
        visit_rows(rows, visit)
    }

    fn checkpoints(&mut self) -> Result<Vec<CheckpointInfo>, StoreError> {
        // A store inspected before `migrate` may not have the table yet: no checkpoints.
        let exists: bool = self.client.query_one("SELECT to_regclass('register_checkpoint') IS NOT NULL", &[]).map_err(pg)?.get(0);
        if !exists {
            return Ok(Vec::new());
        }
        let rows = self
            .client
            .query("SELECT seq, head_hash, layout, size, hash, taken_at FROM register_checkpoint ORDER BY seq DESC", &[])
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|row| CheckpointInfo {
                seq: row.get::<_, i64>(0) as u64,
                head: read_hash(row.get::<_, &[u8]>(1)),
                layout: row.get(2),
                size: row.get::<_, i64>(3) as u64,
                hash: read_hash(row.get::<_, &[u8]>(4)),
                taken_at: ringfence_core::Timestamp::from_micros(row.get(5)),
            })
            .collect())
    }

    fn checkpoint_part(&mut self, seq: u64, part: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self
            .client
            .query_opt("SELECT bytes FROM register_checkpoint_part WHERE seq = $1 AND part = $2", &[&(seq as i64), &(part as i32)])
            .map_err(pg)?;
        Ok(row.map(|row| row.get(0)))
    }

    fn begin_checkpoint(&mut self, seq: u64) -> Result<(), StoreError> {
        self.client.batch_execute("BEGIN").map_err(pg)?;
        if let Err(error) = self.client.execute("DELETE FROM register_checkpoint_part WHERE seq = $1", &[&(seq as i64)]) {
            self.abort_checkpoint();
            return Err(pg(error));
        }
        Ok(())
    }

    fn put_checkpoint_part(&mut self, seq: u64, part: u32, bytes: &[u8]) -> Result<(), StoreError> {
        self.client
            .execute(
                "INSERT INTO register_checkpoint_part (seq, part, bytes) VALUES ($1, $2, $3)",
                &[&(seq as i64), &(part as i32), &bytes],
            )
            .map_err(pg)?;
        Ok(())
    }

    fn finish_checkpoint(&mut self, info: &CheckpointInfo, keep: u64) -> Result<(), StoreError> {
        let seq = info.seq as i64;
        self.client
            .execute(
                "INSERT INTO register_checkpoint (seq, head_hash, layout, size, hash, taken_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (seq) DO UPDATE SET head_hash = EXCLUDED.head_hash, layout = EXCLUDED.layout, size = EXCLUDED.size,
                     hash = EXCLUDED.hash, taken_at = EXCLUDED.taken_at",
                &[&seq, &info.head.as_slice(), &info.layout, &(info.size as i64), &info.hash.as_slice(), &info.taken_at.micros()],
            )
            .map_err(pg)?;
        // Only the newest `keep`: older ones would never be read.
        let oldest_kept = self
            .client
            .query_opt("SELECT seq FROM register_checkpoint ORDER BY seq DESC LIMIT 1 OFFSET $1", &[&(keep.saturating_sub(1) as i64)])
            .map_err(pg)?
            .map(|row| row.get::<_, i64>(0));
        if let Some(oldest) = oldest_kept {
            self.client.execute("DELETE FROM register_checkpoint WHERE seq < $1", &[&oldest]).map_err(pg)?;
            self.client.execute("DELETE FROM register_checkpoint_part WHERE seq < $1", &[&oldest]).map_err(pg)?;
        }
        self.client.batch_execute("COMMIT").map_err(pg)
    }

    fn abort_checkpoint(&mut self) {
        let _ = self.client.batch_execute("ROLLBACK");
    }

    fn discard_checkpoints(&mut self) -> Result<u64, StoreError> {
        let mut tx = self.client.transaction().map_err(pg)?;
        let discarded = tx.execute("DELETE FROM register_checkpoint", &[]).map_err(pg)?;
        tx.execute("DELETE FROM register_checkpoint_part", &[]).map_err(pg)?;
        tx.commit().map_err(pg)?;
        Ok(discarded)
    }

    fn posting_index_through(&mut self) -> Result<u64, StoreError> {
        let statement = self.prepared("SELECT through_seq FROM posting_index WHERE id = 0")?;
        let row = self.client.query_one(&statement, &[]).map_err(pg)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    fn posting_run_ends(&mut self) -> Result<Vec<u64>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT DISTINCT through_seq FROM posting_run WHERE through_seq <= (SELECT through_seq FROM posting_index WHERE id = 0) ORDER BY through_seq",
                &[],
            )
            .map_err(pg)?;
        Ok(rows.iter().map(|row| row.get::<_, i64>(0) as u64).collect())
    }

    fn posting_runs_ending(&mut self, through: u64, visit: RowVisit<'_>) -> Result<(), StoreError> {
        let rows = self
            .client
            .query("SELECT accounts, after_seq, bytes FROM posting_run WHERE through_seq = $1", &[&(through as i64)])
            .map_err(pg)?;
        for row in &rows {
            visit(row.get(0), row.get::<_, i64>(1) as u64, row.get(2))?;
        }
        Ok(())
    }

    fn reset_posting_index(&mut self) -> Result<u64, StoreError> {
        let mut tx = self.client.transaction().map_err(pg)?;
        // The journal's lock, then the index's, in the order every writer takes them.
        tx.batch_execute(
            "SELECT head_seq FROM chain_head WHERE id = 0 FOR UPDATE; SELECT through_seq FROM posting_index WHERE id = 0 FOR UPDATE",
        )
        .map_err(pg)?;
        tx.execute("DELETE FROM movement_run", &[]).map_err(pg)?;
        let runs = tx.execute("DELETE FROM posting_run", &[]).map_err(pg)?;
        tx.execute("UPDATE posting_index SET through_seq = 0 WHERE id = 0", &[]).map_err(pg)?;
        tx.commit().map_err(pg)?;
        Ok(runs)
    }

    fn index_postings(&mut self, through: u64, runs: RunSource<'_>) -> Result<u64, StoreError> {
        let mut tx = self.client.transaction().map_err(pg)?;
        // The journal's lock first, as every writer takes it (a batch moves the index too),
        // then the index's: a second process indexing waits, then sees the first's end.
        tx.execute("SELECT head_seq FROM chain_head WHERE id = 0 FOR UPDATE", &[]).map_err(pg)?;
        let indexed =
            tx.query_one("SELECT through_seq FROM posting_index WHERE id = 0 FOR UPDATE", &[]).map_err(pg)?.get::<_, i64>(0) as u64;
        if indexed >= through {
            tx.commit().map_err(pg)?;
            return Ok(indexed);
        }
        insert_runs(&mut tx, indexed, through, &runs(indexed)?)?;
        tx.commit().map_err(pg)?;
        Ok(through)
    }

    fn movement_run_ends(&mut self) -> Result<Vec<u64>, StoreError> {
        let rows = self.client.query("SELECT DISTINCT through_seq FROM movement_run ORDER BY through_seq", &[]).map_err(pg)?;
        Ok(rows.iter().map(|row| row.get::<_, i64>(0) as u64).collect())
    }

    fn movement_rows_ending(&mut self, through: u64, visit: RowVisit<'_>) -> Result<(), StoreError> {
        let rows = self.client.query("SELECT bucket, bytes FROM movement_run WHERE through_seq = $1", &[&(through as i64)]).map_err(pg)?;
        for row in rows {
            visit(row.get(0), through, row.get::<_, &[u8]>(1))?;
        }
        Ok(())
    }

    fn movement_rows(&mut self, bucket: i64, visit: BucketVisit<'_>) -> Result<(), StoreError> {
        self.visit_rows(
            "SELECT through_seq, bytes FROM movement_run WHERE bucket = $1 AND through_seq <= (SELECT through_seq FROM posting_index WHERE id = 0) ORDER BY through_seq DESC",
            &[&bucket],
            visit,
        )
    }

    fn posting_runs(&mut self, accounts: i64, floor: u64, after: u64, visit: RunVisit<'_>) -> Result<(), StoreError> {
        self.visit_rows(
            "SELECT after_seq, bytes FROM posting_run WHERE accounts = $1 AND through_seq <= $2 AND through_seq > $3 ORDER BY after_seq",
            &[&accounts, &(floor as i64), &(after as i64)],
            visit,
        )
    }

    fn sink(&self) -> Result<Box<dyn Sink>, StoreError> {
        let mut client = self.target.connect()?;
        let copy = client.prepare("COPY journal (seq, body, hash) FROM STDIN (FORMAT binary)").map_err(pg)?;
        Ok(Box::new(PostgresSink { client, copy, open: false }))
    }
}

/// Inserts the runs of entries `after + 1 ..= through` (binary COPY) and moves the index's end
/// to `through`, inside the caller's transaction.
fn insert_runs(client: &mut impl postgres::GenericClient, after: u64, through: u64, runs: &Runs) -> Result<(), StoreError> {
    let copy = client.copy_in("COPY posting_run (accounts, after_seq, through_seq, bytes) FROM STDIN (FORMAT binary)").map_err(pg)?;
    let mut writer = BinaryCopyInWriter::new(copy, &[Type::INT8, Type::INT8, Type::INT8, Type::BYTEA]);
    for (accounts, bytes) in runs.postings.iter() {
        writer.write(&[&accounts, &(after as i64), &(through as i64), &bytes]).map_err(pg)?;
    }
    writer.finish().map_err(pg)?;
    let copy = client.copy_in("COPY movement_run (bucket, through_seq, bytes) FROM STDIN (FORMAT binary)").map_err(pg)?;
    let mut writer = BinaryCopyInWriter::new(copy, &[Type::INT8, Type::INT8, Type::BYTEA]);
    for (bucket, bytes) in runs.movements.iter() {
        writer.write(&[&bucket, &(through as i64), &bytes]).map_err(pg)?;
    }
    writer.finish().map_err(pg)?;
    client.execute("UPDATE posting_index SET through_seq = $1 WHERE id = 0", &[&(through as i64)]).map_err(pg)?;
    Ok(())
}

/// The writer thread's session.
struct PostgresSink {
    client: Client,
    copy: Statement,
    /// A transaction is open on the session.
    open: bool,
}

impl PostgresSink {
    fn abort(&mut self) {
        if self.open {
            self.open = false;
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }
}

impl Sink for PostgresSink {
    fn begin(&mut self) -> Result<(), StoreError> {
        self.abort();
        // The row lock is held until COMMIT or ROLLBACK: the journal's write lock.
        self.client.batch_execute("BEGIN; SELECT head_seq FROM chain_head WHERE id = 0 FOR UPDATE").map_err(pg)?;
        self.open = true;
        Ok(())
    }

    fn insert(&mut self, rows: &Rows) -> Result<(), StoreError> {
        let writer = self.client.copy_in(&self.copy).map_err(pg)?;
        let mut writer = BinaryCopyInWriter::new(writer, &[Type::INT8, Type::BYTEA, Type::BYTEA]);
        for (seq, body, hash) in rows.iter() {
            writer.write(&[&(seq as i64), &body, &hash.as_slice()]).map_err(pg)?;
        }
        writer.finish().map_err(pg)?;
        Ok(())
    }

    fn commit(&mut self, head: Head, signature: Option<&CommitSignature>) -> Result<(), StoreError> {
        use ringfence_journal::hex;
        // Literal values (integers and hex) of our own making: one round trip for all.
        let signed = signature
            .map_or_else(String::new, |s| format!("UPDATE journal SET signature = '\\x{}' WHERE seq = {}; ", hex(&s.to_stored()), s.last));
        let sql =
            format!("{signed}UPDATE chain_head SET head_seq = {}, head_hash = '\\x{}' WHERE id = 0; COMMIT", head.seq, hex(&head.hash));
        let result = self.client.batch_execute(&sql).map_err(pg);
        if result.is_err() {
            self.abort();
        }
        self.open = false;
        result
    }

    fn rollback(&mut self) -> Result<(), StoreError> {
        self.abort();
        Ok(())
    }

    fn index(&mut self, after: u64, through: u64, runs: &Runs) -> Result<(), StoreError> {
        // The index's lock after the journal's, as every writer takes them.
        let indexed =
            self.client.query_one("SELECT through_seq FROM posting_index WHERE id = 0 FOR UPDATE", &[]).map_err(pg)?.get::<_, i64>(0);
        if indexed as u64 != after {
            return Err(crate::moved(indexed as u64, after));
        }
        insert_runs(&mut self.client, after, through, runs)
    }
}
