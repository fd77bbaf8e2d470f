//! The machine-greppable summary lines the Python generator wrote on every refresh, which
//! operators' scripts and proofs still grep: one `AI_UNIVERSE_GUARDRAILS` line with the
//! filter counts, then one `AI_UNIVERSE_PICK` line per selected symbol, in rank order.
//! Every value is one `key=value` token; a name from the network has its control
//! characters and spaces escaped, so it cannot break the line or the terminal.

use std::collections::BTreeMap;
use std::io::Write;

use crate::decide::Plan;
use crate::output::printable;
use crate::policy;
use crate::select::{Reason, count_by_reason};
use crate::settings::Settings;

/// The filter stage a reason belongs to, in the order the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Contract,
    Age,
    Lists,
    Volume,
    Spread,
    Candles,
}

fn stage(reason: Reason) -> Stage {
    match reason {
        Reason::BadSymbol
        | Reason::ConflictingRecords
        | Reason::NotUsdtPerpetual
        | Reason::NotTrading
        | Reason::Delisting => Stage::Contract,
        Reason::TooNew => Stage::Age,
        Reason::Denied | Reason::NotAllowed | Reason::NoModel => Stage::Lists,
        Reason::NoTicker | Reason::Illiquid => Stage::Volume,
        Reason::BadBook | Reason::WideSpread => Stage::Spread,
        Reason::FetchFailed | Reason::InsufficientHistory | Reason::BadData => Stage::Candles,
    }
}

/// A value that is one token: control characters and spaces escaped.
fn token(text: &str) -> String {
    printable(text).replace(' ', "\\u{20}")
}

/// Writes the guardrails line, then a pick line per member of the universe.
pub fn write(err: &mut impl Write, plan: &Plan, settings: &Settings) -> std::io::Result<()> {
    writeln!(err, "{}", guardrails(plan, settings))?;
    for line in picks(plan) {
        writeln!(err, "{line}")?;
    }
    Ok(())
}

/// `AI_UNIVERSE_GUARDRAILS total=… age_ok=… vol_ok=… spread_ok=… scored=… …`: how many
/// exchangeInfo symbols passed each stage, and how many each stage excluded.
fn guardrails(plan: &Plan, settings: &Settings) -> String {
    let refresh = &plan.refresh;
    let mut excluded: BTreeMap<Stage, usize> = BTreeMap::new();
    for (reason, n) in count_by_reason(&refresh.excluded) {
        *excluded.entry(stage(reason)).or_default() += n;
    }
    let out = |s: Stage| excluded.get(&s).copied().unwrap_or(0);
    let total = refresh.scored.len() + refresh.excluded.len();
    let age_ok = total - out(Stage::Contract) - out(Stage::Age);
    let vol_ok = age_ok - out(Stage::Lists) - out(Stage::Volume);
    let spread_ok = vol_ok - out(Stage::Spread);
    let f = &settings.filters;
    format!(
        "AI_UNIVERSE_GUARDRAILS total={total} age_ok={age_ok} vol_ok={vol_ok} spread_ok={spread_ok} scored={} selected={} excluded_contract={} excluded_age={} excluded_lists={} excluded_vol={} excluded_spread={} excluded_data={} min_qv_usdt={} max_spread_bps={} min_age_days={} vol_src=quoteVolume market={} stats_endpoint={} metadata_ok=1 regime={}",
        refresh.scored.len(),
        plan.choice.size(),
        out(Stage::Contract),
        out(Stage::Age),
        out(Stage::Lists),
        out(Stage::Volume),
        out(Stage::Spread),
        out(Stage::Candles),
        f.min_quote_volume,
        f.max_spread_bps,
        f.min_age_days,
        policy::MARKET,
        policy::TICKER_24H_ENDPOINT,
        refresh.regime.as_str(),
    )
}

/// `AI_UNIVERSE_PICK symbol=… rank=… score=… …` for each member, in universe order.
fn picks(plan: &Plan) -> Vec<String> {
    plan.universe()
        .iter()
        .map(|s| {
            let c = &s.candidate;
            let f = &s.features;
            let rank = plan.rank(&c.symbol).unwrap_or(0);
            let decision = plan
                .choice
                .decision(&c.symbol)
                .map_or("selected", |d| d.action.as_str());
            format!(
                "AI_UNIVERSE_PICK symbol={} rank={rank} score={:.2} qv24h_usdt={:.0} spread_bps={:.2} age_days={:.0} leverage={} atr_pct_15m={:.4} trend_1h={:.4} mom_15m={:.4} mom_1h={:.4} decision={decision}",
                token(&c.symbol),
                s.score,
                c.quote_volume,
                c.spread_bps,
                c.age_days,
                s.leverage,
                f.atr_pct_15m,
                f.trend_1h,
                f.mom_15m,
                f.mom_1h,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_split_or_escape_the_line() {
        assert_eq!(token("BTCUSDT"), "BTCUSDT");
        assert_eq!(token("A B"), "A\\u{20}B");
        assert_eq!(token("X\u{1b}]0;t\u{7}"), "X\\u{1b}]0;t\\u{7}");
        assert!(!token("a\nb").contains('\n'));
    }

    #[test]
    fn every_reason_has_a_stage_in_check_order() {
        assert!(stage(Reason::NotTrading) < stage(Reason::TooNew));
        assert!(stage(Reason::TooNew) < stage(Reason::Denied));
        assert!(stage(Reason::Denied) < stage(Reason::Illiquid));
        assert!(stage(Reason::Illiquid) < stage(Reason::WideSpread));
        assert!(stage(Reason::WideSpread) < stage(Reason::BadData));
    }
}
