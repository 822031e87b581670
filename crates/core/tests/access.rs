//! Access separation: key sets with the wallets they control, and the signers who hold keys
//! for client assets and for the firm's own.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

use ringfence_core::{
    Action, Actor, Address, ClassKind, Command, Custodian, InstructionId, KeyScheme, KeySet, KeySetId, Meta, Register, Status, Tier,
    Timestamp, Wallet, WalletClass, WalletId,
};

fn apply(register: &mut Register, action: Action) {
    let meta = Meta {
        actor: Actor::parse("ops").unwrap(),
        instruction: InstructionId::parse("i").unwrap(),
        effective_at: Timestamp::from_micros(0),
    };
    assert_eq!(register.apply(&Command { meta, action }).unwrap().status, Status::Accepted);
}

fn key_set(id: &str, class: ClassKind, signers: &[&str]) -> Action {
    Action::RegisterKeySet(KeySet {
        id: KeySetId::parse(id).unwrap(),
        scheme: KeyScheme::Multisig { threshold: 2 },
        signers: signers.iter().map(|s| (*s).to_owned()).collect(),
        class,
    })
}

fn wallet(id: &str, n: u8, class: WalletClass, key_set: &str) -> Action {
    Action::RegisterWallet(Wallet {
        id: WalletId::parse(id).unwrap(),
        address: Address::parse(&format!("eip155:1:0x{n:040x}")).unwrap(),
        class,
        tier: Tier::Cold,
        custodian: Custodian::InHouse,
        key_set: KeySetId::parse(key_set).unwrap(),
    })
}

#[test]
fn a_signer_in_client_and_firm_key_sets_is_flagged_and_each_key_set_lists_its_wallets() {
    let mut register = Register::new();
    apply(&mut register, key_set("ks-client-cold", ClassKind::ClientOmnibus, &["cfo", "vault-1", "vault-2"]));
    apply(&mut register, key_set("ks-client-hot", ClassKind::ClientOmnibus, &["ops-bob", "ops-dana"]));
    apply(&mut register, key_set("ks-firm", ClassKind::Firm, &["cfo", "treasurer"]));
    apply(&mut register, wallet("omnibus-cold", 1, WalletClass::ClientOmnibus, "ks-client-cold"));
    apply(&mut register, wallet("omnibus-cold-2", 2, WalletClass::ClientOmnibus, "ks-client-cold"));
    apply(&mut register, wallet("treasury", 3, WalletClass::Firm, "ks-firm"));

    let (access, shared) = register.access_separation();
    let listed: Vec<(&str, Vec<&str>)> =
        access.iter().map(|a| (a.key_set.id.as_str(), a.wallets.iter().map(|w| w.as_str()).collect())).collect();
    assert_eq!(
        listed,
        [("ks-client-cold", vec!["omnibus-cold", "omnibus-cold-2"]), ("ks-client-hot", vec![]), ("ks-firm", vec!["treasury"])]
    );
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].signer, "cfo");
    assert_eq!(shared[0].client_key_sets.iter().map(|k| k.as_str()).collect::<Vec<_>>(), ["ks-client-cold"]);
    assert_eq!(shared[0].firm_key_sets.iter().map(|k| k.as_str()).collect::<Vec<_>>(), ["ks-firm"]);
}
