//! The harness against the real anvil: the token deploys and mints, snapshots revert, a stopped
//! node refuses connections and comes back with its chain, and a dropped node is removed.

use std::time::{Duration, Instant};

use serde_json::json;

const TEARDOWN_WAIT_MAX: Duration = Duration::from_secs(30);
const TEARDOWN_POLL_INTERVAL: Duration = Duration::from_millis(20);

fn balance_of(node: &ringfence_testchain::Node, token: &str, owner: &str) -> String {
    let data = format!("0x70a08231{}", ringfence_testchain::word_from_address(owner));
    node.call("eth_call", json!([{"to": token, "data": data}, "latest"])).as_str().expect("eth_call answers hex").to_owned()
}

#[test]
fn token_deploys_mints_and_transfers() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let [minter, holder, receiver] = [&node.accounts()[0], &node.accounts()[1], &node.accounts()[2]];
    let token = node.deploy_erc20(minter, "Test Dollar", "TUSD");
    node.mint(&token, minter, holder, 1_000);
    let receipt = node.transfer_erc20(&token, holder, receiver, 400);
    // Transfer(address,address,uint256)
    assert_eq!(receipt["logs"][0]["topics"][0], "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
    assert_eq!(balance_of(&node, &token, holder), format!("0x{}", ringfence_testchain::word_from_u128(600)));
    assert_eq!(balance_of(&node, &token, receiver), format!("0x{}", ringfence_testchain::word_from_u128(400)));
}

#[test]
fn revert_drops_later_blocks_and_a_stopped_node_comes_back_with_its_chain() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let snapshot = node.snapshot();
    let before = node.block_number();
    node.transfer_native(&node.accounts()[0], &node.accounts()[1], 5);
    node.mine(3);
    assert_eq!(node.block_number(), before + 4);
    node.revert(&snapshot);
    assert_eq!(node.block_number(), before);

    node.mine(2);
    let head = node.block_number();
    let head_hash = node.block_hash(head);
    node.stop();
    assert!(node.rpc("eth_blockNumber", json!([])).is_err(), "a stopped node answered");
    node.restart();
    assert_eq!(node.block_number(), head);
    assert_eq!(node.block_hash(head), head_hash);
}

#[test]
fn a_dropped_node_is_stopped_and_removed() {
    let Some(node) = ringfence_testchain::anvil() else { return };
    let url = node.url().to_owned();
    let directory = node.state_file().parent().expect("the state file is in the node's directory").to_owned();
    assert!(directory.is_dir());
    drop(node);
    let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(1))).build());
    let deadline = Instant::now() + TEARDOWN_WAIT_MAX;
    while directory.exists() || agent.post(&url).send_json(json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})).is_ok() {
        assert!(Instant::now() < deadline, "the node at {url} ({}) is still there after {TEARDOWN_WAIT_MAX:?}", directory.display());
        std::thread::sleep(TEARDOWN_POLL_INTERVAL);
    }
}
