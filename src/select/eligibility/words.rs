//! The cheap checks in words, for `explain` and for a symbol's exclusion: only the
//! output reads them, so screening never formats a check that passed.

use crate::market::listing::FirstCandle;

use super::{CheckKind, MAX_SYMBOL_BYTES, NO_DELIVERY_BEFORE_MS, Seen, Spread, is_symbol_name};

impl Seen<'_> {
    /// One check in words: what was seen, and what it needs.
    pub(super) fn words(&self, name: CheckKind) -> (String, String) {
        match name {
            CheckKind::SymbolName | CheckKind::OneRecord => self.record_words(name),
            CheckKind::UsdtPerpetual
            | CheckKind::Trading
            | CheckKind::NoDeliveryScheduled
            | CheckKind::Age => self.listing_words(name),
            CheckKind::DenyList | CheckKind::AllowList | CheckKind::Model => self.list_words(name),
            CheckKind::Ticker | CheckKind::Liquidity | CheckKind::Book | CheckKind::Spread => {
                self.market_words(name)
            }
        }
    }

    /// Whether the name can be a symbol, and whether the exchange said one thing about it.
    fn record_words(&self, name: CheckKind) -> (String, String) {
        let symbol = &self.info.symbol;
        if name == CheckKind::SymbolName {
            let not = if is_symbol_name(symbol) {
                ""
            } else {
                ", not a symbol name"
            };
            return (
                format!("{} bytes{not}", symbol.len()),
                format!(
                    "1 to {MAX_SYMBOL_BYTES} bytes, no control characters, spaces, /, \\ or .."
                ),
            );
        }
        (
            self.conflict
                .map_or_else(|| "listed once".into(), Clone::clone),
            "one record per symbol in each answer".into(),
        )
    }

    /// What exchangeInfo says: contract, status, delivery, age.
    fn listing_words(&self, name: CheckKind) -> (String, String) {
        let info = self.info;
        match name {
            CheckKind::UsdtPerpetual => (
                format!(
                    "contractType {:?}, quoteAsset {:?}, marginAsset {:?}",
                    info.contract_type, info.quote_asset, info.margin_asset
                ),
                "PERPETUAL, USDT, USDT".into(),
            ),
            CheckKind::Trading => (format!("status {:?}", info.status), "TRADING".into()),
            CheckKind::NoDeliveryScheduled => (
                format!("deliveryDate {}", info.delivery_date),
                format!("≥ {NO_DELIVERY_BEFORE_MS} (2100-01-01)"),
            ),
            _ => (
                format!(
                    "listed {:.2} days ago, by {}",
                    self.age_days,
                    self.listed_by()
                ),
                format!("≥ {} days", self.rules.filters.min_age_days),
            ),
        }
    }

    /// Which listing time the age is counted from. Static words: a backtest puts a
    /// too-new symbol's exclusion into words at every step.
    fn listed_by(&self) -> &'static str {
        if self.first_candle_later() {
            "its first candle (later than its onboardDate)"
        } else {
            "its onboardDate"
        }
    }

    fn first_candle_later(&self) -> bool {
        matches!(self.info.first_candle, FirstCandle::At(first) if first > self.info.onboard_date)
    }

    /// For `explain`: both times, or why the first candle is not known.
    pub(super) fn listing_note(&self) -> String {
        let onboard = when(self.info.onboard_date);
        match self.info.first_candle {
            FirstCandle::At(first) if self.first_candle_later() => {
                format!("first candle {}, onboardDate {onboard}", when(first))
            }
            FirstCandle::At(first) => {
                format!(
                    "onboardDate {onboard}, first candle {} (not later)",
                    when(first)
                )
            }
            FirstCandle::Unknown(why) => {
                format!("onboardDate {onboard}; first candle not known: {why}")
            }
        }
    }

    /// The operator's deny and allow lists, and the model a symbol may need.
    fn list_words(&self, name: CheckKind) -> (String, String) {
        let lists = self.rules.lists;
        match name {
            CheckKind::DenyList => (
                self.denied_by
                    .map_or_else(|| "no pattern matches".into(), |p| format!("matches {p}")),
                format!("no match among {} pattern(s)", lists.deny.len()),
            ),
            CheckKind::AllowList => (
                if self.allowed {
                    "allowed".into()
                } else {
                    "matches no pattern".into()
                },
                if lists.allow.is_empty() {
                    "no allow list".into()
                } else {
                    format!("a match among {} pattern(s)", lists.allow.len())
                },
            ),
            _ => (
                if self.has_model == Some(true) {
                    "has a model".into()
                } else {
                    "no model file".into()
                },
                "a model (rotation.require_model)".into(),
            ),
        }
    }

    /// What the market says: 24h volume and the book.
    fn market_words(&self, name: CheckKind) -> (String, String) {
        let filters = self.rules.filters;
        match name {
            CheckKind::Ticker => (
                self.quote_volume.map_or_else(
                    || "no 24h ticker".into(),
                    |v| format!("24h quote volume {v}"),
                ),
                "a finite quote volume".into(),
            ),
            CheckKind::Liquidity => (
                self.usable_volume
                    .map_or_else(|| "unknown".into(), |v| format!("24h quote volume {v:.0}")),
                format!("≥ {}", filters.min_quote_volume),
            ),
            CheckKind::Book => (
                self.book.map_or_else(
                    || "no book ticker".into(),
                    |b| format!("bid {}, ask {}", b.bid, b.ask),
                ),
                "0 < bid < ask".into(),
            ),
            _ => (
                self.spread_bps
                    .map_or_else(|| "unknown".into(), |s| format!("spread {s:.2} bps")),
                match self.rules.spread {
                    Spread::Checked => format!("≤ {} bps", filters.max_spread_bps),
                    Spread::Ignored => "none: ignored without an order book".into(),
                },
            ),
        }
    }
}

/// A listing time (ms) as UTC, to the second.
fn when(ms: i64) -> String {
    crate::clock::epoch(ms.div_euclid(1000))
}
