#!/usr/bin/env python3
"""The backtest's scale benchmark: a synthetic year of 500 symbols at 30-minute steps, and the
2023 history at 15-minute steps.

    python3 scripts/bench_year.py [--runs 5] [--dir /tmp/universe-year] [--baseline BINARY]
                                  [--symbols 500] [--days 365] [--shared ../shared]
                                  [--tune-runs 3] [--tune-trials 200]

It builds the release binary, makes the synthetic history once into --dir with
scripts/synthetic_history.py (seed 17, from 2024-01-01: listings and delistings inside the
year, volatility regimes; about 1.2 GB of CSV, never committed), then runs
`universe backtest --step 30m --json` on it --runs times and prints the minimum, median and
maximum of the wall time, CPU time and peak resident memory, with the machine. With
--baseline (another build of universe) it also runs that build once on the same folder and
compares every step of the two `--json` outputs: the decision (time, universe in order,
hash, leverage, direction, replacements, regime, failure), then each portfolio's value; it
prints how many steps agree and the first that does not. With --tune-runs N it also times
`universe tune --step 30m --trials 200` (4 folds) on the same year N times. Uses only the Python
standard library.
"""
import argparse, json, os, platform, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.processor())
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    return f"{os.cpu_count()} cores ({cpu}), {mem / 2**20:.0f} GiB, {platform.system()} {platform.release()}"


def timed(argv, out_path=None):
    """Runs argv in a child and reads its rusage (wall, cpu, peak MB)."""
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        out = os.open(out_path or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        os.execv(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - started
    if status != 0:
        sys.exit(f"{' '.join(argv)} failed (status {status})")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024}


def spread(runs, key, unit, digits):
    values = [r[key] for r in runs]
    return (f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f} / "
            f"{max(values):.{digits}f} {unit}")


def report(name, runs):
    print(f"{name}: {len(runs)} runs, min / median / max")
    print(f"  wall  {spread(runs, 'wall', 's', 2)}")
    print(f"  cpu   {spread(runs, 'cpu', 's', 2)}")
    print(f"  peak  {spread(runs, 'rss_mib', 'MiB', 0)}")


DECISION_FIELDS = ["time", "universe", "universe_hash", "leverage", "direction", "replacements", "regime",
                   "failed"]


def compare(ours, theirs):
    """Every step's decision, then every portfolio's value, of two builds' --json."""
    a, b = json.load(open(ours))["steps"], json.load(open(theirs))["steps"]
    if len(a) != len(b):
        return f"{len(a)} steps against {len(b)}"
    for k, (x, y) in enumerate(zip(a, b)):
        for field in DECISION_FIELDS:
            if x.get(field) != y.get(field):
                return f"step {k} (time {x.get('time')}) differs in {field}: {x.get(field)} against {y.get(field)}"
    said = f"every one of {len(a)} decisions identical ({', '.join(DECISION_FIELDS)})"
    differ = next((k for k, (x, y) in enumerate(zip(a, b)) if x.get("values") != y.get("values")), None)
    if differ is None:
        return said + ", and every portfolio's value"
    return said + f"; portfolio values differ from step {differ} on (a change of the accounting)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default="/tmp/universe-year")
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--baseline", help="another build of universe to compare the steps with")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--tune-runs", type=int, default=0, help="time tune on the year this many times")
    ap.add_argument("--tune-trials", type=int, default=200)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "universe")
    stamp = os.path.join(args.dir, ".made-with")
    wanted = f"--symbols {args.symbols} --days {args.days} --seed 17 --start 2024-01-01"
    if not (os.path.exists(stamp) and open(stamp).read() == wanted):
        print(f"making the synthetic history ({wanted}) in {args.dir} …", flush=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "synthetic_history.py"), "--out", args.dir,
                        *wanted.split()], check=True)
        open(stamp, "w").write(wanted)
    print(f"machine: {machine()}")
    year = [binary, "backtest", "--history", args.dir, "--step", "30m", "--json"]
    ours = os.path.join(args.dir, ".bench-ours.json")
    timed(year, ours)  # warm-up: the files into the page cache
    report(f"synthetic {args.symbols} symbols x {args.days} days, every 30m",
           [timed(year, ours) for _ in range(args.runs)])
    if args.baseline:
        theirs = os.path.join(args.dir, ".bench-baseline.json")
        timed([args.baseline, *year[1:]], theirs)
        print(f"  against {args.baseline}: {compare(ours, theirs)}")
    if args.tune_runs:
        tune = [binary, "tune", "--history", args.dir, "--step", "30m", "--trials", str(args.tune_trials), "--json"]
        out = os.path.join(args.dir, ".bench-tune.json")
        report(f"tune, {args.tune_trials} trials, 4 folds, on the same year",
               [timed(tune, out) for _ in range(args.tune_runs)])
        print(f"  verdict: {json.load(open(out))['verdict']}")
    history = os.path.join(args.shared, "data", "binance-um-2023-07-history")
    if os.path.isdir(history):
        short = [binary, "backtest", "--history", history]
        timed(short)
        report("2023 history (60 symbols, 30 days), every 15m", [timed(short) for _ in range(args.runs)])
    else:
        print(f"(no 2023 history at {history}: skipped)")


if __name__ == "__main__":
    main()
