//! Which symbols may be traded: cheap filters, candle checks, score, rank, Top-N, leverage.
//!
//! Every symbol of exchangeInfo ends with exactly one verdict: scored (with a rank), or
//! excluded with the first [`Reason`] that applies, checked in the order of the enum.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::features::Features;
use crate::market::{Book, Overview, SymbolInfo};

/// `deliveryDate` before this (2100-01-01) means a delivery, i.e. a delisting, is scheduled.
pub const NO_DELIVERY_BEFORE_MS: i64 = 4_102_444_800_000;
const DAY_MS: f64 = 86_400_000.0;

/// Why a symbol is not scored, in the order the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not a PERPETUAL contract quoted and margined in USDT.
    NotUsdtPerpetual,
    /// `status` is not TRADING.
    NotTrading,
    /// A delivery date before 2100 is set.
    Delisting,
    /// Listed fewer than `min_age_days` ago.
    TooNew,
    /// No 24h ticker, or one whose quote volume is not a finite number.
    NoTicker,
    /// 24h quote volume below `min_quote_volume`.
    Illiquid,
    /// No book ticker, or bid ≤ 0, or ask ≤ bid (NaN included).
    BadBook,
    /// Spread above `max_spread_bps`.
    WideSpread,
    /// Candles could not be fetched after retries, or the body was malformed.
    FetchFailed,
    /// Fewer than 96 closed candles in a window.
    InsufficientHistory,
    /// A candle price that is not finite or not positive, or features that are not finite.
    BadData,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotUsdtPerpetual => "not_usdt_perpetual",
            Reason::NotTrading => "not_trading",
            Reason::Delisting => "delisting",
            Reason::TooNew => "too_new",
            Reason::NoTicker => "no_ticker",
            Reason::Illiquid => "illiquid",
            Reason::BadBook => "bad_book",
            Reason::WideSpread => "wide_spread",
            Reason::FetchFailed => "fetch_failed",
            Reason::InsufficientHistory => "insufficient_history",
            Reason::BadData => "bad_data",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Thresholds of the cheap filters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Filters {
    pub min_quote_volume: f64,
    pub max_spread_bps: f64,
    pub min_age_days: f64,
}

/// A symbol that passed the cheap filters, with the market facts they read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub symbol: String,
    pub quote_volume: f64,
    pub spread_bps: f64,
    pub age_days: f64,
}

/// A symbol that did not make it, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excluded {
    pub symbol: String,
    pub reason: Reason,
    /// What was seen, for an operator: a value against its threshold, an error.
    pub detail: String,
}

/// Applies filters 1–3 (exchangeInfo, 24h ticker, book) to every exchangeInfo symbol.
pub fn screen(overview: &Overview, filters: &Filters) -> (Vec<Candidate>, Vec<Excluded>) {
    let mut candidates = Vec::new();
    let mut excluded = Vec::new();
    for info in &overview.symbols {
        match screen_one(info, overview, filters) {
            Ok(candidate) => candidates.push(candidate),
            Err((reason, detail)) => excluded.push(Excluded {
                symbol: info.symbol.clone(),
                reason,
                detail,
            }),
        }
    }
    (candidates, excluded)
}

fn screen_one(
    info: &SymbolInfo,
    overview: &Overview,
    filters: &Filters,
) -> Result<Candidate, (Reason, String)> {
    if info.contract_type != "PERPETUAL"
        || info.quote_asset != "USDT"
        || info.margin_asset != "USDT"
    {
        let detail = format!(
            "contractType {:?}, quoteAsset {:?}, marginAsset {:?}",
            info.contract_type, info.quote_asset, info.margin_asset
        );
        return Err((Reason::NotUsdtPerpetual, detail));
    }
    if info.status != "TRADING" {
        return Err((Reason::NotTrading, format!("status {:?}", info.status)));
    }
    if info.delivery_date < NO_DELIVERY_BEFORE_MS {
        return Err((
            Reason::Delisting,
            format!("deliveryDate {}", info.delivery_date),
        ));
    }
    let age_days = (overview.server_time - info.onboard_date) as f64 / DAY_MS;
    if age_days < filters.min_age_days {
        let detail = format!("listed {age_days:.2} days ago < {}", filters.min_age_days);
        return Err((Reason::TooNew, detail));
    }
    let quote_volume = match overview.quote_volumes.get(&info.symbol) {
        None => return Err((Reason::NoTicker, "no 24h ticker".into())),
        Some(v) if !v.is_finite() || *v < 0.0 => {
            return Err((Reason::NoTicker, format!("24h quote volume {v}")));
        }
        Some(&v) => v,
    };
    if quote_volume < filters.min_quote_volume {
        let detail = format!(
            "24h quote volume {quote_volume:.0} < {}",
            filters.min_quote_volume
        );
        return Err((Reason::Illiquid, detail));
    }
    let spread_bps = spread_bps(overview.books.get(&info.symbol))?;
    if spread_bps > filters.max_spread_bps {
        let detail = format!("spread {spread_bps:.2} bps > {}", filters.max_spread_bps);
        return Err((Reason::WideSpread, detail));
    }
    Ok(Candidate {
        symbol: info.symbol.clone(),
        quote_volume,
        spread_bps,
        age_days,
    })
}

/// `(ask − bid) / ((ask + bid)/2) · 10⁴`, or `bad_book`.
fn spread_bps(book: Option<&Book>) -> Result<f64, (Reason, String)> {
    let Some(&Book { bid, ask }) = book else {
        return Err((Reason::BadBook, "no book ticker".into()));
    };
    // written so that NaN fails too
    if !(bid > 0.0 && ask > bid && ask.is_finite()) {
        return Err((Reason::BadBook, format!("bid {bid}, ask {ask}")));
    }
    Ok((ask - bid) / f64::midpoint(ask, bid) * 1e4)
}

/// A candidate with its features, score and leverage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    #[serde(flatten)]
    pub candidate: Candidate,
    #[serde(flatten)]
    pub features: FeatureValues,
    pub score: f64,
    pub leverage: u32,
}

/// [`Features`] as serialised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FeatureValues {
    pub atr_pct_15m: f64,
    pub trend_1h: f64,
    pub mom_15m: f64,
    pub mom_1h: f64,
}

impl From<Features> for FeatureValues {
    fn from(f: Features) -> Self {
        Self {
            atr_pct_15m: f.atr_pct_15m,
            trend_1h: f.trend_1h,
            mom_15m: f.mom_15m,
            mom_1h: f.mom_1h,
        }
    }
}

/// Weights of the score's percentile components; their sum is the divisor.
const W_TREND: f64 = 1.0;
const W_MOM_15M: f64 = 0.8;
const W_MOM_1H: f64 = 0.6;
const W_VOL_FIT: f64 = 0.4;
const W_LIQUIDITY: f64 = 0.5;
const W_SUM: f64 = 3.3;

/// Scores every candidate against the others and returns them in rank order.
///
/// `score = 100 · (1.0·pct(|trend_1h|) + 0.8·pct(|mom_15m|) + 0.6·pct(|mom_1h|)
///          + 0.4·pct(−|ln(atr_pct_15m / m)|) + 0.5·pct(quote_volume)) / 3.3`
/// with `m` the median `atr_pct_15m`. A volatility fit that is not finite (an ATR or a
/// median of zero) counts as the worst fit, −∞.
pub fn score(candidates: Vec<(Candidate, Features)>) -> Vec<Scored> {
    let column = |f: &dyn Fn(&(Candidate, Features)) -> f64| -> Vec<f64> {
        percentiles(&candidates.iter().map(f).collect::<Vec<_>>())
    };
    let atr: Vec<f64> = candidates.iter().map(|(_, f)| f.atr_pct_15m).collect();
    let m = median(&atr).unwrap_or(f64::NAN);
    let trend = column(&|(_, f)| f.trend_1h.abs());
    let mom_15m = column(&|(_, f)| f.mom_15m.abs());
    let mom_1h = column(&|(_, f)| f.mom_1h.abs());
    let vol_fit = column(&|(_, f)| {
        let fit = -(f.atr_pct_15m / m).ln().abs();
        if fit.is_finite() {
            fit
        } else {
            f64::NEG_INFINITY
        }
    });
    let liquidity = column(&|(c, _)| c.quote_volume);
    let mut scored: Vec<Scored> = candidates
        .into_iter()
        .enumerate()
        .map(|(i, (candidate, features))| {
            let weighted = W_TREND * trend[i]
                + W_MOM_15M * mom_15m[i]
                + W_MOM_1H * mom_1h[i]
                + W_VOL_FIT * vol_fit[i]
                + W_LIQUIDITY * liquidity[i];
            Scored {
                candidate,
                leverage: leverage(features.atr_pct_15m),
                features: features.into(),
                score: 100.0 * weighted / W_SUM,
            }
        })
        .collect();
    scored.sort_by(rank_order);
    scored
}

/// Score descending, then 24h quote volume descending, then symbol ascending (bytes).
pub fn rank_order(a: &Scored, b: &Scored) -> std::cmp::Ordering {
    b.score
        .total_cmp(&a.score)
        .then_with(|| {
            b.candidate
                .quote_volume
                .total_cmp(&a.candidate.quote_volume)
        })
        .then_with(|| {
            a.candidate
                .symbol
                .as_bytes()
                .cmp(b.candidate.symbol.as_bytes())
        })
}

/// Percentile rank of each value: `(r − 1)/(K − 1)` with `r` its 1-based ascending rank,
/// ties sharing their mean rank; 1 for every value when there is only one.
pub fn percentiles(values: &[f64]) -> Vec<f64> {
    let k = values.len();
    if k == 1 {
        return vec![1.0];
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut pct = vec![0.0; k];
    let mut start = 0;
    while start < k {
        let mut end = start + 1;
        while end < k && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // positions start..end hold ranks start+1..=end; their mean is (start+1+end)/2
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            pct[i] = (mean_rank - 1.0) / (k - 1) as f64;
        }
        start = end;
    }
    pct
}

/// The median: the middle value, or the mean of the two middle values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])),
    }
}

/// The leverage table, by 15m ATR%: the calmer the symbol, the more leverage.
pub const LEVERAGE_TABLE: [(f64, u32); 4] = [(3.0, 6), (2.0, 8), (1.5, 10), (1.0, 12)];
pub const LEVERAGE_CALM: u32 = 15;
pub const LEVERAGE_MIN: u32 = 6;
pub const LEVERAGE_MAX: u32 = 15;

/// `> 3.0 → 6; > 2.0 → 8; > 1.5 → 10; > 1.0 → 12; else 15`.
pub fn leverage(atr_pct_15m: f64) -> u32 {
    LEVERAGE_TABLE
        .iter()
        .find(|(above, _)| atr_pct_15m > *above)
        .map_or(LEVERAGE_CALM, |&(_, leverage)| leverage)
}

/// Exclusion counts by reason, in check order.
pub fn count_by_reason(excluded: &[Excluded]) -> BTreeMap<Reason, usize> {
    let mut counts = BTreeMap::new();
    for e in excluded {
        *counts.entry(e.reason).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn ties_share_their_mean_rank() {
        // ranks: 1.0 → 1, the two 2.0 → 2.5, 3.0 → 4
        assert_eq!(percentiles(&[2.0, 1.0, 3.0, 2.0]), vec![0.5, 0.0, 1.0, 0.5]);
        assert_eq!(percentiles(&[7.0, 7.0, 7.0]), vec![0.5, 0.5, 0.5]);
        assert_eq!(percentiles(&[42.0]), vec![1.0]);
        assert_eq!(percentiles(&[]), Vec::<f64>::new());
    }

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn leverage_thresholds_are_strict() {
        let cases = [
            (3.01, 6),
            (3.0, 8),
            (2.0, 10),
            (1.5, 12),
            (1.0, 15),
            (0.2, 15),
        ];
        for (atr, expected) in cases {
            assert_eq!(leverage(atr), expected, "atr {atr}");
        }
    }

    fn scored(symbol: &str, score: f64, quote_volume: f64) -> Scored {
        Scored {
            candidate: Candidate {
                symbol: symbol.into(),
                quote_volume,
                spread_bps: 1.0,
                age_days: 100.0,
            },
            features: FeatureValues {
                atr_pct_15m: 1.0,
                trend_1h: 0.0,
                mom_15m: 0.0,
                mom_1h: 0.0,
            },
            score,
            leverage: 15,
        }
    }

    #[test]
    fn order_is_score_then_volume_then_symbol_bytes() {
        let mut list = [
            scored("BBB", 50.0, 10.0),
            scored("AAA", 50.0, 10.0),
            scored("CCC", 50.0, 20.0),
            scored("ZZZ", 60.0, 1.0),
            scored("aaa", 50.0, 10.0),
        ];
        list.sort_by(rank_order);
        let symbols: Vec<&str> = list.iter().map(|s| s.candidate.symbol.as_str()).collect();
        assert_eq!(symbols, ["ZZZ", "CCC", "AAA", "BBB", "aaa"]);
    }

    fn features(atr: f64, trend: f64, mom_15m: f64, mom_1h: f64) -> Features {
        Features {
            atr_pct_15m: atr,
            trend_1h: trend,
            mom_15m,
            mom_1h,
        }
    }

    fn candidate(symbol: &str, quote_volume: f64) -> Candidate {
        Candidate {
            symbol: symbol.into(),
            quote_volume,
            spread_bps: 1.0,
            age_days: 90.0,
        }
    }

    #[test]
    fn score_follows_the_formula() {
        // three candidates; m = 2.0 (median atr)
        let scored = score(vec![
            (candidate("A", 100.0), features(2.0, -3.0, 1.0, 0.5)),
            (candidate("B", 300.0), features(1.0, 1.0, -2.0, 0.1)),
            (candidate("C", 200.0), features(4.0, 2.0, 0.5, -0.9)),
        ]);
        let by_symbol: HashMap<&str, f64> = scored
            .iter()
            .map(|s| (s.candidate.symbol.as_str(), s.score))
            .collect();
        // pct: |trend| A=1 B=0 C=.5; |mom15| A=.5 B=1 C=0; |mom1h| A=.5 B=0 C=1;
        // fit −|ln(atr/2)|: A=0 → 1, B and C both −ln 2 → tie at .25; volume A=0 B=1 C=.5
        let expect = |t: f64, m15: f64, m1: f64, fit: f64, v: f64| {
            100.0 * (t + 0.8 * m15 + 0.6 * m1 + 0.4 * fit + 0.5 * v) / 3.3
        };
        assert_eq!(by_symbol["A"], expect(1.0, 0.5, 0.5, 1.0, 0.0));
        assert_eq!(by_symbol["B"], expect(0.0, 1.0, 0.0, 0.25, 1.0));
        assert_eq!(by_symbol["C"], expect(0.5, 0.0, 1.0, 0.25, 0.5));
        assert_eq!(scored[0].candidate.symbol, "A");
        assert_eq!(scored[0].leverage, 10);
    }

    #[test]
    fn a_single_candidate_scores_full_marks() {
        let scored = score(vec![(candidate("A", 1.0), features(0.5, 0.1, 0.1, 0.1))]);
        assert!((scored[0].score - 100.0).abs() < 1e-12);
    }

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

    fn verdict(info: SymbolInfo, qv: Option<f64>, book: Option<Book>) -> Result<(), Reason> {
        let (ok, excluded) = screen(&overview(info, qv, book), &FILTERS);
        if let Some(e) = excluded.first() {
            return Err(e.reason);
        }
        assert_eq!(ok.len(), 1);
        Ok(())
    }

    #[test]
    fn each_cheap_filter_excludes_with_its_reason_in_order() {
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
    fn spread_is_in_basis_points_of_the_mid() {
        assert!(
            (spread_bps(Some(&Book {
                bid: 99.95,
                ask: 100.05
            }))
            .unwrap()
                - 10.0)
                .abs()
                < 1e-9
        );
    }
}
