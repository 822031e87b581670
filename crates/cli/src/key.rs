//! `ringfence key`: the journal's signing keys (issue 14). The writer signs each commit with
//! the Ed25519 key in its key file (`--signing-key FILE` or `RINGFENCE_SIGNING_KEY`); the
//! public keys are journal entries, registered and retired with four-eyes approval once an
//! approval policy is in force. See docs/signing.md.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use ringfence_core::{Action, SigningKey};
use ringfence_journal::signing::{Signer, is_public_key, unhex32};
use ringfence_store::hex;
use ringfence_wire::views::entities::{SigningKeyView, SigningKeysView};

use crate::{Cli, open};

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write a new signing key to a file only its owner may read (mode 600), and print its
    /// public key. Nothing is recorded: register the public key with `key register`.
    Generate {
        /// The key file to create (refused if it exists). Keep it outside the database's
        /// volume and backups; whoever holds it can sign the journal.
        #[arg(long)]
        out: PathBuf,
    },
    /// Register a public key as a journal signing key (needs four-eyes approval while an
    /// approval policy is in force). From the entry that registers the first key on, every
    /// commit must be signed by an active key: pass --signing-key with the key file from then on.
    Register {
        /// The public key, 64 hex digits (`key generate` prints it), or the key file itself.
        #[arg(long, required_unless_present = "key_file", conflicts_with = "key_file")]
        public_key: Option<String>,
        /// A key file to read the public key from.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Who holds it or where it lives, for people (1 to 200 characters).
        #[arg(long)]
        label: String,
        /// Who registers it, when no --token says it (refused while an approval policy is in
        /// force: give --token).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Retire a signing key: commits after the retirement signed by it fail verification.
    /// The last active key cannot be retired (register its successor first).
    Retire {
        /// The public key, 64 hex digits.
        #[arg(long)]
        public_key: String,
        /// Who retires it, when no --token says it.
        #[arg(long)]
        actor: Option<String>,
    },
    /// The signing keys: fingerprint, public key, label, registered and retired at which entry.
    List {
        /// Print JSON (the same view as the API's) instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Reads the signing key file named by --signing-key (or RINGFENCE_SIGNING_KEY), if any.
pub fn signer(cli: &Cli) -> Result<Option<std::sync::Arc<Signer>>> {
    cli.signing_key.as_deref().map(|path| Signer::load(path).map(std::sync::Arc::new).map_err(|e| anyhow::anyhow!(e))).transpose()
}

fn public_key(text: &str) -> Result<[u8; 32]> {
    let key = unhex32(text.trim()).with_context(|| format!("--public-key {text:?} is not 64 hex digits"))?;
    if !is_public_key(&key) {
        bail!("--public-key {text} is not an Ed25519 public key");
    }
    Ok(key)
}

fn generate(path: &Path, out: &mut dyn Write) -> Result<ExitCode> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|error| anyhow::anyhow!("failed to read random bytes from the operating system: {error}"))?;
    let signer = Signer::from_seed(seed);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create the key file {} (it must not exist yet)", path.display()))?;
    file.write_all(signer.key_file_text().as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the key file {}", path.display()))?;
    writeln!(out, "wrote signing key {} to {} (mode 600)", signer.fingerprint(), path.display())?;
    writeln!(out, "public key: {}", hex(&signer.public_key()))?;
    writeln!(out, "next: ringfence key register --public-key {} --label \"…\"", hex(&signer.public_key()))?;
    Ok(ExitCode::SUCCESS)
}

pub fn run(cli: &Cli, command: &KeyCommand, out: &mut dyn Write) -> Result<ExitCode> {
    if let KeyCommand::Generate { out: path } = command {
        return generate(path, out);
    }
    let mut store = open(cli)?;
    match command {
        KeyCommand::Generate { .. } => unreachable!("handled above"),
        KeyCommand::Register { public_key: text, key_file, label, actor } => {
            let key = match (text, key_file) {
                (Some(text), _) => public_key(text)?,
                (None, Some(path)) => Signer::load(path).map_err(|e| anyhow::anyhow!(e))?.public_key(),
                (None, None) => bail!("give --public-key or --key-file"),
            };
            let instruction = format!("signing-key-{}", &hex(&key)[..16]);
            let action = Action::RegisterSigningKey(SigningKey { public_key: key, label: label.clone() });
            crate::oversight::submit(&mut store, cli, actor.as_deref(), &instruction, action, out)
        }
        KeyCommand::Retire { public_key: text, actor } => {
            let key = public_key(text)?;
            let instruction = format!("retire-signing-key-{}", &hex(&key)[..16]);
            crate::oversight::submit(&mut store, cli, actor.as_deref(), &instruction, Action::RetireSigningKey { public_key: key }, out)
        }
        KeyCommand::List { json } => {
            let keys = store.register().signing_keys();
            if *json {
                let view = SigningKeysView { keys: keys.iter().map(SigningKeyView::of).collect() };
                writeln!(out, "{}", serde_json::to_string(&view)?)?;
            } else if keys.is_empty() {
                writeln!(out, "no journal signing keys: commits are not signed (see `ringfence key generate`)")?;
            } else {
                for r in keys {
                    let state = r.retired.map_or_else(|| "active".to_owned(), |seq| format!("retired at entry {seq}"));
                    writeln!(
                        out,
                        "{}  registered at entry {}, {state}  {}\n    {}",
                        SigningKey::fingerprint(&r.key.public_key),
                        r.registered,
                        r.key.label,
                        hex(&r.key.public_key)
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
