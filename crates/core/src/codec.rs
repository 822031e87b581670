//! The canonical binary form of commands: what the journal stores and hashes, and what
//! idempotency compares. Deterministic (one encoding per value), little-endian, versioned by
//! the journal entry that carries it. Decoding validates every identifier again, so a
//! damaged entry is reported, never trusted.

use crate::amount::Amount;
use crate::approval::ApprovalPolicy;
use crate::code::Code;
use crate::entity::{ApiToken, Asset, Client, Custodian, KeyScheme, KeySchemeKind, KeySet, SubCustodian, Wallet, WalletClass};
use crate::ids::{Actor, Address, AssetId, ClientId, IdError, IdempotencyKey, InstructionId, KeySetId, SubCustodianId, TokenId, WalletId};
use crate::movement::{Account, Action, Command, Meta, Movement, POSTINGS_MAX, Posting};
use crate::oversight::{Break, ChainBlock, ChainObservation, ChainTransfer, ExceptionPolicy, ReconRun, Resolution, RunSource};
use crate::time::Timestamp;

mod safeguard;

/// Why bytes are not a valid encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the entry ends early at byte {offset}")]
    Truncated { offset: usize },
    #[error("unknown {what} tag {tag} at byte {offset}")]
    BadTag { what: &'static str, tag: u8, offset: usize },
    #[error("text at byte {offset} is not UTF-8")]
    BadText { offset: usize },
    #[error("bad identifier at byte {offset}: {source}")]
    BadId { offset: usize, source: IdError },
    #[error("{what} at byte {offset} is out of range")]
    OutOfRange { what: &'static str, offset: usize },
    #[error("{count} bytes left over after the entry")]
    TrailingBytes { count: usize },
}

/// Appends canonical bytes to a buffer.
#[derive(Debug, Default, Clone)]
pub struct Encoder {
    pub bytes: Vec<u8>,
}

impl Encoder {
    pub fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }
    pub fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }
    pub fn i64(&mut self, value: i64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }
    pub fn u128(&mut self, value: u128) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }
    pub fn raw(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }
    pub fn str(&mut self, value: &str) {
        // Strings are bounded well below u16::MAX by validation at the edge; a longer one is
        // a bug, not input.
        let length = u16::try_from(value.len()).expect("strings in commands are shorter than 64 KiB");
        self.bytes.extend_from_slice(&length.to_le_bytes());
        self.bytes.extend_from_slice(value.as_bytes());
    }

    pub fn command(&mut self, command: &Command) {
        self.meta(&command.meta);
        match &command.action {
            Action::RegisterAsset(asset) => {
                self.u8(1);
                self.str(asset.id.as_str());
                self.u8(asset.scale);
                self.str(&asset.symbol);
            }
            Action::RegisterClient(client) => {
                self.u8(2);
                self.str(client.id.as_str());
                self.code(client.category);
                self.code(client.segregation);
            }
            Action::RegisterSubCustodian(sub) => {
                self.u8(3);
                self.str(sub.id.as_str());
                self.str(&sub.name);
                self.code(sub.basis);
                self.str(&sub.reference);
                self.i64(sub.valid_until.micros());
            }
            Action::UpdateSubCustodianAuthorisation { id, reference, valid_until } => {
                self.u8(4);
                self.str(id.as_str());
                self.str(reference);
                self.i64(valid_until.micros());
            }
            Action::RegisterKeySet(key_set) => {
                self.u8(5);
                self.str(key_set.id.as_str());
                self.code(key_set.scheme.kind());
                if let Some(threshold) = key_set.scheme.threshold() {
                    self.u8(threshold);
                }
                let count = u8::try_from(key_set.signers.len()).unwrap_or(u8::MAX);
                self.u8(count);
                for signer in key_set.signers.iter().take(usize::from(count)) {
                    self.str(signer);
                }
                self.code(key_set.class);
            }
            Action::RegisterWallet(wallet) => {
                self.u8(6);
                self.wallet(wallet);
            }
            Action::Movement(movement) => {
                self.u8(7);
                self.movement(movement);
            }
            Action::RegisterApiToken(token) => {
                self.u8(8);
                self.str(token.id.as_str());
                self.str(token.actor.as_str());
                let count = u8::try_from(token.roles.len()).unwrap_or(u8::MAX);
                self.u8(count);
                for role in token.roles.iter().take(usize::from(count)) {
                    self.code(*role);
                }
                match &token.client {
                    None => self.u8(0),
                    Some(client) => {
                        self.u8(1);
                        self.str(client.as_str());
                    }
                }
                self.raw(&token.salt);
                self.raw(&token.digest);
                match token.expires_at {
                    None => self.u8(0),
                    Some(at) => {
                        self.u8(1);
                        self.i64(at.micros());
                    }
                }
            }
            Action::RevokeApiToken { id } => {
                self.u8(9);
                self.str(id.as_str());
            }
            Action::SetApprovalPolicy(policy) => {
                self.u8(10);
                self.u8(policy.approvals);
                self.u64(u64::from(policy.expiry_hours));
                self.u64(policy.withdrawal_thresholds.len() as u64);
                for (asset, amount) in &policy.withdrawal_thresholds {
                    self.str(asset.as_str());
                    self.u128(amount.units());
                }
            }
            Action::ApprovePending { id } => {
                self.u8(11);
                self.u64(*id);
            }
            Action::RejectPending { id, reason } => {
                self.u8(12);
                self.u64(*id);
                self.str(reason);
            }
            Action::ExpirePending { id } => {
                self.u8(13);
                self.u64(*id);
            }
            Action::ChangeWallet(wallet) => {
                self.u8(14);
                self.wallet(wallet);
            }
            Action::WatchChain { chain, from_block } => {
                self.u8(15);
                self.str(chain);
                self.u64(*from_block);
            }
            Action::ObserveChain(observation) => {
                self.u8(16);
                self.observation(observation);
            }
            Action::RecordReconRun(run) => {
                self.u8(17);
                self.run(run);
            }
            Action::SetExceptionPolicy(policy) => {
                self.u8(18);
                self.u64(u64::from(policy.resolution_hours));
                self.u64(u64::from(policy.confirmation_hours));
            }
            Action::InvestigateException { id } => {
                self.u8(19);
                self.u64(*id);
            }
            Action::ProposeResolution { id, reason, resolution } => {
                self.u8(20);
                self.u64(*id);
                self.str(reason);
                match resolution {
                    Resolution::Movement(key) => {
                        self.u8(0);
                        self.str(key.as_str());
                    }
                    Resolution::Explanation(text) => {
                        self.u8(1);
                        self.str(text);
                    }
                }
            }
            Action::ApproveResolution { id } => {
                self.u8(21);
                self.u64(*id);
            }
            Action::RejectResolution { id, reason } => {
                self.u8(22);
                self.u64(*id);
                self.str(reason);
            }
            Action::EscalateException { id } => {
                self.u8(23);
                self.u64(*id);
            }
            Action::Safeguard(action) => {
                self.u8(24);
                self.safeguard(action);
            }
            Action::RegisterSigningKey(key) => {
                self.u8(25);
                self.raw(&key.public_key);
                self.str(&key.label);
            }
            Action::RetireSigningKey { public_key } => {
                self.u8(26);
                self.raw(public_key);
            }
            Action::RecordPrice(price) => {
                self.u8(27);
                self.str(price.asset.as_str());
                self.str(price.currency.as_str());
                self.u128(price.units);
                self.u8(price.scale);
                self.str(&price.source);
            }
            Action::RecordStatement(issue) => {
                self.u8(28);
                self.str(issue.client.as_str());
                self.i64(issue.from.micros());
                self.i64(issue.to.micros());
                self.u64(issue.as_of);
                self.raw(&issue.sha256);
            }
            Action::RecordPack(issue) => {
                self.u8(29);
                self.i64(issue.at.micros());
                self.u64(issue.as_of);
                self.raw(&issue.sha256);
            }
        }
    }

    fn block(&mut self, block: &ChainBlock) {
        self.u64(block.number);
        self.raw(&block.hash);
        self.raw(&block.parent_hash);
        self.u64(block.timestamp);
    }

    fn observation(&mut self, observation: &ChainObservation) {
        self.str(&observation.chain);
        match observation.orphaned_from {
            None => self.u8(0),
            Some(block) => {
                self.u8(1);
                self.u64(block);
            }
        }
        self.u64(observation.tracked.len() as u64);
        for block in &observation.tracked {
            self.block(block);
        }
        self.u64(observation.transfers.len() as u64);
        for transfer in &observation.transfers {
            self.u64(transfer.block_number);
            self.raw(&transfer.tx_hash);
            match transfer.log_index {
                None => self.u8(0),
                Some(index) => {
                    self.u8(1);
                    self.u64(index);
                }
            }
            self.str(transfer.asset.as_str());
            self.str(transfer.from.as_str());
            self.str(transfer.to.as_str());
            self.u128(transfer.amount.units());
        }
    }

    fn run(&mut self, run: &ReconRun) {
        self.i64(run.cut_off.micros());
        self.u64(run.sources.len() as u64);
        for source in &run.sources {
            match source {
                RunSource::Chain { chain, block } => {
                    self.u8(0);
                    self.str(chain);
                    self.block(block);
                }
                RunSource::Unavailable { chain, reason } => {
                    self.u8(1);
                    self.str(chain);
                    self.str(reason);
                }
                RunSource::Statement { sub_custodian, reference, file, sha256, rows } => {
                    self.u8(2);
                    self.str(sub_custodian.as_str());
                    self.str(reference);
                    self.str(file);
                    self.raw(sha256);
                    self.u64(*rows);
                }
            }
        }
        self.u64(run.checked);
        self.u64(run.matched);
        self.raw(&run.report_sha256);
        self.u64(run.breaks.len() as u64);
        for found in &run.breaks {
            self.code(found.kind);
            self.code(found.severity);
            self.str(&found.subject);
            self.str(&found.detail);
        }
    }

    fn wallet(&mut self, wallet: &Wallet) {
        self.str(wallet.id.as_str());
        self.str(wallet.address.as_str());
        match &wallet.class {
            WalletClass::ClientIndividual(client) => {
                self.u8(0);
                self.str(client.as_str());
            }
            WalletClass::ClientOmnibus => self.u8(1),
            WalletClass::Firm => self.u8(2),
        }
        self.code(wallet.tier);
        match &wallet.custodian {
            Custodian::InHouse => self.u8(0),
            Custodian::SubCustodian(id) => {
                self.u8(1);
                self.str(id.as_str());
            }
        }
        self.str(wallet.key_set.as_str());
    }

    fn meta(&mut self, meta: &Meta) {
        self.str(meta.actor.as_str());
        self.str(meta.instruction.as_str());
        self.i64(meta.effective_at.micros());
    }

    /// A closed enum's journal tag (see [`crate::code`]).
    pub fn code<T: Code>(&mut self, value: T) {
        self.u8(value.tag());
    }

    pub fn movement(&mut self, movement: &Movement) {
        self.str(movement.key.as_str());
        self.code(movement.kind);
        match &movement.corrects {
            None => self.u8(0),
            Some(key) => {
                self.u8(1);
                self.str(key.as_str());
            }
        }
        // The count is bounded by POSTINGS_MAX at the edge; clamp so a bug cannot wrap.
        let count = u8::try_from(movement.postings.len()).unwrap_or(u8::MAX);
        self.u8(count);
        for posting in movement.postings.iter().take(usize::from(count)) {
            self.posting(posting);
        }
    }

    pub fn posting(&mut self, posting: &Posting) {
        self.code(posting.side);
        match &posting.account {
            Account::Position(client) => {
                self.u8(0);
                self.str(client.as_str());
            }
            Account::Holding(wallet) => {
                self.u8(1);
                self.str(wallet.as_str());
            }
            Account::Own(own) => {
                self.u8(2);
                self.code(*own);
            }
        }
        self.str(posting.asset.as_str());
        self.u128(posting.amount.units());
    }
}

/// Reads canonical bytes back, validating as it goes.
#[derive(Debug)]
pub struct Decoder<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0 }
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn finish(self) -> Result<(), DecodeError> {
        let count = self.bytes.len() - self.offset;
        if count == 0 { Ok(()) } else { Err(DecodeError::TrailingBytes { count }) }
    }

    pub fn take(&mut self, length: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.offset.checked_add(length).filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(DecodeError::Truncated { offset: self.offset });
        };
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    pub fn u128(&mut self) -> Result<u128, DecodeError> {
        Ok(u128::from_le_bytes(self.array()?))
    }
    pub fn hash(&mut self) -> Result<[u8; 32], DecodeError> {
        self.array()
    }

    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let offset = self.offset;
        let length = u16::from_le_bytes(self.array()?);
        let bytes = self.take(usize::from(length))?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::BadText { offset })
    }

    fn id<T>(&mut self, parse: fn(&str) -> Result<T, IdError>) -> Result<T, DecodeError> {
        let offset = self.offset;
        let text = self.str()?;
        parse(text).map_err(|source| DecodeError::BadId { offset, source })
    }

    fn tag(&mut self, what: &'static str, max: u8) -> Result<u8, DecodeError> {
        let offset = self.offset;
        let tag = self.u8()?;
        if tag > max { Err(DecodeError::BadTag { what, tag, offset }) } else { Ok(tag) }
    }

    pub fn command(&mut self) -> Result<Command, DecodeError> {
        let meta = Meta {
            actor: self.id(Actor::parse)?,
            instruction: self.id(InstructionId::parse)?,
            effective_at: Timestamp::from_micros(self.i64()?),
        };
        let offset = self.offset;
        let action = match self.u8()? {
            1 => Action::RegisterAsset(Asset { id: self.id(AssetId::parse)?, scale: self.u8()?, symbol: self.str()?.to_owned() }),
            2 => Action::RegisterClient(Client { id: self.id(ClientId::parse)?, category: self.code()?, segregation: self.code()? }),
            3 => Action::RegisterSubCustodian(SubCustodian {
                id: self.id(SubCustodianId::parse)?,
                name: self.str()?.to_owned(),
                basis: self.code()?,
                reference: self.str()?.to_owned(),
                valid_until: Timestamp::from_micros(self.i64()?),
            }),
            4 => Action::UpdateSubCustodianAuthorisation {
                id: self.id(SubCustodianId::parse)?,
                reference: self.str()?.to_owned(),
                valid_until: Timestamp::from_micros(self.i64()?),
            },
            5 => {
                let id = self.id(KeySetId::parse)?;
                let scheme = match self.code()? {
                    KeySchemeKind::Multisig => KeyScheme::Multisig { threshold: self.u8()? },
                    KeySchemeKind::Mpc => KeyScheme::Mpc { threshold: self.u8()? },
                    KeySchemeKind::Hsm => KeyScheme::Hsm,
                };
                let count = self.u8()?;
                let signers = (0..count).map(|_| self.str().map(str::to_owned)).collect::<Result<_, _>>()?;
                Action::RegisterKeySet(KeySet { id, scheme, signers, class: self.code()? })
            }
            6 => Action::RegisterWallet(self.wallet()?),
            7 => Action::Movement(self.movement()?),
            8 => {
                let id = self.id(TokenId::parse)?;
                let actor = self.id(Actor::parse)?;
                let count = self.u8()?;
                let roles = (0..count).map(|_| self.code()).collect::<Result<_, _>>()?;
                let client = match self.tag("token client", 1)? {
                    0 => None,
                    _ => Some(self.id(ClientId::parse)?),
                };
                let salt: [u8; 16] = self.array()?;
                let digest = self.hash()?;
                let expires_at = match self.tag("token expiry", 1)? {
                    0 => None,
                    _ => Some(Timestamp::from_micros(self.i64()?)),
                };
                Action::RegisterApiToken(ApiToken { id, actor, roles, client, salt, digest, expires_at })
            }
            9 => Action::RevokeApiToken { id: self.id(TokenId::parse)? },
            10 => {
                let approvals = self.u8()?;
                let expiry_hours =
                    u32::try_from(self.u64()?).map_err(|_| DecodeError::BadTag { what: "expiry hours", tag: u8::MAX, offset })?;
                let count = self.u64()?;
                let mut withdrawal_thresholds = Vec::new();
                for _ in 0..count {
                    let asset = self.id(AssetId::parse)?;
                    withdrawal_thresholds.push((asset, Amount::new(self.u128()?)));
                }
                Action::SetApprovalPolicy(ApprovalPolicy { approvals, expiry_hours, withdrawal_thresholds })
            }
            11 => Action::ApprovePending { id: self.u64()? },
            12 => Action::RejectPending { id: self.u64()?, reason: self.str()?.to_owned() },
            13 => Action::ExpirePending { id: self.u64()? },
            14 => Action::ChangeWallet(self.wallet()?),
            15 => Action::WatchChain { chain: self.str()?.to_owned(), from_block: self.u64()? },
            16 => Action::ObserveChain(self.observation()?),
            17 => Action::RecordReconRun(self.run()?),
            18 => Action::SetExceptionPolicy(ExceptionPolicy { resolution_hours: self.hours()?, confirmation_hours: self.hours()? }),
            19 => Action::InvestigateException { id: self.u64()? },
            20 => {
                let id = self.u64()?;
                let reason = self.str()?.to_owned();
                let resolution = match self.tag("resolution", 1)? {
                    0 => Resolution::Movement(self.id(IdempotencyKey::parse)?),
                    _ => Resolution::Explanation(self.str()?.to_owned()),
                };
                Action::ProposeResolution { id, reason, resolution }
            }
            21 => Action::ApproveResolution { id: self.u64()? },
            22 => Action::RejectResolution { id: self.u64()?, reason: self.str()?.to_owned() },
            23 => Action::EscalateException { id: self.u64()? },
            24 => Action::Safeguard(self.safeguard()?),
            25 => Action::RegisterSigningKey(crate::entity::SigningKey { public_key: self.hash()?, label: self.str()?.to_owned() }),
            26 => Action::RetireSigningKey { public_key: self.hash()? },
            27 => Action::RecordPrice(crate::price::Price {
                asset: self.id(AssetId::parse)?,
                currency: self.currency()?,
                units: self.u128()?,
                scale: self.u8()?,
                source: self.str()?.to_owned(),
            }),
            28 => Action::RecordStatement(crate::statement::StatementIssue {
                client: self.id(ClientId::parse)?,
                from: Timestamp::from_micros(self.i64()?),
                to: Timestamp::from_micros(self.i64()?),
                as_of: self.u64()?,
                sha256: self.hash()?,
            }),
            29 => Action::RecordPack(crate::statement::PackIssue {
                at: Timestamp::from_micros(self.i64()?),
                as_of: self.u64()?,
                sha256: self.hash()?,
            }),
            tag => return Err(DecodeError::BadTag { what: "action", tag, offset }),
        };
        Ok(Command { meta, action })
    }

    fn hours(&mut self) -> Result<u32, DecodeError> {
        let offset = self.offset;
        u32::try_from(self.u64()?).map_err(|_| DecodeError::OutOfRange { what: "hours", offset })
    }

    /// A count of items each at least `item_bytes` long: bounded by the bytes left, so a
    /// damaged count cannot make the decoder reserve memory it will never fill.
    fn count(&mut self, item_bytes: usize) -> Result<usize, DecodeError> {
        let offset = self.offset;
        let count = self.u64()?;
        let left = (self.bytes.len() - self.offset) / item_bytes.max(1);
        usize::try_from(count).ok().filter(|&count| count <= left).ok_or(DecodeError::OutOfRange { what: "count", offset })
    }

    fn block(&mut self) -> Result<ChainBlock, DecodeError> {
        Ok(ChainBlock { number: self.u64()?, hash: self.hash()?, parent_hash: self.hash()?, timestamp: self.u64()? })
    }

    fn observation(&mut self) -> Result<ChainObservation, DecodeError> {
        let chain = self.str()?.to_owned();
        let orphaned_from = match self.tag("orphaned", 1)? {
            0 => None,
            _ => Some(self.u64()?),
        };
        let count = self.count(80)?;
        let mut tracked = Vec::with_capacity(count);
        for _ in 0..count {
            tracked.push(self.block()?);
        }
        let count = self.count(64)?;
        let mut transfers = Vec::with_capacity(count);
        for _ in 0..count {
            let block_number = self.u64()?;
            let tx_hash = self.hash()?;
            let log_index = match self.tag("log index", 1)? {
                0 => None,
                _ => Some(self.u64()?),
            };
            transfers.push(ChainTransfer {
                block_number,
                tx_hash,
                log_index,
                asset: self.id(AssetId::parse)?,
                from: self.id(Address::parse)?,
                to: self.id(Address::parse)?,
                amount: Amount::new(self.u128()?),
            });
        }
        Ok(ChainObservation { chain, orphaned_from, tracked, transfers })
    }

    fn run(&mut self) -> Result<ReconRun, DecodeError> {
        let cut_off = Timestamp::from_micros(self.i64()?);
        let count = self.count(3)?;
        let mut sources = Vec::with_capacity(count);
        for _ in 0..count {
            sources.push(match self.tag("run source", 2)? {
                0 => RunSource::Chain { chain: self.str()?.to_owned(), block: self.block()? },
                1 => RunSource::Unavailable { chain: self.str()?.to_owned(), reason: self.str()?.to_owned() },
                _ => RunSource::Statement {
                    sub_custodian: self.id(SubCustodianId::parse)?,
                    reference: self.str()?.to_owned(),
                    file: self.str()?.to_owned(),
                    sha256: self.hash()?,
                    rows: self.u64()?,
                },
            });
        }
        let checked = self.u64()?;
        let matched = self.u64()?;
        let report_sha256 = self.hash()?;
        let count = self.count(6)?;
        let mut breaks = Vec::with_capacity(count);
        for _ in 0..count {
            let kind = self.code()?;
            let severity = self.code()?;
            breaks.push(Break { kind, severity, subject: self.str()?.to_owned(), detail: self.str()?.to_owned() });
        }
        Ok(ReconRun { cut_off, sources, checked, matched, report_sha256, breaks })
    }

    fn wallet(&mut self) -> Result<Wallet, DecodeError> {
        Ok(Wallet {
            id: self.id(WalletId::parse)?,
            address: self.id(Address::parse)?,
            class: match self.tag("wallet class", 2)? {
                0 => WalletClass::ClientIndividual(self.id(ClientId::parse)?),
                1 => WalletClass::ClientOmnibus,
                _ => WalletClass::Firm,
            },
            tier: self.code()?,
            custodian: match self.tag("custodian", 1)? {
                0 => Custodian::InHouse,
                _ => Custodian::SubCustodian(self.id(SubCustodianId::parse)?),
            },
            key_set: self.id(KeySetId::parse)?,
        })
    }

    /// A closed enum from its journal tag; an unknown tag is an error, never a default.
    pub fn code<T: Code>(&mut self) -> Result<T, DecodeError> {
        let offset = self.offset;
        let tag = self.u8()?;
        T::from_tag(tag).ok_or(DecodeError::BadTag { what: T::WHAT, tag, offset })
    }

    pub fn movement(&mut self) -> Result<Movement, DecodeError> {
        let key = self.id(IdempotencyKey::parse)?;
        let kind = self.code()?;
        let corrects = match self.tag("correction flag", 1)? {
            0 => None,
            _ => Some(self.id(IdempotencyKey::parse)?),
        };
        let offset = self.offset;
        let count = self.u8()?;
        if usize::from(count) > POSTINGS_MAX {
            return Err(DecodeError::OutOfRange { what: "posting count", offset });
        }
        let postings = (0..count).map(|_| self.posting()).collect::<Result<_, _>>()?;
        Ok(Movement { key, kind, postings, corrects })
    }

    pub fn posting(&mut self) -> Result<Posting, DecodeError> {
        let side = self.code()?;
        let account = match self.tag("account", 2)? {
            0 => Account::Position(self.id(ClientId::parse)?),
            1 => Account::Holding(self.id(WalletId::parse)?),
            _ => Account::Own(self.code()?),
        };
        Ok(Posting { side, account, asset: self.id(AssetId::parse)?, amount: Amount::new(self.u128()?) })
    }
}

/// The canonical bytes of one command.
pub fn encode_command(command: &Command) -> Vec<u8> {
    let mut encoder = Encoder::default();
    encoder.command(command);
    encoder.bytes
}

/// Decodes exactly one command from `bytes`.
pub fn decode_command(bytes: &[u8]) -> Result<Command, DecodeError> {
    let mut decoder = Decoder::new(bytes);
    let command = decoder.command()?;
    decoder.finish()?;
    Ok(command)
}
