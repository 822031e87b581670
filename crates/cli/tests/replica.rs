//! Reads from a PostgreSQL hot standby (`--read-database-url`): a real streaming replica of the
//! test cluster (`pg_basebackup -R`, from `ringfence-testdb`), not a second connection to the
//! primary. Read-only commands answer from it, a write pointed at it is refused before
//! anything is decided, and `serve` on it answers the read routes, follows what the writer
//! commits and refuses every write.

#![allow(clippy::unwrap_used, reason = "a fixture or a tool that fails should fail the test at once")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ringfence");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/casp.jsonl");
const WAIT_MAX: Duration = Duration::from_secs(30);

fn ringfence(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RINGFENCE_DATA_DIR")
        .env_remove("RINGFENCE_DATABASE_URL")
        .env_remove("RINGFENCE_READ_DATABASE_URL")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn assert_code(output: &Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
}

/// `ringfence serve` killed when dropped.
struct Server {
    child: Child,
    address: SocketAddr,
    printed: Vec<String>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(args)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("RINGFENCE_DATA_DIR")
            .env_remove("RINGFENCE_DATABASE_URL")
            .env_remove("RINGFENCE_READ_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let printed: Vec<String> = lines.by_ref().take(2).map_while(Result::ok).collect();
        // The rest of what it prints is drained, so that a full pipe never stalls it.
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
        let first = printed.first().cloned().unwrap_or_default();
        let address = first.split_once(" on http://").and_then(|(_, rest)| rest.split_whitespace().next()).and_then(|a| a.parse().ok());
        let address = address.unwrap_or_else(|| panic!("the server printed {printed:?}, not its address"));
        Server { child, address, printed }
    }

    /// The status line and body of one request.
    fn request(&self, method: &str, path: &str, token: &str, body: &str) -> (String, String) {
        let mut stream = TcpStream::connect_timeout(&self.address, Duration::from_secs(5)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: replica-request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.address,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn read_only_commands_and_serve_read_a_hot_standby_and_every_write_to_it_is_refused() {
    let Some(standby) = ringfence_testdb::hot_standby() else {
        eprintln!("skipped: RINGFENCE_TEST_DATABASE_URL names an external server, of which no standby can be made here");
        return;
    };
    let primary = ringfence_testdb::server().fresh_database();
    let replica = standby.url_of(&primary);
    assert_code(&ringfence(&["--database-url", &primary, "init"]), 0);
    assert_code(&ringfence(&["--database-url", &primary, "import", "--quiet", EXAMPLE]), 0);
    let created = ringfence(&["--database-url", &primary, "token", "create", "--actor", "ops:replica", "--role", "operator,auditor"]);
    assert_code(&created, 0);
    let token = text(&created).lines().nth(1).unwrap().trim().to_owned();
    standby.wait_for_replay();

    // Every read-only command reads the standby and says what the primary says.
    let reads: [&[&str]; 5] = [
        &["balance", "--client", "client-1"],
        &["history", "--client", "client-1", "--limit", "3"],
        &["summary"],
        &["journal", "head"],
        &["token", "list"],
    ];
    for args in reads {
        let on_primary = ringfence(&[&["--database-url", &primary][..], args].concat());
        let on_replica =
            ringfence(&[&["--database-url", "postgres://nobody@127.0.0.1:1/none", "--read-database-url", &replica][..], args].concat());
        assert_code(&on_replica, 0);
        assert_eq!(text(&on_replica), text(&on_primary), "{args:?}");
    }
    let verify = ringfence(&["--read-database-url", &replica, "journal", "verify"]);
    assert_code(&verify, 0);
    assert!(text(&verify).contains("journal intact: 27 entries"), "{}", text(&verify));

    // A command that writes, pointed at the standby, is refused before anything is decided.
    let refused = ringfence(&["--database-url", &replica, "import", EXAMPLE]);
    assert_code(&refused, 2);
    assert!(text(&refused).contains("is a PostgreSQL hot standby") && text(&refused).contains("--read-database-url"), "{}", text(&refused));
    // Asking the read-only server to run reconciliations is refused at start.
    let daily = ringfence(&["--read-database-url", &replica, "serve", "--listen", "127.0.0.1:0", "--recon-daily", "02:00"]);
    assert_code(&daily, 2);
    assert!(text(&daily).contains("give them to the writer's server"), "{}", text(&daily));

    let server = Server::start(&["--read-database-url", &replica]);
    assert!(server.printed.iter().any(|line| line.starts_with("read-only:")), "{:?}", server.printed);
    let (status, body) = server.request("GET", "/v1/balances?client=client-1", &token, "");
    assert!(status.contains(" 200 "), "{status} {body}");
    let (status, body) = server.request(
        "POST",
        "/v1/movements",
        &token,
        r#"{"type":"deposit","client":"client-1","wallet":"omnibus-hot","asset":"eip155:1/slip44:60","amount":"1000"}"#,
    );
    assert!(status.contains(" 503 ") && body.contains("\"read_only\""), "{status} {body}");
    let (status, body) = server.request("POST", "/v1/recon/runs", &token, "{}");
    assert!(status.contains(" 503 ") && body.contains("\"read_only\""), "{status} {body}");

    // What the writer commits reaches the read-only server through the standby.
    let line = r#"{"type":"deposit","key":"after-the-replica-started","client":"client-2","wallet":"omnibus-hot","asset":"eip155:1/slip44:60","amount":"7","actor":"ops:replica","effective_at":"2026-02-01T00:00:00Z"}"#;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{line}\n")).unwrap();
    assert_code(&ringfence(&["--database-url", &primary, "import", "--quiet", file.path().to_str().unwrap()]), 0);
    let head = text(&ringfence(&["--database-url", &primary, "journal", "head"]));
    let seq = head.split_whitespace().next().unwrap().to_owned();
    let deadline = Instant::now() + WAIT_MAX;
    loop {
        let (status, body) = server.request("GET", "/v1/history?client=client-2&limit=100", &token, "");
        if status.contains(" 200 ") && body.contains("after-the-replica-started") {
            break;
        }
        assert!(Instant::now() < deadline, "the read-only server did not show entry {seq} within {WAIT_MAX:?}: {status} {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Nothing was recorded through the read-only server: the primary has only its own entries.
    let primary_history = text(&ringfence(&["--database-url", &primary, "history", "--client", "client-1", "--limit", "100"]));
    assert!(!primary_history.contains("replica-"), "{primary_history}");
}
