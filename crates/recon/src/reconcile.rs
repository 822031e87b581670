//! The reconciliation itself: the register against observed balances, per wallet and asset,
//! per asset (coverage of client positions by client-class wallets) and per individually
//! segregated client. Pure: it reads the register and the observations and returns findings.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ringfence_core::{Account, Amount, AssetId, ClientId, Custodian, Register, Segregation, Timestamp, WalletClass, WalletId};

use crate::statement::Statement;

/// What a source says one wallet holds of one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    Amount(Amount),
    /// The source could not say (a node down, a statement that does not cover it…). Never
    /// read as zero.
    Unavailable(String),
}

/// An observed balance and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub observed: Observed,
    /// Names the evidence, e.g. `statement STMT-001 (sc-anchorage)` or a chain and block.
    pub source: Arc<str>,
}

/// Two sources observed the same wallet and asset; a run takes one observation of each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("wallet {wallet} and asset {asset} are observed twice (by {first} and by {second}); give one source for each wallet")]
pub struct DuplicateObservation {
    pub wallet: WalletId,
    pub asset: AssetId,
    pub first: Arc<str>,
    pub second: Arc<str>,
}

/// Observed balances by wallet and asset, from any source.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    by_key: HashMap<(WalletId, AssetId), Observation>,
}

impl Observations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, wallet: WalletId, asset: AssetId, observation: Observation) -> Result<(), DuplicateObservation> {
        match self.by_key.entry((wallet, asset)) {
            std::collections::hash_map::Entry::Occupied(entry) => Err(DuplicateObservation {
                wallet: entry.key().0.clone(),
                asset: entry.key().1.clone(),
                first: entry.get().source.clone(),
                second: observation.source,
            }),
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(observation);
                Ok(())
            }
        }
    }

    pub fn get(&self, wallet: &WalletId, asset: &AssetId) -> Option<&Observation> {
        // A borrowed tuple key would need an owned one to look up; this clones two short strings.
        self.by_key.get(&(wallet.clone(), asset.clone()))
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Adds what a statement states. A statement is complete for its sub-custodian: every
    /// wallet registered at that sub-custodian, in every registered asset on the wallet's
    /// chain, is observed; what the statement does not list is stated as zero.
    pub fn add_statement(&mut self, statement: &Statement, register: &Register) -> Result<(), DuplicateObservation> {
        let source: Arc<str> = Arc::from(format!("statement {} ({})", statement.reference, statement.sub_custodian));
        let stated: HashMap<(&WalletId, &AssetId), Amount> =
            statement.balances.iter().map(|b| ((&b.wallet, &b.asset), b.balance)).collect();
        let custodian = Custodian::SubCustodian(statement.sub_custodian.clone());
        for wallet in register.wallets().filter(|w| w.custodian == custodian) {
            for asset in register.assets().filter(|a| a.id.chain() == wallet.address.chain()) {
                let amount = stated.get(&(&wallet.id, &asset.id)).copied().unwrap_or(Amount::ZERO);
                self.insert(
                    wallet.id.clone(),
                    asset.id.clone(),
                    Observation { observed: Observed::Amount(amount), source: source.clone() },
                )?;
            }
        }
        Ok(())
    }

    fn iter(&self) -> impl Iterator<Item = (&(WalletId, AssetId), &Observation)> {
        self.by_key.iter()
    }
}

ringfence_core::codes! {
    pub enum Severity("severity") {
        Info = 0 => "info",
        Warning = 1 => "warning",
        Critical = 2 => "critical",
    }
}

ringfence_core::codes! {
    /// Which comparison a finding comes from.
    pub enum Check("check") {
        /// Per asset: client-class wallets' observed balances against all client positions.
        Coverage = 0 => "coverage",
        /// Per individually segregated client and asset: that client's wallets against its position.
        Client = 1 => "client",
        /// Per wallet and asset: the register's holding against the observed balance.
        Wallet = 2 => "wallet",
        /// An observation of a wallet or asset the register does not know, or of an asset on a
        /// wallet of another chain.
        Unregistered = 3 => "unregistered",
        /// Chain transfers against movements: what one side has and the other has not.
        Linkage = 4 => "linkage",
    }
}

ringfence_core::codes! {
    /// What a comparison found.
    pub enum Verdict("verdict") {
        /// Observed equals the register.
        Match = 0 => "match",
        /// A wallet's observed balance differs from its holding (`delta` = observed − register).
        Difference = 1 => "difference",
        /// Observed below what clients are owed.
        Shortfall = 2 => "shortfall",
        /// Observed above what clients are owed.
        Surplus = 3 => "surplus",
        /// The source could not say.
        Unavailable = 4 => "unavailable",
        /// No source observed a wallet that holds the asset in the register.
        NotObserved = 5 => "not_observed",
        /// Some of the wallets summed were unavailable or not observed: no conclusion.
        Incomplete = 6 => "incomplete",
        /// The observation names something the register does not hold.
        Unregistered = 7 => "unregistered",
        /// A transfer into a registered wallet that no movement explains.
        UnmatchedInflow = 8 => "unmatched_inflow",
        /// A transfer out of a registered wallet that no movement explains.
        UnmatchedOutflow = 9 => "unmatched_outflow",
        /// A movement whose transfer was not seen on chain within the confirmation time.
        Unconfirmed = 10 => "unconfirmed",
    }
}

/// Observed minus register: signed, and as wide as two u128s need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delta {
    pub negative: bool,
    pub amount: Amount,
}

impl Delta {
    pub fn between(observed: Amount, register: Amount) -> Delta {
        if observed >= register {
            Delta { negative: false, amount: Amount::new(observed.units() - register.units()) }
        } else {
            Delta { negative: true, amount: Amount::new(register.units() - observed.units()) }
        }
    }

    pub fn is_zero(self) -> bool {
        self.amount.is_zero()
    }
}

impl std::fmt::Display for Delta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.negative && !self.amount.is_zero() { write!(f, "-{}", self.amount) } else { write!(f, "{}", self.amount) }
    }
}

/// One result of a reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: Check,
    pub verdict: Verdict,
    pub severity: Severity,
    pub asset: AssetId,
    /// For [`Check::Wallet`] and [`Check::Unregistered`].
    pub wallet: Option<WalletId>,
    /// For [`Check::Client`].
    pub client: Option<ClientId>,
    /// The register's side: the wallet's holding, all client positions (coverage) or the
    /// client's position. `None` for an unregistered observation.
    pub register: Option<Amount>,
    /// The observed balance, or the sum of the observed balances; for an incomplete sum, the
    /// sum of those that were observed. `None` when nothing was observed.
    pub observed: Option<Amount>,
    /// Observed − register, when both are known and the sum is complete.
    pub delta: Option<Delta>,
    /// Where the observation comes from (wallet checks).
    pub source: Option<Arc<str>>,
    /// Why a source was unavailable, how many wallets were missing from a sum…
    pub detail: String,
}

/// The result of a reconciliation, in a deterministic order: coverage (by asset id), then
/// individually segregated clients (by client id, asset id), then wallets (by wallet id,
/// asset id), then unregistered observations (by wallet id, asset id).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }

    /// The most severe finding's severity; `Info` for a report without findings.
    pub fn worst(&self) -> Severity {
        self.findings.iter().map(|f| f.severity).max().unwrap_or(Severity::Info)
    }
}

/// A sum of observed balances that may be incomplete, and may exceed u128 (observations are
/// anyone's numbers; only the register's totals are bounded).
#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    units: u128,
    overflowed: bool,
    missing: usize,
}

impl Sum {
    /// Adds an observed balance, or counts a wallet that was not observed (`None`).
    fn record(&mut self, observed: Option<Amount>) {
        match observed {
            Some(amount) => self.add(amount),
            None => self.missing += 1,
        }
    }

    fn add(&mut self, amount: Amount) {
        match self.units.checked_add(amount.units()) {
            Some(units) => self.units = units,
            None => {
                self.units = u128::MAX;
                self.overflowed = true;
            }
        }
    }
}

/// An account's balance in an asset at an instant of effective time (`None`: unknown): the
/// store's, which reads the postings it moved out of the register's memory too.
pub type BalanceAt<'a> = &'a dyn Fn(&Account, &AssetId, Timestamp) -> Option<ringfence_core::Net>;

/// The register's side of the comparisons: now, or as at an instant of effective time.
struct Book<'a> {
    register: &'a Register,
    /// `None`: the balances now (also when no movement is effective after the instant).
    at: Option<(Timestamp, BalanceAt<'a>)>,
}

impl Book<'_> {
    fn balance(&self, account: &Account, asset: &AssetId) -> Amount {
        match self.at {
            None => self.register.balance(account, asset).unwrap_or(Amount::ZERO),
            // A balance below zero at an instant can only come from back-dated movements; the
            // register never holds one, so it counts as nothing held.
            Some((at, balance_at)) => balance_at(account, asset, at).filter(|net| !net.negative).map_or(Amount::ZERO, |net| net.amount),
        }
    }

    fn client_positions(&self, asset: &AssetId) -> Amount {
        match self.at {
            None => self.register.summary().into_iter().find(|s| s.asset.id == *asset).map_or(Amount::ZERO, |s| s.client_positions),
            Some(_) => Amount::new(
                self.register
                    .clients()
                    .map(|client| self.balance(&Account::Position(client.id.clone()), asset).units())
                    .fold(0u128, u128::saturating_add),
            ),
        }
    }
}

/// Compares the register as it stands with the observations.
pub fn reconcile(register: &Register, observations: &Observations) -> Report {
    reconcile_book(&Book { register, at: None }, observations)
}

/// Compares the register as at `at` (effective time: the movements effective at or before it)
/// with observations made at that cut-off; past balances come from `balance_at`.
pub fn reconcile_at(register: &Register, observations: &Observations, at: Timestamp, balance_at: BalanceAt<'_>) -> Report {
    let at = (register.latest_effective_at() > at).then_some((at, balance_at));
    reconcile_book(&Book { register, at }, observations)
}

fn reconcile_book(book: &Book<'_>, observations: &Observations) -> Report {
    let register = book.register;
    let mut assets: Vec<&ringfence_core::Asset> = register.assets().collect();
    assets.sort_by(|a, b| a.id.cmp(&b.id));
    let asset_index: HashMap<&AssetId, usize> = assets.iter().enumerate().map(|(n, a)| (&a.id, n)).collect();
    let mut wallets: Vec<&ringfence_core::Wallet> = register.wallets().collect();
    wallets.sort_by(|a, b| a.id.cmp(&b.id));

    let mut coverage = vec![Sum::default(); assets.len()];
    let mut individual: BTreeMap<(&ClientId, usize), Sum> = BTreeMap::new();
    let mut wallet_findings = Vec::new();
    for wallet in &wallets {
        for (index, asset) in assets.iter().enumerate().filter(|(_, a)| a.id.chain() == wallet.address.chain()) {
            let held = book.balance(&Account::Holding(wallet.id.clone()), &asset.id);
            let observation = observations.get(&wallet.id, &asset.id);
            let client_class = wallet.class.kind().is_client();
            let mut finding = Finding {
                check: Check::Wallet,
                verdict: Verdict::Match,
                severity: Severity::Info,
                asset: asset.id.clone(),
                wallet: Some(wallet.id.clone()),
                client: None,
                register: Some(held),
                observed: None,
                delta: None,
                source: observation.map(|o| o.source.clone()),
                detail: String::new(),
            };
            match observation.map(|o| &o.observed) {
                None if held.is_zero() => continue,
                None => {
                    finding.verdict = Verdict::NotObserved;
                    finding.severity = Severity::Warning;
                    finding.detail = "no source observed this wallet, which holds the asset in the register".to_owned();
                }
                Some(Observed::Unavailable(reason)) => {
                    finding.verdict = Verdict::Unavailable;
                    finding.severity = Severity::Warning;
                    finding.detail = reason.clone();
                }
                Some(Observed::Amount(amount)) => {
                    let delta = Delta::between(*amount, held);
                    finding.observed = Some(*amount);
                    finding.delta = Some(delta);
                    if !delta.is_zero() {
                        finding.verdict = Verdict::Difference;
                        // Less in a client wallet than the register says may be misappropriation.
                        finding.severity = if client_class && delta.negative { Severity::Critical } else { Severity::Warning };
                    }
                }
            }
            let seen = finding.observed;
            if client_class {
                coverage[index].record(seen);
            }
            if let WalletClass::ClientIndividual(client) = &wallet.class {
                individual.entry((client, index)).or_default().record(seen);
            }
            wallet_findings.push(finding);
        }
    }

    let mut findings = Vec::with_capacity(wallet_findings.len() + assets.len());
    for (index, asset) in assets.iter().enumerate() {
        findings.push(compared(Check::Coverage, &asset.id, None, book.client_positions(&asset.id), coverage[index]));
    }
    let mut clients: Vec<&ringfence_core::Client> = register.clients().filter(|c| c.segregation == Segregation::Individual).collect();
    clients.sort_by(|a, b| a.id.cmp(&b.id));
    for client in clients {
        for (index, asset) in assets.iter().enumerate() {
            let position = book.balance(&Account::Position(client.id.clone()), &asset.id);
            let sum = individual.get(&(&client.id, index)).copied().unwrap_or_default();
            if position.is_zero() && sum.units == 0 && sum.missing == 0 {
                continue;
            }
            findings.push(compared(Check::Client, &asset.id, Some(&client.id), position, sum));
        }
    }
    findings.append(&mut wallet_findings);

    let mut unregistered: Vec<Finding> = observations
        .iter()
        .filter_map(|((wallet, asset), observation)| {
            let problem = match (register.wallet(wallet), asset_index.contains_key(asset)) {
                (None, _) => format!("wallet {wallet} is not registered"),
                (Some(_), false) => format!("asset {asset} is not registered"),
                (Some(w), true) if w.address.chain() != asset.chain() => {
                    format!("asset {asset} is on chain {} but wallet {wallet} is on {}", asset.chain(), w.address.chain())
                }
                (Some(_), true) => return None,
            };
            Some(Finding {
                check: Check::Unregistered,
                verdict: Verdict::Unregistered,
                severity: Severity::Warning,
                asset: asset.clone(),
                wallet: Some(wallet.clone()),
                client: None,
                register: None,
                observed: match &observation.observed {
                    Observed::Amount(amount) => Some(*amount),
                    Observed::Unavailable(_) => None,
                },
                delta: None,
                source: Some(observation.source.clone()),
                detail: problem,
            })
        })
        .collect();
    unregistered.sort_by(|a, b| (&a.wallet, &a.asset).cmp(&(&b.wallet, &b.asset)));
    findings.append(&mut unregistered);
    Report { findings }
}

/// A sum of observed balances against what clients are owed.
fn compared(check: Check, asset: &AssetId, client: Option<&ClientId>, owed: Amount, sum: Sum) -> Finding {
    let mut finding = Finding {
        check,
        verdict: Verdict::Match,
        severity: Severity::Info,
        asset: asset.clone(),
        wallet: None,
        client: client.cloned(),
        register: Some(owed),
        observed: Some(Amount::new(sum.units)),
        delta: None,
        source: None,
        detail: String::new(),
    };
    if sum.missing > 0 {
        // An unavailable wallet may hold anything: no shortfall or surplus can be concluded.
        finding.verdict = Verdict::Incomplete;
        finding.severity = Severity::Warning;
        finding.detail = format!("{} client-class wallet(s) unavailable or not observed; the sum is of the others", sum.missing);
        return finding;
    }
    if sum.overflowed {
        finding.observed = None;
        finding.verdict = Verdict::Surplus;
        finding.severity = Severity::Warning;
        finding.detail = "the observed balances add up to more than 2^128 - 1".to_owned();
        return finding;
    }
    let delta = Delta::between(Amount::new(sum.units), owed);
    finding.delta = Some(delta);
    if delta.is_zero() {
        return finding;
    }
    if delta.negative {
        finding.verdict = Verdict::Shortfall;
        finding.severity = Severity::Critical;
        finding.detail = "client-class wallets hold less than the clients are owed".to_owned();
    } else {
        finding.verdict = Verdict::Surplus;
        finding.severity = Severity::Warning;
        finding.detail = "client-class wallets hold more than the clients are owed".to_owned();
    }
    finding
}
