#!/usr/bin/env python3
"""Writes a history folder's candles and funding as Binance's public archive lays them out,
for timing `universe history import` on a year of 500 symbols (6,000 monthly zips).

    python3 scripts/synthetic_history.py --out /tmp/syn500 --symbols 500 --days 365 --seed 17 --start 2024-01-01
    python3 scripts/synthetic_archive.py --history /tmp/syn500 --out /tmp/syn500-archive

Monthly 15m kline files `data/futures/um/monthly/klines/{SYMBOL}/15m/{SYMBOL}-15m-{YYYY-MM}.zip`
(12 columns, a header row, times in ms, the quote volume volume × (h + l + c)/3 where the
history has no such column) and monthly funding files, each with its `.CHECKSUM`. Synthetic:
no number is a real price.
"""

import argparse
import calendar
import hashlib
import io
import multiprocessing
import os
import zipfile
from datetime import datetime, timezone

KLINE_HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                "taker_buy_volume,taker_buy_quote_volume,ignore\n")
M15 = 900_000


def ms(text):
    stamp = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    return int(stamp.timestamp() * 1000)


def put(root, relative, csv):
    path = os.path.join(root, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    name = os.path.basename(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name[:-4] + ".csv", csv)
    data = buffer.getvalue()
    with open(path, "wb") as f:
        f.write(data)
    with open(path + ".CHECKSUM", "w") as f:
        f.write(f"{hashlib.sha256(data).hexdigest()}  {name}\n")


def month_of(time_ms):
    d = datetime.fromtimestamp(time_ms / 1000, tz=timezone.utc)
    return f"{d.year:04d}-{d.month:02d}"


def symbol_job(args):
    history, out, symbol = args
    months = {}
    with open(os.path.join(history, "klines", f"{symbol}_15m.csv")) as f:
        header = f.readline().strip().split(",")
        has_quote = header[-1] == "quote_volume"
        for line in f:
            fields = line.strip().split(",")
            if len(fields) < 6:
                continue
            t = ms(fields[0])
            o, h, l, c, v = fields[1:6]
            q = fields[6] if has_quote else f"{float(v) * (float(h) + float(l) + float(c)) / 3:.4f}"
            row = f"{t},{o},{h},{l},{c},{v},{t + M15 - 1},{q},100,{v},{q},0\n"
            months.setdefault(month_of(t), []).append(row)
    for month, rows in months.items():
        put(out, f"data/futures/um/monthly/klines/{symbol}/15m/{symbol}-15m-{month}.zip",
            KLINE_HEADER + "".join(rows))
    funding = os.path.join(history, "funding", f"{symbol}.csv")
    if os.path.exists(funding):
        rates = {}
        with open(funding) as f:
            f.readline()
            for line in f:
                time, rate = line.strip().split(",")
                t = ms(time)
                rates.setdefault(month_of(t), []).append(f"{t},8,{rate}\n")
        for month, rows in rates.items():
            put(out, f"data/futures/um/monthly/fundingRate/{symbol}/{symbol}-fundingRate-{month}.zip",
                "calc_time,funding_interval_hours,last_funding_rate\n" + "".join(rows))
    return len(months)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", required=True, help="a history folder (klines/, funding/)")
    parser.add_argument("--out", required=True, help="the archive's root (data/futures/um/ below it)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    symbols = sorted(n[: -len("_15m.csv")] for n in os.listdir(os.path.join(args.history, "klines"))
                     if n.endswith("_15m.csv"))
    with multiprocessing.Pool(args.jobs) as pool:
        files = sum(pool.map(symbol_job, [(args.history, args.out, s) for s in symbols]))
    print(f"{files} monthly kline zips of {len(symbols)} symbols under {args.out}")


if __name__ == "__main__":
    main()
