#!/usr/bin/env python3
"""Benchmark of `universe backtest` on the 2023 history (60 symbols, 30 days of 15m candles).

    python3 scripts/bench_backtest.py [--runs 5] [--shared ../shared]

Scenarios, each run --runs times (the table shows the median, and the slowest):
  (a) every 15m, 100 random draws   (the default: ~2,500 decisions)
  (b) every 15m, 1 random draw      (the decisions and the portfolios, almost no band)
  (c) every 15m, 1 thread           (RAYON_NUM_THREADS=1: what the parallel assessing saves)

Wall time and peak resident memory are the process's own (wait4 rusage); "decisions" and
"outcomes" are the times the command itself reports. Uses only the Python standard library.
"""
import argparse, os, re, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(binary, history, extra, env):
    proc = subprocess.Popen([binary, "backtest", "--history", history, *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env={**os.environ, **env}, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    assert status == 0, out
    wall = usage.ru_utime + usage.ru_stime
    match = re.search(r"(\d+) decisions in ([\d.]+) s, outcomes in ([\d.]+) s", out)
    return {"cpu": wall, "rss_mb": usage.ru_maxrss / 1024, "decisions": int(match[1]),
            "decide_s": float(match[2]), "outcome_s": float(match[3])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    args = ap.parse_args()
    history = os.path.join(args.shared, "data", "binance-um-2023-07-history")
    if not os.path.isdir(history):
        sys.exit(f"no history at {history}")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "universe")
    scenarios = [("(a) 15m, 100 draws", [], {}), ("(b) 15m, 1 draw", ["--draws", "1"], {}),
                 ("(c) 15m, 100 draws, 1 thread", [], {"RAYON_NUM_THREADS": "1"})]
    print(f"{'scenario':<30} {'decisions':>9} {'decide s':>9} {'outcomes s':>10} {'total s':>8} {'cpu s':>6} {'peak MB':>8}")
    for name, extra, env in scenarios:
        runs = []
        for _ in range(args.runs):
            started = time.monotonic()
            r = run(binary, history, extra, env)
            r["wall"] = time.monotonic() - started
            runs.append(r)
        med = lambda k: statistics.median(r[k] for r in runs)
        worst = lambda k: max(r[k] for r in runs)
        print(f"{name:<30} {runs[0]['decisions']:>9} {med('decide_s'):>5.2f} ({worst('decide_s'):.2f}) "
              f"{med('outcome_s'):>5.2f} ({worst('outcome_s'):.2f}) {med('wall'):>4.2f} ({worst('wall'):.2f}) "
              f"{med('cpu'):>5.2f} {med('rss_mb'):>7.1f}")


if __name__ == "__main__":
    main()
