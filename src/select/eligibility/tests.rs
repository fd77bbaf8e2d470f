//! Unit tests of `eligibility`.

use super::*;
use crate::market::Book;
use crate::market::listing::{FirstCandle, Unknown};
use crate::select::Pattern;

fn overview(info: SymbolInfo, quote_volume: Option<f64>, book: Option<Book>) -> Overview {
    let symbol = info.symbol.clone();
    Overview {
        server_time: 100 * 86_400_000,
        symbols: vec![info].into(),
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
        first_candle: FirstCandle::default(),
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
    let (ok, excluded) = screen(&overview(info, qv, book), &Rules::new(&FILTERS, lists));
    if let Some(e) = excluded.first() {
        return Err(e.reason);
    }
    assert_eq!(ok.len(), 1);
    Ok(())
}

fn verdict(info: SymbolInfo, qv: Option<f64>, book: Option<Book>) -> Result<(), Reason> {
    verdict_with(info, qv, book, &Lists::default())
}

/// `info()` changed by `f`.
fn with(f: &dyn Fn(&mut SymbolInfo)) -> SymbolInfo {
    let mut i = info();
    f(&mut i);
    i
}

#[test]
fn each_cheap_check_excludes_with_its_reason_in_order() {
    assert_eq!(verdict(info(), Some(2e6), Some(BOOK)), Ok(()));
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
}

#[test]
fn the_age_counts_from_the_later_of_onboard_date_and_the_first_candle() {
    const DAY: i64 = 86_400_000;
    let age = |info: SymbolInfo| {
        let o = overview(info.clone(), Some(2e6), Some(BOOK));
        let lists = Lists::default();
        let rules = Rules::new(&FILTERS, &lists);
        let check = checks(&info, &o, &rules)
            .into_iter()
            .find(|c| c.name == "age")
            .unwrap();
        (check.pass, check.seen)
    };
    // onboardDate says 100 days; the first candle, 29 days ago, is later: too new
    let late = with(&|i| i.first_candle = FirstCandle::At(71 * DAY));
    let (_, excluded) = screen(
        &overview(late.clone(), Some(2e6), Some(BOOK)),
        &Rules::new(&FILTERS, &Lists::default()),
    );
    assert_eq!(excluded[0].reason, Reason::TooNew);
    assert_eq!(
        excluded[0].detail,
        "listed 29.00 days ago, by its first candle (later than its onboardDate) (needs ≥ 30 days)"
    );
    assert_eq!(
        age(late),
        (
            false,
            "listed 29.00 days ago, by its first candle (later than its onboardDate); first candle 1970-03-13T00:00:00Z, onboardDate 1970-01-01T00:00:00Z".into()
        )
    );
    // a first candle before onboardDate (a re-listing) leaves onboardDate in charge
    let early = with(&|i| {
        i.onboard_date = 60 * DAY;
        i.first_candle = FirstCandle::At(10 * DAY);
    });
    assert_eq!(
        age(early),
        (
            true,
            "listed 40.00 days ago, by its onboardDate; onboardDate 1970-03-02T00:00:00Z, first candle 1970-01-11T00:00:00Z (not later)".into()
        )
    );
    let unknown = with(&|i| i.first_candle = FirstCandle::Unknown(Unknown::NoCache));
    assert_eq!(
        age(unknown),
        (
            true,
            "listed 100.00 days ago, by its onboardDate; onboardDate 1970-01-01T00:00:00Z; first candle not known: no candle cache to keep it in (--no-cache)".into()
        )
    );
}

#[test]
fn the_ticker_and_book_checks_exclude_with_their_reasons() {
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
    let (candidates, _) = screen(&o, &Rules::new(&FILTERS, &Lists::default()));
    assert!((candidates[0].spread_bps - 10.0).abs() < 1e-9);
    let checks = checks(&o.symbols[0], &o, &Rules::new(&FILTERS, &Lists::default()));
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
    let (_, excluded) = screen(&o, &Rules::new(&FILTERS, &Lists::default()));
    assert_eq!(excluded[0].reason, Reason::BadSymbol);
    assert!(
        excluded[0].symbol.len() < 64,
        "the name is cut: {}",
        excluded[0].symbol.len()
    );
    std::sync::Arc::get_mut(&mut o.symbols).unwrap()[0].symbol = "XUSDT".into();
    o.conflicts.insert(
        "XUSDT".into(),
        "exchangeInfo lists it 2 times, differently".into(),
    );
    let (_, excluded) = screen(&o, &Rules::new(&FILTERS, &Lists::default()));
    assert_eq!(excluded[0].reason, Reason::ConflictingRecords);
    assert!(
        excluded[0].detail.contains("2 times"),
        "{}",
        excluded[0].detail
    );
}

#[test]
fn an_absurdly_long_name_is_cut_saying_how_long_it_was() {
    let long = "X".repeat(10_240);
    assert_eq!(
        super::cut(&long, 32),
        format!("{}…(10240 bytes)", "X".repeat(32))
    );
    assert_eq!(super::cut("BTCUSDT", 32), "BTCUSDT");
}
