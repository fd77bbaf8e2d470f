//! The cheap checks, run on every exchangeInfo symbol before any candle is fetched:
//! contract, status, delivery, age, the operator's lists, 24h volume, book and spread.
//!
//! What a symbol shows is read once ([`Seen`]); each check is then a verdict on it,
//! without words. [`screen`] keeps the symbols that pass every check and puts into words
//! only the first check each other one fails; [`checks`] puts every check into words, with
//! the value seen and its threshold (for `explain`). Both judge by the same verdicts, in
//! the same order, so they cannot disagree.

use std::borrow::Cow;

use serde::Serialize;

use super::{Candidate, Excluded, Lists, Pattern, Reason, Symbol};
use crate::market::wire::Book;
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

/// `text` cut to `max` characters, saying how long it was: for names from the network
/// that are absurdly long (a 10 kB "symbol").
fn cut(text: &str, max: usize) -> Cow<'_, str> {
    if text.chars().nth(max).is_none() {
        return Cow::Borrowed(text);
    }
    let head: String = text.chars().take(max).collect();
    Cow::Owned(format!("{head}…({} bytes)", text.len()))
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

/// Whether the spread check judges the book, or is passed: a history has no order book,
/// so a backtest would judge a made-up spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    Checked,
    Ignored,
}

/// One check on one symbol, in words.
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

/// Everything a symbol is screened by before its candles are read: the filters, the
/// operator's lists and, when `rotation.require_model` is on, the symbols with a model.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub filters: &'a Filters,
    pub lists: &'a Lists,
    /// `None`: a model is not required.
    pub models: Option<&'a std::collections::BTreeSet<String>>,
    pub spread: Spread,
}

impl<'a> Rules<'a> {
    /// The filters and lists, no model required, the spread checked.
    pub fn new(filters: &'a Filters, lists: &'a Lists) -> Self {
        Self {
            filters,
            lists,
            models: None,
            spread: Spread::Checked,
        }
    }
}

/// The cheap checks, in the order they run; a symbol's reason is its first failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckKind {
    SymbolName,
    OneRecord,
    UsdtPerpetual,
    Trading,
    NoDeliveryScheduled,
    Age,
    DenyList,
    AllowList,
    Model,
    Ticker,
    Liquidity,
    Book,
    Spread,
}

const ORDER: [CheckKind; 13] = [
    CheckKind::SymbolName,
    CheckKind::OneRecord,
    CheckKind::UsdtPerpetual,
    CheckKind::Trading,
    CheckKind::NoDeliveryScheduled,
    CheckKind::Age,
    CheckKind::DenyList,
    CheckKind::AllowList,
    CheckKind::Model,
    CheckKind::Ticker,
    CheckKind::Liquidity,
    CheckKind::Book,
    CheckKind::Spread,
];

impl CheckKind {
    fn as_str(self) -> &'static str {
        match self {
            CheckKind::SymbolName => "symbol_name",
            CheckKind::OneRecord => "one_record",
            CheckKind::UsdtPerpetual => "usdt_perpetual",
            CheckKind::Trading => "trading",
            CheckKind::NoDeliveryScheduled => "no_delivery_scheduled",
            CheckKind::Age => "age",
            CheckKind::DenyList => "deny_list",
            CheckKind::AllowList => "allow_list",
            CheckKind::Model => "model",
            CheckKind::Ticker => "ticker",
            CheckKind::Liquidity => "liquidity",
            CheckKind::Book => "book",
            CheckKind::Spread => "spread",
        }
    }

    fn reason(self) -> Reason {
        match self {
            CheckKind::SymbolName => Reason::BadSymbol,
            CheckKind::OneRecord => Reason::ConflictingRecords,
            CheckKind::UsdtPerpetual => Reason::NotUsdtPerpetual,
            CheckKind::Trading => Reason::NotTrading,
            CheckKind::NoDeliveryScheduled => Reason::Delisting,
            CheckKind::Age => Reason::TooNew,
            CheckKind::DenyList => Reason::Denied,
            CheckKind::AllowList => Reason::NotAllowed,
            CheckKind::Model => Reason::NoModel,
            CheckKind::Ticker => Reason::NoTicker,
            CheckKind::Liquidity => Reason::Illiquid,
            CheckKind::Book => Reason::BadBook,
            CheckKind::Spread => Reason::WideSpread,
        }
    }
}

/// What one symbol shows the checks, read once from exchangeInfo, the market and the
/// rules.
struct Seen<'a> {
    info: &'a SymbolInfo,
    rules: &'a Rules<'a>,
    conflict: Option<&'a String>,
    age_days: f64,
    denied_by: Option<&'a Pattern>,
    allowed: bool,
    /// `None`: no model is required.
    has_model: Option<bool>,
    quote_volume: Option<f64>,
    /// The quote volume when it is a finite, non-negative number.
    usable_volume: Option<f64>,
    book: Option<Book>,
    /// The spread of a good book (0 < bid < ask, finite).
    spread_bps: Option<f64>,
}

impl<'a> Seen<'a> {
    fn new(info: &'a SymbolInfo, overview: &'a Overview, rules: &'a Rules<'a>) -> Self {
        let symbol = info.symbol.as_str();
        let quote_volume = overview.quote_volumes.get(symbol).copied();
        let book = overview.books.get(symbol).copied();
        // written so that NaN fails too
        let good_book = book.filter(|b| b.bid > 0.0 && b.ask > b.bid && b.ask.is_finite());
        Self {
            info,
            rules,
            conflict: overview.conflicts.get(symbol),
            age_days: (overview.server_time - info.first_candle.listing(info.onboard_date)) as f64
                / DAY_MS,
            denied_by: rules.lists.denied_by(symbol),
            allowed: rules.lists.allows(symbol),
            has_model: rules.models.map(|m| m.contains(symbol)),
            quote_volume,
            usable_volume: quote_volume.filter(|v| v.is_finite() && *v >= 0.0),
            book,
            spread_bps: good_book.map(|b| (b.ask - b.bid) / f64::midpoint(b.ask, b.bid) * 1e4),
        }
    }

    /// The verdict of one check; `None` for a check that does not apply (the model check
    /// without `rotation.require_model`).
    fn passes(&self, name: CheckKind) -> Option<bool> {
        let (info, filters) = (self.info, self.rules.filters);
        Some(match name {
            CheckKind::SymbolName => is_symbol_name(&info.symbol),
            CheckKind::OneRecord => self.conflict.is_none(),
            CheckKind::UsdtPerpetual => {
                info.contract_type == "PERPETUAL"
                    && info.quote_asset == "USDT"
                    && info.margin_asset == "USDT"
            }
            CheckKind::Trading => info.status == "TRADING",
            CheckKind::NoDeliveryScheduled => info.delivery_date >= NO_DELIVERY_BEFORE_MS,
            CheckKind::Age => self.age_days >= filters.min_age_days,
            CheckKind::DenyList => self.denied_by.is_none(),
            CheckKind::AllowList => self.allowed,
            CheckKind::Model => self.has_model?,
            CheckKind::Ticker => self.usable_volume.is_some(),
            CheckKind::Liquidity => self
                .usable_volume
                .is_some_and(|v| v >= filters.min_quote_volume),
            CheckKind::Book => self.spread_bps.is_some(),
            CheckKind::Spread => match self.rules.spread {
                Spread::Checked => self.spread_bps.is_some_and(|s| s <= filters.max_spread_bps),
                Spread::Ignored => true,
            },
        })
    }

    /// The first check that fails.
    fn first_failure(&self) -> Option<CheckKind> {
        ORDER
            .into_iter()
            .find(|&name| self.passes(name) == Some(false))
    }
}

/// Every cheap check on `info` that applies, in order, each in words.
pub fn checks(info: &SymbolInfo, overview: &Overview, rules: &Rules<'_>) -> Vec<Check> {
    let seen = Seen::new(info, overview, rules);
    ORDER
        .into_iter()
        .filter_map(|name| {
            let pass = seen.passes(name)?;
            let (mut words, threshold) = seen.words(name);
            if name == CheckKind::Age {
                words = format!("{words}; {}", seen.listing_note());
            }
            Some(Check {
                name: name.as_str(),
                seen: words,
                threshold,
                pass,
                reason: name.reason(),
            })
        })
        .collect()
}

/// Keeps the symbols that pass every cheap check; the others get their first failure,
/// the only check put into words.
pub fn screen(overview: &Overview, rules: &Rules<'_>) -> (Vec<Candidate>, Vec<Excluded>) {
    let mut candidates = Vec::new();
    let mut excluded = Vec::new();
    for info in overview.symbols.iter() {
        let seen = Seen::new(info, overview, rules);
        match seen.first_failure() {
            Some(name) => {
                let (what, needs) = seen.words(name);
                excluded.push(Excluded {
                    // a name that is not one is cut: it may be 10 kB
                    symbol: cut(&info.symbol, MAX_SYMBOL_BYTES).into_owned(),
                    reason: name.reason(),
                    detail: format!("{what} (needs {needs})"),
                });
            }
            None => candidates.push(Candidate {
                symbol: Symbol::new(&info.symbol).expect("the symbol_name check passed"),
                quote_volume: seen.usable_volume.expect("checked"),
                spread_bps: seen.spread_bps.expect("checked"),
                age_days: seen.age_days,
            }),
        }
    }
    (candidates, excluded)
}

#[cfg(test)]
mod tests;
mod words;
