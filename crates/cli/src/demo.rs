//! `ringfence demo`: the main job on the embedded default. Builds a sample CASP (clients,
//! omnibus and individual wallets, hot and cold tiers, a sub-custodian, key sets), records a
//! few thousand movements through the real store, tries a handful of misappropriation and
//! segregation breaches, and prints the segregation summary and what was refused and why.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use ringfence_core::{
    Action, Actor, Address, Amount, Asset, AssetId, AuthorisationBasis, ClassKind, Client, ClientCategory, ClientId, Command, Custodian,
    IdempotencyKey, InstructionId, KeyScheme, KeySet, KeySetId, Meta, Movement, Outcome, Segregation, Status, SubCustodian, SubCustodianId,
    Tier, Timestamp, Wallet, WalletClass, WalletId, build,
};
use ringfence_store::{BATCH_MAX, DATABASE_FILE, Location, Store};

use ringfence_wire::clock;

use crate::{Cli, report};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to build the sample store [default: --data-dir when given, else ./ringfence-demo].
    /// A previous demo there is replaced; a store the demo did not create never is.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// How many omnibus clients to create (10 or more; each gets a few dozen movements).
    #[arg(long, default_value_t = 150, value_parser = clap::value_parser!(u32).range(10..=100_000))]
    pub clients: u32,
}

/// A small deterministic generator (xorshift64*), so the demo is the same on every run.
#[derive(Debug)]
pub struct Sequence(u64);

impl Sequence {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }
}

fn id<T>(parse: fn(&str) -> Result<T, ringfence_core::IdError>, text: &str) -> T {
    parse(text).unwrap_or_else(|error| unreachable!("demo identifiers are valid: {error}"))
}

/// The sample CASP's fixed entities.
#[derive(Debug)]
pub struct Sample {
    pub eth: AssetId,
    pub usdc: AssetId,
    pub btc: AssetId,
}

impl Default for Sample {
    fn default() -> Self {
        Self::new()
    }
}

impl Sample {
    pub fn new() -> Self {
        Sample {
            eth: id(AssetId::parse, "eip155:1/slip44:60"),
            usdc: id(AssetId::parse, "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"),
            btc: id(AssetId::parse, "bip122:000000000019d6689c085ae165831e93/slip44:0"),
        }
    }
}

fn evm_address(n: u64) -> Address {
    id(Address::parse, &format!("eip155:1:0x{n:040x}"))
}

fn btc_address(n: u64) -> Address {
    id(Address::parse, &format!("bip122:000000000019d6689c085ae165831e93:bc1qdemo{n:020}"))
}

/// Builds commands with a running effective time and an operator as actor.
struct Script {
    commands: Vec<Command>,
    /// What each deliberately bad command tries, by index in `commands`.
    attempts: Vec<(usize, &'static str)>,
    at: Timestamp,
    counter: u64,
}

impl Script {
    fn meta(&mut self, actor: &str) -> Meta {
        self.counter += 1;
        Meta {
            actor: id(Actor::parse, actor),
            instruction: id(InstructionId::parse, &format!("ins-{:06}", self.counter)),
            effective_at: self.at,
        }
    }
    fn push(&mut self, actor: &str, action: Action) {
        let meta = self.meta(actor);
        self.commands.push(Command { meta, action });
    }
    fn movement(&mut self, movement: Movement) {
        self.push("ops:alice", Action::Movement(movement));
    }
    fn attempt(&mut self, what: &'static str, actor: &str, action: Action) {
        self.attempts.push((self.commands.len(), what));
        self.push(actor, action);
    }
    fn key(&mut self, prefix: &str) -> IdempotencyKey {
        self.counter += 1;
        id(IdempotencyKey::parse, &format!("{prefix}-{:06}", self.counter))
    }
    fn advance_hours(&mut self, hours: i64) {
        self.at = Timestamp::from_micros(self.at.micros() + hours * 3_600_000_000);
    }
}

/// The demo's commands and the indexes of its deliberate breach attempts.
pub fn script(clients: u32) -> (Vec<Command>, Vec<(usize, &'static str)>) {
    let sample = Sample::new();
    let (eth, usdc, btc) = (sample.eth.clone(), sample.usdc.clone(), sample.btc.clone());
    let start = clock::parse("2026-01-02T09:00:00Z").unwrap_or_default();
    let mut s = Script { commands: Vec::new(), attempts: Vec::new(), at: start, counter: 0 };
    let mut rng = Sequence::new(0x5eed_2026);

    // Entities.
    for (asset, scale, symbol) in [(&eth, 18, "ETH"), (&usdc, 6, "USDC"), (&btc, 8, "BTC")] {
        s.push("compliance:carol", Action::RegisterAsset(Asset { id: asset.clone(), scale, symbol: symbol.into() }));
    }
    let custodian = id(SubCustodianId::parse, "sc-nordbank-custody");
    s.push(
        "compliance:carol",
        Action::RegisterSubCustodian(SubCustodian {
            id: custodian.clone(),
            name: "Nordbank Custody AG".into(),
            basis: AuthorisationBasis::CrrCreditInstitution,
            reference: "BaFin-CRR-10-4471".into(),
            valid_until: clock::parse("2026-04-30T23:59:59Z").unwrap_or_default(),
        }),
    );
    let key_sets = [
        ("ks-omnibus-hot", KeyScheme::Mpc { threshold: 2 }, vec!["hsm-a", "ops-bob", "ops-dana"], ClassKind::ClientOmnibus),
        (
            "ks-omnibus-cold",
            KeyScheme::Multisig { threshold: 3 },
            vec!["cfo", "coo", "cco", "vault-1", "vault-2"],
            ClassKind::ClientOmnibus,
        ),
        ("ks-individual", KeyScheme::Multisig { threshold: 2 }, vec!["vault-3", "vault-4", "cco"], ClassKind::ClientIndividual),
        ("ks-firm", KeyScheme::Hsm, vec!["treasury-1", "treasury-2"], ClassKind::Firm),
    ];
    for (name, scheme, signers, class) in key_sets {
        let key_set = KeySet { id: id(KeySetId::parse, name), scheme, signers: signers.into_iter().map(String::from).collect(), class };
        s.push("compliance:carol", Action::RegisterKeySet(key_set));
    }
    let wallet = |name: &str, address: Address, class: WalletClass, tier: Tier, custodian: Custodian, key_set: &str| Wallet {
        id: id(WalletId::parse, name),
        address,
        class,
        tier,
        custodian,
        key_set: id(KeySetId::parse, key_set),
    };
    let omnibus_hot =
        wallet("omnibus-hot-eth", evm_address(0x1001), WalletClass::ClientOmnibus, Tier::Hot, Custodian::InHouse, "ks-omnibus-hot");
    let omnibus_cold =
        wallet("omnibus-cold-eth", evm_address(0x1002), WalletClass::ClientOmnibus, Tier::Cold, Custodian::InHouse, "ks-omnibus-cold");
    let omnibus_sub = wallet(
        "omnibus-cold-nordbank",
        evm_address(0x1003),
        WalletClass::ClientOmnibus,
        Tier::Cold,
        Custodian::SubCustodian(custodian),
        "ks-omnibus-cold",
    );
    let btc_hot = wallet("omnibus-hot-btc", btc_address(1), WalletClass::ClientOmnibus, Tier::Hot, Custodian::InHouse, "ks-omnibus-hot");
    let btc_cold =
        wallet("omnibus-cold-btc", btc_address(2), WalletClass::ClientOmnibus, Tier::Cold, Custodian::InHouse, "ks-omnibus-cold");
    let firm_eth = wallet("firm-hot-eth", evm_address(0xf001), WalletClass::Firm, Tier::Hot, Custodian::InHouse, "ks-firm");
    let firm_btc = wallet("firm-hot-btc", btc_address(9), WalletClass::Firm, Tier::Hot, Custodian::InHouse, "ks-firm");
    for w in [&omnibus_hot, &omnibus_cold, &omnibus_sub, &btc_hot, &btc_cold, &firm_eth, &firm_btc] {
        s.push("compliance:carol", Action::RegisterWallet(w.clone()));
    }
    let omnibus: Vec<ClientId> = (1..=clients).map(|n| id(ClientId::parse, &format!("client-{n:05}"))).collect();
    for client in &omnibus {
        let category = if rng.below(10) == 0 { ClientCategory::Professional } else { ClientCategory::Retail };
        s.push("onboarding:erin", Action::RegisterClient(Client { id: client.clone(), category, segregation: Segregation::Omnibus }));
    }
    let individuals: Vec<(ClientId, WalletId)> =
        (1..=3).map(|n| (id(ClientId::parse, &format!("fund-{n}")), id(WalletId::parse, &format!("segregated-fund-{n}")))).collect();
    for (n, (client, wallet_id)) in individuals.iter().enumerate() {
        s.push(
            "onboarding:erin",
            Action::RegisterClient(Client {
                id: client.clone(),
                category: ClientCategory::Professional,
                segregation: Segregation::Individual,
            }),
        );
        let w = Wallet {
            id: wallet_id.clone(),
            address: evm_address(0x2000 + n as u64),
            class: WalletClass::ClientIndividual(client.clone()),
            tier: Tier::Cold,
            custodian: Custodian::InHouse,
            key_set: id(KeySetId::parse, "ks-individual"),
        };
        s.push("onboarding:erin", Action::RegisterWallet(w));
    }

    // The firm funds its own wallets.
    let firm_eth_funding = s.key("fund");
    s.movement(build::firm_funding(firm_eth_funding, &firm_eth.id, &eth, Amount::new(50 * 10u128.pow(18))));
    let firm_btc_funding = s.key("fund");
    s.movement(build::firm_funding(firm_btc_funding, &firm_btc.id, &btc, Amount::new(2 * 10u128.pow(8))));

    // Six months of business: deposits, transfers, fees, withdrawals, rebalancing to cold.
    let mut positions: Vec<[u128; 3]> = vec![[0; 3]; omnibus.len()];
    let assets = [(&eth, &omnibus_hot.id, 10u128.pow(16)), (&usdc, &omnibus_hot.id, 10u128.pow(6)), (&btc, &btc_hot.id, 10u128.pow(5))];
    let mut hot: [u128; 3] = [0; 3];
    for day in 0..180 {
        s.at = Timestamp::from_micros(start.micros() + day * 86_400_000_000);
        for _ in 0..(clients as usize * 20 / 180).max(1) {
            s.advance_hours(0);
            let c = rng.below(omnibus.len() as u64) as usize;
            let a = rng.below(3) as usize;
            let (asset, hot_wallet, unit) = assets[a];
            match rng.below(10) {
                0..=4 => {
                    let amount = unit * u128::from(1 + rng.below(500));
                    let key = s.key("dep");
                    s.movement(build::deposit(key, &omnibus[c], hot_wallet, asset, Amount::new(amount)));
                    positions[c][a] += amount;
                    hot[a] += amount;
                }
                5 | 6 => {
                    let to = rng.below(omnibus.len() as u64) as usize;
                    let amount = positions[c][a] / 4;
                    if amount > 0 && to != c {
                        let key = s.key("xfer");
                        s.movement(build::transfer(key, &omnibus[c], &omnibus[to], None, asset, Amount::new(amount)));
                        positions[c][a] -= amount;
                        positions[to][a] += amount;
                    }
                }
                7 => {
                    let amount = (positions[c][a] / 3).min(hot[a]);
                    if amount > 0 {
                        let key = s.key("wdr");
                        s.movement(build::withdrawal(key, &omnibus[c], hot_wallet, asset, Amount::new(amount)));
                        positions[c][a] -= amount;
                        hot[a] -= amount;
                    }
                }
                _ => {
                    let amount = (positions[c][a] / 100).min(hot[a]);
                    let firm_wallet = if a == 2 { &firm_btc.id } else { &firm_eth.id };
                    if amount > 0 {
                        let key = s.key("fee");
                        s.movement(build::fee(key, &omnibus[c], hot_wallet, firm_wallet, asset, Amount::new(amount)));
                        positions[c][a] -= amount;
                        hot[a] -= amount;
                    }
                }
            }
        }
        // End of day: sweep down to 15 % hot, cold wallet per chain.
        s.advance_hours(9);
        for (a, (asset, hot_wallet, _)) in assets.iter().enumerate() {
            let total: u128 = positions.iter().map(|p| p[a]).sum();
            let target = total * 15 / 100;
            if hot[a] > target {
                let amount = hot[a] - target;
                let cold = if a == 2 {
                    &btc_cold.id
                } else if day < 100 && a == 0 {
                    &omnibus_sub.id
                } else {
                    &omnibus_cold.id
                };
                let key = s.key("rebal");
                s.movement(build::rebalance(key, hot_wallet, cold, asset, Amount::new(amount)));
                hot[a] -= amount;
            }
            let _ = asset;
        }
    }
    // Individually segregated funds: deposits into their own wallets, one fund moves assets to an omnibus client.
    for (client, wallet) in &individuals {
        let key = s.key("dep");
        s.movement(build::deposit(key, client, wallet, &eth, Amount::new(400 * 10u128.pow(18))));
    }
    let (fund, fund_wallet) = &individuals[0];
    let key = s.key("xfer");
    s.movement(build::transfer(key, fund, &omnibus[0], Some((fund_wallet, &omnibus_cold.id)), &eth, Amount::new(10u128.pow(18))));

    // An operator's mistake, and its correction.
    let mistaken = s.key("dep");
    let mistake = build::deposit(mistaken.clone(), &omnibus[1], &omnibus_hot.id, &usdc, Amount::new(999_000_000));
    s.movement(mistake.clone());
    let correction = s.key("corr");
    s.movement(build::correction(correction, mistaken, &mistake.postings));
    let retry_key = s.key("dep");
    let retry = build::deposit(retry_key.clone(), &omnibus[1], &omnibus_hot.id, &usdc, Amount::new(99_000_000));
    s.movement(retry.clone());
    // The same request sent twice (a network retry): the original result, nothing changes.
    let resent = s.commands[s.commands.len() - 1].clone();
    s.commands.push(resent);

    // What must be refused.
    let rogue = "ops:mallory";
    let sweep = s.key("sweep");
    s.attempt(
        "sweep 5 ETH from the omnibus cold wallet to a firm wallet, no client debit",
        rogue,
        Action::Movement(build::rebalance(sweep, &omnibus_cold.id, &firm_eth.id, &eth, Amount::new(5 * 10u128.pow(18)))),
    );
    let mut fee_without_debit = build::fee(s.key("fee"), &omnibus[2], &omnibus_hot.id, &firm_eth.id, &eth, Amount::new(10u128.pow(17)));
    fee_without_debit.postings.drain(..2);
    s.attempt("a 'fee' that only sweeps 0.1 ETH to the firm, without debiting the client", rogue, Action::Movement(fee_without_debit));
    let stake = s.key("stake");
    s.attempt(
        "stake 100 ETH of client assets from the firm's own wallet (firm withdrawal beyond its capital)",
        rogue,
        Action::Movement(build::firm_withdrawal(stake, &firm_eth.id, &eth, Amount::new(100 * 10u128.pow(18)))),
    );
    let over = s.key("wdr");
    s.attempt(
        "withdraw more than the client owns",
        "ops:alice",
        Action::Movement(build::withdrawal(over, &omnibus[3], &omnibus_hot.id, &usdc, Amount::new(positions[3][1] + 1))),
    );
    let into_firm = s.key("dep");
    s.attempt(
        "book a client deposit into a firm wallet",
        "ops:alice",
        Action::Movement(build::deposit(into_firm, &omnibus[4], &firm_eth.id, &eth, Amount::new(10u128.pow(18)))),
    );
    let mixed = s.key("dep");
    s.attempt(
        "book an omnibus client's deposit into fund-2's segregated wallet",
        "ops:alice",
        Action::Movement(build::deposit(mixed, &omnibus[5], &individuals[1].1, &eth, Amount::new(10u128.pow(18)))),
    );
    let leak = s.key("xfer");
    s.attempt(
        "transfer from fund-3 to an omnibus client without moving the asset out of fund-3's wallet",
        "ops:alice",
        Action::Movement(build::transfer(leak, &individuals[2].0, &omnibus[6], None, &eth, Amount::new(10u128.pow(18)))),
    );
    let lapsed = s.key("rebal");
    s.attempt(
        "allocate ETH to the Nordbank wallet after its authorisation lapsed (30 April)",
        "ops:alice",
        Action::Movement(build::rebalance(lapsed, &omnibus_hot.id, &omnibus_sub.id, &eth, Amount::new(10u128.pow(16)))),
    );
    let mut changed = retry.clone();
    changed.postings.iter_mut().for_each(|p| p.amount = Amount::new(990_000_000));
    s.attempt("resubmit an idempotency key with a different amount", "ops:alice", Action::Movement(changed));
    let shared_keys = Wallet {
        id: id(WalletId::parse, "omnibus-hot-2"),
        address: evm_address(0x1004),
        class: WalletClass::ClientOmnibus,
        tier: Tier::Hot,
        custodian: Custodian::InHouse,
        key_set: id(KeySetId::parse, "ks-firm"),
    };
    s.attempt(
        "register a client omnibus wallet controlled by the firm's own key set",
        "compliance:carol",
        Action::RegisterWallet(shared_keys),
    );
    let reused = Wallet { id: id(WalletId::parse, "firm-hot-eth-2"), ..firm_eth.clone() };
    s.attempt(
        "register a firm wallet at the omnibus hot wallet's address",
        "compliance:carol",
        Action::RegisterWallet(Wallet { address: omnibus_hot.address.clone(), ..reused }),
    );
    (s.commands, s.attempts)
}

/// The file that marks a store as one `demo` built: only such a store is ever replaced.
pub const DEMO_MARKER: &str = "ringfence-demo.marker";

/// Clears a previous demo from `dir`. Refuses a directory that holds anything else: a store
/// without the demo's marker (a real register, whatever its name), or other files.
fn replace_previous_demo(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let entries: Vec<_> = std::fs::read_dir(dir).with_context(|| format!("failed to read {}", dir.display()))?.collect::<Result<_, _>>()?;
    let names: Vec<String> = entries.iter().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    let marked = names.iter().any(|name| name == DEMO_MARKER);
    let store = names.iter().any(|name| name.starts_with(DATABASE_FILE));
    if store && !marked {
        bail!(
            "{} holds a ringfence store that `demo` did not create; the demo never replaces one. Pass another --dir (the default is ./ringfence-demo)",
            dir.display()
        );
    }
    if names.iter().any(|name| name != DEMO_MARKER && !name.starts_with(DATABASE_FILE)) {
        bail!("{} holds files other than a demo store; the demo never replaces them. Pass another --dir", dir.display());
    }
    for entry in entries {
        std::fs::remove_file(entry.path()).with_context(|| format!("failed to remove {}", entry.path().display()))?;
    }
    Ok(())
}

/// Where the demo builds: --dir, or --data-dir when that is given, else ./ringfence-demo. The
/// demo builds an embedded store only, so --database-url is refused rather than ignored.
fn demo_dir(cli: &Cli, args: &DemoArgs) -> Result<PathBuf> {
    if cli.database_url.is_some() {
        bail!(
            "the demo builds its sample on the embedded store (SQLite) only; it does not take --database-url (nor RINGFENCE_DATABASE_URL)"
        );
    }
    match (&args.dir, &cli.data_dir) {
        (Some(dir), Some(data_dir)) if dir != data_dir => {
            bail!("--dir {} and --data-dir {} name two places; give one", dir.display(), data_dir.display())
        }
        (Some(dir), _) | (None, Some(dir)) => Ok(dir.clone()),
        (None, None) => Ok(PathBuf::from("./ringfence-demo")),
    }
}

pub fn run(cli: &Cli, args: &DemoArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let dir = demo_dir(cli, args)?;
    replace_previous_demo(&dir)?;
    let location = Location::data_dir(&dir);
    let mut store = Store::create(&location).with_context(|| format!("failed to create the demo store in {}", dir.display()))?;
    std::fs::write(dir.join(DEMO_MARKER), "built by `ringfence demo`: a demo run may replace this store\n")
        .with_context(|| format!("failed to mark {} as a demo store", dir.display()))?;
    let (commands, attempts) = script(args.clients);
    writeln!(out, "building a sample CASP in {} ({} commands)…", dir.display(), commands.len())?;
    let started = std::time::Instant::now();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(commands.len());
    for chunk in commands.chunks(BATCH_MAX) {
        outcomes.extend(store.submit(chunk, clock::now())?);
        crate::take_checkpoint_if_due(&mut store, clock::now());
    }
    let elapsed = started.elapsed();
    let movements = commands.iter().filter(|c| matches!(c.action, Action::Movement(_))).count();
    writeln!(out, "recorded {movements} movements and {} registrations in {:.2?}", commands.len() - movements, elapsed)?;
    for (status, count) in ringfence_store::count_statuses(&outcomes) {
        writeln!(out, "  {count:>6} {status}")?;
    }
    // The sample's safeguarding state as a check finds it (a lapsed sub-custodian
    // authorisation, a cold share below its floor…), recorded as exceptions.
    let checked_at = clock::now();
    let check = ringfence_watch::system::check_safeguards(&mut store, checked_at).context("failed to check the safeguarding policies")?;
    writeln!(out)?;
    report::summary(&ringfence_wire::views::SummaryView::of(store.register()), false, out)?;
    writeln!(out)?;
    report::safeguarding_result(&store, check.as_ref(), checked_at, out)?;
    writeln!(out)?;
    writeln!(out, "refused ({}):", outcomes.iter().filter(|o| !o.status.is_ok()).count())?;
    let mut unexpected = 0;
    for (index, outcome) in outcomes.iter().enumerate() {
        if outcome.status.is_ok() {
            continue;
        }
        let command = &commands[index];
        let what = attempts.iter().find(|(i, _)| *i == index).map(|(_, w)| *w);
        if what.is_none() {
            unexpected += 1;
        }
        writeln!(out, "  - {} (by {})", what.unwrap_or("an unplanned command"), command.meta.actor)?;
        writeln!(out, "    {}: {}", outcome.status, outcome.detail)?;
    }
    let missed: Vec<_> = attempts.iter().filter(|(i, _)| outcomes[*i].status.is_ok()).collect();
    let duplicates = outcomes.iter().filter(|o| o.status == Status::AlreadyExists).count();
    writeln!(out, "\n{duplicates} resubmission(s) returned the original result without changing anything.")?;
    let head = store.head();
    let verified = store.verify()?;
    match verified {
        Ok(head) => writeln!(out, "journal verified: {} entries, head {}", head.seq, ringfence_store::hex(&head.hash))?,
        Err(broken) => bail!("the demo journal does not verify: {broken}"),
    }
    debug_assert_eq!(head.seq, store.register().seq());
    writeln!(out, "explore it:")?;
    for command in [
        "summary",
        "balance --client client-00001",
        "history --wallet omnibus-cold-eth --limit 5",
        "journal verify",
        "token create --actor you --role auditor   # then: serve, and see docs/api.md",
    ] {
        writeln!(out, "  ringfence --data-dir {} {command}", dir.display())?;
    }
    if !missed.is_empty() || unexpected > 0 {
        bail!("the demo went wrong: {} attempt(s) were not refused and {unexpected} command(s) were refused unexpectedly", missed.len());
    }
    Ok(ExitCode::SUCCESS)
}
