//! `ringfence token`: API tokens for the HTTP API. A token is registered in the journal with
//! its holder (the actor recorded for what it does), its roles and a salted SHA-256 of its
//! secret; the secret itself is printed once, at creation, and kept nowhere.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ringfence_core::{Action, Actor, ApiToken, ClientId, Command, InstructionId, Meta, Role, Status, TokenId};
use ringfence_wire::views::entities::{TokenView, TokensView};

use ringfence_wire::clock;

use crate::{Cli, open};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once (the first one bootstraps the HTTP API).
    Create(CreateArgs),
    /// List the tokens: id, holder, roles, client, expiry, revocation (never a secret).
    List {
        /// Print JSON (the same view as the API's) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: from this journal entry on it is refused.
    Revoke {
        /// The token id (`t…`, as `token list` shows it).
        id: String,
        /// Who revokes it (recorded in the journal).
        #[arg(long, default_value = "cli")]
        by: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Who holds the token: recorded as the actor of everything done with it.
    #[arg(long)]
    pub actor: String,
    /// A role (repeat or comma-separate): operator, approver, compliance, auditor, client.
    #[arg(long = "role", required = true, value_delimiter = ',')]
    pub roles: Vec<String>,
    /// The client whose positions a client-role token may read.
    #[arg(long)]
    pub client: Option<String>,
    /// When the token stops working (RFC 3339 or a date); default never.
    #[arg(long)]
    pub expires_at: Option<String>,
    /// Who creates it (recorded in the journal).
    #[arg(long, default_value = "cli")]
    pub by: String,
}

/// Random bytes from the operating system, as lower-case hex.
fn random_hex(bytes: usize) -> Result<String> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|error| anyhow::anyhow!("failed to read random bytes from the operating system: {error}"))?;
    Ok(ringfence_store::hex(&buffer))
}

fn meta(by: &str, instruction: String) -> Result<Meta> {
    Ok(Meta {
        actor: Actor::parse(by).context("--by is not a valid actor name")?,
        instruction: InstructionId::parse(&instruction)?,
        effective_at: clock::now(),
    })
}

pub fn run(cli: &Cli, command: &TokenCommand, out: &mut dyn Write) -> Result<ExitCode> {
    match command {
        TokenCommand::Create(args) => create(cli, args, out),
        TokenCommand::List { json } => list(cli, *json, out),
        TokenCommand::Revoke { id, by } => {
            let id = TokenId::parse(id).context("not a token id")?;
            let mut store = open(cli)?;
            let command = Command { meta: meta(by, format!("revoke-{id}"))?, action: Action::RevokeApiToken { id: id.clone() } };
            let outcome = store.submit(&[command], clock::now())?.remove(0);
            match outcome.status {
                Status::Accepted => writeln!(out, "revoked token {id} (sequence {})", outcome.seq.unwrap_or_default())?,
                Status::AlreadyExists => writeln!(out, "token {id} was already revoked (sequence {})", outcome.seq.unwrap_or_default())?,
                status => bail!("token {id} was not revoked: {status}: {}", outcome.detail),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn create(cli: &Cli, args: &CreateArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let actor = Actor::parse(&args.actor).context("--actor is not a valid actor name")?;
    let mut roles = Vec::with_capacity(args.roles.len());
    for role in &args.roles {
        let role = role.trim();
        roles.push(
            Role::from_code(role)
                .with_context(|| format!("--role {role:?} is not a role; use operator, approver, compliance, auditor or client"))?,
        );
    }
    let client = args.client.as_deref().map(ClientId::parse).transpose().context("--client is not a valid client id")?;
    let expires_at = args.expires_at.as_deref().map(clock::parse_end).transpose().map_err(anyhow::Error::msg)?;
    if let Some(expiry) = expires_at
        && expiry <= clock::now()
    {
        bail!("--expires-at {} is in the past; give a future instant", clock::format(expiry));
    }
    let id = TokenId::parse(&format!("t{}", random_hex(6)?))?;
    let secret = random_hex(32)?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|error| anyhow::anyhow!("failed to read random bytes from the operating system: {error}"))?;
    let token = ApiToken { id: id.clone(), actor, roles, client, salt, digest: ApiToken::digest_of(&salt, &secret), expires_at };
    let mut store = open(cli)?;
    let command = Command { meta: meta(&args.by, format!("token-{id}"))?, action: Action::RegisterApiToken(token) };
    let outcome = store.submit(&[command], clock::now())?.remove(0);
    if outcome.status != Status::Accepted {
        bail!("the token was not created: {}: {}", outcome.status, outcome.detail);
    }
    writeln!(out, "created token {id} for {} (sequence {})", args.actor, outcome.seq.unwrap_or_default())?;
    writeln!(out, "{}", ApiToken::presented(&id, &secret))?;
    writeln!(out, "store it now: it is shown only once (send it as `Authorization: Bearer <token>`)")?;
    Ok(ExitCode::SUCCESS)
}

fn list(cli: &Cli, as_json: bool, out: &mut dyn Write) -> Result<ExitCode> {
    let store = crate::open_read(cli)?;
    let rows: Vec<_> = store.register().tokens().collect();
    if as_json {
        let tokens = rows.iter().map(|(token, revoked)| TokenView::of(token, *revoked)).collect();
        writeln!(out, "{}", serde_json::to_string(&TokensView { tokens })?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        writeln!(out, "no tokens; create one with `ringfence token create --actor NAME --role ROLE`")?;
    }
    for (token, revoked) in rows {
        let roles: Vec<&str> = token.roles.iter().map(|r| r.code()).collect();
        let mut line = format!("{}  {}  {}", token.id, token.actor, roles.join(","));
        if let Some(client) = &token.client {
            line.push_str(&format!("  client {client}"));
        }
        if let Some(expiry) = token.expires_at {
            line.push_str(&format!("  expires {}", clock::format(expiry)));
        }
        if let Some(seq) = revoked {
            line.push_str(&format!("  REVOKED at sequence {seq}"));
        }
        writeln!(out, "{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}
