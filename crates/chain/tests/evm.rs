//! The EVM adapter against a real node (anvil) and a real ERC-20 (OpenZeppelin's
//! `ERC20PresetMinterPauser`): balances at a block, ingestion of transfers touching watched
//! wallets, confirmation depth, reorganisations, an unavailable node, amounts beyond `u128`.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use ringfence_chain::{Block, ChainError, Evm, EvmConfig, Hash, TooLarge, Transfer};
use ringfence_core::{Address, AssetId};
use ringfence_testchain::Node;
use serde_json::Value;

const CHAIN: u64 = ringfence_testchain::CHAIN_ID;

fn address(hex: &str) -> Address {
    Address::parse(&format!("eip155:{CHAIN}:{hex}")).expect("a valid CAIP-10 address")
}

/// A wallet nobody holds keys for: it only receives.
fn fresh(number: u64) -> String {
    format!("0x{:040x}", 0x00c0_ffee_0000_u64 + number)
}

fn ether() -> AssetId {
    AssetId::parse(&format!("eip155:{CHAIN}/slip44:60")).expect("a valid CAIP-19 asset")
}

fn token_asset(token: &str) -> AssetId {
    AssetId::parse(&format!("eip155:{CHAIN}/erc20:{token}")).expect("a valid CAIP-19 asset")
}

/// Quick to give up, so that the unavailable-node test stays fast.
fn config(node: &Node, confirmations: u64) -> EvmConfig {
    let mut config = EvmConfig::new(node.url(), node.chain_id());
    config.confirmations = confirmations;
    config.timeout = Duration::from_secs(5);
    config.backoff_initial = Duration::from_millis(10);
    config
}

fn connect(node: &Node, confirmations: u64) -> Evm {
    Evm::connect(config(node, confirmations)).expect("the adapter connects to anvil")
}

fn hash(value: &Value) -> Hash {
    value.as_str().and_then(Hash::parse).unwrap_or_else(|| panic!("{value} is not a hash"))
}

fn number(value: &Value) -> u64 {
    ringfence_testchain::parse_quantity(value).unwrap_or_else(|| panic!("{value} is not a quantity"))
}

/// What a receipt says the transfer in it is: (block, tx hash, log index).
fn receipt_coordinates(receipt: &Value, log: Option<usize>) -> (u64, Hash, Option<u64>) {
    (number(&receipt["blockNumber"]), hash(&receipt["transactionHash"]), log.map(|index| number(&receipt["logs"][index]["logIndex"])))
}

fn coordinates(transfer: &Transfer) -> (u64, Hash, Option<u64>) {
    (transfer.block_number, transfer.transaction_hash, transfer.log_index)
}

#[test]
fn balances_at_a_block_match_what_was_minted_and_transferred_and_differ_at_an_earlier_block() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let [minter, holder] = [&node.accounts()[0], &node.accounts()[1]];
    let receiver = fresh(1);
    let token = node.deploy_erc20(minter, "Test Dollar", "TUSD");
    node.mint(&token, minter, holder, 1_000);
    let evm = connect(&node, 0);
    let before = evm.head().expect("the head block");
    node.transfer_erc20(&token, holder, &receiver, 400);
    node.transfer_native(minter, &receiver, 5);
    let after = evm.head().expect("the head block");

    let pairs = [
        (address(holder), token_asset(&token)),
        (address(&receiver), token_asset(&token)),
        (address(&receiver), ether()),
        (address(&fresh(2)), token_asset(&token)),
    ];
    assert_eq!(evm.balances(&pairs, &after), Ok(vec![Ok(600), Ok(400), Ok(5), Ok(0)]));
    assert_eq!(evm.balances(&pairs, &before), Ok(vec![Ok(1_000), Ok(0), Ok(0), Ok(0)]));

    // An asset whose token address holds no contract is an error, not a zero.
    let nothing_there = [(address(holder), token_asset(&fresh(3)))];
    assert!(matches!(evm.balances(&nothing_there, &after), Err(ChainError::NotAContract { .. })));
    // So is a wallet on another chain.
    let elsewhere = [(Address::parse(&format!("eip155:1:{receiver}")).expect("valid"), ether())];
    assert!(matches!(evm.balances(&elsewhere, &after), Err(ChainError::Unsupported { .. })));
}

#[test]
fn transfers_touching_watched_wallets_are_ingested_and_others_are_not() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let [minter, watched, unwatched] = [&node.accounts()[0], &node.accounts()[1], &node.accounts()[2]];
    let [watched_fresh, unwatched_fresh] = [fresh(1), fresh(2)];
    let token = node.deploy_erc20(minter, "Test Dollar", "TUSD");
    let evm = connect(&node, 0);
    let first_block = node.block_number() + 1;

    let mint_in = node.mint(&token, minter, watched, 1_000);
    let token_out = node.transfer_erc20(&token, watched, &watched_fresh, 300);
    node.mint(&token, minter, unwatched, 50);
    node.transfer_erc20(&token, unwatched, &unwatched_fresh, 20);
    let native_in = node.transfer_native(minter, watched, 7);
    let native_out = node.transfer_native(watched, &unwatched_fresh, 3);
    node.transfer_native(minter, &unwatched_fresh, 11);

    let mut ingestion =
        evm.ingestion(&[address(watched), address(&watched_fresh)], &[ether(), token_asset(&token)], first_block).expect("an ingestion");
    let ingested = evm.ingest(&mut ingestion).expect("ingested");
    assert!(ingested.orphaned.is_empty());
    assert_eq!(ingested.behind_blocks, 0);
    assert_eq!(ingested.ingested_through.map(|block| block.number), Some(node.block_number()));

    let zero = "0x0000000000000000000000000000000000000000";
    let expected = [
        (receipt_coordinates(&mint_in, Some(0)), token_asset(&token), zero, watched.as_str(), 1_000),
        (receipt_coordinates(&token_out, Some(0)), token_asset(&token), watched.as_str(), watched_fresh.as_str(), 300),
        (receipt_coordinates(&native_in, None), ether(), minter.as_str(), watched.as_str(), 7),
        (receipt_coordinates(&native_out, None), ether(), watched.as_str(), unwatched_fresh.as_str(), 3),
    ];
    let actual: Vec<_> = ingested
        .transfers
        .iter()
        .map(|transfer| (coordinates(transfer), &transfer.asset, &transfer.from, &transfer.to, &transfer.amount))
        .collect();
    assert_eq!(actual.len(), expected.len(), "{:#?}", ingested.transfers);
    for (actual, (coordinates, asset, from, to, amount)) in actual.into_iter().zip(expected) {
        assert_eq!(actual, (coordinates, &asset, &address(from), &address(to), &Ok(amount)));
    }
    for transfer in &ingested.transfers {
        assert_eq!(transfer.chain_id, CHAIN);
        assert_eq!(Some(transfer.block_hash), evm.block(transfer.block_number).ok().map(|block| block.hash));
    }

    // Nothing new: nothing observed twice.
    let again = evm.ingest(&mut ingestion).expect("ingested");
    assert!(again.transfers.is_empty() && again.orphaned.is_empty());
}

#[test]
fn only_blocks_at_the_confirmation_depth_are_ingested() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let evm = connect(&node, 3);
    let wallet = fresh(1);
    let first_block = node.block_number() + 1;
    let mut ingestion = evm.ingestion(&[address(&wallet)], &[ether()], first_block).expect("an ingestion");
    let receipt = node.transfer_native(&node.accounts()[0], &wallet, 9);
    node.mine(2);
    let unconfirmed = evm.ingest(&mut ingestion).expect("ingested");
    assert!(unconfirmed.transfers.is_empty(), "a block 2 deep was ingested with 3 confirmations required");
    assert_eq!(ingestion.next_block(), first_block);

    node.mine(1);
    let confirmed = evm.ingest(&mut ingestion).expect("ingested");
    assert_eq!(confirmed.transfers.iter().map(coordinates).collect::<Vec<_>>(), vec![receipt_coordinates(&receipt, None)]);
    assert_eq!(evm.confirmed_head().expect("a head").map(|block| block.number), Some(number(&receipt["blockNumber"])));
}

#[test]
fn a_reorg_reports_the_orphaned_blocks_and_ingests_the_new_chain() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let [minter, watched] = [&node.accounts()[0], &node.accounts()[1]];
    let token = node.deploy_erc20(minter, "Test Dollar", "TUSD");
    let evm = connect(&node, 0);
    let fork = node.block_number();
    let mut ingestion = evm.ingestion(&[address(watched)], &[ether(), token_asset(&token)], fork + 1).expect("an ingestion");
    let snapshot = node.snapshot();

    let old_mint = node.mint(&token, minter, watched, 500);
    let old_native = node.transfer_native(minter, watched, 8);
    let old = evm.ingest(&mut ingestion).expect("ingested");
    assert_eq!(
        old.transfers.iter().map(coordinates).collect::<Vec<_>>(),
        vec![receipt_coordinates(&old_mint, Some(0)), receipt_coordinates(&old_native, None)]
    );
    let old_blocks: Vec<Block> = ingestion.tracked_blocks().copied().collect();
    // The same, as a later process would resume it from stored blocks.
    let mut resumed =
        evm.resume_ingestion(&[address(watched)], &[ether(), token_asset(&token)], old_blocks.clone()).expect("a resumed ingestion");

    // The chain forks below both: a different history of three blocks replaces them.
    node.revert(&snapshot);
    let new_mint = node.mint(&token, minter, watched, 499);
    node.mine(2);
    let new = evm.ingest(&mut ingestion).expect("ingested");
    assert_eq!(new.orphaned, old_blocks, "both old blocks are orphaned, oldest first");
    assert_eq!(new.orphaned.iter().map(|block| block.number).collect::<Vec<_>>(), vec![fork + 1, fork + 2]);
    assert_eq!(new.transfers.iter().map(coordinates).collect::<Vec<_>>(), vec![receipt_coordinates(&new_mint, Some(0))]);
    assert_eq!(new.transfers[0].amount, Ok(499));
    assert_ne!(new.transfers[0].block_hash, old.transfers[0].block_hash);
    assert_eq!(new.ingested_through.map(|block| block.number), Some(fork + 3));
    assert_eq!(evm.ingest(&mut resumed), Ok(new));
}

#[test]
fn a_reorg_below_every_tracked_block_is_refused_and_changes_nothing() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let [minter, watched] = [&node.accounts()[0], &node.accounts()[1]];
    let mut config = config(&node, 0);
    config.tracked_blocks_max = 2;
    let evm = Evm::connect(config).expect("the adapter connects to anvil");
    let fork = node.block_number();
    let mut ingestion = evm.ingestion(&[address(watched)], &[ether()], fork + 1).expect("an ingestion");
    let snapshot = node.snapshot();
    node.transfer_native(minter, watched, 1);
    node.mine(4);
    evm.ingest(&mut ingestion).expect("ingested");
    let tracked: Vec<Block> = ingestion.tracked_blocks().copied().collect();
    assert_eq!(tracked.iter().map(|block| block.number).collect::<Vec<_>>(), vec![fork + 4, fork + 5]);

    // The fork is at fork + 1, below both tracked blocks: the adapter cannot tell which
    // observations to roll back, and says so.
    node.revert(&snapshot);
    node.transfer_native(minter, watched, 2);
    node.mine(5);
    assert_eq!(evm.ingest(&mut ingestion).map(|_| ()), Err(ChainError::ReorgTooDeep { lowest_tracked: fork + 4 }));
    assert_eq!(ingestion.tracked_blocks().copied().collect::<Vec<_>>(), tracked);
    assert_eq!(ingestion.next_block(), fork + 6);
}

#[test]
fn a_stopped_node_gives_source_unavailable_not_a_zero_balance() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let wallet = fresh(1);
    node.transfer_native(&node.accounts()[0], &wallet, 12);
    let evm = connect(&node, 0);
    let head = evm.head().expect("the head block");
    let pairs = [(address(&wallet), ether())];
    let mut ingestion = evm.ingestion(&[address(&wallet)], &[ether()], 0).expect("an ingestion");

    node.stop();
    let unavailable = |outcome: Result<(), ChainError>| matches!(outcome, Err(ChainError::SourceUnavailable { .. }));
    let balances = evm.balances(&pairs, &head);
    assert!(unavailable(balances.clone().map(|_| ())), "{balances:?}");
    assert!(unavailable(evm.ingest(&mut ingestion).map(|_| ())));
    assert!(unavailable(evm.block_at_or_before(head.timestamp).map(|_| ())));
    assert!(unavailable(Evm::connect(config(&node, 0)).map(|_| ())));

    node.restart();
    assert_eq!(evm.balances(&pairs, &head), Ok(vec![Ok(12)]));
}

#[test]
fn a_node_answering_garbage_is_unavailable() {
    // Not a node at all: an HTTP server answering every request with a web page.
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0; 4096];
            let _ = stream.read(&mut request);
            let page = "<html>maintenance</html>";
            let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}", page.len());
        }
    });
    let mut config = EvmConfig::new(&url, CHAIN);
    config.backoff_initial = Duration::from_millis(1);
    match Evm::connect(config) {
        Err(ChainError::SourceUnavailable { reason, .. }) => assert!(reason.contains("other than JSON"), "{reason}"),
        other => panic!("expected SourceUnavailable, got {other:?}"),
    }
}

#[test]
fn a_node_of_another_chain_is_refused() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let outcome = Evm::connect(EvmConfig::new(node.url(), 1)).map(|_| ());
    assert_eq!(outcome, Err(ChainError::WrongChain { url: node.url().to_owned(), expected: 1, actual: CHAIN }));
}

#[test]
fn amounts_beyond_u128_are_reported_not_truncated() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let minter = &node.accounts()[0];
    let wallet = fresh(1);
    let token = node.deploy_erc20(minter, "Big", "BIG");
    let evm = connect(&node, 0);
    let first_block = node.block_number() + 1;
    let two_to_the_128 = format!("{:0>64}", format!("1{}", "0".repeat(32)));
    node.mint_word(&token, minter, &wallet, &two_to_the_128);
    let too_large = Err(TooLarge { hex: format!("0x{two_to_the_128}") });

    let head = evm.head().expect("the head block");
    let balances = evm.balances(&[(address(&wallet), token_asset(&token))], &head).expect("balances");
    assert_eq!(balances, vec![too_large.clone()]);
    let mut ingestion = evm.ingestion(&[address(&wallet)], &[token_asset(&token)], first_block).expect("an ingestion");
    let ingested = evm.ingest(&mut ingestion).expect("ingested");
    assert_eq!(ingested.transfers.iter().map(|transfer| transfer.amount.clone()).collect::<Vec<_>>(), vec![too_large]);
}

#[test]
fn block_at_or_before_finds_the_cut_off_block() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let evm = connect(&node, 0);
    let genesis = evm.block(0).expect("the genesis block");
    let start = genesis.timestamp + 1_000;
    // Blocks 1 to 20 at start + 10, + 20, … + 200.
    for block in 1..=20 {
        node.set_next_block_timestamp(start + 10 * block);
        node.mine(1);
    }
    let at = |timestamp| evm.block_at_or_before(timestamp).expect("a search").map(|block| block.number);
    assert_eq!(at(genesis.timestamp - 1), None);
    assert_eq!(at(genesis.timestamp), Some(0));
    assert_eq!(at(start + 9), Some(0));
    assert_eq!(at(start + 10), Some(1));
    assert_eq!(at(start + 75), Some(7));
    assert_eq!(at(start + 200), Some(20));
    assert_eq!(at(start + 1_000_000), Some(20));
    assert!(matches!(evm.block(21), Err(ChainError::NoSuchBlock { number: 21, head: 20 })));
}

#[test]
fn ten_thousand_balances_are_fetched_in_batches() {
    const WALLETS: u64 = 10_000;
    let Some(node) = ringfence_testchain::anvil() else { return };
    let minter = &node.accounts()[0];
    let token = node.deploy_erc20(minter, "Test Dollar", "TUSD");
    let funded = [0, 4_321, WALLETS - 1];
    for (index, &wallet) in funded.iter().enumerate() {
        node.mint(&token, minter, &fresh(wallet), 100 + index as u128);
        node.set_balance(&fresh(wallet), 1_000 + index as u128);
    }
    node.mine(1);
    let evm = connect(&node, 0);
    let head = evm.head().expect("the head block");
    let pairs: Vec<(Address, AssetId)> =
        (0..WALLETS).flat_map(|wallet| [(address(&fresh(wallet)), ether()), (address(&fresh(wallet)), token_asset(&token))]).collect();

    let started = Instant::now();
    let balances = evm.balances(&pairs, &head).expect("balances");
    eprintln!("{} balances ({WALLETS} wallets × ether and one token) in {:?}", pairs.len(), started.elapsed());

    assert_eq!(balances.len(), pairs.len());
    for wallet in 0..WALLETS {
        let index = wallet as usize;
        let expected = match funded.iter().position(|&funded| funded == wallet) {
            Some(rank) => (1_000 + rank as u128, 100 + rank as u128),
            None => (0, 0),
        };
        assert_eq!((balances[2 * index].clone(), balances[2 * index + 1].clone()), (Ok(expected.0), Ok(expected.1)), "wallet {wallet}");
    }
}
