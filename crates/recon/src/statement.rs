//! Sub-custodian statements: balances per wallet and asset at a cut-off, as CSV or JSON Lines
//! (see `docs/statement-format.md`). Parsing is strict and all-or-nothing: every problem is
//! reported with its line number, and a statement with any problem yields nothing.

use std::collections::HashMap;
use std::path::Path;

use ringfence_core::{Amount, AssetId, Custodian, Register, SubCustodianId, Timestamp, WalletId};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// The largest statement file read, in bytes.
pub const STATEMENT_BYTES_MAX: usize = 256 * 1024 * 1024;
/// The most balance rows one statement may have.
pub const ROWS_MAX: usize = 1_000_000;
/// The most problems listed for one statement; the rest are counted.
pub const ERRORS_MAX: usize = 1_000;
/// The longest statement reference, in bytes.
pub const REFERENCE_BYTES_MAX: usize = 512;

/// The two encodings of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementFormat {
    Csv,
    JsonLines,
}

impl StatementFormat {
    /// The format a file name says: `.csv`, or `.jsonl` / `.ndjson`.
    pub fn of_path(path: &Path) -> Option<StatementFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(StatementFormat::Csv),
            "jsonl" | "ndjson" => Some(StatementFormat::JsonLines),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            StatementFormat::Csv => "csv",
            StatementFormat::JsonLines => "jsonl",
        }
    }
}

/// One balance a statement states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatedBalance {
    /// The line of the statement file it is on (1-based, blank lines counted).
    pub line: usize,
    pub wallet: WalletId,
    pub asset: AssetId,
    pub balance: Amount,
}

/// A statement that parsed and fits the register: every wallet is registered at the statement's
/// sub-custodian, every asset is registered and on the wallet's chain, no row is repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sub_custodian: SubCustodianId,
    pub cut_off: Timestamp,
    pub reference: String,
    pub format: StatementFormat,
    /// SHA-256 of the file's bytes exactly as given: the evidence a run stores.
    pub sha256: [u8; 32],
    /// The file's length in bytes.
    pub bytes: usize,
    /// In file order.
    pub balances: Vec<StatedBalance>,
}

impl Statement {
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads and parses the file at `path`; its extension gives the format.
    pub fn read(path: &Path, register: &Register) -> Result<Statement, StatementError> {
        let Some(format) = StatementFormat::of_path(path) else {
            return Err(StatementError::UnknownFormat { path: path.display().to_string() });
        };
        let io = |source| StatementError::Io { path: path.display().to_string(), source };
        let bytes = ringfence_wire::files::read_regular(path, STATEMENT_BYTES_MAX as u64).map_err(io)?;
        Statement::parse(format, &bytes, register)
    }

    /// Parses a statement held in memory.
    pub fn parse(format: StatementFormat, bytes: &[u8], register: &Register) -> Result<Statement, StatementError> {
        if bytes.len() > STATEMENT_BYTES_MAX {
            return Err(StatementError::TooLarge { bytes: bytes.len() as u64 });
        }
        let mut parser = Parser { register, problems: Problems::default(), header: None, seen: HashMap::new(), balances: Vec::new() };
        let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        match format {
            StatementFormat::Csv => parser.csv(body),
            StatementFormat::JsonLines => parser.json_lines(body),
        }
        if parser.balances.len() > ROWS_MAX {
            parser.problems.push(0, format!("the statement has {} rows; at most {ROWS_MAX} are read", parser.balances.len()));
        }
        let Parser { problems, header, balances, .. } = parser;
        match header {
            Some(header) if problems.count == 0 => Ok(Statement {
                sub_custodian: header.sub_custodian,
                cut_off: header.cut_off,
                reference: header.reference,
                format,
                sha256: Sha256::digest(bytes).into(),
                bytes: bytes.len(),
                balances,
            }),
            _ => {
                let mut problems = problems;
                if problems.count == 0 {
                    problems.push(1, "the statement is empty; line 1 must be the statement header".to_owned());
                }
                Err(StatementError::Invalid { count: problems.count, problems: problems.listed })
            }
        }
    }
}

/// One problem in a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    /// 1-based; 0 for a problem of the whole file.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for LineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 { write!(f, "{}", self.message) } else { write!(f, "line {}: {}", self.line, self.message) }
    }
}

/// Why a statement was not read. Nothing of it is used in any case.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error("statement {path}: the file name must end in .csv or .jsonl to say its format")]
    UnknownFormat { path: String },
    #[error("failed to read statement {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("statement is {bytes} bytes; at most {STATEMENT_BYTES_MAX} are read")]
    TooLarge { bytes: u64 },
    #[error("statement has {count} problem(s), nothing of it was read:\n{}", list(problems, *count))]
    Invalid {
        /// Every problem found; only the first [`ERRORS_MAX`] are in `problems`.
        count: usize,
        /// In line order.
        problems: Vec<LineProblem>,
    },
}

fn list(problems: &[LineProblem], count: usize) -> String {
    let mut text: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    if count > problems.len() {
        text.push(format!("  … and {} more", count - problems.len()));
    }
    text.join("\n")
}

impl StatementError {
    /// The problems listed, for [`StatementError::Invalid`]; empty otherwise.
    pub fn problems(&self) -> &[LineProblem] {
        match self {
            StatementError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

#[derive(Debug, Default)]
struct Problems {
    listed: Vec<LineProblem>,
    count: usize,
}

impl Problems {
    fn push(&mut self, line: usize, message: String) {
        self.count += 1;
        if self.listed.len() < ERRORS_MAX {
            self.listed.push(LineProblem { line, message });
        }
    }
}

#[derive(Debug)]
struct Header {
    sub_custodian: SubCustodianId,
    cut_off: Timestamp,
    reference: String,
}

struct Parser<'a> {
    register: &'a Register,
    problems: Problems,
    header: Option<Header>,
    seen: HashMap<(WalletId, AssetId), usize>,
    balances: Vec<StatedBalance>,
}

/// A JSON Lines statement's first line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonHeader {
    #[serde(rename = "type")]
    kind: String,
    sub_custodian: String,
    cut_off: String,
    reference: String,
}

/// A JSON Lines balance line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBalance {
    #[serde(rename = "type")]
    kind: String,
    wallet: String,
    asset: String,
    balance: serde_json::Value,
}

/// Lines split on `\n` (a `\r` before it is dropped), numbered from 1.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.split(|b| *b == b'\n').map(|line| line.strip_suffix(b"\r").unwrap_or(line)).enumerate().map(|(n, line)| (n + 1, line))
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

impl Parser<'_> {
    fn csv(&mut self, body: &[u8]) {
        let (first, rest) = match body.iter().position(|b| *b == b'\n') {
            Some(end) => (&body[..end], &body[end + 1..]),
            None => (body, &[][..]),
        };
        if body.is_empty() {
            return;
        }
        let first = first.strip_suffix(b"\r").unwrap_or(first);
        match std::str::from_utf8(first) {
            Ok(text) => self.csv_header(text),
            Err(_) => self.problems.push(1, "the statement header is not UTF-8".to_owned()),
        }
        // Line by line: a statement's fields never hold a line break, and this keeps every
        // line number exact (blank lines included).
        let mut builder = csv::ReaderBuilder::new();
        builder.has_headers(false).flexible(true);
        let mut columns_seen = false;
        let mut record = csv::StringRecord::new();
        for (line, bytes) in lines(rest) {
            let line = line + 1;
            if is_blank(bytes) {
                continue;
            }
            match builder.from_reader(bytes).read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(error) => {
                    let message = match error.kind() {
                        csv::ErrorKind::Utf8 { .. } => "the line is not UTF-8".to_owned(),
                        _ => format!("malformed CSV: {error}"),
                    };
                    self.problems.push(line, message);
                    continue;
                }
            }
            if !columns_seen {
                columns_seen = true;
                if record.iter().collect::<Vec<_>>() != ["wallet", "asset", "balance"] {
                    self.problems.push(
                        line,
                        format!(
                            "the column header must be exactly wallet,asset,balance (found {:?}); the rows are not read",
                            record.iter().collect::<Vec<_>>().join(",")
                        ),
                    );
                    return;
                }
                continue;
            }
            if record.get(0).is_some_and(|f| f.starts_with('#')) {
                self.problems.push(line, "only line 1 may start with #".to_owned());
                continue;
            }
            if record.len() != 3 {
                self.problems.push(line, format!("a row has 3 fields (wallet,asset,balance); this one has {}", record.len()));
                continue;
            }
            self.row(line, &record[0], &record[1], Balance::Text(&record[2]));
        }
        if !columns_seen {
            self.problems.push(2, "line 2 must be the column header wallet,asset,balance".to_owned());
        }
    }

    /// `# sub_custodian=ID cut_off=TIME reference=REF`, in any order, each exactly once.
    fn csv_header(&mut self, text: &str) {
        let Some(pairs) = text.strip_prefix('#') else {
            self.problems.push(1, "line 1 must be the statement header: # sub_custodian=ID cut_off=TIME reference=REF".to_owned());
            return;
        };
        let (mut sub_custodian, mut cut_off, mut reference) = (None, None, None);
        let mut ok = true;
        for pair in pairs.split_whitespace() {
            let Some((key, value)) = pair.split_once('=') else {
                self.problems.push(1, format!("{pair:?} in the statement header is not key=value"));
                ok = false;
                continue;
            };
            let slot = match key {
                "sub_custodian" => &mut sub_custodian,
                "cut_off" => &mut cut_off,
                "reference" => &mut reference,
                other => {
                    self.problems
                        .push(1, format!("unknown statement header field {other:?}; the fields are sub_custodian, cut_off, reference"));
                    ok = false;
                    continue;
                }
            };
            if slot.replace(value).is_some() {
                self.problems.push(1, format!("statement header field {key} is given twice"));
                ok = false;
            }
        }
        for (key, value) in [("sub_custodian", sub_custodian), ("cut_off", cut_off), ("reference", reference)] {
            if value.is_none() {
                self.problems.push(1, format!("the statement header lacks {key}"));
                ok = false;
            }
        }
        if let (true, Some(s), Some(c), Some(r)) = (ok, sub_custodian, cut_off, reference) {
            self.header(1, s, c, r);
        }
    }

    fn header(&mut self, line: usize, sub_custodian: &str, cut_off: &str, reference: &str) {
        let sub_custodian = match SubCustodianId::parse(sub_custodian) {
            Ok(id) if self.register.sub_custodians().any(|s| s.id == id) => Some(id),
            Ok(id) => {
                self.problems.push(line, format!("sub-custodian {id} is not registered"));
                None
            }
            Err(error) => {
                self.problems.push(line, error.to_string());
                None
            }
        };
        let cut_off = match ringfence_wire::clock::parse_end(cut_off) {
            Ok(at) => Some(at),
            Err(message) => {
                self.problems.push(line, format!("cut_off: {message}"));
                None
            }
        };
        let reference_ok = if reference.trim().is_empty() {
            self.problems.push(line, "the statement reference is empty".to_owned());
            false
        } else if reference.len() > REFERENCE_BYTES_MAX {
            self.problems.push(line, format!("the statement reference is longer than {REFERENCE_BYTES_MAX} bytes"));
            false
        } else if reference.chars().any(char::is_control) {
            self.problems.push(line, "the statement reference holds a control character".to_owned());
            false
        } else {
            true
        };
        if let (Some(sub_custodian), Some(cut_off), true) = (sub_custodian, cut_off, reference_ok) {
            self.header = Some(Header { sub_custodian, cut_off, reference: reference.to_owned() });
        }
    }

    fn json_lines(&mut self, body: &[u8]) {
        let mut header_seen = false;
        for (line, bytes) in lines(body) {
            if is_blank(bytes) {
                if line == 1 {
                    self.problems.push(1, "line 1 must be the statement header".to_owned());
                    header_seen = true;
                }
                continue;
            }
            let Ok(text) = std::str::from_utf8(bytes) else {
                self.problems.push(line, "the line is not UTF-8".to_owned());
                header_seen = true;
                continue;
            };
            if !header_seen {
                header_seen = true;
                match serde_json::from_str::<JsonHeader>(text) {
                    Ok(h) if h.kind == "statement" => self.header(line, &h.sub_custodian, &h.cut_off, &h.reference),
                    Ok(h) => self.problems.push(line, format!("line 1 must have \"type\":\"statement\", not {:?}", h.kind)),
                    Err(error) => self.problems.push(line, format!("line 1 is not a statement header ({error})")),
                }
                continue;
            }
            match serde_json::from_str::<JsonBalance>(text) {
                Ok(b) if b.kind == "balance" => self.row(line, &b.wallet, &b.asset, Balance::Json(&b.balance)),
                Ok(b) => self.problems.push(line, format!("a line after the header must have \"type\":\"balance\", not {:?}", b.kind)),
                Err(error) => self.problems.push(line, format!("not a balance line ({error})")),
            }
        }
    }

    fn row(&mut self, line: usize, wallet: &str, asset: &str, balance: Balance<'_>) {
        let wallet = match WalletId::parse(wallet) {
            Ok(id) => match self.register.wallet(&id) {
                None => {
                    self.problems.push(line, format!("wallet {id} is not registered"));
                    None
                }
                Some(registered) => {
                    if let Some(header) = &self.header
                        && registered.custodian != Custodian::SubCustodian(header.sub_custodian.clone())
                    {
                        self.problems.push(line, format!("wallet {id} is not held at sub-custodian {}", header.sub_custodian));
                        None
                    } else {
                        Some(registered)
                    }
                }
            },
            Err(error) => {
                self.problems.push(line, error.to_string());
                None
            }
        };
        let asset = match AssetId::parse(asset) {
            Ok(id) if self.register.asset(&id).is_some() => Some(id),
            Ok(id) => {
                self.problems.push(line, format!("asset {id} is not registered"));
                None
            }
            Err(error) => {
                self.problems.push(line, error.to_string());
                None
            }
        };
        let balance = match balance.parse() {
            Ok(amount) => Some(amount),
            Err(message) => {
                self.problems.push(line, message);
                None
            }
        };
        let (Some(wallet), Some(asset), Some(balance)) = (wallet, asset, balance) else {
            return;
        };
        if wallet.address.chain() != asset.chain() {
            self.problems.push(
                line,
                format!("asset {asset} is on chain {} but wallet {} is on {}", asset.chain(), wallet.id, wallet.address.chain()),
            );
            return;
        }
        let key = (wallet.id.clone(), asset);
        if let Some(first) = self.seen.get(&key) {
            self.problems.push(line, format!("wallet {} and asset {} are stated twice (first on line {first})", key.0, key.1));
            return;
        }
        self.seen.insert(key.clone(), line);
        self.balances.push(StatedBalance { line, wallet: key.0, asset: key.1, balance });
    }
}

enum Balance<'a> {
    Text(&'a str),
    Json(&'a serde_json::Value),
}

impl Balance<'_> {
    fn parse(&self) -> Result<Amount, String> {
        match self {
            Balance::Text(text) => parse_balance(text),
            Balance::Json(serde_json::Value::String(text)) => parse_balance(text),
            Balance::Json(serde_json::Value::Number(number)) => match number.as_u64() {
                Some(units) => Ok(Amount::new(u128::from(units))),
                None if number.as_i64().is_some() => Err(format!("balance {number} is negative; a balance is never below zero")),
                None => Err(format!(
                    "balance {number} is not a whole number up to 2^64 - 1; write balances as a string of digits, such as \"1500\""
                )),
            },
            Balance::Json(other) => Err(format!("balance {other} is not a string of digits")),
        }
    }
}

/// A balance: the digits 0-9 only, at most 2^128 - 1.
fn parse_balance(text: &str) -> Result<Amount, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u128>()
            .map(Amount::new)
            .map_err(|_| format!("balance {text:?} is larger than the largest supported amount (2^128 - 1)"));
    }
    let trimmed = text.trim();
    Err(if trimmed.is_empty() {
        "balance is empty; give a whole number of the asset's smallest unit, such as 1500".to_owned()
    } else if trimmed.starts_with('-') {
        format!("balance {text:?} is negative; a balance is never below zero")
    } else if trimmed.contains(['.', ',', 'e', 'E']) && trimmed.bytes().any(|b| b.is_ascii_digit()) {
        format!("balance {text:?} has a fraction or a separator; give a whole number of the asset's smallest unit (wei, satoshi…)")
    } else {
        format!("balance {text:?} is not a whole number; use the digits 0-9 only, without spaces or sign")
    })
}
