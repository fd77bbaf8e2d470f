#!/usr/bin/env python3
"""Benchmark of a refresh against the recorded real market, served by
../shared/tools/replay_binance.py with 50 ms of latency (a real network's round trip).

    python3 scripts/bench.py [--runs 5] [--shared ../shared] [--latency-ms 50]

Scenarios, each run --runs times (the table shows the median, and the slowest):
  (a) cold refresh, default filters        (no candle cache)
  (b) warm refresh, default filters        (the cache (a) left)
  (c) cold refresh, every eligible symbol  (--min-quote-volume 0 --max-spread-bps 1000000)
  (d) features of every symbol             (as (c) with --min-age-days 0; features time)

Wall time and peak resident memory are the universe process's own (wait4 rusage).
Requests, weight and peak in-flight requests are the replay server's count (/__stats),
reset before each run. Uses only the Python standard library.
"""
import argparse, json, os, platform, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--latency-ms", type=float, default=50.0)
    args = ap.parse_args()
    snapshot = os.path.join(args.shared, "data", "binance-um-2025-10-23")
    replay = os.path.join(args.shared, "tools", "replay_binance.py")
    for path in (snapshot, replay):
        if not os.path.exists(path):
            sys.exit(f"bench: {path} not found (give --shared)")

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "universe")
    work = tempfile.mkdtemp(prefix="universe-bench-")
    port_file = os.path.join(work, "port")
    server = subprocess.Popen([sys.executable, replay, "--snapshot", snapshot, "--now", "--port", "0",
                               "--latency-ms", str(args.latency_ms), "--port-file", port_file],
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not os.path.exists(port_file):
            if time.time() > deadline or server.poll() is not None:
                sys.exit("bench: the replay server did not start")
            time.sleep(0.1)
        base = f"http://127.0.0.1:{open(port_file).read().strip()}"
        results = {k: [] for k in "abcd"}
        for i in range(args.runs):
            store = os.path.join(work, f"store-{i}")
            everything = ["--min-quote-volume", "0", "--max-spread-bps", "1000000"]
            results["a"].append(refresh(binary, base, store, []))
            results["b"].append(refresh(binary, base, store, []))
            results["c"].append(refresh(binary, base, store, everything + ["--no-cache"]))
            results["d"].append(refresh(binary, base, store, everything + ["--no-cache", "--min-age-days", "0"]))
        report(results, args)
    finally:
        server.terminate()
        server.wait()


def stats(base):
    with urllib.request.urlopen(f"{base}/__stats") as r:
        return json.load(r)


def refresh(binary, base, store, extra):
    urllib.request.urlopen(urllib.request.Request(f"{base}/__reset", method="POST")).read()
    cmd = [binary, "generate", "--base-url", base, "--store", f"file:{store}", "--json", *extra]
    out = open(os.path.join(store + ".json"), "w") if os.path.isdir(os.path.dirname(store)) else subprocess.DEVNULL
    started = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env={**os.environ, "UNIVERSE_WEIGHT_BUDGET": "2300", "UNIVERSE_MAX_DATA_AGE": "3900"})
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    out.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited {os.waitstatus_to_exitcode(status)}")
    report = json.load(open(store + ".json"))
    s = stats(base)
    return {"wall": wall, "rss_mb": usage.ru_maxrss / 1024, "requests": s["requests"], "weight": s["weight"],
            "peak": s["peak_in_flight"], "features_ms": report["features_us"] / 1000,
            "scored": report["scored_count"], "fetched": report["request_stats"]["candle_symbols"],
            "hits": report["request_stats"]["cache_hits"]}


def report(results, args):
    names = {"a": "(a) cold, default filters", "b": "(b) warm, default filters",
             "c": "(c) cold, every eligible symbol", "d": "(d) every symbol, features"}
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}; "
          f"replay latency {args.latency_ms:g} ms; {args.runs} runs each, median (slowest)")
    print()
    print("| scenario | wall time | requests | request weight | peak in-flight | peak memory | candles fetched (from cache) | features |")
    print("|---|---|---|---|---|---|---|---|")
    for key, runs in results.items():
        med = lambda k: statistics.median(r[k] for r in runs)
        top = lambda k: max(r[k] for r in runs)
        r0 = runs[0]
        print(f"| {names[key]} | {med('wall'):.2f} s ({top('wall'):.2f}) | {r0['requests']} | {r0['weight']} | "
              f"{r0['peak']} | {med('rss_mb'):.1f} MB ({top('rss_mb'):.1f}) | {r0['fetched']} ({r0['hits']}) | "
              f"{med('features_ms'):.1f} ms for {r0['scored']} scored |")


if __name__ == "__main__":
    main()
