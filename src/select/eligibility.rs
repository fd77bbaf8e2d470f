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
pub fn checks(
    info: &SymbolInfo,
    overview: &Overview,
    filters: &Filters,
    lists: &Lists,
) -> Vec<Check> {
    checks_and_facts(info, overview, filters, lists).0
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
    filters: &Filters,
    lists: &Lists,
) -> (Vec<Check>, Facts) {
    let age_days = (overview.server_time - info.onboard_date) as f64 / DAY_MS;
    let mut list = record_checks(info, overview);
    list.extend(listing_checks(info, age_days, filters));
    list.extend(list_checks(&info.symbol, lists));
    let (market, facts) = market_checks(&info.symbol, overview, filters);
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
fn list_checks(symbol: &str, lists: &Lists) -> Vec<Check> {
    let denied_by = lists.denied_by(symbol);
    let allowed = lists.allows(symbol);
    let model = lists.models.as_ref().map(|m| m.contains(symbol));
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
pub fn screen(
    overview: &Overview,
    filters: &Filters,
    lists: &Lists,
) -> (Vec<Candidate>, Vec<Excluded>) {
    let mut candidates = Vec::new();
    let mut excluded = Vec::new();
    for info in &overview.symbols {
        let (checks, facts) = checks_and_facts(info, overview, filters, lists);
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
mod tests {
    use super::*;
    use crate::market::Book;
    use crate::select::Pattern;

    fn overview(info: SymbolInfo, quote_volume: Option<f64>, book: Option<Book>) -> Overview {
        let symbol = info.symbol.clone();
        Overview {
            server_time: 100 * 86_400_000,
            symbols: vec![info],
            weight_limit: None,
            quote_volumes: quote_volume
                .map(|v| (symbol.clone(), v))
                .into_iter()
                .collect(),
            books: book.map(|b| (symbol, b)).into_iter().collect(),
            conflicts: std::collections::BTreeMap::new(),
        }
    }

    fn info() -> SymbolInfo {
        SymbolInfo {
            symbol: "XUSDT".into(),
            contract_type: "PERPETUAL".into(),
            status: "TRADING".into(),
            quote_asset: "USDT".into(),
            margin_asset: "USDT".into(),
            delivery_date: 4_133_404_800_000,
            onboard_date: 0,
        }
    }

    const FILTERS: Filters = Filters {
        min_quote_volume: 1e6,
        max_spread_bps: 10.0,
        min_age_days: 30.0,
    };
    const BOOK: Book = Book {
        bid: 99.99,
        ask: 100.01,
    };

    fn verdict_with(
        info: SymbolInfo,
        qv: Option<f64>,
        book: Option<Book>,
        lists: &Lists,
    ) -> Result<(), Reason> {
        let (ok, excluded) = screen(&overview(info, qv, book), &FILTERS, lists);
        if let Some(e) = excluded.first() {
            return Err(e.reason);
        }
        assert_eq!(ok.len(), 1);
        Ok(())
    }

    fn verdict(info: SymbolInfo, qv: Option<f64>, book: Option<Book>) -> Result<(), Reason> {
        verdict_with(info, qv, book, &Lists::default())
    }

    #[test]
    fn each_cheap_check_excludes_with_its_reason_in_order() {
        assert_eq!(verdict(info(), Some(2e6), Some(BOOK)), Ok(()));
        let with = |f: &dyn Fn(&mut SymbolInfo)| {
            let mut i = info();
            f(&mut i);
            i
        };
        // the first reason that applies wins: not perpetual beats not trading
        let both = with(&|i| {
            i.contract_type = "CURRENT_QUARTER".into();
            i.status = "SETTLING".into();
        });
        assert_eq!(verdict(both, None, None), Err(Reason::NotUsdtPerpetual));
        assert_eq!(
            verdict(with(&|i| i.margin_asset = "USDC".into()), None, None),
            Err(Reason::NotUsdtPerpetual)
        );
        assert_eq!(
            verdict(with(&|i| i.status = "PENDING_TRADING".into()), None, None),
            Err(Reason::NotTrading)
        );
        assert_eq!(
            verdict(with(&|i| i.delivery_date = 4_102_444_799_999), None, None),
            Err(Reason::Delisting)
        );
        assert_eq!(
            verdict(
                with(&|i| i.delivery_date = NO_DELIVERY_BEFORE_MS),
                Some(2e6),
                Some(BOOK)
            ),
            Ok(())
        );
        assert_eq!(
            verdict(with(&|i| i.onboard_date = 71 * 86_400_000), None, None),
            Err(Reason::TooNew)
        );
        assert_eq!(
            verdict(
                with(&|i| i.onboard_date = 70 * 86_400_000),
                Some(2e6),
                Some(BOOK)
            ),
            Ok(())
        );
        assert_eq!(verdict(info(), None, Some(BOOK)), Err(Reason::NoTicker));
        assert_eq!(
            verdict(info(), Some(f64::NAN), Some(BOOK)),
            Err(Reason::NoTicker)
        );
        assert_eq!(
            verdict(info(), Some(999_999.0), Some(BOOK)),
            Err(Reason::Illiquid)
        );
        assert_eq!(verdict(info(), Some(2e6), None), Err(Reason::BadBook));
        assert_eq!(
            verdict(info(), Some(2e6), Some(Book { bid: 0.0, ask: 1.0 })),
            Err(Reason::BadBook)
        );
        assert_eq!(
            verdict(info(), Some(2e6), Some(Book { bid: 1.0, ask: 1.0 })),
            Err(Reason::BadBook)
        );
        assert_eq!(
            verdict(
                info(),
                Some(2e6),
                Some(Book {
                    bid: f64::NAN,
                    ask: 1.0
                })
            ),
            Err(Reason::BadBook)
        );
        assert_eq!(
            verdict(
                info(),
                Some(2e6),
                Some(Book {
                    bid: 1.0,
                    ask: f64::NAN
                })
            ),
            Err(Reason::BadBook)
        );
        assert_eq!(
            verdict(
                info(),
                Some(2e6),
                Some(Book {
                    bid: 99.0,
                    ask: 100.0
                })
            ),
            Err(Reason::WideSpread)
        );
    }

    #[test]
    fn lists_exclude_after_the_exchange_checks() {
        let deny = Lists {
            deny: vec![Pattern::new("X*").unwrap()],
            ..Lists::default()
        };
        assert_eq!(
            verdict_with(info(), Some(2e6), Some(BOOK), &deny),
            Err(Reason::Denied)
        );
        let allow = Lists {
            allow: vec![Pattern::new("BTC*").unwrap()],
            ..Lists::default()
        };
        assert_eq!(
            verdict_with(info(), Some(2e6), Some(BOOK), &allow),
            Err(Reason::NotAllowed)
        );
        // a structural reason still comes first
        let mut settling = info();
        settling.status = "SETTLING".into();
        assert_eq!(
            verdict_with(settling, Some(2e6), Some(BOOK), &deny),
            Err(Reason::NotTrading)
        );
    }

    #[test]
    fn spread_is_in_basis_points_of_the_mid_and_explained() {
        let o = overview(
            info(),
            Some(2e6),
            Some(Book {
                bid: 99.95,
                ask: 100.05,
            }),
        );
        let (candidates, _) = screen(&o, &FILTERS, &Lists::default());
        assert!((candidates[0].spread_bps - 10.0).abs() < 1e-9);
        let checks = checks(&o.symbols[0], &o, &FILTERS, &Lists::default());
        assert_eq!(
            checks.len(),
            12,
            "2 on the record, 4 listing, 2 lists, 4 market"
        );
        assert!(checks.iter().all(|c| c.pass));
        assert_eq!(checks[11].threshold, "≤ 10 bps");
    }

    #[test]
    fn names_that_cannot_be_symbols_and_conflicting_records_are_excluded_first() {
        for bad in ["", "../etc", "A/B", ".X", "A B", "X\u{1b}]0;t\u{7}", "a\\b"] {
            assert!(!is_symbol_name(bad), "{bad:?}");
        }
        assert!(!is_symbol_name(&"X".repeat(33)));
        for good in ["BTCUSDT", "1000PEPEUSDT", "币安人生USDT", &"X".repeat(32)] {
            assert!(is_symbol_name(good), "{good:?}");
        }
        let long = format!("{}USDT", "X".repeat(10_000));
        let mut o = overview(
            SymbolInfo {
                symbol: long.clone(),
                ..info()
            },
            Some(5e6),
            Some(Book {
                bid: 1.0,
                ask: 1.0001,
            }),
        );
        let (_, excluded) = screen(&o, &FILTERS, &Lists::default());
        assert_eq!(excluded[0].reason, Reason::BadSymbol);
        assert!(
            excluded[0].symbol.len() < 64,
            "the name is cut: {}",
            excluded[0].symbol.len()
        );
        o.symbols[0].symbol = "XUSDT".into();
        o.conflicts.insert(
            "XUSDT".into(),
            "exchangeInfo lists it 2 times, differently".into(),
        );
        let (_, excluded) = screen(&o, &FILTERS, &Lists::default());
        assert_eq!(excluded[0].reason, Reason::ConflictingRecords);
        assert!(
            excluded[0].detail.contains("2 times"),
            "{}",
            excluded[0].detail
        );
    }
}
