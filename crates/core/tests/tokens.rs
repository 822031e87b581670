//! API tokens in the register: journaled like any registration, only a salted hash of the
//! secret kept, roles checked, revocation final; and their canonical encoding round-trips.

#![allow(clippy::unwrap_used, reason = "a fixture that fails should fail the test at once")]

use ringfence_core::codec::{Decoder, Encoder};
use ringfence_core::{
    Action, Actor, ApiToken, Client, ClientCategory, ClientId, Command, InstructionId, Meta, Register, Role, Segregation, Status,
    Timestamp, TokenId,
};

const T0: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);

fn command(action: Action) -> Command {
    Command {
        meta: Meta { actor: Actor::parse("admin").unwrap(), instruction: InstructionId::parse("i-1").unwrap(), effective_at: T0 },
        action,
    }
}

fn token(id: &str, roles: &[Role], client: Option<&str>, secret: &str) -> ApiToken {
    let salt = [7u8; 16];
    ApiToken {
        id: TokenId::parse(id).unwrap(),
        actor: Actor::parse(&format!("{id}-holder")).unwrap(),
        roles: roles.to_vec(),
        client: client.map(|c| ClientId::parse(c).unwrap()),
        salt,
        digest: ApiToken::digest_of(&salt, secret),
        expires_at: None,
    }
}

fn apply(register: &mut Register, action: Action) -> (Status, Option<u64>) {
    let outcome = register.apply(&command(action)).unwrap();
    (outcome.status, outcome.seq)
}

fn with_client() -> Register {
    let mut register = Register::new();
    let client = Client { id: ClientId::parse("c-1").unwrap(), category: ClientCategory::Retail, segregation: Segregation::Omnibus };
    assert_eq!(apply(&mut register, Action::RegisterClient(client)).0, Status::Accepted);
    register
}

#[test]
fn a_token_is_registered_once_and_keeps_only_a_hash_that_matches_its_secret() {
    let mut register = with_client();
    let ops = token("tok-ops", &[Role::Operator, Role::Approver], None, "s3cret");
    assert_eq!(apply(&mut register, Action::RegisterApiToken(ops.clone())), (Status::Accepted, Some(2)));
    assert_eq!(apply(&mut register, Action::RegisterApiToken(ops.clone())), (Status::AlreadyExists, Some(2)));
    let other = ApiToken { roles: vec![Role::Auditor], ..ops.clone() };
    assert_eq!(apply(&mut register, Action::RegisterApiToken(other)).0, Status::EntityConflict);

    let (stored, revoked) = register.token(&ops.id).unwrap();
    assert_eq!(revoked, None);
    assert!(stored.matches("s3cret"));
    assert!(!stored.matches("s3cret "));
    assert!(!stored.matches(""));
}

#[test]
fn roles_that_do_not_fit_are_refused_and_change_nothing() {
    let mut register = with_client();
    for (roles, client, status) in [
        (&[][..], None, Status::InvalidTokenRoles),
        (&[Role::Operator, Role::Operator][..], None, Status::InvalidTokenRoles),
        (&[Role::Client, Role::Auditor][..], Some("c-1"), Status::InvalidTokenRoles),
        (&[Role::Client][..], None, Status::InvalidTokenRoles),
        (&[Role::Auditor][..], Some("c-1"), Status::InvalidTokenRoles),
        (&[Role::Client][..], Some("c-unknown"), Status::UnknownClient),
    ] {
        let before = register.seq();
        assert_eq!(apply(&mut register, Action::RegisterApiToken(token("tok-bad", roles, client, "x"))), (status, None), "{roles:?}");
        assert_eq!(register.seq(), before);
        assert!(register.token(&TokenId::parse("tok-bad").unwrap()).is_none());
    }
    let reader = token("tok-client", &[Role::Client], Some("c-1"), "y");
    assert_eq!(apply(&mut register, Action::RegisterApiToken(reader)).0, Status::Accepted);
}

#[test]
fn a_revocation_is_recorded_once_and_an_unknown_token_cannot_be_revoked() {
    let mut register = with_client();
    let id = TokenId::parse("tok-aud").unwrap();
    apply(&mut register, Action::RegisterApiToken(token("tok-aud", &[Role::Auditor], None, "z")));
    let (status, seq) = apply(&mut register, Action::RevokeApiToken { id: id.clone() });
    assert_eq!(status, Status::Accepted);
    assert_eq!(register.token(&id).unwrap().1, seq);
    assert_eq!(apply(&mut register, Action::RevokeApiToken { id: id.clone() }), (Status::AlreadyExists, seq));
    let unknown = TokenId::parse("tok-none").unwrap();
    assert_eq!(apply(&mut register, Action::RevokeApiToken { id: unknown }).0, Status::UnknownToken);
}

#[test]
fn token_commands_round_trip_through_the_canonical_encoding() {
    let mut expiring = token("tok-c", &[Role::Client], Some("c-1"), "w");
    expiring.expires_at = Some(Timestamp::from_micros(T0.micros() + 1));
    for action in [
        Action::RegisterApiToken(token("tok-a", &[Role::Operator, Role::Compliance, Role::Auditor, Role::Approver], None, "v")),
        Action::RegisterApiToken(expiring),
        Action::RevokeApiToken { id: TokenId::parse("tok-a").unwrap() },
    ] {
        let original = command(action);
        let mut encoder = Encoder::default();
        encoder.command(&original);
        let mut decoder = Decoder::new(&encoder.bytes);
        assert_eq!(decoder.command().unwrap(), original);
        decoder.finish().unwrap();
    }
}

#[test]
fn a_presented_token_authenticates_only_while_live_and_with_its_own_secret() {
    use ringfence_core::TokenRefusal;
    let mut register = with_client();
    let mut expiring = token("t1", &[Role::Operator], None, "secret-1");
    expiring.expires_at = Some(Timestamp::from_micros(T0.micros() + 10));
    apply(&mut register, Action::RegisterApiToken(expiring));
    let id = TokenId::parse("t1").unwrap();
    let presented = ApiToken::presented(&id, "secret-1");
    assert_eq!(presented, "rf_t1_secret-1");
    assert_eq!(register.authenticate(&presented, T0).unwrap().id, id);
    assert_eq!(register.authenticate("rf_t1_secret-2", T0).unwrap_err(), TokenRefusal::WrongSecret);
    assert_eq!(register.authenticate("rf_t2_secret-1", T0).unwrap_err(), TokenRefusal::Unknown);
    for malformed in ["", "t1_secret-1", "rf_t1", "rf_t1_", "rf__x", "Bearer rf_t1_secret-1"] {
        assert_eq!(register.authenticate(malformed, T0).unwrap_err(), TokenRefusal::Malformed, "{malformed:?}");
    }
    assert_eq!(register.authenticate(&presented, Timestamp::from_micros(T0.micros() + 11)).unwrap_err(), TokenRefusal::Expired);
    apply(&mut register, Action::RevokeApiToken { id });
    assert_eq!(register.authenticate(&presented, T0).unwrap_err(), TokenRefusal::Revoked);
}
