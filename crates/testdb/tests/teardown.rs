//! Checks that a started cluster goes away with the test process that started it: the server
//! stops and its directory is removed, though the test harness never drops statics.
//!
//! The test runs this same binary again as a child that starts a cluster and exits, with its own
//! temporary directory so that what the cluster leaves behind can be seen.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set in the child: start a cluster, print its admin URL, exit.
const CHILD_VARIABLE: &str = "RINGFENCE_TESTDB_TEARDOWN_CHILD";
const ADMIN_URL_PREFIX: &str = "ringfence-testdb-admin-url=";
/// Shutdown is a checkpoint with fsync on, then a recursive delete: well under this.
const TEARDOWN_WAIT_MAX: Duration = Duration::from_secs(30);
const TEARDOWN_POLL_INTERVAL: Duration = Duration::from_millis(50);

#[test]
fn cluster_is_stopped_and_removed_after_the_test_process_exits() {
    if std::env::var_os(CHILD_VARIABLE).is_some() {
        // On a line of its own: the harness prints the test's name on the line before, unended.
        println!("\n{ADMIN_URL_PREFIX}{}", ringfence_testdb::server().admin_url());
        return;
    }

    let temporary = std::env::temp_dir().join(format!("ringfence-testdb-teardown-{}", std::process::id()));
    std::fs::create_dir(&temporary).expect("the test's temporary directory can be created");
    // Like /tmp, so that the cluster's owner can delete its directory when the child runs as root
    // and the cluster as the postgres user.
    std::fs::set_permissions(&temporary, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
        .expect("the test's temporary directory can be opened to all users");

    // Piped output also checks that the watchdog does not hold the child's stdout open: if it did,
    // output() would not return until the watchdog ended.
    let child = Command::new(std::env::current_exe().expect("the test binary knows its path"))
        .args(["--exact", "cluster_is_stopped_and_removed_after_the_test_process_exits", "--nocapture", "--test-threads=1"])
        .env(CHILD_VARIABLE, "1")
        .env("TMPDIR", &temporary)
        .env_remove("RINGFENCE_TEST_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("the child test process runs");
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(child.status.success(), "the child failed:\n{stdout}\n{}", String::from_utf8_lossy(&child.stderr));
    let admin_url = stdout
        .lines()
        .find_map(|line| line.split_once(ADMIN_URL_PREFIX).map(|(_, url)| url))
        .unwrap_or_else(|| panic!("the child printed no admin URL:\n{stdout}"))
        .to_owned();

    let deadline = Instant::now() + TEARDOWN_WAIT_MAX;
    while postgres::Client::connect(&admin_url, postgres::NoTls).is_ok() || !is_empty(&temporary) {
        assert!(
            Instant::now() < deadline,
            "{TEARDOWN_WAIT_MAX:?} after the child exited its cluster still runs or {} still holds {:?}",
            temporary.display(),
            entries(&temporary)
        );
        std::thread::sleep(TEARDOWN_POLL_INTERVAL);
    }
    std::fs::remove_dir(&temporary).expect("the test's temporary directory is empty and can be removed");
}

fn entries(directory: &Path) -> Vec<String> {
    std::fs::read_dir(directory)
        .expect("the test's temporary directory can be listed")
        .map(|entry| entry.expect("a directory entry can be read").file_name().to_string_lossy().into_owned())
        .collect()
}

fn is_empty(directory: &Path) -> bool {
    entries(directory).is_empty()
}
