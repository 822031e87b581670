//! A client's statement of position for a period, as the journal held it up to one entry
//! (`as_of`): opening and closing positions (the balances at the period's bounds of effective
//! time), every movement of the period, what is encumbered and free, rewards, client fiat
//! funds, where the assets are held and their value at the period's end. Entries recorded
//! after `as_of` are left out, even when their effective time falls in the period, so the
//! statement is the same bytes whenever it is made again: `statement` reads the store, then
//! takes out what the entries after `as_of` added.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use ringfence_core::register::share_bp_rounded;
use ringfence_core::{
    Account, Action, AssetId, ClientId, Currency, Custodian, MovementKind, Net, Register, SafeguardAction, Segregation, Side, Tier,
    Timestamp, WalletClass, WalletId,
};
use ringfence_store::{HISTORY_LIMIT_MAX, Store, Subject};
use ringfence_wire::clock;
use ringfence_wire::views::journal::Audience;
use ringfence_wire::views::prices::{MoneyView, ValuationView};
use ringfence_wire::views::statement::{
    CaspView, CustodyView, EncumberedView, FiatEventView, STATEMENT_FORMAT, StatementAssetView, StatementClientView, StatementFiatView,
    StatementMovementView, StatementView, SubCustodianShareView, UnitsView,
};
use ringfence_wire::views::{AmountView, BalancesView};

use crate::ReportError;

/// Who issues statements, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Casp {
    pub name: String,
    pub lei: Option<String>,
    pub authorisation: Option<String>,
}

/// How a statement values positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Valuation {
    pub currency: Currency,
    pub max_price_age_micros: i64,
}

/// A signed amount (u128 magnitudes do not fit an i128).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Signed {
    negative: bool,
    magnitude: u128,
}

impl Signed {
    fn of(net: Net) -> Signed {
        Signed { negative: net.negative && !net.amount.is_zero(), magnitude: net.amount.units() }
    }

    fn plus(self, other: Signed) -> Option<Signed> {
        Some(if self.negative == other.negative {
            Signed { negative: self.negative, magnitude: self.magnitude.checked_add(other.magnitude)? }
        } else if self.magnitude >= other.magnitude {
            Signed { negative: self.negative && self.magnitude != other.magnitude, magnitude: self.magnitude - other.magnitude }
        } else {
            Signed { negative: other.negative, magnitude: other.magnitude - self.magnitude }
        })
    }

    fn minus(self, other: Signed) -> Option<Signed> {
        self.plus(Signed { negative: !other.negative && other.magnitude != 0, magnitude: other.magnitude })
    }

    fn units(self, scale: u8) -> UnitsView {
        let sign = if self.negative { "-" } else { "" };
        UnitsView {
            amount: format!("{sign}{}", self.magnitude),
            decimal: format!("{sign}{}", ringfence_core::Amount::new(self.magnitude).to_decimal(scale)),
        }
    }
}

fn overflow() -> ReportError {
    ReportError::Invalid("an amount of the statement does not fit in 128 bits".into())
}

/// A fiat receipt or withdrawal: its entry, reference, currency and amount.
#[derive(Debug, Clone)]
struct FiatEvent {
    seq: u64,
    reference: String,
    currency: Currency,
    amount: u128,
    receipt: bool,
}

/// What is encumbered per asset, per (client instruction, purpose).
pub(crate) type Encumbered = BTreeMap<AssetId, BTreeMap<(String, String), u128>>;

/// What the statements of many clients share, read from the register once: the chain
/// transactions that confirmed each movement, and each client's fiat events.
#[derive(Debug)]
pub struct Context {
    chain_transactions: HashMap<String, Vec<String>>,
    /// Each client's fiat receipts and withdrawals, in entry order.
    fiat: HashMap<ClientId, Vec<FiatEvent>>,
    /// Wallet balances at an instant, by (wallet, instant), shared by the clients of a pool.
    holdings: RefCell<HashMap<(WalletId, i64), Vec<Net>>>,
    /// The postings recorded after an entry, for a period's end, as far as they were read:
    /// statements of many clients from one entry read the entries after it once, then only
    /// what was recorded since (the issues of the statements already made, say).
    later: RefCell<Option<Later>>,
    /// The entry statements reflect: its number, recorded time and hash (read once a run).
    reflected: RefCell<Option<(u64, Timestamp, [u8; 32])>>,
}

impl Context {
    pub fn of(register: &Register) -> Context {
        let mut chain_transactions: HashMap<String, Vec<String>> = HashMap::new();
        for leg in register.movement_legs() {
            if let Some(transfer) = &leg.confirmed_by {
                let found = chain_transactions.entry(leg.movement.as_str().to_owned()).or_default();
                let text = transfer.to_string();
                if !found.contains(&text) {
                    found.push(text);
                }
            }
        }
        let mut fiat: HashMap<ClientId, Vec<FiatEvent>> = HashMap::new();
        for record in register.fiat_receipts() {
            let receipt = &record.receipt;
            fiat.entry(receipt.client.clone()).or_default().push(FiatEvent {
                seq: record.seq,
                reference: receipt.key.as_str().to_owned(),
                currency: receipt.currency,
                amount: receipt.amount.units(),
                receipt: true,
            });
        }
        let currencies: HashMap<&str, Currency> =
            register.fiat_accounts().iter().map(|r| (r.account.id.as_str(), r.account.currency)).collect();
        for (seq, withdrawal) in register.fiat_withdrawals() {
            if let Some(currency) = currencies.get(withdrawal.account.as_str()) {
                fiat.entry(withdrawal.client.clone()).or_default().push(FiatEvent {
                    seq,
                    reference: withdrawal.key.as_str().to_owned(),
                    currency: *currency,
                    amount: withdrawal.amount.units(),
                    receipt: false,
                });
            }
        }
        for events in fiat.values_mut() {
            events.sort_by_key(|event| event.seq);
        }
        Context {
            chain_transactions,
            fiat,
            holdings: RefCell::new(HashMap::new()),
            later: RefCell::new(None),
            reflected: RefCell::new(None),
        }
    }
}

/// Postings recorded after `as_of` with an effective time up to the period's end, which the
/// store's balances include and the statement must not.
#[derive(Debug, Default)]
struct Later {
    as_of: u64,
    to: Timestamp,
    /// The entries after `as_of` read so far end here.
    read_through: u64,
    postings: Vec<(Account, AssetId, Signed, Timestamp)>,
}

impl Later {
    /// Brings `context`'s postings after `as_of` up to the head, reading only what it has not
    /// read yet.
    fn read(store: &Store, context: &Context, as_of: u64, to: Timestamp) -> Result<(), ReportError> {
        let cached = context.later.borrow_mut().take().filter(|l| l.as_of == as_of && l.to == to);
        let mut later = cached.unwrap_or(Later { as_of, to, read_through: as_of, postings: Vec::new() });
        let head = store.head().seq;
        while later.read_through < head {
            let entries = store.recorded_after(later.read_through, HISTORY_LIMIT_MAX)?;
            let Some(last) = entries.last() else { break };
            later.read_through = last.seq;
            for entry in &entries {
                let at = entry.command.meta.effective_at;
                if let Action::Movement(movement) = &entry.command.action
                    && at <= to
                {
                    for posting in &movement.postings {
                        later.postings.push((posting.account.clone(), posting.asset.clone(), change_of(posting), at));
                    }
                }
            }
        }
        *context.later.borrow_mut() = Some(later);
        Ok(())
    }

    /// What entries after `as_of` added to `account`'s balance of `asset` at `at`.
    fn added(&self, account: &Account, asset: &AssetId, at: Timestamp) -> Option<Signed> {
        self.postings
            .iter()
            .filter(|(a, s, _, when)| a == account && s == asset && *when <= at)
            .try_fold(Signed::default(), |sum, (_, _, change, _)| sum.plus(*change))
    }
}

/// A posting's change to its account: holdings grow with debits, positions and own accounts
/// with credits.
fn change_of(posting: &ringfence_core::Posting) -> Signed {
    let grows = matches!(posting.account, Account::Holding(_)) == (posting.side == Side::Debit);
    Signed { negative: !grows && !posting.amount.is_zero(), magnitude: posting.amount.units() }
}

/// The entry `as_of` was recorded at, and its hash (read once for the statements of a run).
fn reflected(store: &Store, context: &Context, as_of: u64) -> Result<(Timestamp, [u8; 32]), ReportError> {
    if let Some((seq, at, hash)) = *context.reflected.borrow()
        && seq == as_of
    {
        return Ok((at, hash));
    }
    let head = store.head();
    if as_of == 0 || as_of > head.seq {
        return Err(ReportError::Invalid(format!(
            "the journal holds entries 1 to {}; a statement reflects one of them, not {as_of}",
            head.seq
        )));
    }
    let entry =
        store.entries(as_of - 1, 1)?.into_iter().next().ok_or_else(|| ReportError::Invalid(format!("entry {as_of} cannot be read")))?;
    let hash = if as_of == head.seq {
        head.hash
    } else {
        store.entries(as_of, 1)?.into_iter().next().map(|next| next.prev_hash).unwrap_or(head.hash)
    };
    *context.reflected.borrow_mut() = Some((as_of, entry.recorded_at, hash));
    Ok((entry.recorded_at, hash))
}

/// The statement of `client` for `[from, to]` as the journal held it up to entry `as_of`,
/// made at `now` (the period must have ended by then; `now` is not in the statement).
#[expect(clippy::too_many_arguments, reason = "each is a separate input of the statement")]
pub fn statement(
    store: &Store,
    context: &Context,
    casp: &Casp,
    client: &ClientId,
    from: Timestamp,
    to: Timestamp,
    as_of: u64,
    valuation: Valuation,
    now: Timestamp,
) -> Result<StatementView, ReportError> {
    let register = store.register();
    let Some(record) = register.client(client) else {
        return Err(ReportError::Invalid(format!("client {client} is not registered")));
    };
    if from > to {
        return Err(ReportError::Invalid(format!("the period starts ({}) after it ends ({})", clock::format(from), clock::format(to))));
    }
    let (produced_at, hash) = reflected(store, context, as_of)?;
    if to > now {
        return Err(ReportError::Invalid(format!(
            "the period ends at {}, after now ({}): a statement covers a period that has ended",
            clock::format(to),
            clock::format(now)
        )));
    }
    Later::read(store, context, as_of, to)?;
    let later = context.later.borrow();
    let later = later.as_ref().ok_or_else(|| ReportError::Invalid("the entries after the statement's could not be read".into()))?;
    let account = Account::Position(client.clone());
    let before = Timestamp::from_micros(from.micros().saturating_sub(1));
    let opening_all = store.balances_at(&account, before)?;
    let closing_all = store.balances_at(&account, to)?;

    // The period's movements, in journal order, up to `as_of`.
    let mut movements: Vec<ringfence_store::Recorded> = Vec::new();
    let mut after = 0;
    loop {
        let page = store.history_after(&Subject::Client(client.clone()), from, to, after, HISTORY_LIMIT_MAX)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let full = page.len() == HISTORY_LIMIT_MAX as usize;
        movements.extend(page.into_iter().filter(|r| r.seq <= as_of));
        if !full || after >= as_of {
            break;
        }
    }
    let encumbered = encumbered_at(store, client, to, as_of)?;

    let mut assets = Vec::new();
    let mut closing_rows = Vec::new();
    for (number, asset) in register.assets().enumerate() {
        let net = |all: &[Net]| all.get(number).copied().map(Signed::of).unwrap_or_default();
        let opening = net(&opening_all).minus(later.added(&account, &asset.id, before).ok_or_else(overflow)?).ok_or_else(overflow)?;
        let closing = net(&closing_all).minus(later.added(&account, &asset.id, to).ok_or_else(overflow)?).ok_or_else(overflow)?;
        let mut rows = Vec::new();
        let mut rewards = Signed::default();
        for recorded in &movements {
            let Action::Movement(movement) = &recorded.command.action else { continue };
            let change = movement
                .postings
                .iter()
                .filter(|p| p.account == account && p.asset == asset.id)
                .try_fold(Signed::default(), |sum, p| sum.plus(change_of(p)))
                .ok_or_else(overflow)?;
            if !movement.postings.iter().any(|p| p.account == account && p.asset == asset.id) {
                continue;
            }
            if movement.kind == MovementKind::Reward {
                rewards = rewards.plus(change).ok_or_else(overflow)?;
            }
            rows.push(StatementMovementView {
                seq: recorded.seq,
                effective_at: clock::format(recorded.command.meta.effective_at),
                kind: movement.kind.code().to_owned(),
                reference: movement.key.as_str().to_owned(),
                client_instruction: (movement.kind == MovementKind::Reward).then(|| recorded.command.meta.instruction.as_str().to_owned()),
                change: change.units(asset.scale),
                chain_transactions: context.chain_transactions.get(movement.key.as_str()).cloned().unwrap_or_default(),
            });
        }
        if opening == Signed::default() && closing == Signed::default() && rows.is_empty() {
            continue;
        }
        let mut held = Signed::default();
        let mut encumbered_rows = Vec::new();
        for ((instruction, purpose), amount) in encumbered.get(&asset.id).into_iter().flatten() {
            held = held.plus(Signed { negative: false, magnitude: *amount }).ok_or_else(overflow)?;
            encumbered_rows.push(EncumberedView {
                instruction: instruction.clone(),
                purpose: purpose.clone(),
                amount: Signed { negative: false, magnitude: *amount }.units(asset.scale),
            });
        }
        let free = closing.minus(held).ok_or_else(overflow)?;
        closing_rows.push(AmountView {
            asset: asset.id.as_str().to_owned(),
            amount: closing.units(asset.scale).amount,
            decimal: closing.units(asset.scale).decimal,
        });
        assets.push(StatementAssetView {
            asset: asset.id.as_str().to_owned(),
            symbol: asset.symbol.clone(),
            opening: opening.units(asset.scale),
            movements: rows,
            closing: closing.units(asset.scale),
            encumbered: encumbered_rows,
            free: free.units(asset.scale),
            rewards: rewards.units(asset.scale),
            custody: custody(store, context, later, client, record.segregation, &asset.id, to)?,
        });
    }
    let fiat = fiat(store, context, client, from, to, as_of)?;
    let balances = BalancesView {
        subject: format!("position:{client}"),
        at: Some(clock::format(to)),
        balances: closing_rows,
        encumbered: vec![],
        fiat: vec![],
    };
    let valued = ValuationView::of(register, &balances, to, valuation.currency, valuation.max_price_age_micros, as_of, Audience::Client);
    Ok(StatementView {
        format: STATEMENT_FORMAT,
        casp: CaspView { name: casp.name.clone(), lei: casp.lei.clone(), authorisation: casp.authorisation.clone() },
        client: StatementClientView {
            id: client.as_str().to_owned(),
            category: record.category.code().to_owned(),
            segregation: record.segregation.code().to_owned(),
        },
        from: clock::format(from),
        to: clock::format(to),
        produced_at: clock::format(produced_at),
        journal_seq: as_of,
        journal_head_hash: ringfence_journal::hex(&hash),
        assets,
        fiat,
        valuation: valued,
    })
}

/// What is encumbered of each asset at `to`, per (client instruction, purpose), from the
/// encumbrances and releases recorded up to `as_of`.
pub(crate) fn encumbered_at(store: &Store, client: &ClientId, to: Timestamp, as_of: u64) -> Result<Encumbered, ReportError> {
    let register = store.register();
    let mut out = Encumbered::new();
    for recorded in store.encumbrance_history(client, Timestamp::MIN, to)? {
        if recorded.seq > as_of {
            continue;
        }
        let (instruction, amount, adds) = match &recorded.command.action {
            Action::Safeguard(SafeguardAction::Encumber { instruction, amount, .. }) => (instruction, amount.units(), true),
            Action::Safeguard(SafeguardAction::Release { instruction, amount, .. }) => (instruction, amount.units(), false),
            _ => continue,
        };
        let Some(record) = register.client_instruction(instruction) else { continue };
        let slot = out
            .entry(record.instruction.asset.clone())
            .or_default()
            .entry((instruction.as_str().to_owned(), record.instruction.purpose.code().to_owned()))
            .or_default();
        *slot = if adds { slot.checked_add(amount).ok_or_else(overflow)? } else { slot.saturating_sub(amount) };
    }
    for by_instruction in out.values_mut() {
        by_instruction.retain(|_, amount| *amount != 0);
    }
    Ok(out)
}

/// Where `client`'s `asset` is held at `to`: its own wallets (individual segregation) or the
/// omnibus pool's, the hot and cold shares of what they hold, and the sub-custodians among
/// them that hold some.
fn custody(
    store: &Store,
    context: &Context,
    later: &Later,
    client: &ClientId,
    segregation: Segregation,
    asset: &AssetId,
    to: Timestamp,
) -> Result<CustodyView, ReportError> {
    let register = store.register();
    let in_pool = |class: &WalletClass| match segregation {
        Segregation::Omnibus => matches!(class, WalletClass::ClientOmnibus),
        Segregation::Individual => matches!(class, WalletClass::ClientIndividual(owner) if owner == client),
    };
    let number = register.asset_number(asset).unwrap_or_default() as usize;
    let (mut hot, mut cold) = (0u128, 0u128);
    let mut subs: BTreeSet<(String, String, String)> = BTreeSet::new();
    for wallet in register.wallets().filter(|w| in_pool(&w.class)) {
        let key = (wallet.id.clone(), to.micros());
        let cached = context.holdings.borrow().get(&key).cloned();
        let balances = match cached {
            Some(balances) => balances,
            None => {
                let balances = store.balances_at(&Account::Holding(wallet.id.clone()), to)?;
                context.holdings.borrow_mut().insert(key, balances.clone());
                balances
            }
        };
        let account = Account::Holding(wallet.id.clone());
        let held = balances
            .get(number)
            .copied()
            .map(Signed::of)
            .unwrap_or_default()
            .minus(later.added(&account, asset, to).ok_or_else(overflow)?)
            .ok_or_else(overflow)?;
        if held.negative || held.magnitude == 0 {
            continue;
        }
        match wallet.tier {
            Tier::Hot => hot = hot.checked_add(held.magnitude).ok_or_else(overflow)?,
            Tier::Cold => cold = cold.checked_add(held.magnitude).ok_or_else(overflow)?,
        }
        if let Custodian::SubCustodian(id) = &wallet.custodian
            && let Some(sub) = register.sub_custodians().find(|s| &s.id == id)
        {
            subs.insert((sub.name.clone(), sub.basis.code().to_owned(), sub.reference.clone()));
        }
    }
    let total = hot.saturating_add(cold);
    let percent = |part: u128| {
        let bp = share_bp_rounded(part, total);
        format!("{}.{:02}", bp / 100, bp % 100)
    };
    Ok(CustodyView {
        segregation: match segregation {
            Segregation::Omnibus => "omnibus pool".into(),
            Segregation::Individual => "individual wallets".into(),
        },
        hot_percent: (total > 0).then(|| percent(hot)),
        cold_percent: (total > 0).then(|| percent(cold)),
        sub_custodians: subs.into_iter().map(|(name, basis, reference)| SubCustodianShareView { name, basis, reference }).collect(),
    })
}

/// The client's fiat funds per currency: owed at the period's start and end, and the receipts
/// and withdrawals in it (each at its entry's effective time).
fn fiat(
    store: &Store,
    context: &Context,
    client: &ClientId,
    from: Timestamp,
    to: Timestamp,
    as_of: u64,
) -> Result<Vec<StatementFiatView>, ReportError> {
    let mut by_currency: BTreeMap<Currency, (Signed, Signed, Vec<FiatEventView>, Vec<FiatEventView>)> = BTreeMap::new();
    for FiatEvent { seq, reference, currency, amount, receipt } in context.fiat.get(client).into_iter().flatten() {
        if *seq > as_of {
            continue;
        }
        let entry = store.entries(seq - 1, 1)?.into_iter().next();
        let at = entry.map_or(Timestamp::MIN, |e| e.command.meta.effective_at);
        if at > to {
            continue;
        }
        let change = Signed { negative: !receipt, magnitude: *amount };
        let (opening, closing, receipts, withdrawals) = by_currency.entry(*currency).or_default();
        *closing = closing.plus(change).ok_or_else(overflow)?;
        if at < from {
            *opening = opening.plus(change).ok_or_else(overflow)?;
        } else {
            let event = FiatEventView {
                seq: *seq,
                effective_at: clock::format(at),
                reference: reference.clone(),
                amount: MoneyView::of(*currency, false, *amount),
            };
            if *receipt { receipts.push(event) } else { withdrawals.push(event) }
        }
    }
    Ok(by_currency
        .into_iter()
        .map(|(currency, (opening, closing, receipts, withdrawals))| StatementFiatView {
            currency: currency.as_str().to_owned(),
            opening: MoneyView::of(currency, opening.negative, opening.magnitude),
            receipts,
            withdrawals,
            closing: MoneyView::of(currency, closing.negative, closing.magnitude),
        })
        .collect())
}

/// Fiat owed per client and currency: (negative, amount) in minor units.
pub(crate) type FiatOwed = BTreeMap<(ClientId, Currency), (bool, u128)>;

/// What each client is owed in fiat at `at`, per currency, from the receipts and withdrawals
/// the journal holds up to `as_of` effective by then.
pub(crate) fn fiat_owed(store: &Store, context: &Context, at: Timestamp, as_of: u64) -> Result<FiatOwed, ReportError> {
    let mut owed: BTreeMap<(ClientId, Currency), Signed> = BTreeMap::new();
    for (client, events) in &context.fiat {
        for FiatEvent { seq, currency, amount, receipt, .. } in events {
            if *seq > as_of {
                continue;
            }
            let entry = store.entries(seq - 1, 1)?.into_iter().next();
            if entry.is_none_or(|e| e.command.meta.effective_at > at) {
                continue;
            }
            let sum = owed.entry((client.clone(), *currency)).or_default();
            *sum = sum.plus(Signed { negative: !receipt, magnitude: *amount }).ok_or_else(overflow)?;
        }
    }
    Ok(owed.into_iter().map(|(key, sum)| (key, (sum.negative, sum.magnitude))).collect())
}

/// The statement as canonical JSON: the view serialized compactly, one line, ending in a
/// newline. Its SHA-256 is the one the journal records when it is issued.
pub fn json(view: &StatementView) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(view).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The statement as CSV: one row per figure (section, asset, item, reference, time, amount,
/// whole units, detail), so that a spreadsheet can sum the movements and compare.
pub fn csv(view: &StatementView) -> Result<Vec<u8>, ReportError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let io = |error: csv::Error| ReportError::Invalid(format!("cannot write the CSV: {error}"));
    crate::write_row(&mut out, ["section", "asset", "item", "reference", "at", "amount", "decimal", "detail"]).map_err(io)?;
    let header = [
        ("casp", view.casp.name.clone()),
        ("casp_lei", view.casp.lei.clone().unwrap_or_default()),
        ("casp_authorisation", view.casp.authorisation.clone().unwrap_or_default()),
        ("client", view.client.id.clone()),
        ("category", view.client.category.clone()),
        ("segregation", view.client.segregation.clone()),
        ("from", view.from.clone()),
        ("to", view.to.clone()),
        ("produced_at", view.produced_at.clone()),
        ("journal_seq", view.journal_seq.to_string()),
        ("journal_head_hash", view.journal_head_hash.clone()),
    ];
    for (item, value) in header {
        crate::write_row(&mut out, ["statement", "", item, "", "", "", "", value.as_str()]).map_err(io)?;
    }
    for asset in &view.assets {
        let units = |item: &str, units: &UnitsView, detail: &str| {
            [
                String::from("position"),
                asset.asset.clone(),
                item.into(),
                String::new(),
                String::new(),
                units.amount.clone(),
                units.decimal.clone(),
                detail.into(),
            ]
        };
        crate::write_row(&mut out, units("opening", &asset.opening, &view.from)).map_err(io)?;
        for movement in &asset.movements {
            crate::write_row(
                &mut out,
                [
                    "movement",
                    &asset.asset,
                    &movement.kind,
                    &movement.reference,
                    &movement.effective_at,
                    &movement.change.amount,
                    &movement.change.decimal,
                    &movement.chain_transactions.join(" "),
                ],
            )
            .map_err(io)?;
        }
        crate::write_row(&mut out, units("closing", &asset.closing, &view.to)).map_err(io)?;
        for encumbered in &asset.encumbered {
            crate::write_row(
                &mut out,
                [
                    "encumbered",
                    &asset.asset,
                    &encumbered.purpose,
                    &encumbered.instruction,
                    "",
                    &encumbered.amount.amount,
                    &encumbered.amount.decimal,
                    "",
                ],
            )
            .map_err(io)?;
        }
        crate::write_row(&mut out, units("free", &asset.free, "")).map_err(io)?;
        crate::write_row(&mut out, units("rewards", &asset.rewards, "")).map_err(io)?;
        let custody = &asset.custody;
        let shares = format!(
            "{}; hot {} %, cold {} %",
            custody.segregation,
            custody.hot_percent.as_deref().unwrap_or("-"),
            custody.cold_percent.as_deref().unwrap_or("-")
        );
        crate::write_row(&mut out, ["custody", &asset.asset, "held", "", "", "", "", &shares]).map_err(io)?;
        for sub in &custody.sub_custodians {
            let detail = format!("{} ({}, {})", sub.name, sub.basis, sub.reference);
            crate::write_row(&mut out, ["custody", &asset.asset, "sub_custodian", "", "", "", "", &detail]).map_err(io)?;
        }
    }
    for fiat in &view.fiat {
        crate::write_row(&mut out, ["fiat", &fiat.currency, "opening", "", &view.from, &fiat.opening.amount, "", &fiat.opening.money])
            .map_err(io)?;
        for (item, events) in [("receipt", &fiat.receipts), ("withdrawal", &fiat.withdrawals)] {
            for event in events {
                crate::write_row(
                    &mut out,
                    ["fiat", &fiat.currency, item, &event.reference, &event.effective_at, &event.amount.amount, "", &event.amount.money],
                )
                .map_err(io)?;
            }
        }
        crate::write_row(&mut out, ["fiat", &fiat.currency, "closing", "", &view.to, &fiat.closing.amount, "", &fiat.closing.money])
            .map_err(io)?;
    }
    let valuation = &view.valuation;
    for asset in &valuation.assets {
        let (amount, detail) = match (&asset.value, &asset.price, &asset.not_valued) {
            (Some(value), Some(price), _) => {
                (value.amount.clone(), format!("{} at {} ({}, {})", value.money, price.money, price.source, price.at))
            }
            (_, _, Some(why)) => (String::new(), format!("not valued: {}", why.reason)),
            _ => (String::new(), "not valued".into()),
        };
        crate::write_row(&mut out, ["valuation", &asset.asset, &valuation.currency, "", &valuation.at, &amount, &asset.decimal, &detail])
            .map_err(io)?;
    }
    let complete = if valuation.complete { "complete" } else { "not complete: some assets not valued" };
    crate::write_row(
        &mut out,
        [
            "valuation",
            "",
            "total",
            "",
            &valuation.at,
            &valuation.total.amount,
            "",
            &format!("{} ({complete}; {})", valuation.total.money, valuation.rounding),
        ],
    )
    .map_err(io)?;
    out.into_inner().map_err(|error| ReportError::Invalid(format!("cannot write the CSV: {error}")))
}
