//! Who records a command from the command line. A typed `--actor` is whatever the person at
//! the shell chose to type; while an approval policy is in force, four-eyes decisions and the
//! commands the policy holds back need an identity instead: an API token (`--token` or
//! `RINGFENCE_TOKEN`), verified against the token book exactly as the API verifies it, whose
//! roles must include one the API's route for the same action allows. The recorded actor is
//! then the token's.

use anyhow::{Result, bail};
use ringfence_core::{Action, Actor, ApiToken, Register, Role, Timestamp};

/// The refusal of `what` without a token while it needs one of `roles`.
fn needs_identity(what: &str, roles: &[Role]) -> String {
    format!(
        "recording {what} needs an identity while an approval policy is in force: give an API token with one of the roles {} \
         (--token or RINGFENCE_TOKEN); a typed --actor or a line's actor is not one",
        codes(roles)
    )
}

/// The refusal of `what` with a token that holds none of `roles`, if it holds none.
fn lacks_roles(token: &ApiToken, what: &str, roles: &[Role]) -> Option<String> {
    (!token.roles.iter().any(|role| roles.contains(role)))
        .then(|| format!("recording {what} needs a token with one of the roles {}; {}'s has not", codes(roles), token.actor))
}

fn codes(roles: &[Role]) -> String {
    roles.iter().map(|r| r.code()).collect::<Vec<_>>().join(", ")
}

/// The token `presented` names, verified against the register's token book.
fn verified<'a>(register: &'a Register, presented: &str, now: Timestamp) -> Result<&'a ApiToken> {
    ApiToken::authenticate(presented.trim(), now, |id| register.token(id))
        .map_err(|_| anyhow::anyhow!("the token is not valid (unknown, wrong, revoked or expired)"))
}

/// The actor to record `action` with: the token's when one is given (and `asserted`, if
/// named, must be the same), else `asserted`. Refused when the action needs an identity under
/// the approval policy in force and no token was given, or the token is not valid or lacks
/// the roles.
pub fn actor_for(register: &Register, token: Option<&str>, action: &Action, asserted: Option<&Actor>, now: Timestamp) -> Result<Actor> {
    let needed = register.approval_policy().and_then(|(policy, _)| policy.identity_roles(action));
    let Some(presented) = token else {
        if let Some(roles) = needed {
            bail!(needs_identity(action.code(), roles));
        }
        return asserted.cloned().ok_or_else(|| anyhow::anyhow!("name who records {} with --actor, or give --token", action.code()));
    };
    let token = verified(register, presented, now)?;
    if let Some(refusal) = needed.and_then(|roles| lacks_roles(token, action.code(), roles)) {
        bail!(refusal);
    }
    if let Some(asserted) = asserted
        && *asserted != token.actor
    {
        bail!("the actor {asserted} is not the token's ({}); leave it out, the token says who you are", token.actor);
    }
    Ok(token.actor.clone())
}

/// Checks the identity behind every line of an import before anything is applied, with the
/// approval policy in force at the start (or set by an earlier line of the file): a line that
/// needs an identity needs `token` (a correction counts as one while a policy is in force:
/// whether it lowers a position is known only when it is applied). With a token, every line
/// that names no actor of its own (`default`) is recorded with the token's actor, and a line
/// that needs an identity may not name another. Returns the errors, by line number.
pub fn check_import(
    register: &Register,
    token: Option<&str>,
    default: &Actor,
    lines: &mut [(usize, ringfence_wire::input::Parsed)],
    now: Timestamp,
) -> Result<Vec<(usize, String)>> {
    use ringfence_wire::input::Parsed;
    let token = token.map(|presented| verified(register, presented, now)).transpose()?;
    let mut policy = register.approval_policy().map(|(policy, _)| policy.clone());
    let mut errors = Vec::new();
    for (number, parsed) in lines.iter_mut() {
        let (meta, needed, what) = match parsed {
            Parsed::Ready(command) => {
                let needed = policy.as_ref().and_then(|p| p.identity_roles(&command.action));
                let what = command.action.code();
                if let Action::SetApprovalPolicy(next) = &command.action {
                    policy = Some(next.clone());
                }
                (&mut command.meta, needed, what)
            }
            Parsed::Correction { meta, .. } => (meta, policy.as_ref().map(|_| &[Role::Operator][..]), "correction"),
        };
        let named = (meta.actor != *default).then(|| meta.actor.clone());
        match (token, needed) {
            (None, Some(roles)) => errors.push((*number, needs_identity(what, roles))),
            (None, None) => {}
            (Some(token), needed) => {
                if let Some(refusal) = needed.and_then(|roles| lacks_roles(token, what, roles)) {
                    errors.push((*number, refusal));
                    continue;
                }
                match named {
                    Some(named) if needed.is_some() && named != token.actor => {
                        errors.push((*number, format!("the line's actor {named} is not the token's ({})", token.actor)));
                    }
                    Some(_) => {}
                    None => meta.actor = token.actor.clone(),
                }
            }
        }
    }
    Ok(errors)
}
