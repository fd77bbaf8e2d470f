//! A deterministic synthetic USDⓈ-M market: exchangeInfo, 24h tickers, book tickers and
//! 15m candles, rendered exactly as Binance's REST API renders them.
//!
//! Shared by the tests' fake exchange and by `examples/make_snapshot.rs`, which writes
//! the README's offline snapshot from it. Synthetic: no number here is a real price.

#![allow(dead_code)]

use std::fmt::Write as _;

pub const M15: i64 = 15 * 60_000;
pub const DAY: i64 = 86_400_000;
/// Candles served per symbol (enough for the 96h + the hour in progress a refresh reads).
pub const HISTORY: usize = 500;
/// `deliveryDate` of a perpetual with no delivery scheduled.
pub const NO_DELIVERY: i64 = 4_133_404_800_000;

/// One symbol and everything the exchange says of it.
#[derive(Debug, Clone)]
pub struct Listing {
    pub symbol: String,
    pub contract_type: &'static str,
    pub status: &'static str,
    pub quote_asset: &'static str,
    pub delivery_date: i64,
    pub onboard_date: i64,
    /// 24h quote volume as rendered (a string, so `"NaN"` can be served); `None`: no ticker.
    pub quote_volume: Option<String>,
    /// Best bid and ask as rendered; `None`: no book ticker.
    pub book: Option<(String, String)>,
    /// 15m candles, oldest first: (open time, open, high, low, close).
    pub candles: Vec<(i64, f64, f64, f64, f64)>,
}

#[derive(Debug, Clone)]
pub struct Market {
    pub server_time: i64,
    pub listings: Vec<Listing>,
    /// The `REQUEST_WEIGHT` limit per minute exchangeInfo states.
    pub weight_limit: u32,
}

/// splitmix64: small, seeded, the same everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [-1, 1).
    pub fn signed(&mut self) -> f64 {
        self.unit() * 2.0 - 1.0
    }
}

/// Rounds to 8 decimals and prints the shortest form, as Binance does.
pub fn decimal(x: f64) -> String {
    if !x.is_finite() {
        return "NaN".into();
    }
    let rounded = (x * 1e8).round() / 1e8;
    format!("{rounded}")
}

/// A random walk of `HISTORY` 15m candles ending with the one in progress at `server_time`.
pub fn walk(
    rng: &mut Rng,
    server_time: i64,
    start_price: f64,
    drift: f64,
    volatility: f64,
) -> Vec<(i64, f64, f64, f64, f64)> {
    let forming = server_time.div_euclid(M15) * M15;
    let first = forming - (HISTORY as i64 - 1) * M15;
    let mut close = start_price;
    (0..HISTORY as i64)
        .map(|i| {
            let open = close;
            close = (open * (1.0 + drift + volatility * rng.signed())).max(start_price * 1e-3);
            let high = open.max(close) * (1.0 + volatility * rng.unit() / 2.0);
            let low = open.min(close) * (1.0 - volatility * rng.unit() / 2.0);
            let q = |p: f64| (p * 1e8).round() / 1e8;
            (first + i * M15, q(open), q(high), q(low), q(close))
        })
        .collect()
}

impl Listing {
    /// A healthy USDT perpetual, listed a year ago, liquid, tight book.
    pub fn tradable(symbol: &str, server_time: i64, rng: &mut Rng) -> Self {
        let price = 0.05 + 500.0 * rng.unit() * rng.unit();
        let drift = 0.002 * rng.signed();
        let volatility = 0.001 + 0.012 * rng.unit();
        let candles = walk(rng, server_time, price, drift, volatility);
        let last = candles.last().expect("candles").4;
        let quote_volume = 25e6 + 2e9 * rng.unit();
        let half_spread = last * (0.5 + 4.0 * rng.unit()) / 2e4;
        Self {
            symbol: symbol.to_owned(),
            contract_type: "PERPETUAL",
            status: "TRADING",
            quote_asset: "USDT",
            delivery_date: NO_DELIVERY,
            onboard_date: server_time - 365 * DAY,
            quote_volume: Some(decimal(quote_volume)),
            book: Some((decimal(last - half_spread), decimal(last + half_spread))),
            candles,
        }
    }

    fn price(&self) -> f64 {
        self.candles.last().map_or(1.0, |c| c.4)
    }
}

impl Market {
    /// `tradable` healthy symbols (`S00USDT`, `S01USDT`, …) plus one symbol for each
    /// exclusion reason, named after it.
    pub fn generate(server_time: i64, tradable: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut listings: Vec<Listing> = (0..tradable)
            .map(|i| Listing::tradable(&format!("S{i:02}USDT"), server_time, &mut rng))
            .collect();
        let mut odd = |name: &str, change: &dyn Fn(&mut Listing)| {
            let mut listing = Listing::tradable(name, server_time, &mut rng);
            change(&mut listing);
            listings.push(listing);
        };
        odd("USDCPERPUSDC", &|l| l.quote_asset = "USDC");
        odd("QUARTERUSDT_261225", &|l| {
            l.contract_type = "CURRENT_QUARTER";
        });
        odd("SETTLINGUSDT", &|l| l.status = "SETTLING");
        odd("DELISTUSDT", &|l| l.delivery_date = server_time + 3 * DAY);
        odd("NEWUSDT", &|l| l.onboard_date = server_time - 5 * DAY);
        odd("NOTICKERUSDT", &|l| l.quote_volume = None);
        odd("ILLIQUIDUSDT", &|l| l.quote_volume = Some("1500000".into()));
        odd("CROSSEDUSDT", &|l| {
            let p = l.price();
            l.book = Some((decimal(p * 1.001), decimal(p)));
        });
        odd("WIDEUSDT", &|l| {
            let p = l.price();
            l.book = Some((decimal(p * 0.997), decimal(p * 1.003)));
        });
        odd("YOUNGUSDT", &|l| {
            // listed long ago but trading resumed 50 hours ago (a relisting)
            let keep = l.candles.len() - 200;
            l.candles.drain(..keep);
        });
        odd("ZEROUSDT", &|l| {
            let i = l.candles.len() - 30;
            l.candles[i].3 = 0.0;
        });
        Self {
            server_time,
            listings,
            weight_limit: 2400,
        }
    }

    pub fn listing(&self, symbol: &str) -> Option<&Listing> {
        self.listings.iter().find(|l| l.symbol == symbol)
    }

    pub fn listing_mut(&mut self, symbol: &str) -> &mut Listing {
        self.listings
            .iter_mut()
            .find(|l| l.symbol == symbol)
            .unwrap_or_else(|| panic!("no symbol {symbol}"))
    }

    /// Symbols that pass every check with default settings.
    pub fn tradable_symbols(&self) -> Vec<String> {
        self.listings
            .iter()
            .filter(|l| l.symbol.starts_with('S') && l.symbol.len() == 7)
            .map(|l| l.symbol.clone())
            .collect()
    }

    pub fn time_body(&self) -> String {
        format!(r#"{{"serverTime":{}}}"#, self.server_time)
    }

    pub fn exchange_info_body(&self) -> String {
        let mut out = format!(
            r#"{{"timezone":"UTC","serverTime":{},"futuresType":"U_MARGINED","rateLimits":[{{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":{}}},{{"rateLimitType":"ORDERS","interval":"MINUTE","intervalNum":1,"limit":1200}}],"exchangeFilters":[],"assets":[],"symbols":["#,
            self.server_time, self.weight_limit
        );
        for (i, l) in self.listings.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let base = l.symbol.trim_end_matches(l.quote_asset);
            let _ = write!(
                out,
                r#"{{"symbol":{},"pair":{},"contractType":"{}","deliveryDate":{},"onboardDate":{},"status":"{}","maintMarginPercent":"2.5000","requiredMarginPercent":"5.0000","baseAsset":{},"quoteAsset":"{q}","marginAsset":"{q}","pricePrecision":4,"quantityPrecision":0,"baseAssetPrecision":8,"quotePrecision":8,"underlyingType":"COIN","underlyingSubType":[],"triggerProtect":"0.0500","liquidationFee":"0.015000","marketTakeBound":"0.05","filters":[],"orderTypes":["LIMIT","MARKET"],"timeInForce":["GTC"]}}"#,
                json_string(&l.symbol),
                json_string(&l.symbol),
                l.contract_type,
                l.delivery_date,
                l.onboard_date,
                l.status,
                json_string(base),
                q = l.quote_asset,
            );
        }
        out.push_str("]}");
        out
    }

    pub fn ticker_body(&self) -> String {
        let rows: Vec<String> = self
            .listings
            .iter()
            .filter_map(|l| {
                let qv = l.quote_volume.as_ref()?;
                let last = decimal(l.price());
                Some(format!(
                    r#"{{"symbol":{},"priceChange":"0","priceChangePercent":"0.000","weightedAvgPrice":"{last}","lastPrice":"{last}","lastQty":"1","openPrice":"{last}","highPrice":"{last}","lowPrice":"{last}","volume":"1000","quoteVolume":"{qv}","openTime":{},"closeTime":{},"firstId":1,"lastId":1000,"count":1000}}"#,
                    json_string(&l.symbol),
                    self.server_time - DAY,
                    self.server_time
                ))
            })
            .collect();
        format!("[{}]", rows.join(","))
    }

    pub fn book_body(&self) -> String {
        let rows: Vec<String> = self
            .listings
            .iter()
            .filter_map(|l| {
                let (bid, ask) = l.book.as_ref()?;
                Some(format!(
                    r#"{{"symbol":{},"bidPrice":"{bid}","bidQty":"10","askPrice":"{ask}","askQty":"10","time":{},"lastUpdateId":1}}"#,
                    json_string(&l.symbol),
                    self.server_time
                ))
            })
            .collect();
        format!("[{}]", rows.join(","))
    }

    /// 15m klines like `GET /fapi/v1/klines`: from `start_time` if given (else the last
    /// `limit`), at most `limit` rows.
    pub fn klines_body(
        &self,
        symbol: &str,
        start_time: Option<i64>,
        limit: usize,
    ) -> Option<String> {
        let candles = &self.listing(symbol)?.candles;
        let (from, to) = match start_time {
            Some(start) => {
                let from = candles.partition_point(|c| c.0 < start);
                (from, (from + limit).min(candles.len()))
            }
            None => (candles.len().saturating_sub(limit), candles.len()),
        };
        let rows: Vec<String> = candles[from..to]
            .iter()
            .map(|&(t, o, h, l, c)| {
                format!(
                    r#"[{t},"{}","{}","{}","{}","1000",{},"{}",100,"500","{}","0"]"#,
                    decimal(o),
                    decimal(h),
                    decimal(l),
                    decimal(c),
                    t + M15 - 1,
                    decimal(1000.0 * c),
                    decimal(500.0 * c)
                )
            })
            .collect();
        Some(format!("[{}]", rows.join(",")))
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}
