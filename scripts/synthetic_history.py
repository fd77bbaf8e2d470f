#!/usr/bin/env python3
"""A synthetic history folder for benchmarks, from a fixed seed: `universe backtest` reads it
like a recorded one (exchangeInfo.json, meta.json, klines/{SYMBOL}_15m.csv, funding/).

    python3 scripts/synthetic_history.py --out /tmp/year [--symbols 500] [--days 365] [--seed 17]

What it holds, so that a year exercises what real years do:
- listings and delistings inside the span: a third of the symbols list during it (their
  files start then), a tenth stop before its end (their files end there, and exchangeInfo
  says SETTLING);
- volatility regimes: the whole market switches between calm, normal and stormy spells of
  one to six weeks, and each symbol has a volatility and a liquidity of its own;
- prices from a geometric random walk with no drift, candles whose high and low hold open
  and close, volumes that keep each symbol's 24h quote volume around its own level;
- funding every 8 h.

The same arguments give the same bytes. Generated folders are large (a year of 500 symbols
is about 1 GB): keep them out of the repository. Uses only the Python standard library.
"""
import argparse, json, math, os, random, time

M15 = 15 * 60 * 1000
DAY = 96 * M15
REGIMES = [(0.5, "calm"), (1.0, "normal"), (2.2, "stormy")]


def utc(ms):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000))


def regimes(rng, candles):
    """The market's volatility multiplier per candle: spells of one to six weeks."""
    out = []
    while len(out) < candles:
        scale, _ = rng.choice(REGIMES)
        out.extend([scale] * (rng.randint(7, 42) * 96))
    return out[:candles]


def symbol_info(name, onboard, status):
    return {
        "symbol": name, "pair": name, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
        "onboardDate": onboard, "status": status, "baseAsset": name[:-4], "quoteAsset": "USDT",
        "marginAsset": "USDT", "pricePrecision": 8, "quantityPrecision": 3, "underlyingType": "COIN",
        "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.00000001", "minPrice": "0.00000001",
                     "maxPrice": "1000000000"}],
    }


def write_symbol(out, name, rng, first, last, market, start):
    """One symbol's candles from candle `first` to `last` (exclusive) and its funding."""
    price = math.exp(rng.uniform(math.log(0.001), math.log(50_000)))
    sigma = rng.uniform(0.002, 0.012)  # per 15m, before the market's regime
    daily_qv = math.exp(rng.uniform(math.log(5e6), math.log(2e9)))
    rows = ["time,open,high,low,close,volume\n"]
    for i in range(first, last):
        s = sigma * market[i]
        open_ = price
        close = open_ * math.exp(rng.gauss(0.0, s))
        high = max(open_, close) * math.exp(abs(rng.gauss(0.0, s * 0.6)))
        low = min(open_, close) * math.exp(-abs(rng.gauss(0.0, s * 0.6)))
        o, h, l, c = (float(f"{x:.10g}") for x in (open_, high, low, close))
        h, l = max(h, o, c), min(l, o, c)
        volume = daily_qv / 96 * rng.lognormvariate(0.0, 0.5) / c
        rows.append(f"{utc(start + i * M15)},{o!r},{h!r},{l!r},{c!r},{volume:.3f}\n")
        price = c
    with open(os.path.join(out, "klines", f"{name}_15m.csv"), "w") as f:
        f.writelines(rows)
    funding = ["time,rate\n"]
    for i in range(first - first % 32 + 32, last, 32):  # every 8 h
        funding.append(f"{utc(start + i * M15)},{rng.gauss(0.0001, 0.0003):.6f}\n")
    with open(os.path.join(out, "funding", f"{name}.csv"), "w") as f:
        f.writelines(funding)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--start", default="2024-01-01", help="UTC date of the first candle")
    args = ap.parse_args()
    start = int(time.mktime(time.strptime(args.start, "%Y-%m-%d")) - time.timezone) * 1000
    candles = args.days * 96
    end = start + candles * M15
    rng = random.Random(args.seed)
    market = regimes(rng, candles)
    for sub in ("klines", "funding"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    infos = []
    for k in range(args.symbols):
        name = f"SYN{k:03d}USDT"
        own = random.Random(rng.getrandbits(64))
        first = own.randrange(0, candles * 2 // 3) // 96 * 96 if own.random() < 1 / 3 else 0
        delisted = own.random() < 0.1 and candles - first > 60 * 96
        last = own.randrange(first + 30 * 96, candles) if delisted else candles
        onboard = start + first * M15 if first else start - own.randrange(30, 2000) * DAY
        write_symbol(args.out, name, own, first, last, market, start)
        infos.append(symbol_info(name, onboard, "SETTLING" if delisted else "TRADING"))
    info = {"timezone": "UTC", "serverTime": end,
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                            "limit": 2400}],
            "symbols": infos}
    with open(os.path.join(args.out, "exchangeInfo.json"), "w") as f:
        json.dump(info, f)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"server_time_ms": end}, f)
    listed = sum(1 for i in infos if i["onboardDate"] >= start)
    settling = sum(1 for i in infos if i["status"] == "SETTLING")
    print(f"{args.symbols} symbols x {args.days} days into {args.out}: {listed} listed and "
          f"{settling} delisted within the span")


if __name__ == "__main__":
    main()
