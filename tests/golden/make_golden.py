#!/usr/bin/env python3
"""Writes indicators.json: TA-Lib's NATR(14), EMA(20), EMA(50) and ROC(20) over three
deterministic OHLC series, the oracle for tests/golden.rs.

    python3 -m venv /tmp/talib && /tmp/talib/bin/pip install TA-Lib numpy
    /tmp/talib/bin/python tests/golden/make_golden.py > tests/golden/indicators.json

The series come from a fixed linear congruential generator, so they are the same on
every machine; the outputs are TA-Lib's, not ours.
"""
import json, math, sys
import numpy as np
import talib


class Lcg:
    def __init__(self, seed):
        self.state = seed

    def unit(self):
        self.state = (6364136223846793005 * self.state + 1442695040888963407) % 2**64
        return (self.state >> 11) / 2**53


def series(seed, n, start, vol, gap_at=None):
    rng, close, rows = Lcg(seed), start, []
    for i in range(n):
        open_ = close
        close = open_ * (1 + vol * (2 * rng.unit() - 1))
        if i == gap_at:                       # an overnight-style gap: TR must use |h - c_prev|
            open_ = close = open_ * 1.25
        high = max(open_, close) * (1 + vol * rng.unit() / 2)
        low = min(open_, close) * (1 - vol * rng.unit() / 2)
        rows.append([round(open_, 8), round(high, 8), round(low, 8), round(close, 8)])
    return rows


def nulls(values):
    return [None if math.isnan(v) else float(v) for v in values]


cases = []
for name, rows in [
    ("random_walk", series(1, 120, 100.0, 0.01)),
    ("low_price_high_vol", series(2, 120, 0.0123, 0.05)),
    ("gap_up", series(3, 120, 2500.0, 0.004, gap_at=60)),
]:
    o, h, l, c = (np.array(col, dtype=float) for col in zip(*rows))
    cases.append({
        "name": name,
        "ohlc": rows,
        "natr14": nulls(talib.NATR(h, l, c, timeperiod=14)),
        "atr14": nulls(talib.ATR(h, l, c, timeperiod=14)),
        "ema20": nulls(talib.EMA(c, timeperiod=20)),
        "ema50": nulls(talib.EMA(c, timeperiod=50)),
        "roc20": nulls(talib.ROC(c, timeperiod=20)),
    })
json.dump({"talib_version": talib.__version__, "cases": cases}, sys.stdout, indent=1)
sys.stdout.write("\n")
