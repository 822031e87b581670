//! Movements: one instruction's balanced set of postings on positions, holdings and the firm's
//! own accounts, and the commands that the journal records.

use crate::amount::Amount;
use crate::entity::{Asset, Client, KeySet, SubCustodian, Wallet};
use crate::ids::{Actor, AssetId, ClientId, IdempotencyKey, InstructionId, SubCustodianId, WalletId};
use crate::time::Timestamp;

crate::codes! {
    /// The firm's own accounts. Their sum per asset equals what firm wallets hold.
    pub enum OwnAccount("own account") {
        /// The firm's own funds placed in its wallets.
        Capital = 0 => "capital",
        /// Fees charged to clients.
        FeeIncome = 1 => "fee_income",
    }
}

/// Where a posting lands. Positions and own accounts are credit-normal (what is owed, what
/// the firm owns); holdings are debit-normal (what a wallet holds).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Account {
    /// What the firm owes one client ("who owns").
    Position(ClientId),
    /// What one wallet holds ("where it sits").
    Holding(WalletId),
    /// The firm's own.
    Own(OwnAccount),
}

crate::codes! {
    /// Which side of an account a posting lands on.
    pub enum Side("side") {
        Debit = 0 => "debit",
        Credit = 1 => "credit",
    }
}

impl Side {
    pub fn flipped(self) -> Side {
        match self {
            Side::Debit => Side::Credit,
            Side::Credit => Side::Debit,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Posting {
    pub side: Side,
    pub account: Account,
    pub asset: AssetId,
    pub amount: Amount,
}

crate::codes! {
    /// The kinds of movement. Each allows only certain postings (see [`crate::register`]).
    pub enum MovementKind("movement kind") {
        /// A client's assets arrive: debit a client-class holding, credit the client's position.
        Deposit = 0 => "deposit",
        /// A client's assets leave: debit the position, credit a client-class holding.
        Withdrawal = 1 => "withdrawal",
        /// Between two clients' positions, with the holding move when their wallets differ.
        Transfer = 2 => "transfer",
        /// Client debit, firm fee income credit, and the sweep from a client wallet to a firm
        /// wallet.
        Fee = 3 => "fee",
        /// Between wallets of the same class (hot to cold and back).
        Rebalance = 4 => "rebalance",
        /// The firm places its own assets in a firm wallet.
        FirmFunding = 5 => "firm_funding",
        /// The firm takes its own assets out of a firm wallet.
        FirmWithdrawal = 6 => "firm_withdrawal",
        /// Reverses, posting by posting, the movement it names. Nothing is edited or deleted.
        Correction = 7 => "correction",
        /// A reward earned by a client's encumbered assets (staking, lending): shaped as a
        /// deposit, under the client instruction its `instruction` names, to that client only.
        Reward = 8 => "reward",
        /// Client assets lost from a client wallet (a hack, lost keys, a sub-custodian's
        /// failure; MiCA Art 75(8)): shaped as a withdrawal, each client's position debited by
        /// its part of the loss, the wallet's holding credited. Four-eyes gated.
        Loss = 9 => "loss",
        /// The firm makes clients good from its own assets: the firm's capital debited and the
        /// clients' positions credited, the asset moved from a firm wallet into a client wallet,
        /// all in one movement (the mirror of a fee).
        Compensation = 10 => "compensation",
    }
}

/// The most postings one movement may carry.
pub const POSTINGS_MAX: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Movement {
    /// The movement's name and idempotency key.
    pub key: IdempotencyKey,
    pub kind: MovementKind,
    pub postings: Vec<Posting>,
    /// For a correction: the movement it reverses.
    pub corrects: Option<IdempotencyKey>,
}

impl Movement {
    /// The postings that exactly reverse `postings`.
    pub fn reversal_of(postings: &[Posting]) -> Vec<Posting> {
        postings.iter().map(|p| Posting { side: p.side.flipped(), ..p.clone() }).collect()
    }
}

/// Who asked for a change, under which instruction, taking effect when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    pub actor: Actor,
    pub instruction: InstructionId,
    pub effective_at: Timestamp,
}

/// A change of the register's state. Every accepted command becomes one journal entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Action {
    RegisterAsset(Asset),
    RegisterClient(Client),
    RegisterSubCustodian(SubCustodian),
    /// Renews (or shortens) a sub-custodian's authorisation.
    UpdateSubCustodianAuthorisation {
        id: SubCustodianId,
        reference: String,
        valid_until: Timestamp,
    },
    RegisterKeySet(KeySet),
    RegisterWallet(Wallet),
    Movement(Movement),
    /// An API token: who holds it and with which roles (issue 4).
    RegisterApiToken(crate::entity::ApiToken),
    /// From this entry on, the token is refused.
    RevokeApiToken {
        id: crate::ids::TokenId,
    },
    /// Sets the four-eyes policy (the first one directly, later ones by approval).
    SetApprovalPolicy(crate::approval::ApprovalPolicy),
    /// An approval of the pending instruction proposed at sequence `id`.
    ApprovePending {
        id: u64,
    },
    /// Rejects the pending instruction `id`: it will never apply.
    RejectPending {
        id: u64,
        reason: String,
    },
    /// Records that the pending instruction `id` expired unapproved.
    ExpirePending {
        id: u64,
    },
    /// Changes a registered wallet's class, custodian or key set (same id, address and tier).
    ChangeWallet(Wallet),
    /// Starts observing an EVM chain (`eip155:<id>`) from a block (issue 5).
    WatchChain {
        chain: String,
        from_block: u64,
    },
    /// What one ingestion step read from a watched chain.
    ObserveChain(crate::oversight::ChainObservation),
    /// A reconciliation run: its inputs, figures and breaks; each break opens an exception.
    RecordReconRun(crate::oversight::ReconRun),
    /// Sets the exception clocks (by approval once a four-eyes policy is in force).
    SetExceptionPolicy(crate::oversight::ExceptionPolicy),
    /// The actor takes the exception up.
    InvestigateException {
        id: u64,
    },
    /// The investigator proposes how the exception is resolved.
    ProposeResolution {
        id: u64,
        reason: String,
        resolution: crate::oversight::Resolution,
    },
    /// Someone other than the investigator approves the proposed resolution.
    ApproveResolution {
        id: u64,
    },
    /// Someone other than the investigator sends the proposal back, saying why.
    RejectResolution {
        id: u64,
        reason: String,
    },
    /// Records that the exception is overdue and escalated.
    EscalateException {
        id: u64,
    },
    /// Safeguarding policies, client instructions, encumbrance and client fiat funds (issue 6).
    Safeguard(crate::safeguard::SafeguardAction),
    /// From this entry on, commits may be signed by this key (issue 14).
    RegisterSigningKey(crate::entity::SigningKey),
    /// From this entry on, commits signed by this key are refused by verification.
    RetireSigningKey {
        public_key: [u8; 32],
    },
    /// A price of an asset in a fiat currency at the command's effective time (issue 17).
    RecordPrice(crate::price::Price),
    /// A statement of position issued to a client (issue 17).
    RecordStatement(crate::statement::StatementIssue),
    /// An insolvency pack made (issue 18): its cut-off, the entry it reflects and its
    /// manifest's SHA-256.
    RecordPack(crate::statement::PackIssue),
}

impl Action {
    /// What kind of entry a journal entry is, as the API and the CLI name it.
    pub fn code(&self) -> &'static str {
        match self {
            Action::RegisterAsset(_) => "asset",
            Action::RegisterClient(_) => "client",
            Action::RegisterSubCustodian(_) => "sub_custodian",
            Action::UpdateSubCustodianAuthorisation { .. } => "sub_custodian_authorisation",
            Action::RegisterKeySet(_) => "key_set",
            Action::RegisterWallet(_) => "wallet",
            Action::Movement(m) => m.kind.code(),
            Action::RegisterApiToken(_) => "api_token",
            Action::RevokeApiToken { .. } => "api_token_revocation",
            Action::SetApprovalPolicy(_) => "approval_policy",
            Action::ApprovePending { .. } => "approve",
            Action::RejectPending { .. } => "reject",
            Action::ExpirePending { .. } => "expire",
            Action::ChangeWallet(_) => "wallet_change",
            Action::WatchChain { .. } => "chain_watch",
            Action::ObserveChain(_) => "chain_observation",
            Action::RecordReconRun(_) => "recon_run",
            Action::SetExceptionPolicy(_) => "exception_policy",
            Action::InvestigateException { .. } => "exception_investigate",
            Action::ProposeResolution { .. } => "exception_resolve",
            Action::ApproveResolution { .. } => "exception_approve",
            Action::RejectResolution { .. } => "exception_reject",
            Action::EscalateException { .. } => "exception_escalate",
            Action::Safeguard(action) => action.code(),
            Action::RegisterSigningKey(_) => "signing_key",
            Action::RetireSigningKey { .. } => "signing_key_retirement",
            Action::RecordPrice(_) => "price",
            Action::RecordStatement(_) => "statement_issued",
            Action::RecordPack(_) => "insolvency_pack",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Command {
    pub meta: Meta,
    pub action: Action,
}

/// Builders for the usual shapes of movement, so callers need not spell out postings.
pub mod build {
    use super::*;

    fn posting(side: Side, account: Account, asset: &AssetId, amount: Amount) -> Posting {
        Posting { side, account, asset: asset.clone(), amount }
    }

    fn movement(key: IdempotencyKey, kind: MovementKind, postings: Vec<Posting>) -> Movement {
        Movement { key, kind, postings, corrects: None }
    }

    pub fn deposit(key: IdempotencyKey, client: &ClientId, wallet: &WalletId, asset: &AssetId, amount: Amount) -> Movement {
        movement(
            key,
            MovementKind::Deposit,
            vec![
                posting(Side::Debit, Account::Holding(wallet.clone()), asset, amount),
                posting(Side::Credit, Account::Position(client.clone()), asset, amount),
            ],
        )
    }

    pub fn withdrawal(key: IdempotencyKey, client: &ClientId, wallet: &WalletId, asset: &AssetId, amount: Amount) -> Movement {
        movement(
            key,
            MovementKind::Withdrawal,
            vec![
                posting(Side::Debit, Account::Position(client.clone()), asset, amount),
                posting(Side::Credit, Account::Holding(wallet.clone()), asset, amount),
            ],
        )
    }

    /// A client-to-client transfer; `wallets` (from, to) moves the asset between the wallets
    /// that back the two positions when those differ (e.g. individually segregated clients).
    pub fn transfer(
        key: IdempotencyKey,
        from: &ClientId,
        to: &ClientId,
        wallets: Option<(&WalletId, &WalletId)>,
        asset: &AssetId,
        amount: Amount,
    ) -> Movement {
        let mut postings = vec![
            posting(Side::Debit, Account::Position(from.clone()), asset, amount),
            posting(Side::Credit, Account::Position(to.clone()), asset, amount),
        ];
        if let Some((from_wallet, to_wallet)) = wallets {
            postings.push(posting(Side::Debit, Account::Holding(to_wallet.clone()), asset, amount));
            postings.push(posting(Side::Credit, Account::Holding(from_wallet.clone()), asset, amount));
        }
        movement(key, MovementKind::Transfer, postings)
    }

    /// A fee: the client's position is debited, the firm's fee income credited, and the asset
    /// swept from the client's wallet to a firm wallet, all in one movement.
    pub fn fee(
        key: IdempotencyKey,
        client: &ClientId,
        client_wallet: &WalletId,
        firm_wallet: &WalletId,
        asset: &AssetId,
        amount: Amount,
    ) -> Movement {
        movement(
            key,
            MovementKind::Fee,
            vec![
                posting(Side::Debit, Account::Position(client.clone()), asset, amount),
                posting(Side::Credit, Account::Own(OwnAccount::FeeIncome), asset, amount),
                posting(Side::Debit, Account::Holding(firm_wallet.clone()), asset, amount),
                posting(Side::Credit, Account::Holding(client_wallet.clone()), asset, amount),
            ],
        )
    }

    /// A loss borne by one client: its position debited, the client wallet the asset was lost
    /// from credited.
    pub fn loss(key: IdempotencyKey, client: &ClientId, wallet: &WalletId, asset: &AssetId, amount: Amount) -> Movement {
        // A withdrawal's postings: what leaves is lost, not returned.
        Movement { kind: MovementKind::Loss, ..withdrawal(key, client, wallet, asset, amount) }
    }

    /// A compensation: the firm's capital debited and the client's position credited, the
    /// asset moved from a firm wallet into the client's wallet, all in one movement.
    pub fn compensation(
        key: IdempotencyKey,
        client: &ClientId,
        client_wallet: &WalletId,
        firm_wallet: &WalletId,
        asset: &AssetId,
        amount: Amount,
    ) -> Movement {
        movement(
            key,
            MovementKind::Compensation,
            vec![
                posting(Side::Debit, Account::Own(OwnAccount::Capital), asset, amount),
                posting(Side::Credit, Account::Position(client.clone()), asset, amount),
                posting(Side::Debit, Account::Holding(client_wallet.clone()), asset, amount),
                posting(Side::Credit, Account::Holding(firm_wallet.clone()), asset, amount),
            ],
        )
    }

    pub fn rebalance(key: IdempotencyKey, from: &WalletId, to: &WalletId, asset: &AssetId, amount: Amount) -> Movement {
        movement(
            key,
            MovementKind::Rebalance,
            vec![
                posting(Side::Debit, Account::Holding(to.clone()), asset, amount),
                posting(Side::Credit, Account::Holding(from.clone()), asset, amount),
            ],
        )
    }

    pub fn firm_funding(key: IdempotencyKey, wallet: &WalletId, asset: &AssetId, amount: Amount) -> Movement {
        movement(
            key,
            MovementKind::FirmFunding,
            vec![
                posting(Side::Debit, Account::Holding(wallet.clone()), asset, amount),
                posting(Side::Credit, Account::Own(OwnAccount::Capital), asset, amount),
            ],
        )
    }

    pub fn firm_withdrawal(key: IdempotencyKey, wallet: &WalletId, asset: &AssetId, amount: Amount) -> Movement {
        movement(
            key,
            MovementKind::FirmWithdrawal,
            vec![
                posting(Side::Debit, Account::Own(OwnAccount::Capital), asset, amount),
                posting(Side::Credit, Account::Holding(wallet.clone()), asset, amount),
            ],
        )
    }

    /// A correction of the movement named `corrects`, whose postings were `original`.
    pub fn correction(key: IdempotencyKey, corrects: IdempotencyKey, original: &[Posting]) -> Movement {
        Movement { key, kind: MovementKind::Correction, postings: Movement::reversal_of(original), corrects: Some(corrects) }
    }
}
