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
