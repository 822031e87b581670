//! EVM chains over JSON-RPC: blocks, balances at a block, and the ingestion of transfers
//! touching watched wallets with confirmation depth and reorganisation tracking.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::Duration;

use ringfence_core::{Address, AssetId};
use serde_json::{Value, json};

use crate::ChainError;
use crate::hex::{self, EvmAddress, Hash, Uint256};
use crate::rpc::Client;

/// `keccak256("Transfer(address,address,uint256)")`, the ERC-20 (and ERC-721) event topic.
const TRANSFER_TOPIC: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
/// `balanceOf(address)`.
const BALANCE_OF_SELECTOR: &str = "0x70a08231";
/// A reorganisation during one ingestion call is retried this many times before giving up.
const CHAIN_CHANGED_ATTEMPTS_MAX: u32 = 3;

/// Where the node is and how hard to try. Built with [`EvmConfig::new`], fields adjusted as needed.
#[derive(Debug, Clone)]
pub struct EvmConfig {
    /// The node's JSON-RPC URL (`http://…`).
    pub url: String,
    /// The EIP-155 chain id the node must serve (checked by [`Evm::connect`]).
    pub chain_id: u64,
    /// Blocks below the head before a block counts as confirmed: with 12, the head minus 12 is the
    /// newest confirmed block. 0 confirms the head itself.
    pub confirmations: u64,
    /// The whole of one HTTP request (connect, send, answer).
    pub timeout: Duration,
    /// Attempts per HTTP request when the node is unreachable, times out or answers 5xx/429.
    pub attempts_max: u32,
    /// Wait before the second attempt; doubles after each (up to 5 s).
    pub backoff_initial: Duration,
    /// JSON-RPC calls per batch (per HTTP request) for balances and receipts.
    pub batch_size_max: usize,
    /// Full blocks (with transactions) per batch.
    pub block_batch_size_max: usize,
    /// Blocks per `eth_getLogs` range (public nodes refuse wide ranges).
    pub log_block_range_max: u64,
    /// Blocks ingested per [`Evm::ingest`] call; call again while it says it is behind.
    pub ingest_blocks_max: u64,
    /// Ingested blocks whose hashes are kept to detect reorganisations.
    pub tracked_blocks_max: usize,
}

impl EvmConfig {
    /// Defaults: 12 confirmations, 10 s per request, 3 attempts from 200 ms, batches of 500 calls
    /// or 50 blocks, 2,000-block log ranges, 5,000 blocks per ingestion call, 1,024 tracked blocks.
    pub fn new(url: &str, chain_id: u64) -> EvmConfig {
        EvmConfig {
            url: url.to_owned(),
            chain_id,
            confirmations: 12,
            timeout: Duration::from_secs(10),
            attempts_max: 3,
            backoff_initial: Duration::from_millis(200),
            batch_size_max: 500,
            block_batch_size_max: 50,
            log_block_range_max: 2_000,
            ingest_blocks_max: 5_000,
            tracked_blocks_max: 1_024,
        }
    }
}

/// A block header: what a reconciliation records as its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub number: u64,
    pub hash: Hash,
    pub parent_hash: Hash,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
}

/// An amount beyond `u128` (the register's amounts), as the node spelled it: never truncated,
/// never zero; the caller raises it as an exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    pub hex: String,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} does not fit in 128 bits", self.hex)
    }
}

/// One observed transfer of value touching a watched wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub chain_id: u64,
    pub block_number: u64,
    pub block_hash: Hash,
    pub transaction_hash: Hash,
    pub transaction_index: u64,
    /// The `Transfer` log's index in its block; `None` for a native (ether) transfer, which is
    /// the transaction's own value.
    pub log_index: Option<u64>,
    /// `eip155:<chain>/slip44:60` for ether, `eip155:<chain>/erc20:0x…` for a token.
    pub asset: AssetId,
    pub from: Address,
    pub to: Address,
    pub amount: Result<u128, TooLarge>,
}

/// What one [`Evm::ingest`] call found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// Blocks ingested earlier that are no longer on the chain, lowest first: the caller rolls
    /// back every observation it holds from these (number, hash) pairs. They are ingested again
    /// from the new chain, in `transfers`, in this same call or the next ones.
    pub orphaned: Vec<Block>,
    /// New observations, in chain order (block, transaction, log).
    pub transfers: Vec<Transfer>,
    /// The newest block ingested so far (after this call); `None` before the first.
    pub ingested_through: Option<Block>,
    /// Confirmed blocks not yet ingested (more than one call's worth): call again.
    pub behind_blocks: u64,
}

/// What is watched and how far ingestion has come: the ingested blocks' hashes (the newest
/// [`EvmConfig::tracked_blocks_max`]) and the next block to read. Owned by the caller, passed
/// to [`Evm::ingest`].
#[derive(Debug, Clone)]
pub struct Ingestion {
    addresses: HashSet<EvmAddress>,
    native: Option<AssetId>,
    tokens: HashMap<EvmAddress, AssetId>,
    /// Where this ingestion began: a reorganisation down to it needs no older block.
    first_block: u64,
    progress: Progress,
}

/// How far an ingestion has come. [`Evm::ingest`] works on a copy and stores it back only when
/// the whole call succeeded, so an error (a node going down after a reorganisation was seen)
/// never loses the report of orphaned blocks: the next call finds them again.
#[derive(Debug, Clone)]
struct Progress {
    next_block: u64,
    tracked: VecDeque<Block>,
}

impl Ingestion {
    /// The next block number to be ingested.
    pub fn next_block(&self) -> u64 {
        self.progress.next_block
    }

    /// The ingested blocks still tracked for reorganisations, oldest first; persist them with the
    /// observations to resume with [`Evm::resume_ingestion`].
    pub fn tracked_blocks(&self) -> impl Iterator<Item = &Block> {
        self.progress.tracked.iter()
    }
}

/// An EVM node, reached over JSON-RPC. Blocking: see the crate documentation.
#[derive(Debug)]
pub struct Evm {
    config: EvmConfig,
    client: Client,
    chain: String,
}

/// A (wallet, asset) pair whose balance is asked for.
enum BalanceQuery {
    Native(EvmAddress),
    Token { token: EvmAddress, owner: EvmAddress },
}

impl Evm {
    /// Checks that the node answers and serves `config.chain_id`.
    pub fn connect(config: EvmConfig) -> Result<Evm, ChainError> {
        let client = Client::new(&config.url, config.timeout, config.attempts_max, config.backoff_initial);
        let chain = format!("eip155:{}", config.chain_id);
        let evm = Evm { config, client, chain };
        let answer = evm.client.call("eth_chainId", json!([]))?;
        let actual = evm.quantity(&answer, "eth_chainId")?;
        if actual != evm.config.chain_id {
            return Err(ChainError::WrongChain { url: evm.config.url.clone(), expected: evm.config.chain_id, actual });
        }
        Ok(evm)
    }

    pub fn config(&self) -> &EvmConfig {
        &self.config
    }

    /// The newest block.
    pub fn head(&self) -> Result<Block, ChainError> {
        let answer = self.client.call("eth_getBlockByNumber", json!(["latest", false]))?;
        self.parse_block(&answer)
    }

    /// The newest confirmed block (the head minus [`EvmConfig::confirmations`]), if any.
    pub fn confirmed_head(&self) -> Result<Option<Block>, ChainError> {
        let head = self.head_number()?;
        match head.checked_sub(self.config.confirmations) {
            Some(number) => self.block(number).map(Some),
            None => Ok(None),
        }
    }

    /// Block `number`, or [`ChainError::NoSuchBlock`].
    pub fn block(&self, number: u64) -> Result<Block, ChainError> {
        let answer = self.client.call("eth_getBlockByNumber", json!([quantity(number), false]))?;
        if answer.is_null() {
            return Err(ChainError::NoSuchBlock { number, head: self.head_number()? });
        }
        self.parse_block(&answer)
    }

    /// The newest block whose timestamp is at or before `timestamp` (seconds since the Unix
    /// epoch): the block a cut-off maps to. `None` when even the genesis block is later.
    /// A binary search over block timestamps (which never decrease): about log2(head) calls.
    pub fn block_at_or_before(&self, timestamp: u64) -> Result<Option<Block>, ChainError> {
        let head = self.head()?;
        if head.timestamp <= timestamp {
            return Ok(Some(head));
        }
        let genesis = self.block(0)?;
        if genesis.timestamp > timestamp {
            return Ok(None);
        }
        // Invariant: block `low` is at or before the timestamp, block `high` after it.
        let (mut low, mut low_block, mut high) = (0, genesis, head.number);
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            let block = self.block(middle)?;
            if block.timestamp <= timestamp {
                (low, low_block) = (middle, block);
            } else {
                high = middle;
            }
        }
        Ok(Some(low_block))
    }

    /// The balance of each (wallet, asset) pair at `block`, in order: ether by `eth_getBalance`,
    /// ERC-20 tokens by `balanceOf`. Asked by block hash (EIP-1898), so every figure is from
    /// exactly that block, or the node refuses (the block was reorganised away). Batched,
    /// [`EvmConfig::batch_size_max`] calls per HTTP request.
    pub fn balances(&self, pairs: &[(Address, AssetId)], block: &Block) -> Result<Vec<Result<u128, TooLarge>>, ChainError> {
        let queries = pairs
            .iter()
            .map(|(wallet, asset)| {
                let owner = self.evm_address(wallet)?;
                Ok(match self.asset_contract(asset)? {
                    None => BalanceQuery::Native(owner),
                    Some(token) => BalanceQuery::Token { token, owner },
                })
            })
            .collect::<Result<Vec<_>, ChainError>>()?;
        let at = json!({"blockHash": block.hash.to_string()});
        let mut balances = Vec::with_capacity(queries.len());
        for chunk in queries.chunks(self.config.batch_size_max.max(1)) {
            let calls: Vec<(&str, Value)> = chunk
                .iter()
                .map(|query| match query {
                    BalanceQuery::Native(owner) => ("eth_getBalance", json!([hex::format_address(owner), at])),
                    BalanceQuery::Token { token, owner } => {
                        let data = format!("{BALANCE_OF_SELECTOR}{:0>64}", &hex::format_address(owner)[2..]);
                        ("eth_call", json!([{"to": hex::format_address(token), "data": data}, at]))
                    }
                })
                .collect();
            for (query, answer) in chunk.iter().zip(self.client.batch(&calls)?) {
                let text = answer.as_str().unwrap_or_default();
                if let BalanceQuery::Token { token, .. } = query
                    && text == "0x"
                {
                    return Err(ChainError::NotAContract { token: hex::format_address(token), block_number: block.number });
                }
                balances.push(match hex::parse_u256(text) {
                    Some(Uint256::Fits(amount)) => Ok(amount),
                    Some(Uint256::TooLarge(hex)) => Err(TooLarge { hex }),
                    None => return Err(self.garbage(format!("answered a balance with {answer}"))),
                });
            }
        }
        Ok(balances)
    }

    /// Starts watching `wallets` for transfers of `assets` (ether `slip44:60` and/or ERC-20
    /// tokens), from block `first_block` on.
    pub fn ingestion(&self, wallets: &[Address], assets: &[AssetId], first_block: u64) -> Result<Ingestion, ChainError> {
        let mut ingestion = Ingestion {
            addresses: HashSet::new(),
            native: None,
            tokens: HashMap::new(),
            first_block,
            progress: Progress { next_block: first_block, tracked: VecDeque::new() },
        };
        for wallet in wallets {
            ingestion.addresses.insert(self.evm_address(wallet)?);
        }
        for asset in assets {
            match self.asset_contract(asset)? {
                None => ingestion.native = Some(asset.clone()),
                Some(token) => {
                    ingestion.tokens.insert(token, asset.clone());
                }
            }
        }
        Ok(ingestion)
    }

    /// Resumes watching after the blocks `tracked` (as [`Ingestion::tracked_blocks`] gave them,
    /// oldest first, consecutive); the next call first checks them against the chain.
    pub fn resume_ingestion(&self, wallets: &[Address], assets: &[AssetId], tracked: Vec<Block>) -> Result<Ingestion, ChainError> {
        let next_block = tracked.last().map_or(0, |block| block.number + 1);
        let mut ingestion = self.ingestion(wallets, assets, next_block)?;
        // Observations older than the tracked blocks exist: a fork below them is too deep.
        ingestion.first_block = tracked.first().map_or(next_block, |block| block.number.saturating_sub(1));
        ingestion.progress.tracked = tracked.into();
        Ok(ingestion)
    }

    /// Reads the confirmed blocks not ingested yet (at most [`EvmConfig::ingest_blocks_max`]),
    /// after checking that the blocks ingested before are still on the chain. See [`Ingested`].
    pub fn ingest(&self, ingestion: &mut Ingestion) -> Result<Ingested, ChainError> {
        let mut progress = ingestion.progress.clone();
        let mut orphaned = Vec::new();
        let mut attempt = 1;
        loop {
            orphaned.append(&mut self.roll_back_orphans(ingestion.first_block, &mut progress)?);
            orphaned.sort_by_key(|block: &Block| block.number);
            let head = self.head_number()?;
            let from = progress.next_block;
            let confirmed = head.checked_sub(self.config.confirmations).filter(|&confirmed| confirmed >= from);
            let Some(confirmed) = confirmed else {
                let ingested_through = progress.tracked.back().copied();
                ingestion.progress = progress;
                return Ok(Ingested { orphaned, transfers: Vec::new(), ingested_through, behind_blocks: 0 });
            };
            let to = confirmed.min(from.saturating_add(self.config.ingest_blocks_max.max(1) - 1));
            match self.read_range(ingestion, progress.tracked.back(), from, to)? {
                Some(RangeRead { blocks, transfers }) => {
                    progress.tracked.extend(blocks);
                    while progress.tracked.len() > self.config.tracked_blocks_max.max(1) {
                        progress.tracked.pop_front();
                    }
                    progress.next_block = to + 1;
                    let ingested_through = progress.tracked.back().copied();
                    ingestion.progress = progress;
                    return Ok(Ingested { orphaned, transfers, ingested_through, behind_blocks: confirmed - to });
                }
                None if attempt < CHAIN_CHANGED_ATTEMPTS_MAX => attempt += 1,
                None => return Err(ChainError::ChainChanged { from, to, attempts: attempt }),
            }
        }
    }

    /// Finds the tracked blocks that left the chain, drops them from `ingestion` and rewinds it
    /// to the fork, oldest orphan first. A block's hash covers its parent's, so the newest
    /// tracked block unchanged means all are; otherwise walk back (in batches) to the newest
    /// unchanged one. Changes nothing when the fork is below every tracked block.
    fn roll_back_orphans(&self, first_block: u64, progress: &mut Progress) -> Result<Vec<Block>, ChainError> {
        let Some(newest) = progress.tracked.back().copied() else { return Ok(Vec::new()) };
        if self.current_hash(newest.number)? == Some(newest.hash) {
            return Ok(Vec::new());
        }
        let mut orphan_count = 1;
        'walk: while orphan_count < progress.tracked.len() {
            let chunk: Vec<Block> =
                progress.tracked.iter().rev().skip(orphan_count).take(self.config.batch_size_max.max(1)).copied().collect();
            let calls: Vec<(&str, Value)> =
                chunk.iter().map(|block| ("eth_getBlockByNumber", json!([quantity(block.number), false]))).collect();
            for (block, answer) in chunk.iter().zip(self.client.batch(&calls)?) {
                let current = if answer.is_null() { None } else { Some(self.parse_block(&answer)?.hash) };
                if current == Some(block.hash) {
                    break 'walk;
                }
                orphan_count += 1;
            }
        }
        let oldest_orphan = progress.tracked[progress.tracked.len() - orphan_count];
        // Every tracked block is orphaned: the fork is at the oldest one only if its parent is
        // still on the chain, or if ingestion began there (nothing older was observed).
        if orphan_count == progress.tracked.len() && oldest_orphan.number != first_block {
            let parent_unchanged = match oldest_orphan.number.checked_sub(1) {
                Some(parent) => self.current_hash(parent)? == Some(oldest_orphan.parent_hash),
                None => false,
            };
            if !parent_unchanged {
                return Err(ChainError::ReorgTooDeep { lowest_tracked: oldest_orphan.number });
            }
        }
        let orphaned: Vec<Block> = progress.tracked.drain(progress.tracked.len() - orphan_count..).collect();
        progress.next_block = oldest_orphan.number;
        Ok(orphaned)
    }

    /// The hash now at `number`, `None` if the chain is shorter.
    fn current_hash(&self, number: u64) -> Result<Option<Hash>, ChainError> {
        let answer = self.client.call("eth_getBlockByNumber", json!([quantity(number), false]))?;
        if answer.is_null() {
            return Ok(None);
        }
        Ok(Some(self.parse_block(&answer)?.hash))
    }

    /// Blocks `from..=to` and the transfers in them touching watched wallets; `None` when the
    /// chain changed while they were read (a parent hash or a log's block hash did not match).
    fn read_range(
        &self,
        ingestion: &Ingestion,
        newest_tracked: Option<&Block>,
        from: u64,
        to: u64,
    ) -> Result<Option<RangeRead>, ChainError> {
        let mut blocks = Vec::new();
        let mut candidates = Vec::new();
        let mut parent = newest_tracked.map(|block| block.hash);
        let numbers: Vec<u64> = (from..=to).collect();
        for chunk in numbers.chunks(self.config.block_batch_size_max.max(1)) {
            let full_transactions = ingestion.native.is_some();
            let calls: Vec<(&str, Value)> =
                chunk.iter().map(|&number| ("eth_getBlockByNumber", json!([quantity(number), full_transactions]))).collect();
            for (&number, answer) in chunk.iter().zip(self.client.batch(&calls)?) {
                if answer.is_null() {
                    return Ok(None);
                }
                let block = self.parse_block(&answer)?;
                if block.number != number {
                    return Err(self.garbage(format!("answered block {} when asked for block {number}", block.number)));
                }
                if parent.is_some_and(|parent| parent != block.parent_hash) {
                    return Ok(None);
                }
                parent = Some(block.hash);
                if full_transactions {
                    self.native_candidates(ingestion, &block, &answer, &mut candidates)?;
                }
                blocks.push(block);
            }
        }
        let mut transfers = self.confirm_native(candidates)?;
        let hashes: HashMap<u64, Hash> = blocks.iter().map(|block| (block.number, block.hash)).collect();
        match self.token_transfers(ingestion, from, to, &hashes)? {
            Some(mut token_transfers) => transfers.append(&mut token_transfers),
            None => return Ok(None),
        }
        transfers.sort_by_key(|transfer| (transfer.block_number, transfer.transaction_index, transfer.log_index));
        Ok(Some(RangeRead { blocks, transfers }))
    }

    /// Ether-carrying transactions of `block` from or to a watched wallet; whether each
    /// succeeded is checked on its receipt afterwards.
    fn native_candidates(&self, ingestion: &Ingestion, block: &Block, answer: &Value, out: &mut Vec<Transfer>) -> Result<(), ChainError> {
        let Some(asset) = &ingestion.native else { return Ok(()) };
        let Some(transactions) = answer.get("transactions").and_then(Value::as_array) else {
            return Err(self.garbage(format!("answered block {} without its transactions", block.number)));
        };
        for transaction in transactions {
            let field = |name: &str| transaction.get(name).and_then(Value::as_str);
            let value = field("value").and_then(hex::parse_u256);
            let from = field("from").and_then(hex::parse_address);
            // A contract creation has no `to`; its value goes to a new contract, never to a wallet.
            let to = match transaction.get("to") {
                Some(Value::Null) | None => continue,
                Some(to) => to.as_str().and_then(hex::parse_address),
            };
            let (Some(value), Some(from), Some(to)) = (value, from, to) else {
                return Err(self.garbage(format!("answered a malformed transaction in block {}: {transaction}", block.number)));
            };
            if value == Uint256::Fits(0) || !(ingestion.addresses.contains(&from) || ingestion.addresses.contains(&to)) {
                continue;
            }
            let transaction_hash = field("hash").and_then(Hash::parse);
            let transaction_index = field("transactionIndex").and_then(hex::parse_u64);
            let (Some(transaction_hash), Some(transaction_index)) = (transaction_hash, transaction_index) else {
                return Err(self.garbage(format!("answered a transaction without hash or index in block {}", block.number)));
            };
            out.push(Transfer {
                chain_id: self.config.chain_id,
                block_number: block.number,
                block_hash: block.hash,
                transaction_hash,
                transaction_index,
                log_index: None,
                asset: asset.clone(),
                from: self.caip_address(&from),
                to: self.caip_address(&to),
                amount: match value {
                    Uint256::Fits(amount) => Ok(amount),
                    Uint256::TooLarge(hex) => Err(TooLarge { hex }),
                },
            });
        }
        Ok(())
    }

    /// Keeps the candidates whose transaction succeeded: a reverted transaction moves no ether.
    fn confirm_native(&self, candidates: Vec<Transfer>) -> Result<Vec<Transfer>, ChainError> {
        let mut confirmed = Vec::with_capacity(candidates.len());
        for chunk in candidates.chunks(self.config.batch_size_max.max(1)) {
            let calls: Vec<(&str, Value)> =
                chunk.iter().map(|transfer| ("eth_getTransactionReceipt", json!([transfer.transaction_hash.to_string()]))).collect();
            for (transfer, receipt) in chunk.iter().zip(self.client.batch(&calls)?) {
                match receipt.get("status").and_then(Value::as_str) {
                    Some("0x1") => confirmed.push(transfer.clone()),
                    Some("0x0") => {}
                    _ => return Err(self.garbage(format!("answered the receipt of {} with {receipt}", transfer.transaction_hash))),
                }
            }
        }
        Ok(confirmed)
    }

    /// ERC-20 `Transfer` logs of the watched tokens in `from..=to` touching a watched wallet.
    /// Fetched by token and topic, filtered here by wallet: wallet lists run to thousands, more
    /// than nodes accept as topic filters. `None` when a log's block hash is not the one read.
    fn token_transfers(
        &self,
        ingestion: &Ingestion,
        from: u64,
        to: u64,
        hashes: &HashMap<u64, Hash>,
    ) -> Result<Option<Vec<Transfer>>, ChainError> {
        if ingestion.tokens.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let tokens: Vec<String> = ingestion.tokens.keys().map(hex::format_address).collect();
        let mut transfers = Vec::new();
        let mut start = from;
        while start <= to {
            let end = to.min(start.saturating_add(self.config.log_block_range_max.max(1) - 1));
            let filter = json!({"fromBlock": quantity(start), "toBlock": quantity(end), "address": tokens, "topics": [TRANSFER_TOPIC]});
            let logs = self.client.call("eth_getLogs", json!([filter]))?;
            let Some(logs) = logs.as_array() else { return Err(self.garbage(format!("answered eth_getLogs with {logs}"))) };
            for log in logs {
                match self.parse_transfer_log(ingestion, log, hashes)? {
                    LogOutcome::Transfer(transfer) => transfers.push(*transfer),
                    LogOutcome::Ignored => {}
                    LogOutcome::ChainChanged => return Ok(None),
                }
            }
            start = end + 1;
        }
        Ok(Some(transfers))
    }

    fn parse_transfer_log(&self, ingestion: &Ingestion, log: &Value, hashes: &HashMap<u64, Hash>) -> Result<LogOutcome, ChainError> {
        let field = |name: &str| log.get(name).and_then(Value::as_str);
        if log.get("removed").and_then(Value::as_bool) == Some(true) {
            return Ok(LogOutcome::ChainChanged);
        }
        let topics: Vec<&str> =
            log.get("topics").and_then(Value::as_array).map(|topics| topics.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        // ERC-721 uses the same event with the token id as a third indexed topic: not an amount.
        if topics.len() != 3 || topics[0] != TRANSFER_TOPIC {
            return Ok(LogOutcome::Ignored);
        }
        let garbage = || self.garbage(format!("answered a malformed Transfer log: {log}"));
        let token = field("address").and_then(hex::parse_address).ok_or_else(garbage)?;
        let from = topic_address(topics[1]).ok_or_else(garbage)?;
        let to = topic_address(topics[2]).ok_or_else(garbage)?;
        if !(ingestion.addresses.contains(&from) || ingestion.addresses.contains(&to)) {
            return Ok(LogOutcome::Ignored);
        }
        let Some(asset) = ingestion.tokens.get(&token) else { return Err(garbage()) };
        let block_number = field("blockNumber").and_then(hex::parse_u64).ok_or_else(garbage)?;
        let block_hash = field("blockHash").and_then(Hash::parse).ok_or_else(garbage)?;
        if hashes.get(&block_number) != Some(&block_hash) {
            return Ok(LogOutcome::ChainChanged);
        }
        let amount = match field("data").and_then(hex::parse_u256).ok_or_else(garbage)? {
            Uint256::Fits(amount) => Ok(amount),
            Uint256::TooLarge(hex) => Err(TooLarge { hex }),
        };
        Ok(LogOutcome::Transfer(Box::new(Transfer {
            chain_id: self.config.chain_id,
            block_number,
            block_hash,
            transaction_hash: field("transactionHash").and_then(Hash::parse).ok_or_else(garbage)?,
            transaction_index: field("transactionIndex").and_then(hex::parse_u64).ok_or_else(garbage)?,
            log_index: Some(field("logIndex").and_then(hex::parse_u64).ok_or_else(garbage)?),
            asset: asset.clone(),
            from: self.caip_address(&from),
            to: self.caip_address(&to),
            amount,
        })))
    }

    fn head_number(&self) -> Result<u64, ChainError> {
        let answer = self.client.call("eth_blockNumber", json!([]))?;
        self.quantity(&answer, "eth_blockNumber")
    }

    fn parse_block(&self, answer: &Value) -> Result<Block, ChainError> {
        let field = |name: &str| answer.get(name).and_then(Value::as_str);
        let block = (|| {
            Some(Block {
                number: hex::parse_u64(field("number")?)?,
                hash: Hash::parse(field("hash")?)?,
                parent_hash: Hash::parse(field("parentHash")?)?,
                timestamp: hex::parse_u64(field("timestamp")?)?,
            })
        })();
        block.ok_or_else(|| self.garbage(format!("answered a malformed block: {}", abbreviated(answer))))
    }

    fn quantity(&self, answer: &Value, method: &str) -> Result<u64, ChainError> {
        answer.as_str().and_then(hex::parse_u64).ok_or_else(|| self.garbage(format!("answered {method} with {answer}")))
    }

    fn garbage(&self, reason: String) -> ChainError {
        ChainError::SourceUnavailable { url: self.client.url().to_owned(), reason }
    }

    /// The EVM address of a CAIP-10 address on this chain.
    fn evm_address(&self, address: &Address) -> Result<EvmAddress, ChainError> {
        let unsupported = |reason| ChainError::Unsupported { value: address.to_string(), chain_id: self.config.chain_id, reason };
        if address.chain() != self.chain {
            return Err(unsupported("the address is on another chain"));
        }
        let account = &address.as_str()[self.chain.len() + 1..];
        hex::parse_address(account).ok_or_else(|| unsupported("not an EVM address (0x and 40 hex digits)"))
    }

    /// `None` for ether (`slip44:60`), the token contract for `erc20:0x…`.
    fn asset_contract(&self, asset: &AssetId) -> Result<Option<EvmAddress>, ChainError> {
        let unsupported = |reason| ChainError::Unsupported { value: asset.to_string(), chain_id: self.config.chain_id, reason };
        if asset.chain() != self.chain {
            return Err(unsupported("the asset is on another chain"));
        }
        let reference = &asset.as_str()[self.chain.len() + 1..];
        if reference == "slip44:60" {
            return Ok(None);
        }
        let token = reference.strip_prefix("erc20:").ok_or(unsupported("only ether (slip44:60) and ERC-20 tokens (erc20:0x…) are read"))?;
        hex::parse_address(token).map(Some).ok_or_else(|| unsupported("the token is not an EVM address (0x and 40 hex digits)"))
    }

    fn caip_address(&self, address: &EvmAddress) -> Address {
        Address::parse(&format!("{}:{}", self.chain, hex::format_address(address)))
            .expect("an EVM address on an eip155 chain is valid CAIP-10")
    }
}

/// Blocks read by one ingestion call and the transfers in them.
struct RangeRead {
    blocks: Vec<Block>,
    transfers: Vec<Transfer>,
}

enum LogOutcome {
    Transfer(Box<Transfer>),
    Ignored,
    ChainChanged,
}

/// An indexed address topic: 12 zero bytes, then the address.
fn topic_address(topic: &str) -> Option<EvmAddress> {
    let digits = topic.strip_prefix("0x")?;
    if digits.len() != 64 || !digits[..24].bytes().all(|digit| digit == b'0') {
        return None;
    }
    hex::parse_address(&format!("0x{}", &digits[24..]))
}

fn quantity(number: u64) -> String {
    format!("{number:#x}")
}

/// A node's answer in an error message, cut to a readable length.
fn abbreviated(answer: &Value) -> String {
    const LENGTH_MAX: usize = 200;
    let text = answer.to_string();
    match text.char_indices().nth(LENGTH_MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
