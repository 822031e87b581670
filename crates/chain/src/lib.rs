//! The chain adapter: **the only code that talks to nodes.** It reads what the chains say
//! (blocks, balances at a block, transfers touching watched wallets) and hands it over in the
//! register's terms (`ringfence_core::Address`, `AssetId`); it decides nothing.
//!
//! EVM chains over JSON-RPC ([`Evm`]): blocks and the block at or before an instant; native and
//! ERC-20 balances of many (wallet, asset) pairs at one block, in JSON-RPC batches; ingestion of
//! native transfers and ERC-20 `Transfer` logs touching watched wallets ([`Ingestion`]), only
//! from confirmed blocks, with the ingested blocks' hashes tracked so that a reorganisation
//! reports the orphaned blocks, whose observations the caller rolls back.
//!
//! **Blocking.** Every call blocks the calling thread for at most about
//! `attempts_max × timeout` plus the backoff between attempts, per HTTP request (a call may
//! make several: batches are chunked). From async code (the server's tokio runtime), call it
//! inside `tokio::task::spawn_blocking`; a reconciliation run simply calls it on its own thread.
//!
//! **Never a zero for an unknown.** A node that is down, times out after the retries, or
//! answers something malformed gives [`ChainError::SourceUnavailable`]; a balance or amount
//! beyond `u128` is [`TooLarge`], kept with the node's spelling; an ERC-20 call to an address
//! without a contract is [`ChainError::NotAContract`]. None of these is ever read as zero.
//!
//! **Why a hand-written JSON-RPC client and not `alloy`.** Measured on this machine (2 cores,
//! dev profile with dependencies at opt-level 2, as the workspace builds tests), cold builds
//! of an empty crate depending on:
//! - `alloy` 1.x, default features off, `std`, `provider-http`, `rpc-types-eth`, `sol-types`:
//!   258 crates, **213 s** wall (321 s CPU);
//! - `ureq` 3 (no default features, `json`) with `serde`/`serde_json`: 25 crates, **21 s**
//!   wall (36 s CPU); in this workspace serde, serde_json, http and httparse were already
//!   built, so the adapter adds about 6 small crates.
//!
//! What the adapter needs from JSON-RPC is eight methods (`eth_chainId`, `eth_blockNumber`,
//! `eth_getBlockByNumber`, `eth_getBalance`, `eth_call` for `balanceOf`, `eth_getLogs`,
//! `eth_getTransactionReceipt`, batches), one function selector and one event topic (both
//! constants, so no Keccak), and 256-bit numbers only to check that they fit `u128`. That
//! is a few hundred lines against ten times the build time of the whole workspace's other
//! dependencies; alloy's strengths (signing, ABI codegen, providers, pub-sub) are not used
//! here. Revisit if the adapter ever signs transactions or decodes many ABIs.

mod evm;
mod hex;
mod rpc;

pub use evm::{Block, Evm, EvmConfig, Ingested, Ingestion, TooLarge, Transfer};
pub use hex::Hash;

/// Why the adapter could not give an answer. Each is distinct from any balance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The node is down, timed out after every attempt, or answered something malformed.
    #[error("the node at {url} is unavailable: {reason}; check that it runs and answers JSON-RPC, then run again")]
    SourceUnavailable { url: String, reason: String },
    /// The node answered the request with a JSON-RPC error (e.g. an unknown block hash).
    #[error("the node refused {method}: {message} (code {code})")]
    Rejected { method: String, code: i64, message: String },
    /// The node serves another chain than the one configured.
    #[error("the node at {url} serves chain eip155:{actual}, not eip155:{expected}; check the node URL")]
    WrongChain { url: String, expected: u64, actual: u64 },
    /// The block does not exist (yet) on the node.
    #[error("block {number} does not exist on the node (its head is block {head})")]
    NoSuchBlock { number: u64, head: u64 },
    /// An address or asset that this adapter cannot read: another chain, or not an EVM address,
    /// ether (`slip44:60`) or an ERC-20 token.
    #[error("{value} cannot be read from eip155:{chain_id}: {reason}")]
    Unsupported { value: String, chain_id: u64, reason: &'static str },
    /// `balanceOf` on an address that holds no contract at that block.
    #[error("{token} holds no contract at block {block_number}; check the asset's token address and the cut-off")]
    NotAContract { token: String, block_number: u64 },
    /// The chain reorganised below every block still tracked: the observations cannot be
    /// reconciled block by block; ingest again from a block before the fork.
    #[error("the chain reorganised below block {lowest_tracked}, the oldest block still tracked; ingest again from an earlier block")]
    ReorgTooDeep { lowest_tracked: u64 },
    /// The chain kept changing while a range was read (a reorganisation during the call).
    #[error("the chain changed while blocks {from}..={to} were read, {attempts} times; call again")]
    ChainChanged { from: u64, to: u64, attempts: u32 },
}
