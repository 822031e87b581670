//! Throwaway PostgreSQL servers for ringfence's tests: one cluster per test process, started on
//! first use and removed after the process exits, so the test suite needs nothing running beforehand.
//!
//! Environment:
//! - `RINGFENCE_TEST_DATABASE_URL` (`postgres://user[:password]@host:port[/db][?options]`): use that
//!   server instead of starting one; each test still gets a fresh database on it.
//! - `RINGFENCE_PG_BIN`: the directory holding `initdb` and `postgres`; otherwise `initdb` on `PATH`,
//!   otherwise the highest version under `/usr/lib/postgresql/*/bin` (the Debian package `postgresql`).
//!
//! Teardown: Rust's test harness never drops statics, so the cluster is owned by a small watchdog
//! shell instead. Its stdin is a pipe whose only write end this process holds and never closes; when
//! the process exits, however it exits, the kernel closes that end, the watchdog reads end-of-file,
//! stops PostgreSQL (fast shutdown) and deletes the cluster's directory.
//!
//! When this process runs as root, `initdb` and the watchdog run as the OS user `postgres` through
//! `runuser`, because PostgreSQL refuses to run as root; the temporary directory (`TMPDIR` or
//! `/tmp`) must then let that user create and delete entries, as `/tmp` does.
//!
//! Unix only: it relies on `sh`, process groups and Unix pipes.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use postgres::{Client, NoTls};

const DATABASE_URL_VARIABLE: &str = "RINGFENCE_TEST_DATABASE_URL";
const PG_BIN_VARIABLE: &str = "RINGFENCE_PG_BIN";
const DEBIAN_PG_ROOT: &str = "/usr/lib/postgresql";
const INSTALL_HINT: &str = "install the Debian package postgresql (apt-get install -y postgresql)";

/// The cluster's superuser, and also the OS user that runs the cluster when this process is root.
const SUPERUSER: &str = "postgres";
const MAINTENANCE_DATABASE: &str = "postgres";

const READINESS_WAIT_MAX: Duration = Duration::from_secs(30);
const READINESS_POLL_INTERVAL: Duration = Duration::from_millis(50);
const LOG_TAIL_LINES_MAX: usize = 40;

const LOG_FILE_NAME: &str = "server.log";
const DATA_DIRECTORY_NAME: &str = "data";
/// Written by the watchdog when PostgreSQL exits, so that a failed start is reported at once
/// instead of after the whole readiness wait.
const EXITED_MARKER_NAME: &str = "postgres.exited";

/// Arguments: `$1` the postgres binary, `$2` the data directory, `$3` the port, `$4` the cluster
/// directory (sockets, log, marker; removed at the end).
///
/// stdin (the lifeline) is moved to fd 3 because POSIX shells give background jobs `/dev/null` as
/// stdin. The lifeline reader checks the marker before signalling so that it does not signal a
/// pid that may have been reused after an early exit. The directory is removed only after the
/// test process is gone, so a test that panics on a failed start can still read the log.
const WATCHDOG_SCRIPT: &str = r#"
exec 3<&0 </dev/null
"$1" -D "$2" -p "$3" -k "$4" \
    -c listen_addresses=127.0.0.1 \
    -c fsync=on -c synchronous_commit=on \
    -c max_connections=200 -c shared_buffers=256MB 3<&- &
postgres_pid=$!
{ read -r _ <&3; [ -e "$4/postgres.exited" ] || kill -INT "$postgres_pid"; } &
lifeline_pid=$!
exec 3<&-
wait "$postgres_pid"
: > "$4/postgres.exited"
wait "$lifeline_pid"
rm -rf "$4"
"#;

/// The server all tests of this process use: a throwaway cluster started on first use, or the
/// server named by `RINGFENCE_TEST_DATABASE_URL` when that variable is set (then nothing is started).
///
/// # Panics
/// When no server can be had (no PostgreSQL binaries, `initdb` failed, the server did not come
/// up, a malformed `RINGFENCE_TEST_DATABASE_URL`), with a message saying why; every later call
/// panics with the same message rather than trying again.
pub fn server() -> &'static Server {
    // The error is kept too, so that one broken setup costs one start attempt, not one per test.
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    match SERVER.get_or_init(Server::open) {
        Ok(server) => server,
        Err(message) => panic!("ringfence-testdb could not provide a PostgreSQL server: {message}"),
    }
}

/// A PostgreSQL server that hands out fresh databases; see [`server`].
#[derive(Debug)]
pub struct Server {
    /// `postgres://user[:password]@host:port`; a database name goes after it.
    url_base: String,
    /// `?options` from `RINGFENCE_TEST_DATABASE_URL` (or empty), repeated on every database's URL.
    url_query: String,
    /// Unique to this process and start time, so that databases left on a shared server by an
    /// earlier run (whose pid may be reused) never collide.
    database_name_prefix: String,
    database_count: AtomicU64,
    /// `None` for a server named by `RINGFENCE_TEST_DATABASE_URL`.
    cluster: Option<Cluster>,
}

#[derive(Debug)]
struct Cluster {
    directory: PathBuf,
    bin: PathBuf,
    run_as: RunAs,
    port: u16,
    /// Never written, never dropped (the server is a static): the watchdog stops the cluster when
    /// this end closes, which happens exactly when this process exits.
    _lifeline: ChildStdin,
}

/// Which OS user runs PostgreSQL's programs.
#[derive(Debug, Clone, Copy)]
enum RunAs {
    CurrentUser,
    /// Through `runuser`, because `initdb` and `postgres` refuse to run as root.
    PostgresUser,
}

impl Server {
    /// A URL (`postgres://user@127.0.0.1:PORT/DB`) of a brand-new empty database on this server,
    /// unique within the process and across processes: each test gets its own.
    ///
    /// # Panics
    /// When the server refuses the connection or the `CREATE DATABASE`.
    pub fn fresh_database(&self) -> String {
        let number = self.database_count.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}_{number}", self.database_name_prefix);
        let mut admin = Client::connect(&self.admin_url(), NoTls).unwrap_or_else(|error| {
            panic!(
                "could not connect to the test server's maintenance database to create {name}: {}{}",
                error_chain(&error),
                self.log_hint()
            )
        });
        // The name is built from digits, lowercase letters and underscores only, so it needs no quoting.
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|error| panic!("could not create the test database {name}: {}{}", error_chain(&error), self.log_hint()));
        self.database_url(&name)
    }

    /// Waits until no session but this one is connected to the database at `database_url`.
    ///
    /// A client killed with SIGKILL leaves its server process running until that process
    /// notices the closed socket: a `COMMIT` already sent still commits after the kill. A test
    /// that checks the store after killing a client waits here first, so that what it reads
    /// is final.
    ///
    /// # Panics
    /// When the database cannot be reached, or other sessions remain after 30 seconds.
    pub fn wait_for_other_sessions_to_end(&self, database_url: &str) {
        let mut client = Client::connect(database_url, NoTls)
            .unwrap_or_else(|error| panic!("could not connect to {database_url}: {}{}", error_chain(&error), self.log_hint()));
        let started = std::time::Instant::now();
        loop {
            let others: i64 = client
                .query_one("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", &[])
                .unwrap_or_else(|error| panic!("could not list the sessions of {database_url}: {}", error_chain(&error)))
                .get(0);
            if others == 0 {
                return;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "{others} other sessions are still connected to {database_url} after 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// The URL of the server's maintenance database (`postgres`), e.g. to create databases or schemas.
    pub fn admin_url(&self) -> String {
        self.database_url(MAINTENANCE_DATABASE)
    }

    fn database_url(&self, database: &str) -> String {
        format!("{}/{database}{}", self.url_base, self.url_query)
    }

    fn log_hint(&self) -> String {
        match &self.cluster {
            Some(cluster) => format!("; the server log is {}", cluster.directory.join(LOG_FILE_NAME).display()),
            None => format!(" (the server is the one named by {DATABASE_URL_VARIABLE})"),
        }
    }

    fn open() -> Result<Server, String> {
        let tag = process_tag();
        let database_name_prefix = format!("ringfence_test_{tag}");
        match std::env::var_os(DATABASE_URL_VARIABLE).filter(|url| !url.is_empty()) {
            Some(url) => {
                let url = url.to_str().ok_or_else(|| format!("{DATABASE_URL_VARIABLE} is not valid UTF-8"))?;
                let (url_base, url_query) = split_server_url(url)?;
                Ok(Server { url_base, url_query, database_name_prefix, database_count: AtomicU64::new(0), cluster: None })
            }
            None => {
                let directory = std::env::temp_dir().join(format!("ringfence-testdb-{tag}"));
                start_cluster(directory, database_name_prefix)
            }
        }
    }

    /// Polls rather than sleeping a fixed time: startup takes from a few milliseconds to seconds.
    fn wait_until_ready(&self, directory: &Path) -> Result<(), String> {
        let deadline = Instant::now() + READINESS_WAIT_MAX;
        loop {
            let error = match Client::connect(&self.admin_url(), NoTls) {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            if directory.join(EXITED_MARKER_NAME).exists() {
                return Err(format!(
                    "PostgreSQL exited while starting (last connection error: {}){}",
                    error_chain(&error),
                    log_tail(directory)
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "PostgreSQL did not accept connections within {READINESS_WAIT_MAX:?} (last connection error: {}){}",
                    error_chain(&error),
                    log_tail(directory)
                ));
            }
            std::thread::sleep(READINESS_POLL_INTERVAL);
        }
    }
}

/// `{pid}_{start time in hex nanoseconds}`: the pid separates concurrent processes, the time
/// separates a process from an earlier one that had the same pid.
fn process_tag() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos());
    format!("{}_{nanos:x}", std::process::id())
}

/// Splits `postgres://authority[/database][?options]` into `postgres://authority` and `?options`.
fn split_server_url(url: &str) -> Result<(String, String), String> {
    let after_scheme = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://")).ok_or_else(|| {
        format!("{DATABASE_URL_VARIABLE} must be a URL like postgres://user:password@host:5432 (the key=value form is not supported)")
    })?;
    let scheme_length = url.len() - after_scheme.len();
    let authority_length = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
    if authority_length == 0 {
        return Err(format!("{DATABASE_URL_VARIABLE} names no host; give one, e.g. postgres://postgres@127.0.0.1:5432"));
    }
    let query = after_scheme.find('?').map_or("", |start| &after_scheme[start..]);
    Ok((url[..scheme_length + authority_length].to_owned(), query.to_owned()))
}

fn start_cluster(directory: PathBuf, database_name_prefix: String) -> Result<Server, String> {
    let bin = find_bin_directory()?;
    let run_as = if running_as_root() { RunAs::PostgresUser } else { RunAs::CurrentUser };
    // create_dir, not create_dir_all: the directory must be new, never someone else's.
    fs::create_dir(&directory).map_err(|error| format!("could not create the cluster directory {}: {error}", directory.display()))?;
    let started = spawn_cluster(&bin, run_as, &directory);
    let lifeline = match started {
        Ok(lifeline) => lifeline,
        Err(message) => {
            // No watchdog owns the directory yet; leave nothing behind.
            let _ = fs::remove_dir_all(&directory);
            return Err(message);
        }
    };
    let port = lifeline.port;
    let server = Server {
        url_base: format!("postgres://{SUPERUSER}@127.0.0.1:{port}"),
        url_query: String::new(),
        database_name_prefix,
        database_count: AtomicU64::new(0),
        cluster: Some(Cluster { directory: directory.clone(), bin, run_as, port, _lifeline: lifeline.stdin }),
    };
    server.wait_until_ready(&directory)?;
    Ok(server)
}

/// A hot standby of the throwaway cluster: `pg_basebackup -R` of it, started in standby mode on
/// its own loopback port, streaming the primary's WAL. Started on first use and removed after
/// the process exits, as the primary is. `None` when the primary is the server named by
/// `RINGFENCE_TEST_DATABASE_URL` (nothing here can make a standby of it).
///
/// # Panics
/// When the standby cannot be made or does not come up, with why.
pub fn hot_standby() -> Option<&'static Standby> {
    static STANDBY: OnceLock<Result<Option<Standby>, String>> = OnceLock::new();
    match STANDBY.get_or_init(|| Standby::start(server())) {
        Ok(standby) => standby.as_ref(),
        Err(message) => panic!("ringfence-testdb could not start a hot standby: {message}"),
    }
}

/// A read-only replica of the test server; see [`hot_standby`].
#[derive(Debug)]
pub struct Standby {
    url_base: String,
    primary_admin_url: String,
    _cluster: Cluster,
}

impl Standby {
    fn start(primary: &Server) -> Result<Option<Standby>, String> {
        let Some(cluster) = &primary.cluster else { return Ok(None) };
        let directory = std::env::temp_dir().join(format!("ringfence-testdb-standby-{}", process_tag()));
        fs::create_dir(&directory).map_err(|error| format!("could not create the standby directory {}: {error}", directory.display()))?;
        let log_path = directory.join(LOG_FILE_NAME);
        let log = File::create(&log_path).map_err(|error| format!("could not create the standby log {}: {error}", log_path.display()))?;
        if let RunAs::PostgresUser = cluster.run_as {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg(format!("{SUPERUSER}:")).arg(&directory);
            run_to_completion(&mut chown, "chown (handing the standby directory to the postgres user)")?;
        }
        let data = directory.join(DATA_DIRECTORY_NAME);
        // -R writes standby.signal and primary_conninfo: the copy starts as a streaming standby.
        let mut backup = command_as(cluster.run_as, sibling_program(&cluster.bin, "pg_basebackup"));
        backup
            .arg("-h")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(cluster.port.to_string())
            .args(["-U", SUPERUSER, "-R", "-X", "stream", "--no-sync", "-c", "fast", "-D"])
            .arg(&data);
        if let Err(message) = run_to_completion(&mut backup, "pg_basebackup (copying the primary for a hot standby)") {
            let _ = fs::remove_dir_all(&directory);
            return Err(message);
        }
        let port = free_loopback_port()?;
        let stdin = spawn_watchdog(&cluster.bin, cluster.run_as, &directory, &data, port, log)?;
        let standby = Standby {
            url_base: format!("postgres://{SUPERUSER}@127.0.0.1:{port}"),
            primary_admin_url: primary.admin_url(),
            _cluster: Cluster { directory: directory.clone(), bin: cluster.bin.clone(), run_as: cluster.run_as, port, _lifeline: stdin },
        };
        let deadline = Instant::now() + READINESS_WAIT_MAX;
        let admin = format!("{}/{MAINTENANCE_DATABASE}", standby.url_base);
        loop {
            match Client::connect(&admin, NoTls) {
                Ok(_) => return Ok(Some(standby)),
                Err(error) if Instant::now() >= deadline || directory.join(EXITED_MARKER_NAME).exists() => {
                    return Err(format!(
                        "the standby did not come up (last connection error: {}){}",
                        error_chain(&error),
                        log_tail(&directory)
                    ));
                }
                Err(_) => std::thread::sleep(READINESS_POLL_INTERVAL),
            }
        }
    }

    /// The URL on the standby of the database that `primary_database_url` (from
    /// [`Server::fresh_database`]) names: the same database, as the standby replays it.
    pub fn url_of(&self, primary_database_url: &str) -> String {
        let database = primary_database_url.rsplit('/').next().unwrap_or(MAINTENANCE_DATABASE);
        format!("{}/{database}", self.url_base)
    }

    /// Waits until the standby has replayed everything the primary had written when this was
    /// called.
    ///
    /// # Panics
    /// When either server cannot be queried, or the standby is not there after 30 seconds.
    pub fn wait_for_replay(&self) {
        let mut primary =
            Client::connect(&self.primary_admin_url, NoTls).unwrap_or_else(|error| panic!("primary: {}", error_chain(&error)));
        let lsn: String = primary.query_one("SELECT pg_current_wal_lsn()::text", &[]).expect("the primary's WAL position").get(0);
        let mut standby = Client::connect(&format!("{}/{MAINTENANCE_DATABASE}", self.url_base), NoTls)
            .unwrap_or_else(|error| panic!("standby: {}", error_chain(&error)));
        let started = Instant::now();
        loop {
            let replayed: bool = standby
                .query_one("SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)", &[&lsn])
                .expect("the standby's replay position")
                .get(0);
            if replayed {
                return;
            }
            assert!(started.elapsed() < READINESS_WAIT_MAX, "the standby had not replayed the primary's WAL up to {lsn} after 30 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

struct Started {
    port: u16,
    stdin: ChildStdin,
}

/// Runs `initdb` and starts the watchdog, which starts PostgreSQL; does not wait for it.
fn spawn_cluster(bin: &Path, run_as: RunAs, directory: &Path) -> Result<Started, String> {
    let log_path = directory.join(LOG_FILE_NAME);
    let log = File::create(&log_path).map_err(|error| format!("could not create the server log {}: {error}", log_path.display()))?;
    if let RunAs::PostgresUser = run_as {
        let mut chown = Command::new("chown");
        chown.arg("-R").arg(format!("{SUPERUSER}:")).arg(directory);
        run_to_completion(&mut chown, "chown (handing the cluster directory to the postgres user, since this process runs as root)")?;
    }
    let data = directory.join(DATA_DIRECTORY_NAME);
    let mut initdb = command_as(run_as, bin.join("initdb"));
    initdb.arg("-D").arg(&data).args(["-A", "trust", "-U", SUPERUSER, "--no-sync", "-E", "UTF8", "--locale=C"]);
    run_to_completion(&mut initdb, "initdb")?;
    let port = free_loopback_port()?;
    let stdin = spawn_watchdog(bin, run_as, directory, &data, port, log)?;
    Ok(Started { port, stdin })
}

/// Starts the watchdog shell, which starts PostgreSQL on `data` and `port`; returns its lifeline.
fn spawn_watchdog(bin: &Path, run_as: RunAs, directory: &Path, data: &Path, port: u16, log: File) -> Result<ChildStdin, String> {
    let log_for_stderr = log.try_clone().map_err(|error| format!("could not reopen the server log: {error}"))?;
    let mut watchdog = command_as(run_as, "sh");
    watchdog
        .arg("-c")
        .arg(WATCHDOG_SCRIPT)
        .arg("ringfence-testdb-watchdog")
        .arg(bin.join("postgres"))
        .arg(data)
        .arg(port.to_string())
        .arg(directory)
        .stdin(Stdio::piped())
        // Never the test's own stdout/stderr: a pipe held open by the watchdog would keep whoever
        // reads the test's output (cargo, CI) waiting.
        .stdout(log)
        .stderr(log_for_stderr)
        // Out of the terminal's process group, so that Ctrl-C on the tests does not kill the
        // watchdog before it has cleaned up.
        .process_group(0);
    let mut child = watchdog.spawn().map_err(|error| format!("could not start the watchdog shell (sh): {error}"))?;
    let stdin = child.stdin.take().expect("the watchdog's stdin was configured as a pipe");
    // The child handle is dropped without waiting: the watchdog must outlive this process.
    Ok(stdin)
}

/// `program` beside the server binaries: in `bin`, or beside what its `initdb` links to (an
/// initdb linked into `/usr/local/bin` has the client programs in its real directory).
fn sibling_program(bin: &Path, program: &str) -> PathBuf {
    let direct = bin.join(program);
    if direct.is_file() {
        return direct;
    }
    fs::canonicalize(bin.join("initdb"))
        .ok()
        .and_then(|initdb| initdb.parent().map(|directory| directory.join(program)))
        .filter(|linked| linked.is_file())
        .unwrap_or(direct)
}

fn command_as(run_as: RunAs, program: impl AsRef<OsStr>) -> Command {
    match run_as {
        RunAs::CurrentUser => Command::new(program),
        RunAs::PostgresUser => {
            let mut command = Command::new("runuser");
            command.args(["-u", SUPERUSER, "--"]).arg(program);
            command
        }
    }
}

fn run_to_completion(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("could not run {what} (program {}): {error}", Path::new(command.get_program()).display()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// The port is free when this returns but not reserved; another process could take it before
/// PostgreSQL binds it, which then shows as a failed start with "could not bind" in the log.
fn free_loopback_port() -> Result<u16, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|error| format!("could not bind a loopback port: {error}"))?;
    let address = listener.local_addr().map_err(|error| format!("could not read the bound loopback port: {error}"))?;
    Ok(address.port())
}

fn find_bin_directory() -> Result<PathBuf, String> {
    if let Some(directory) = std::env::var_os(PG_BIN_VARIABLE).filter(|directory| !directory.is_empty()) {
        let directory = PathBuf::from(directory);
        if holds_server_binaries(&directory) {
            return Ok(directory);
        }
        return Err(format!(
            "{PG_BIN_VARIABLE}={} holds no initdb and postgres; point it at a PostgreSQL bin directory such as {DEBIAN_PG_ROOT}/15/bin",
            directory.display()
        ));
    }
    bin_directory_on_path().or_else(highest_debian_bin_directory).ok_or_else(|| {
        format!(
            "found no PostgreSQL server binaries ({PG_BIN_VARIABLE} is unset, initdb is not on PATH, {DEBIAN_PG_ROOT}/*/bin has none); \
             {INSTALL_HINT} or set {PG_BIN_VARIABLE} to a directory holding initdb and postgres"
        )
    })
}

fn holds_server_binaries(directory: &Path) -> bool {
    directory.join("initdb").is_file() && directory.join("postgres").is_file()
}

fn bin_directory_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|directory| {
        let initdb = directory.join("initdb");
        if !initdb.is_file() {
            return None;
        }
        // An initdb linked into PATH (e.g. /usr/local/bin) may have no postgres beside it; the
        // directory it links to has both.
        let linked_directory = fs::canonicalize(&initdb).ok().and_then(|target| target.parent().map(Path::to_path_buf));
        [Some(directory), linked_directory].into_iter().flatten().find(|candidate| holds_server_binaries(candidate))
    })
}

fn highest_debian_bin_directory() -> Option<PathBuf> {
    fs::read_dir(DEBIAN_PG_ROOT)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = parse_version(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            holds_server_binaries(&bin).then_some((version, bin))
        })
        .max_by(|(left, _), (right, _)| left.cmp(right))
        .map(|(_, bin)| bin)
}

/// `"9.6"` → `[9, 6]`, `"15"` → `[15]`: compared as numbers, so 10 sorts above 9.6.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn running_as_root() -> bool {
    effective_uid_from_proc().or_else(effective_uid_from_id).is_some_and(|uid| uid == 0)
}

/// The second field of `Uid:` is the effective uid, the one that decides what initdb may do.
fn effective_uid_from_proc() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let uids = status.lines().find_map(|line| line.strip_prefix("Uid:"))?;
    uids.split_whitespace().nth(1)?.parse().ok()
}

/// For systems without /proc.
fn effective_uid_from_id() -> Option<u32> {
    let output = Command::new("id").arg("-u").stdin(Stdio::null()).output().ok()?;
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

/// The error and its causes: `postgres::Error` alone says only "error connecting to server",
/// its source says why (e.g. connection refused).
fn error_chain(error: &postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn log_tail(directory: &Path) -> String {
    let log_path = directory.join(LOG_FILE_NAME);
    match fs::read(&log_path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES_MAX)..].join("\n");
            format!("; the end of the server log {}:\n{tail}", log_path.display())
        }
        Err(error) => format!("; the server log {} could not be read: {error}", log_path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(url: &str) -> Client {
        Client::connect(url, NoTls).expect("a URL handed out by the test server accepts connections")
    }

    fn current_database(client: &mut Client) -> String {
        client.query_one("SELECT current_database()", &[]).expect("current_database() can be queried").get(0)
    }

    fn table_exists(client: &mut Client, table: &str) -> bool {
        client
            .query_one("SELECT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = $1)", &[&table])
            .expect("pg_tables can be queried")
            .get(0)
    }

    #[test]
    fn server_is_shared_by_the_whole_process() {
        assert!(std::ptr::eq(server(), server()));
    }

    #[test]
    fn fresh_databases_are_distinct_and_usable() {
        let first_url = server().fresh_database();
        let second_url = server().fresh_database();
        assert_ne!(first_url, second_url);

        let mut first = connect(&first_url);
        let mut second = connect(&second_url);
        assert_ne!(current_database(&mut first), current_database(&mut second));
        assert!(first_url.ends_with(&current_database(&mut first)));
        assert!(second_url.ends_with(&current_database(&mut second)));

        first.batch_execute("CREATE TABLE only_in_first (id bigint PRIMARY KEY)").expect("a fresh database accepts CREATE TABLE");
        second.batch_execute("CREATE TABLE only_in_second (id bigint PRIMARY KEY)").expect("a fresh database accepts CREATE TABLE");
        assert!(table_exists(&mut first, "only_in_first"));
        assert!(!table_exists(&mut first, "only_in_second"));
        assert!(table_exists(&mut second, "only_in_second"));
        assert!(!table_exists(&mut second, "only_in_first"));
    }

    #[test]
    fn admin_url_names_the_maintenance_database() {
        let mut admin = connect(&server().admin_url());
        assert_eq!(current_database(&mut admin), MAINTENANCE_DATABASE);
    }

    /// The crash tests rely on committed data surviving a kill of the server.
    #[test]
    fn server_writes_durably() {
        let mut admin = connect(&server().admin_url());
        for setting in ["fsync", "synchronous_commit"] {
            let value: String = admin.query_one(&format!("SHOW {setting}"), &[]).expect("SHOW works").get(0);
            assert_eq!(value, "on", "{setting}");
        }
    }

    #[test]
    fn server_url_keeps_credentials_and_options_but_not_the_database() {
        let (base, query) = split_server_url("postgres://ringfence:secret@db.example:6543/app?connect_timeout=5").expect("a valid URL");
        assert_eq!(base, "postgres://ringfence:secret@db.example:6543");
        assert_eq!(query, "?connect_timeout=5");

        let (base, query) = split_server_url("postgresql://postgres@127.0.0.1:5432").expect("a valid URL");
        assert_eq!(base, "postgresql://postgres@127.0.0.1:5432");
        assert_eq!(query, "");

        let (base, query) = split_server_url("postgres://postgres@localhost?sslmode=disable").expect("a valid URL");
        assert_eq!(base, "postgres://postgres@localhost");
        assert_eq!(query, "?sslmode=disable");
    }

    #[test]
    fn server_url_in_key_value_form_or_without_host_is_rejected() {
        assert!(split_server_url("host=127.0.0.1 user=postgres").is_err());
        assert!(split_server_url("postgres:///app").is_err());
        assert!(split_server_url("mysql://root@127.0.0.1/app").is_err());
    }

    #[test]
    fn watchdog_writes_the_marker_that_readiness_looks_for() {
        assert!(WATCHDOG_SCRIPT.contains(&format!("\"$4/{EXITED_MARKER_NAME}\"")));
    }

    #[test]
    fn hot_standby_replays_the_primary_and_refuses_writes() {
        let Some(standby) = hot_standby() else {
            eprintln!("skipped: {DATABASE_URL_VARIABLE} names an external server, of which no standby can be made here");
            return;
        };
        let primary_url = server().fresh_database();
        connect(&primary_url)
            .batch_execute("CREATE TABLE replicated (id bigint PRIMARY KEY); INSERT INTO replicated VALUES (7)")
            .expect("the primary takes writes");
        standby.wait_for_replay();
        let mut replica = connect(&standby.url_of(&primary_url));
        let id: i64 = replica.query_one("SELECT id FROM replicated", &[]).expect("the standby has the table").get(0);
        assert_eq!(id, 7);
        let in_recovery: bool = replica.query_one("SELECT pg_is_in_recovery()", &[]).expect("pg_is_in_recovery()").get(0);
        assert!(in_recovery);
        let refused = replica.batch_execute("INSERT INTO replicated VALUES (8)").expect_err("a hot standby takes no writes");
        assert!(error_chain(&refused).contains("read-only"), "{}", error_chain(&refused));
    }

    #[test]
    fn versions_compare_as_numbers() {
        let mut versions: Vec<Vec<u32>> = ["15", "9.6", "10", "16"].into_iter().filter_map(parse_version).collect();
        versions.sort();
        assert_eq!(versions, [vec![9, 6], vec![10], vec![15], vec![16]]);
        assert_eq!(parse_version("15~beta"), None);
    }
}
