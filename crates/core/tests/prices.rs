//! The price register (issue 17): a price is recorded once per source and instant, only for a
//! registered asset, above zero, in its shortest form and never ahead of when it is recorded;
//! the price that values a position is the latest at or before the instant, if it is not too
//! old; no price or a stale one is "not valued", never zero. And a statement issue is
//! recorded once, for an ended period and an entry the journal holds.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

use ringfence_core::price::{MAX_AGE_DEFAULT_MICROS, value};
use ringfence_core::{
    Action, Actor, Asset, AssetId, Command, Currency, InstructionId, Meta, NotValued, Price, Register, Status, Timestamp,
};

const T0: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);
const HOUR: i64 = 3_600_000_000;

fn at(hours: i64) -> Timestamp {
    Timestamp::from_micros(T0.micros() + hours * HOUR)
}

fn eth() -> AssetId {
    AssetId::parse("eip155:1/slip44:60").unwrap()
}

fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

fn price(units: u128, scale: u8, source: &str) -> Price {
    Price { asset: eth(), currency: eur(), units, scale, source: source.into() }
}

/// Applies `action` effective at `effective`, recorded at `recorded`.
fn apply(register: &mut Register, effective: Timestamp, recorded: Timestamp, action: Action) -> (Status, Option<u64>, String) {
    let meta =
        Meta { actor: Actor::parse("ops:ana").unwrap(), instruction: InstructionId::parse("prices-1").unwrap(), effective_at: effective };
    let outcome = register.apply_at(&Command { meta, action }, recorded).unwrap();
    (outcome.status, outcome.seq, outcome.detail)
}

fn registered() -> Register {
    let mut register = Register::new();
    let asset = Action::RegisterAsset(Asset { id: eth(), scale: 18, symbol: "ETH".into() });
    assert_eq!(apply(&mut register, T0, T0, asset).0, Status::Accepted);
    register
}

#[test]
fn a_price_is_recorded_once_per_source_and_instant() {
    let mut register = registered();
    let record = |p| Action::RecordPrice(p);
    assert_eq!(apply(&mut register, at(1), at(2), record(price(301_245, 2, "ecb"))).0, Status::Accepted);
    let (status, seq, _) = apply(&mut register, at(1), at(3), record(price(301_245, 2, "ecb")));
    assert_eq!((status, seq), (Status::AlreadyExists, Some(2)), "the same price again answers with the first entry");
    let (status, _, detail) = apply(&mut register, at(1), at(3), record(price(301_246, 2, "ecb")));
    assert_eq!(status, Status::EntityConflict);
    assert!(detail.contains("EUR 3012.45"), "{detail}");
    assert_eq!(apply(&mut register, at(1), at(3), record(price(301_246, 2, "kraken"))).0, Status::Accepted, "another source");
    assert_eq!(register.prices_of(&eth(), eur()).len(), 2);
    assert_eq!(register.prices_of(&eth(), eur())[0].actor, "ops:ana");
}

#[test]
fn a_price_that_cannot_be_recorded_is_refused_naming_why() {
    let mut register = registered();
    let unknown = Price { asset: AssetId::parse("eip155:1/slip44:61").unwrap(), ..price(1, 0, "ecb") };
    let cases = [
        (unknown, Status::UnknownAsset, "not registered"),
        (price(0, 0, "ecb"), Status::InvalidPrice, "zero"),
        (price(30, 1, "ecb"), Status::InvalidPrice, "shortest form"),
        (price(1, 19, "ecb"), Status::InvalidPrice, "decimals"),
        (price(1, 0, " "), Status::InvalidPrice, "without a source"),
        (price(1, 0, "a\nb"), Status::InvalidPrice, "control"),
        (price(1, 0, &"x".repeat(129)), Status::InvalidPrice, "longer than"),
    ];
    for (bad, status, words) in cases {
        let (found, seq, detail) = apply(&mut register, at(1), at(1), Action::RecordPrice(bad.clone()));
        assert_eq!((found, seq), (status, None), "{bad:?}: {detail}");
        assert!(detail.contains(words), "{detail}");
    }
    let (status, _, detail) = apply(&mut register, at(2), at(1), Action::RecordPrice(price(1, 0, "ecb")));
    assert_eq!(status, Status::InvalidPrice);
    assert!(detail.contains("after the instant it is recorded"), "{detail}");
    assert_eq!(register.seq(), 1, "nothing refused was journaled");
}

#[test]
fn the_price_that_values_is_the_latest_at_or_before_the_instant_and_not_too_old() {
    let mut register = registered();
    // Recorded out of order: a later price first, then an earlier one.
    apply(&mut register, at(10), at(11), Action::RecordPrice(price(3100, 0, "ecb")));
    apply(&mut register, at(5), at(12), Action::RecordPrice(price(3000, 0, "ecb")));
    apply(&mut register, at(10), at(13), Action::RecordPrice(price(3101, 0, "kraken")));
    let series: Vec<(Timestamp, u128)> = register.prices_of(&eth(), eur()).iter().map(|r| (r.at, r.price.units)).collect();
    assert_eq!(series, [(at(5), 3000), (at(10), 3100), (at(10), 3101)]);
    let day = MAX_AGE_DEFAULT_MICROS;
    assert_eq!(register.price_at(&eth(), eur(), at(4), day), Err(NotValued::NoPrice));
    assert_eq!(register.price_at(&eth(), eur(), at(5), day).unwrap().price.units, 3000, "a price at the very instant");
    assert_eq!(register.price_at(&eth(), eur(), at(9), day).unwrap().price.units, 3000);
    assert_eq!(register.price_at(&eth(), eur(), at(10), day).unwrap().price.units, 3101, "of two at one instant, the later recorded");
    assert_eq!(register.price_at(&eth(), eur(), at(34), day).unwrap().price.units, 3101, "exactly 24 hours old");
    let stale = register.price_at(&eth(), eur(), at(35), day).unwrap_err();
    assert_eq!(stale, NotValued::Stale { latest: at(10), max_age_micros: day });
    assert_eq!(stale.to_string(), "the latest price (2026-01-01T10:00:00Z) is older than the 24h allowed");
    assert_eq!(register.price_at(&eth(), eur(), at(35), 48 * HOUR).unwrap().price.units, 3101, "a longer allowed age");
    assert_eq!(register.price_at(&eth(), Currency::parse("USD").unwrap(), at(10), day), Err(NotValued::NoPrice));
    // 2.5 ETH at EUR 3101: EUR 7752.50.
    let record = register.price_at(&eth(), eur(), at(10), day).unwrap();
    assert_eq!(value(2_500_000_000_000_000_000, 18, &record.price), Some(775_250));
}

#[test]
fn prices_survive_a_checkpoint() {
    let mut register = registered();
    apply(&mut register, at(1), at(1), Action::RecordPrice(price(301_245, 2, "ecb")));
    let restored = Register::restore(&register.snapshot().unwrap()).unwrap();
    assert_eq!(restored.differences(&register), Vec::<&str>::new());
    assert_eq!(restored.prices_of(&eth(), eur()).len(), 1);
}

#[test]
fn a_statement_issue_is_recorded_once_for_an_ended_period_and_a_held_entry() {
    use ringfence_core::{Client, ClientCategory, ClientId, Segregation, StatementIssue};
    let mut register = registered();
    let client = Action::RegisterClient(Client {
        id: ClientId::parse("c1").unwrap(),
        category: ClientCategory::Retail,
        segregation: Segregation::Omnibus,
    });
    assert_eq!(apply(&mut register, T0, T0, client).0, Status::Accepted);
    let issue = |client: &str, from: i64, to: i64, as_of: u64, byte: u8| {
        Action::RecordStatement(StatementIssue {
            client: ClientId::parse(client).unwrap(),
            from: at(from),
            to: at(to),
            as_of,
            sha256: [byte; 32],
        })
    };
    let now = at(100);
    assert_eq!(apply(&mut register, now, now, issue("c1", 0, 24, 2, 1)), (Status::Accepted, Some(3), String::new()));
    assert_eq!(apply(&mut register, now, now, issue("c1", 0, 24, 2, 1)).0, Status::AlreadyExists);
    assert_eq!(apply(&mut register, now, now, issue("c1", 0, 24, 3, 2)).0, Status::Accepted, "a new statement for the period");
    for (action, status, words) in [
        (issue("c2", 0, 24, 2, 1), Status::UnknownClient, "not registered"),
        (issue("c1", 24, 0, 2, 1), Status::InvalidStatement, "ends before it starts"),
        (issue("c1", 0, 101, 2, 1), Status::InvalidStatement, "after it is issued"),
        (issue("c1", 0, 24, 99, 1), Status::InvalidStatement, "does not hold yet"),
    ] {
        let (found, seq, detail) = apply(&mut register, now, now, action);
        assert_eq!((found, seq), (status, None), "{detail}");
        assert!(detail.contains(words), "{detail}");
    }
    assert_eq!(register.statements_of(&ClientId::parse("c1").unwrap()).len(), 2);
}

#[test]
fn a_client_holding_assets_without_a_statement_within_the_interval_is_a_breach_until_one_is_issued() {
    use ringfence_core::register::ISSUE_17_RULES_FROM;
    use ringfence_core::{
        Client, ClientCategory, ClientId, ExceptionKind, KeyScheme, KeySet, SafeguardAction, Segregation, StatementIssue, Tier, Wallet,
        WalletClass, build,
    };
    let mut register = registered();
    let day = 24 * HOUR;
    let client = |id: &str| {
        Action::RegisterClient(Client {
            id: ClientId::parse(id).unwrap(),
            category: ClientCategory::Retail,
            segregation: Segregation::Omnibus,
        })
    };
    for action in [
        client("c1"),
        client("c2"),
        client("c3"),
        Action::RegisterKeySet(KeySet {
            id: ringfence_core::KeySetId::parse("ks").unwrap(),
            scheme: KeyScheme::Multisig { threshold: 1 },
            signers: vec!["s1".into()],
            class: ringfence_core::ClassKind::ClientOmnibus,
        }),
        Action::RegisterWallet(Wallet {
            id: ringfence_core::WalletId::parse("w").unwrap(),
            address: ringfence_core::Address::parse("eip155:1:0x0000000000000000000000000000000000000001").unwrap(),
            class: WalletClass::ClientOmnibus,
            tier: Tier::Cold,
            custodian: ringfence_core::Custodian::InHouse,
            key_set: ringfence_core::KeySetId::parse("ks").unwrap(),
        }),
    ] {
        assert_eq!(apply(&mut register, T0, T0, action).0, Status::Accepted);
    }
    // c1 and c2 hold ETH; c3 holds nothing and is never due.
    for (key, id) in [("d1", "c1"), ("d2", "c2")] {
        let deposit = build::deposit(
            ringfence_core::IdempotencyKey::parse(key).unwrap(),
            &ClientId::parse(id).unwrap(),
            &ringfence_core::WalletId::parse("w").unwrap(),
            &eth(),
            ringfence_core::Amount::new(5),
        );
        assert_eq!(apply(&mut register, T0, T0, Action::Movement(deposit)).0, Status::Accepted);
    }
    let from = |micros: i64| Timestamp::from_micros(ISSUE_17_RULES_FROM.micros() + micros);
    let overdue = |register: &Register, at: Timestamp| -> Vec<Break> {
        register.safeguard_breaches(at).into_iter().filter(|b| b.kind == ExceptionKind::StatementOverdue).collect()
    };
    use ringfence_core::Break;
    // Counted from the rules' start (the clients were registered before): due 92 days later.
    assert!(overdue(&register, from(92 * day)).is_empty(), "due, not overdue");
    let breaches = overdue(&register, from(92 * day + 1));
    assert_eq!(breaches.len(), 1, "one breach for every overdue client: {breaches:?}");
    assert!(breaches[0].subject.starts_with("statement-overdue:c1:"), "{breaches:?}");
    assert!(breaches[0].detail.contains("2 client(s)") && breaches[0].detail.contains("c1, c2"), "{}", breaches[0].detail);
    assert!(register.statements_overdue(from(92 * day + 1), None).iter().all(|(client, _, _)| client.as_str() != "c3"));
    // A check opens the exception; c1's statement moves the breach on to c2.
    let now = from(93 * day);
    assert_eq!(apply(&mut register, now, now, Action::Safeguard(SafeguardAction::Check)).0, Status::Accepted);
    let issue = StatementIssue {
        client: ClientId::parse("c1").unwrap(),
        from: from(0),
        to: from(90 * day),
        as_of: register.seq(),
        sha256: [1; 32],
    };
    assert_eq!(apply(&mut register, now, now, Action::RecordStatement(issue)).0, Status::Accepted);
    let breaches = overdue(&register, now);
    assert_eq!(breaches.len(), 1);
    assert!(breaches[0].subject.starts_with("statement-overdue:c2:"), "{breaches:?}");
    let opened = register.exceptions().iter().find(|e| e.kind == ExceptionKind::StatementOverdue).unwrap();
    assert!(register.safeguard_cause_cured(opened, now), "the exception about c1 is cured by c1's statement");
    // Before the rules' start no check raises it, whatever the gaps.
    assert!(overdue(&register, Timestamp::from_micros(ISSUE_17_RULES_FROM.micros() - 1)).is_empty());
}
