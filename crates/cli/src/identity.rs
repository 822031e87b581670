//! Who records a command from the command line. A typed `--actor` is whatever the person at
//! the shell chose to type; while an approval policy is in force, four-eyes decisions and the
//! commands the policy holds back need an identity instead: an API token (`--token` or
//! `RINGFENCE_TOKEN`), verified against the token book exactly as the API verifies it, whose
//! roles must include one the API's route for the same action allows. The recorded actor is
//! then the token's.

use anyhow::{Result, bail};
use ringfence_core::{Action, Actor, ApiToken, Register, Timestamp};

/// The actor to record `action` with: the token's when one is given (and `asserted`, if
/// named, must be the same), else `asserted`. Refused when the action needs an identity under
/// the approval policy in force and no token was given, or the token is not valid or lacks
/// the roles.
pub fn actor_for(register: &Register, token: Option<&str>, action: &Action, asserted: Option<&Actor>, now: Timestamp) -> Result<Actor> {
    let needed = register.approval_policy().and_then(|(policy, _)| policy.identity_roles(action));
    let Some(presented) = token else {
        if let Some(roles) = needed {
            let roles: Vec<&str> = roles.iter().map(|r| r.code()).collect();
            bail!(
                "recording {} needs an identity while an approval policy is in force: give an API token with one of the roles {} \
                 (--token or RINGFENCE_TOKEN); a typed --actor or line actor is not one",
                action.code(),
                roles.join(", ")
            );
        }
        return asserted.cloned().ok_or_else(|| anyhow::anyhow!("name who records {} with --actor, or give --token", action.code()));
    };
    let token = ApiToken::authenticate(presented.trim(), now, |id| register.token(id))
        .map_err(|_| anyhow::anyhow!("the token is not valid (unknown, wrong, revoked or expired)"))?;
    if let Some(roles) = needed
        && !token.roles.iter().any(|role| roles.contains(role))
    {
        let roles: Vec<&str> = roles.iter().map(|r| r.code()).collect();
        bail!("recording {} needs a token with one of the roles {}; {}'s has not", action.code(), roles.join(", "), token.actor);
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
    let token = match token {
        Some(presented) => Some(
            ApiToken::authenticate(presented.trim(), now, |id| register.token(id))
                .map_err(|_| anyhow::anyhow!("the token is not valid (unknown, wrong, revoked or expired)"))?
                .clone(),
        ),
        None => None,
    };
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
            Parsed::Correction { meta, .. } => (meta, policy.as_ref().map(|_| &[ringfence_core::Role::Operator][..]), "correction"),
        };
        let named = (meta.actor != *default).then(|| meta.actor.clone());
        match (&token, needed) {
            (None, Some(roles)) => {
                let roles: Vec<&str> = roles.iter().map(|r| r.code()).collect();
                errors.push((
                    *number,
                    format!(
                        "recording {what} needs an identity while an approval policy is in force: give an API token with one of the roles {} (--token or RINGFENCE_TOKEN); a line's actor is not one",
                        roles.join(", ")
                    ),
                ));
            }
            (None, None) => {}
            (Some(token), needed) => {
                if let Some(roles) = needed
                    && !token.roles.iter().any(|role| roles.contains(role))
                {
                    let roles: Vec<&str> = roles.iter().map(|r| r.code()).collect();
                    errors.push((
                        *number,
                        format!("recording {what} needs a token with one of the roles {}; {}'s has not", roles.join(", "), token.actor),
                    ));
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
