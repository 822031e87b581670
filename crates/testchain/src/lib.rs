//! Throwaway Ethereum nodes for ringfence's tests: a real anvil (the npm package
//! `@foundry-rs/anvil-linux-amd64`) with unlocked, funded dev accounts, and the real compiled
//! `ERC20PresetMinterPauser` of `@openzeppelin/contracts@4.9.6` to deploy on it.
//!
//! Environment (exported by `scripts/test`, which installs both packages with npm under `target/`):
//! - `RINGFENCE_ANVIL`: the anvil binary.
//! - `RINGFENCE_OZ_CONTRACTS`: OpenZeppelin's `build/contracts` directory.
//!
//! Without them [`anvil`] prints a skip naming `scripts/test` and returns `None`, except when `CI`
//! is set: then it panics, so that a CI run can never pass by skipping the chain tests.
//!
//! Unlike `ringfence-testdb`, which shares one server per test process, every [`Node`] is its own
//! anvil: snapshots, reverts, mining and stopping act on the whole node, so tests running in
//! parallel threads must not share one. A node starts in well under a second.
//!
//! Teardown: each node is owned by a small watchdog shell whose stdin is a pipe only the [`Node`]
//! holds. Dropping the node, or the test process exiting however it exits, closes that pipe; the
//! watchdog then stops anvil and deletes the node's directory. The same shell starts and stops
//! anvil on request ([`Node::stop`], [`Node::restart`]) and, being anvil's parent, never signals
//! a process that is not its own child.
//!
//! Unix only: it relies on `sh`, process groups and Unix pipes.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

const ANVIL_VARIABLE: &str = "RINGFENCE_ANVIL";
const CONTRACTS_VARIABLE: &str = "RINGFENCE_OZ_CONTRACTS";
const CI_VARIABLE: &str = "CI";
const ERC20_ARTIFACT: &str = "ERC20PresetMinterPauser.json";

/// anvil's default chain id; the tests' CAIP ids are `eip155:31337:…`.
pub const CHAIN_ID: u64 = 31337;

const READINESS_WAIT_MAX: Duration = Duration::from_secs(30);
const READINESS_POLL_INTERVAL: Duration = Duration::from_millis(20);
/// anvil writes its state file on the way out; that takes milliseconds.
const WATCHDOG_ANSWER_WAIT_MAX: Duration = Duration::from_secs(30);
const RECEIPT_WAIT_MAX: Duration = Duration::from_secs(30);
const RECEIPT_POLL_INTERVAL: Duration = Duration::from_millis(2);
const RPC_TIMEOUT: Duration = Duration::from_secs(30);
const LOG_TAIL_LINES_MAX: usize = 40;
const LOG_FILE_NAME: &str = "anvil.log";
const STATE_FILE_NAME: &str = "state.json";

/// `transfer(address,uint256)`.
const TRANSFER_SELECTOR: &str = "a9059cbb";
/// `mint(address,uint256)`: `ERC20PresetMinterPauser` lets its deployer (who holds the minter role) mint.
const MINT_SELECTOR: &str = "40c10f19";

/// Arguments: `$1` the anvil binary, `$2` the port, `$3` the node's directory (log, state;
/// removed at the end).
///
/// stdin (the lifeline, which also carries `stop` and `start` requests) is moved to fd 3 because
/// POSIX shells give background jobs `/dev/null` as stdin. Answers go to stdout, one line each.
/// anvil keeps its chain in `state.json` across a stop and a start (`--state` loads it at start
/// and writes it on exit).
const WATCHDOG_SCRIPT: &str = r#"
exec 3<&0 </dev/null
anvil=$1 port=$2 directory=$3
running=0
start() {
    "$anvil" --host 127.0.0.1 --port "$port" --chain-id 31337 --state "$directory/state.json" 3<&- >>"$directory/anvil.log" 2>&1 &
    anvil_pid=$!
    running=1
}
stop() {
    if [ "$running" = 1 ]; then kill -TERM "$anvil_pid" 2>/dev/null; wait "$anvil_pid"; running=0; fi
}
start
while read -r request <&3; do
    case "$request" in
        stop) stop; echo stopped ;;
        start) stop; start; echo started ;;
    esac
done
exec 3<&-
stop
rm -rf "$directory"
"#;

/// A running anvil, or `None` (after printing why) when the test environment has none.
///
/// # Panics
/// When `CI` is set and anvil is not configured, or when anvil is configured but does not start.
pub fn anvil() -> Option<Node> {
    let tools = match Tools::from_environment() {
        Ok(tools) => tools,
        Err(message) if std::env::var_os(CI_VARIABLE).is_some() => {
            panic!("ringfence-testchain: {message}; CI is set, so the chain tests fail instead of skipping")
        }
        Err(message) => {
            eprintln!("skipped: {message}; run ./scripts/test, which installs anvil and the OpenZeppelin contracts with npm");
            return None;
        }
    };
    match Node::start(tools) {
        Ok(node) => Some(node),
        Err(message) => panic!("ringfence-testchain could not start anvil: {message}"),
    }
}

#[derive(Debug, Clone)]
struct Tools {
    anvil: PathBuf,
    contracts: PathBuf,
}

impl Tools {
    fn from_environment() -> Result<Tools, String> {
        let anvil = path_variable(ANVIL_VARIABLE)?;
        let contracts = path_variable(CONTRACTS_VARIABLE)?;
        if !anvil.is_file() {
            return Err(format!("{ANVIL_VARIABLE}={} is not a file", anvil.display()));
        }
        if !contracts.join(ERC20_ARTIFACT).is_file() {
            return Err(format!("{CONTRACTS_VARIABLE}={} holds no {ERC20_ARTIFACT}", contracts.display()));
        }
        Ok(Tools { anvil, contracts })
    }
}

fn path_variable(name: &str) -> Result<PathBuf, String> {
    std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from).ok_or_else(|| format!("{name} is not set"))
}

/// One anvil node; stopped and removed when dropped (or when the test process exits).
#[derive(Debug)]
pub struct Node {
    tools: Tools,
    url: String,
    directory: PathBuf,
    accounts: Vec<String>,
    agent: ureq::Agent,
    /// Requests to the watchdog; closing it (on drop, or at process exit) ends the node.
    lifeline: ChildStdin,
    answers: mpsc::Receiver<String>,
}

impl Node {
    fn start(tools: Tools) -> Result<Node, String> {
        let directory = std::env::temp_dir().join(format!("ringfence-testchain-{}", unique_tag()));
        std::fs::create_dir(&directory).map_err(|error| format!("could not create {}: {error}", directory.display()))?;
        let port = free_loopback_port()?;
        let log = directory.join(LOG_FILE_NAME);
        let mut watchdog = Command::new("sh");
        watchdog
            .arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("ringfence-testchain-watchdog")
            .arg(&tools.anvil)
            .arg(port.to_string())
            .arg(&directory)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).map_err(|error| format!("could not create {}: {error}", log.display()))?)
            // Out of the terminal's process group, so that Ctrl-C on the tests does not kill the
            // watchdog before it has cleaned up.
            .process_group(0);
        let mut child = watchdog.spawn().map_err(|error| format!("could not start the watchdog shell (sh): {error}"))?;
        let lifeline = child.stdin.take().expect("the watchdog's stdin was configured as a pipe");
        let stdout = child.stdout.take().expect("the watchdog's stdout was configured as a pipe");
        // A thread turns the answers into a channel so that waiting for one has a bound.
        let (sender, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().timeout_global(Some(RPC_TIMEOUT)).build());
        let mut node = Node { tools, url: format!("http://127.0.0.1:{port}"), directory, accounts: Vec::new(), agent, lifeline, answers };
        node.wait_until_ready()?;
        let accounts = node.call("eth_accounts", json!([]));
        node.accounts = accounts
            .as_array()
            .map(|accounts| accounts.iter().filter_map(Value::as_str).map(str::to_ascii_lowercase).collect())
            .unwrap_or_default();
        if node.accounts.len() < 2 {
            return Err(format!("anvil offered {} unlocked accounts; the tests need at least two", node.accounts.len()));
        }
        Ok(node)
    }

    /// Polls rather than sleeping a fixed time.
    fn wait_until_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + READINESS_WAIT_MAX;
        loop {
            let error = match self.rpc("eth_chainId", json!([])) {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            if Instant::now() >= deadline {
                return Err(format!("anvil did not answer within {READINESS_WAIT_MAX:?} (last error: {error}){}", self.log_tail()));
            }
            std::thread::sleep(READINESS_POLL_INTERVAL);
        }
    }

    /// `http://127.0.0.1:PORT`, the node's JSON-RPC endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chain id, [`CHAIN_ID`].
    pub fn chain_id(&self) -> u64 {
        CHAIN_ID
    }

    /// anvil's unlocked dev accounts (lower-case `0x…`), each funded with 10,000 ether; the
    /// first deploys the token and so holds its minter role.
    pub fn accounts(&self) -> &[String] {
        &self.accounts
    }

    /// One JSON-RPC call; `Err` is the transport error or the node's error object, as text.
    pub fn rpc(&self, method: &str, params: Value) -> Result<Value, String> {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let mut response = self.agent.post(&self.url).send_json(&request).map_err(|error| format!("{method} to {}: {error}", self.url))?;
        let mut answer: Value = response.body_mut().read_json().map_err(|error| format!("{method}: unreadable answer: {error}"))?;
        if let Some(error) = answer.get("error") {
            return Err(format!("{method}: the node answered {error}"));
        }
        Ok(answer.get_mut("result").map(Value::take).unwrap_or(Value::Null))
    }

    /// [`Node::rpc`] for calls that must work.
    ///
    /// # Panics
    /// When the call fails, with the node's log.
    pub fn call(&self, method: &str, params: Value) -> Value {
        self.rpc(method, params).unwrap_or_else(|error| panic!("{error}{}", self.log_tail()))
    }

    /// Sends a transaction from an unlocked account (mined at once: anvil automines), checks that
    /// it succeeded and returns its receipt.
    ///
    /// # Panics
    /// When the node refuses it or the transaction reverts.
    pub fn send(&self, transaction: Value) -> Value {
        let hash = self.call("eth_sendTransaction", json!([transaction]));
        // anvil answers with the hash before the automined block is in; the receipt follows.
        let deadline = Instant::now() + RECEIPT_WAIT_MAX;
        loop {
            let receipt = self.call("eth_getTransactionReceipt", json!([hash]));
            if !receipt.is_null() {
                assert_eq!(receipt["status"], "0x1", "transaction {hash} reverted: {receipt}");
                return receipt;
            }
            assert!(Instant::now() < deadline, "transaction {hash} was not mined within {RECEIPT_WAIT_MAX:?}");
            std::thread::sleep(RECEIPT_POLL_INTERVAL);
        }
    }

    /// Deploys a fresh `ERC20PresetMinterPauser` from `deployer`; returns the token's address.
    ///
    /// # Panics
    /// When the artifact cannot be read or the deployment fails.
    pub fn deploy_erc20(&self, deployer: &str, name: &str, symbol: &str) -> String {
        let artifact_path = self.tools.contracts.join(ERC20_ARTIFACT);
        let artifact: Value = std::fs::read(&artifact_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_else(|| panic!("could not read the artifact {}", artifact_path.display()));
        let bytecode = artifact["bytecode"].as_str().expect("the artifact has a bytecode string");
        let data = format!("{bytecode}{}", encode_two_strings(name, symbol));
        let receipt = self.send(json!({"from": deployer, "data": data}));
        receipt["contractAddress"].as_str().expect("a deployment receipt names the contract").to_ascii_lowercase()
    }

    /// Mints `amount` of `token` to `to`, from the token's deployer (the minter); returns the receipt.
    pub fn mint(&self, token: &str, minter: &str, to: &str, amount: u128) -> Value {
        self.mint_word(token, minter, to, &word_from_u128(amount))
    }

    /// [`Node::mint`] with the amount as a 64-digit hex word, for amounts beyond `u128`.
    pub fn mint_word(&self, token: &str, minter: &str, to: &str, amount_word: &str) -> Value {
        assert_eq!(amount_word.len(), 64, "an amount word is 64 hex digits");
        let data = format!("0x{MINT_SELECTOR}{}{amount_word}", word_from_address(to));
        self.send(json!({"from": minter, "to": token, "data": data}))
    }

    /// An ERC-20 `transfer` of `amount` from `from` (an unlocked account) to `to`; returns the receipt.
    pub fn transfer_erc20(&self, token: &str, from: &str, to: &str, amount: u128) -> Value {
        let data = format!("0x{TRANSFER_SELECTOR}{}{}", word_from_address(to), word_from_u128(amount));
        self.send(json!({"from": from, "to": token, "data": data}))
    }

    /// A plain ether transfer of `amount_wei`; returns the receipt.
    pub fn transfer_native(&self, from: &str, to: &str, amount_wei: u128) -> Value {
        self.send(json!({"from": from, "to": to, "value": format!("{amount_wei:#x}")}))
    }

    /// Sets an account's ether balance directly (no transaction), e.g. for many wallets at once.
    pub fn set_balance(&self, address: &str, amount_wei: u128) {
        self.call("anvil_setBalance", json!([address, format!("{amount_wei:#x}")]));
    }

    /// Mines `blocks` empty blocks.
    pub fn mine(&self, blocks: u64) {
        self.call("anvil_mine", json!([format!("{blocks:#x}")]));
    }

    /// Makes the next block's timestamp `seconds` (after the Unix epoch).
    pub fn set_next_block_timestamp(&self, seconds: u64) {
        self.call("evm_setNextBlockTimestamp", json!([seconds]));
    }

    /// The latest block's number.
    pub fn block_number(&self) -> u64 {
        let number = self.call("eth_blockNumber", json!([]));
        parse_quantity(&number).unwrap_or_else(|| panic!("eth_blockNumber answered {number}"))
    }

    /// The latest block's hash, `0x…`.
    pub fn block_hash(&self, number: u64) -> String {
        let block = self.call("eth_getBlockByNumber", json!([format!("{number:#x}"), false]));
        block["hash"].as_str().unwrap_or_else(|| panic!("no block {number}: {block}")).to_owned()
    }

    /// Takes a snapshot of the chain; [`Node::revert`] goes back to it, dropping every later
    /// block, so that new transactions then make a different chain (a reorganisation).
    pub fn snapshot(&self) -> String {
        let id = self.call("evm_snapshot", json!([]));
        id.as_str().unwrap_or_else(|| panic!("evm_snapshot answered {id}")).to_owned()
    }

    /// Reverts to a snapshot taken by [`Node::snapshot`].
    ///
    /// # Panics
    /// When anvil does not know the snapshot.
    pub fn revert(&self, snapshot: &str) {
        let reverted = self.call("evm_revert", json!([snapshot]));
        assert_eq!(reverted, Value::Bool(true), "evm_revert({snapshot}) failed");
    }

    /// Stops anvil (its chain is kept on disk); the URL then refuses connections until
    /// [`Node::restart`].
    pub fn stop(&self) {
        self.request_from_watchdog("stop", "stopped");
    }

    /// Starts anvil again on the same port with the chain it had when stopped, and waits until it answers.
    ///
    /// # Panics
    /// When it does not come back.
    pub fn restart(&self) {
        self.request_from_watchdog("start", "started");
        self.wait_until_ready().unwrap_or_else(|message| panic!("anvil did not restart: {message}"));
    }

    fn request_from_watchdog(&self, request: &str, answer: &str) {
        (&self.lifeline).write_all(format!("{request}\n").as_bytes()).unwrap_or_else(|error| panic!("the watchdog is gone: {error}"));
        match self.answers.recv_timeout(WATCHDOG_ANSWER_WAIT_MAX) {
            Ok(line) if line == answer => {}
            outcome => panic!("the watchdog did not answer {request} with {answer}: {outcome:?}{}", self.log_tail()),
        }
    }

    fn log_tail(&self) -> String {
        log_tail(&self.directory.join(LOG_FILE_NAME))
    }

    /// Where anvil keeps its chain between a stop and a restart.
    pub fn state_file(&self) -> PathBuf {
        self.directory.join(STATE_FILE_NAME)
    }
}

fn log_tail(path: &Path) -> String {
    let Ok(log) = std::fs::read_to_string(path) else { return String::new() };
    let lines: Vec<&str> = log.lines().collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES_MAX)..];
    format!("\nlast lines of {}:\n{}", path.display(), tail.join("\n"))
}

/// `{pid}_{start time in hex nanoseconds}_{counter}`: unique across processes and nodes.
fn unique_tag() -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos());
    format!("{}_{nanos:x}_{}", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed))
}

/// The port is free when this returns but not reserved; another process could take it before
/// anvil binds it, which then shows as a failed start with the bind error in the log.
fn free_loopback_port() -> Result<u16, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|error| format!("could not bind a loopback port: {error}"))?;
    let address = listener.local_addr().map_err(|error| format!("could not read the bound loopback port: {error}"))?;
    Ok(address.port())
}

/// A JSON-RPC quantity (`"0x1a"`) as a number.
pub fn parse_quantity(value: &Value) -> Option<u64> {
    u64::from_str_radix(value.as_str()?.strip_prefix("0x")?, 16).ok()
}

/// An ABI word (64 hex digits, no `0x`) holding an amount.
pub fn word_from_u128(amount: u128) -> String {
    format!("{amount:064x}")
}

/// An ABI word holding an address (`0x` + 40 hex digits).
pub fn word_from_address(address: &str) -> String {
    let digits = address.strip_prefix("0x").unwrap_or(address);
    assert_eq!(digits.len(), 40, "{address} is not a 20-byte address");
    format!("{:0>64}", digits.to_ascii_lowercase())
}

/// The ABI encoding of a constructor's arguments `(string, string)`: two offsets, then each
/// string as its length and its bytes padded to whole words.
fn encode_two_strings(first: &str, second: &str) -> String {
    fn padded_length(text: &str) -> usize {
        text.len().div_ceil(32) * 32
    }
    fn encode(text: &str) -> String {
        let mut digits: String = text.bytes().map(|byte| format!("{byte:02x}")).collect();
        digits.extend(std::iter::repeat_n('0', (padded_length(text) - text.len()) * 2));
        format!("{:064x}{digits}", text.len())
    }
    let first_offset = 64;
    let second_offset = first_offset + 32 + padded_length(first);
    format!("{first_offset:064x}{second_offset:064x}{}{}", encode(first), encode(second))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_strings_are_encoded_as_the_abi_says() {
        let encoded = encode_two_strings("Tether", "USDT");
        let words: Vec<&str> = (0..encoded.len() / 64).map(|index| &encoded[index * 64..(index + 1) * 64]).collect();
        assert_eq!(words.len(), 6);
        assert_eq!(words[0], format!("{:064x}", 64));
        assert_eq!(words[1], format!("{:064x}", 128));
        assert_eq!(words[2], format!("{:064x}", 6));
        assert!(words[3].starts_with("546574686572") && words[3][12..].chars().all(|digit| digit == '0'));
        assert_eq!(words[4], format!("{:064x}", 4));
        assert!(words[5].starts_with("55534454"));
    }
}
