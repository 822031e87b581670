//! Reconciliation of the register against statements and other observations.

mod fixture;

use fixture::*;
use ringfence_core::{Amount, Register};
use ringfence_recon::{
    Check, DuplicateObservation, Observation, Observations, Observed, Report, Severity, Statement, StatementFormat, Verdict, reconcile,
    render,
};

fn observe(register: &Register, alpha_rows: &[String]) -> Observations {
    let rows: Vec<&str> = alpha_rows.iter().map(String::as_str).collect();
    let alpha = Statement::parse(StatementFormat::Csv, alpha_csv(&rows).as_bytes(), register).expect("alpha parses");
    let beta = Statement::parse(StatementFormat::JsonLines, beta_jsonl().as_bytes(), register).expect("beta parses");
    let mut observations = Observations::new();
    observations.add_statement(&alpha, register).expect("one source per wallet");
    observations.add_statement(&beta, register).expect("one source per wallet");
    observations
}

fn find<'a>(report: &'a Report, check: Check, asset: &str, who: &str) -> &'a ringfence_recon::Finding {
    report
        .findings
        .iter()
        .find(|f| {
            f.check == check
                && f.asset.as_str() == asset
                && match check {
                    Check::Coverage => true,
                    Check::Client => f.client.as_ref().is_some_and(|c| c.as_str() == who),
                    _ => f.wallet.as_ref().is_some_and(|w| w.as_str() == who),
                }
        })
        .unwrap_or_else(|| panic!("no {check:?} finding for {who} in {asset}: {report:#?}"))
}

#[test]
fn clean_run_has_only_info_findings() {
    let register = register();
    let report = reconcile(&register, &observe(&register, &alpha_rows()));
    assert_eq!(report.worst(), Severity::Info, "{report:#?}");
    assert!(report.findings.iter().all(|f| f.verdict == Verdict::Match));
    let coverage = find(&report, Check::Coverage, ETH, "");
    assert_eq!((coverage.register, coverage.observed), (Some(Amount::new(1800)), Some(Amount::new(1800))));
    let carol = find(&report, Check::Client, ETH, "carol");
    assert_eq!((carol.register, carol.observed), (Some(Amount::new(300)), Some(Amount::new(300))));
    // Coverage by asset id, then clients, then wallets by id; BTC's id sorts before ETH's.
    let order: Vec<(Check, String, String)> = report
        .findings
        .iter()
        .map(|f| {
            let who = f.wallet.as_ref().map(|w| w.to_string()).or(f.client.as_ref().map(|c| c.to_string())).unwrap_or_default();
            (f.check, who, f.asset.to_string())
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(order.first().map(|o| o.2.as_str()), Some(BTC));
    // Every wallet of each sub-custodian is observed in every asset of its chain: firm-eth and
    // the zero balances too; house-eth holds nothing and nothing observed it, so it is left out.
    assert_eq!(report.findings.iter().filter(|f| f.check == Check::Wallet).count(), 5);
    assert!(!report.findings.iter().any(|f| f.wallet.as_ref().is_some_and(|w| w.as_str() == "house-eth")));
    // The same inputs give the same report.
    assert_eq!(report, reconcile(&register, &observe(&register, &alpha_rows())));
}

#[test]
fn shortfall_on_a_client_wallet_is_critical_and_shows_in_coverage() {
    let register = register();
    let mut rows = alpha_rows();
    rows[0] = format!("omni-eth,{ETH},900");
    let report = reconcile(&register, &observe(&register, &rows));
    let wallet = find(&report, Check::Wallet, ETH, "omni-eth");
    assert_eq!((wallet.verdict, wallet.severity), (Verdict::Difference, Severity::Critical));
    assert_eq!(wallet.delta.map(|d| d.to_string()), Some("-100".to_owned()));
    let coverage = find(&report, Check::Coverage, ETH, "");
    assert_eq!((coverage.verdict, coverage.severity), (Verdict::Shortfall, Severity::Critical));
    assert_eq!(coverage.delta.map(|d| d.to_string()), Some("-100".to_owned()));
    assert_eq!(find(&report, Check::Coverage, BTC, "").verdict, Verdict::Match);
    assert_eq!(report.count(Severity::Critical), 2);
}

#[test]
fn surplus_and_firm_wallet_differences_are_warnings() {
    let register = register();
    let mut rows = alpha_rows();
    rows[1] = format!("omni-btc,{BTC},8");
    rows[3] = format!("firm-eth,{ETH},40");
    let report = reconcile(&register, &observe(&register, &rows));
    let firm = find(&report, Check::Wallet, ETH, "firm-eth");
    assert_eq!((firm.verdict, firm.severity), (Verdict::Difference, Severity::Warning));
    let coverage = find(&report, Check::Coverage, BTC, "");
    assert_eq!(
        (coverage.verdict, coverage.severity, coverage.delta.map(|d| d.to_string())),
        (Verdict::Surplus, Severity::Warning, Some("1".to_owned()))
    );
    // A firm wallet is not client coverage.
    assert_eq!(find(&report, Check::Coverage, ETH, "").verdict, Verdict::Match);
    assert_eq!(report.worst(), Severity::Warning);
}

#[test]
fn individually_segregated_client_difference_is_found() {
    let register = register();
    let mut rows = alpha_rows();
    rows[2] = format!("carol-eth,{ETH},250");
    let report = reconcile(&register, &observe(&register, &rows));
    let carol = find(&report, Check::Client, ETH, "carol");
    assert_eq!((carol.verdict, carol.severity), (Verdict::Shortfall, Severity::Critical));
    assert_eq!((carol.register, carol.observed), (Some(Amount::new(300)), Some(Amount::new(250))));
    assert_eq!(carol.delta.map(|d| d.to_string()), Some("-50".to_owned()));
    assert_eq!(find(&report, Check::Coverage, ETH, "").verdict, Verdict::Shortfall);
}

#[test]
fn unavailable_source_is_not_zero() {
    let register = register();
    let beta = Statement::parse(StatementFormat::JsonLines, beta_jsonl().as_bytes(), &register).expect("beta parses");
    let mut observations = Observations::new();
    observations.add_statement(&beta, &register).expect("one source");
    let source: std::sync::Arc<str> = "eip155:1 node".into();
    let observed = |amount| Observation { observed: Observed::Amount(Amount::new(amount)), source: source.clone() };
    observations
        .insert(
            wallet("omni-eth"),
            asset(ETH),
            Observation { observed: Observed::Unavailable("node timed out".to_owned()), source: source.clone() },
        )
        .expect("first observation");
    for (name, what, amount) in [("omni-btc", BTC, 7), ("carol-eth", ETH, 300), ("firm-eth", ETH, 50)] {
        observations.insert(wallet(name), asset(what), observed(amount)).expect("first observation");
    }
    let report = reconcile(&register, &observations);
    let omni = find(&report, Check::Wallet, ETH, "omni-eth");
    assert_eq!((omni.verdict, omni.severity, omni.observed, omni.delta), (Verdict::Unavailable, Severity::Warning, None, None));
    assert_eq!(omni.detail, "node timed out");
    let coverage = find(&report, Check::Coverage, ETH, "");
    assert_eq!((coverage.verdict, coverage.severity, coverage.delta), (Verdict::Incomplete, Severity::Warning, None));
    assert_eq!(coverage.observed, Some(Amount::new(800)));
    assert_eq!(report.count(Severity::Critical), 0, "{report:#?}");
}

#[test]
fn a_wallet_no_source_observed_makes_coverage_incomplete() {
    let register = register();
    let beta = Statement::parse(StatementFormat::JsonLines, beta_jsonl().as_bytes(), &register).expect("beta parses");
    let mut observations = Observations::new();
    observations.add_statement(&beta, &register).expect("one source");
    let report = reconcile(&register, &observations);
    assert_eq!(find(&report, Check::Wallet, ETH, "omni-eth").verdict, Verdict::NotObserved);
    assert_eq!(find(&report, Check::Coverage, ETH, "").verdict, Verdict::Incomplete);
    assert_eq!(find(&report, Check::Client, ETH, "carol").verdict, Verdict::Incomplete);
    assert_eq!(report.count(Severity::Critical), 0);
}

#[test]
fn one_wallet_observed_by_two_sources_is_refused() {
    let register = register();
    let mut observations = observe(&register, &alpha_rows());
    let rows: Vec<String> = alpha_rows();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let again = Statement::parse(StatementFormat::Csv, alpha_csv(&rows).as_bytes(), &register).expect("parses");
    let error: DuplicateObservation = observations.add_statement(&again, &register).expect_err("observed twice");
    assert!(error.to_string().contains("observed twice"), "{error}");
}

#[test]
fn observations_the_register_does_not_know_are_reported() {
    let register = register();
    let mut observations = observe(&register, &alpha_rows());
    let source: std::sync::Arc<str> = "somewhere".into();
    observations
        .insert(wallet("ghost"), asset(ETH), Observation { observed: Observed::Amount(Amount::new(1)), source: source.clone() })
        .expect("first observation");
    observations
        .insert(wallet("house-eth"), asset(BTC), Observation { observed: Observed::Amount(Amount::new(1)), source })
        .expect("first observation");
    let report = reconcile(&register, &observations);
    let unregistered: Vec<_> = report.findings.iter().filter(|f| f.check == Check::Unregistered).collect();
    assert_eq!(unregistered.len(), 2);
    assert_eq!(unregistered[0].wallet.as_ref().map(|w| w.as_str()), Some("ghost"));
    assert!(unregistered[1].detail.contains("is on chain"), "{}", unregistered[1].detail);
}

#[test]
fn reports_render_as_json_and_csv() {
    let register = register();
    let mut rows = alpha_rows();
    rows[0] = format!("omni-eth,{ETH},900");
    let report = reconcile(&register, &observe(&register, &rows));
    let json: serde_json::Value = serde_json::from_str(&render::to_json(&report)).expect("valid JSON");
    assert_eq!(json["worst"], "critical");
    assert_eq!(json["counts"]["critical"], 2);
    let findings = json["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), report.findings.len());
    let omni = findings.iter().find(|f| f["wallet"] == "omni-eth").expect("omni-eth row");
    assert_eq!(omni["delta"], "-100");
    assert_eq!(omni["source"], "statement ALPHA-2026-11-23 (sc-alpha)");
    assert_eq!(omni["client"], serde_json::Value::Null);
    // Keys sorted at every level, as the report was written when it was a JSON map: the same
    // report keeps the same bytes.
    assert_eq!(format!("{json}\n"), render::to_json(&report));
    let csv = render::to_csv(&report);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("check,severity,verdict,asset,wallet,client,register,observed,delta,source,detail"));
    assert_eq!(lines.count(), report.findings.len());
    assert!(
        csv.contains(&format!("wallet,critical,difference,{ETH},omni-eth,,1000,900,-100,statement ALPHA-2026-11-23 (sc-alpha),\n")),
        "{csv}"
    );
}
