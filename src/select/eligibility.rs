//! The cheap checks, run on every exchangeInfo symbol before any candle is fetched:
//! contract, status, delivery, age, the operator's lists, 24h volume, book and spread.
//!
//! [`checks`] evaluates each one with the value seen and its threshold (for `explain`);
//! [`screen`] keeps the symbols that pass all of them and gives every other one the
//! reason of the first check it fails. Both read the same list, so they cannot disagree.

use serde::Serialize;

use super::{Candidate, Excluded, Lists, Reason};
use crate::market::{Overview, SymbolInfo};

/// The longest name a symbol may have, in bytes.
pub const MAX_SYMBOL_BYTES: usize = 32;

/// Whether `name` can be a symbol: 1 to 32 bytes, no control characters or white space,
/// nothing that could leave a folder or hide in it (`/`, `\\`, `..`, a leading `.`).
/// Anything else is excluded before its name is used for a request, a file or a line.
pub fn is_symbol_name(name: &str) -> bool {
    (1..=MAX_SYMBOL_BYTES).contains(&name.len())
        && !name.starts_with('.')
        && !name.contains("..")
        && !name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '/' || c == '\\')
}

/// `deliveryDate` before this (2100-01-01) means a delivery, i.e. a delisting, is scheduled.
pub const NO_DELIVERY_BEFORE_MS: i64 = 4_102_444_800_000;
const DAY_MS: f64 = 86_400_000.0;

/// Thresholds of the cheap checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Filters {
    pub min_quote_volume: f64,
    pub max_spread_bps: f64,
    pub min_age_days: f64,
}

/// One check on one symbol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub seen: String,
    pub threshold: String,
    pub pass: bool,
    /// The exclusion this check gives when it fails.
    #[serde(skip)]
    pub reason: Reason,
}

/// The market facts a candidate carries on.
struct Facts {
    quote_volume: Option<f64>,
    spread_bps: Option<f64>,
    age_days: f64,
}

/// Every cheap check on `info`, in order, each with what was seen.
/// Everything a symbol is screened by before its candles are read: the filters, the
/// operator's lists and, when `rotation.require_model` is on, the symbols with a model.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub filters: &'a Filters,
    pub lists: &'a Lists,
    /// `None`: a model is not required.
    pub models: Option<&'a std::collections::BTreeSet<String>>,
}

impl<'a> Rules<'a> {
    /// The filters and lists, no model required.
    pub fn new(filters: &'a Filters, lists: &'a Lists) -> Self {
        Self {
            filters,
            lists,
            models: None,
        }
    }
}

pub fn checks(info: &SymbolInfo, overview: &Overview, rules: &Rules<'_>) -> Vec<Check> {
    checks_and_facts(info, overview, rules).0
}

fn check(name: &'static str, seen: String, threshold: String, pass: bool, reason: Reason) -> Check {
    Check {
        name,
        seen,
        threshold,
        pass,
        reason,
    }
}

fn checks_and_facts(
    info: &SymbolInfo,
    overview: &Overview,
    rules: &Rules<'_>,
) -> (Vec<Check>, Facts) {
    let age_days = (overview.server_time - info.onboard_date) as f64 / DAY_MS;
    let mut list = record_checks(info, overview);
    list.extend(listing_checks(info, age_days, rules.filters));
    list.extend(list_checks(&info.symbol, rules.lists, rules.models));
    let (market, facts) = market_checks(&info.symbol, overview, rules.filters);
    list.extend(market);
    (list, Facts { age_days, ..facts })
}

/// Whether the name can be a symbol, and whether the exchange said one thing about it.
fn record_checks(info: &SymbolInfo, overview: &Overview) -> Vec<Check> {
    let conflict = overview.conflicts.get(&info.symbol);
    vec![
        check(
            "symbol_name",
            format!(
                "{} bytes{}",
                info.symbol.len(),
                if is_symbol_name(&info.symbol) {
                    ""
                } else {
                    ", not a symbol name"
                }
            ),
            format!("1 to {MAX_SYMBOL_BYTES} bytes, no control characters, spaces, /, \\ or .."),
            is_symbol_name(&info.symbol),
            Reason::BadSymbol,
        ),
        check(
            "one_record",
            conflict.map_or_else(|| "listed once".into(), Clone::clone),
            "one record per symbol in each answer".into(),
            conflict.is_none(),
            Reason::ConflictingRecords,
        ),
    ]
}

/// What exchangeInfo says: contract, status, delivery, age.
fn listing_checks(info: &SymbolInfo, age_days: f64, filters: &Filters) -> Vec<Check> {
    vec![
        check(
            "usdt_perpetual",
            format!(
                "contractType {:?}, quoteAsset {:?}, marginAsset {:?}",
                info.contract_type, info.quote_asset, info.margin_asset
            ),
            "PERPETUAL, USDT, USDT".into(),
            info.contract_type == "PERPETUAL"
                && info.quote_asset == "USDT"
                && info.margin_asset == "USDT",
            Reason::NotUsdtPerpetual,
        ),
        check(
            "trading",
            format!("status {:?}", info.status),
            "TRADING".into(),
            info.status == "TRADING",
            Reason::NotTrading,
        ),
        check(
            "no_delivery_scheduled",
            format!("deliveryDate {}", info.delivery_date),
            format!("≥ {NO_DELIVERY_BEFORE_MS} (2100-01-01)"),
            info.delivery_date >= NO_DELIVERY_BEFORE_MS,
            Reason::Delisting,
        ),
        check(
            "age",
            format!("listed {age_days:.2} days ago"),
            format!("≥ {} days", filters.min_age_days),
            age_days >= filters.min_age_days,
            Reason::TooNew,
        ),
    ]
}

/// The operator's deny and allow lists.
fn list_checks(
    symbol: &str,
    lists: &Lists,
    models: Option<&std::collections::BTreeSet<String>>,
) -> Vec<Check> {
    let denied_by = lists.denied_by(symbol);
    let allowed = lists.allows(symbol);
    let model = models.map(|m| m.contains(symbol));
    let mut checks = vec![
        check(
            "deny_list",
            denied_by.map_or_else(|| "no pattern matches".into(), |p| format!("matches {p}")),
            format!("no match among {} pattern(s)", lists.deny.len()),
            denied_by.is_none(),
            Reason::Denied,
        ),
        check(
            "allow_list",
            if allowed {
                "allowed".into()
            } else {
                "matches no pattern".into()
            },
            if lists.allow.is_empty() {
                "no allow list".into()
            } else {
                format!("a match among {} pattern(s)", lists.allow.len())
            },
            allowed,
            Reason::NotAllowed,
        ),
    ];
    if let Some(has_model) = model {
        checks.push(check(
            "model",
            if has_model {
                "has a model".into()
            } else {
                "no model file".into()
            },
            "a model (rotation.require_model)".into(),
            has_model,
            Reason::NoModel,
        ));
    }
    checks
}

/// What the market says: 24h volume and the book.
fn market_checks(symbol: &str, overview: &Overview, filters: &Filters) -> (Vec<Check>, Facts) {
    let quote_volume = overview.quote_volumes.get(symbol).copied();
    let usable_volume = quote_volume.filter(|v| v.is_finite() && *v >= 0.0);
    let book = overview.books.get(symbol).copied();
    // written so that NaN fails too
    let good_book = book.filter(|b| b.bid > 0.0 && b.ask > b.bid && b.ask.is_finite());
    let spread_bps = good_book.map(|b| (b.ask - b.bid) / f64::midpoint(b.ask, b.bid) * 1e4);
    let list = vec![
        check(
            "ticker",
            quote_volume.map_or_else(
                || "no 24h ticker".into(),
                |v| format!("24h quote volume {v}"),
            ),
            "a finite quote volume".into(),
            usable_volume.is_some(),
            Reason::NoTicker,
        ),
        check(
            "liquidity",
            usable_volume.map_or_else(|| "unknown".into(), |v| format!("24h quote volume {v:.0}")),
            format!("≥ {}", filters.min_quote_volume),
            usable_volume.is_some_and(|v| v >= filters.min_quote_volume),
            Reason::Illiquid,
        ),
        check(
            "book",
            book.map_or_else(
                || "no book ticker".into(),
                |b| format!("bid {}, ask {}", b.bid, b.ask),
            ),
            "0 < bid < ask".into(),
            good_book.is_some(),
            Reason::BadBook,
        ),
        check(
            "spread",
            spread_bps.map_or_else(|| "unknown".into(), |s| format!("spread {s:.2} bps")),
            format!("≤ {} bps", filters.max_spread_bps),
            spread_bps.is_some_and(|s| s <= filters.max_spread_bps),
            Reason::WideSpread,
        ),
    ];
    let facts = Facts {
        quote_volume: usable_volume,
        spread_bps,
        age_days: 0.0,
    };
    (list, facts)
}

/// Keeps the symbols that pass every cheap check; the others get their first failure.
pub fn screen(overview: &Overview, rules: &Rules<'_>) -> (Vec<Candidate>, Vec<Excluded>) {
    let mut candidates = Vec::new();
    let mut excluded = Vec::new();
    for info in &overview.symbols {
        let (checks, facts) = checks_and_facts(info, overview, rules);
        match checks.into_iter().find(|c| !c.pass) {
            Some(failed) => excluded.push(Excluded {
                // a name that is not one is cut: it may be 10 kB
                symbol: crate::output::cut(&info.symbol, MAX_SYMBOL_BYTES).into_owned(),
                reason: failed.reason,
                detail: format!("{} (needs {})", failed.seen, failed.threshold),
            }),
            None => candidates.push(Candidate {
                symbol: info.symbol.clone(),
                quote_volume: facts.quote_volume.expect("checked"),
                spread_bps: facts.spread_bps.expect("checked"),
                age_days: facts.age_days,
            }),
        }
    }
    (candidates, excluded)
}

#[cfg(test)]
mod tests;
