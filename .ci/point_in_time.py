"""The backtest's universe at t equals generate's against replay_binance.py serving the
history at t: the same universe_hash, order and leverage; alone (a first publish) and in a
sequence that carries churn control's state (min_hold 0, since generate dates its publishes
by the local clock and the backtest by the exchange's)."""
import json, os, subprocess, sys, urllib.request

universe, history, base, work = sys.argv[1], os.environ["HISTORY"], os.environ["BASE"], os.environ["WORK"]
H = 3_600_000


def run(*args):
    out = subprocess.run([universe, *args], check=True, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if not k.startswith("UNIVERSE_")}).stdout
    return json.loads(out)


def move(t):
    urllib.request.urlopen(urllib.request.Request(f"{base}/__time?ms={t}", method="POST")).read()


def published(report):
    chosen = {s["symbol"]: s for s in report["symbols"] if s["selected"]}
    return report["universe_hash"], report["universe"], [chosen[s]["leverage"] for s in report["universe"]]


def stepped(step):
    return step["universe_hash"], step["universe"], step["leverage"]


def at(t):
    return subprocess.run(["date", "-u", "-d", f"@{t // 1000}", "+%Y-%m-%d %H:%M"], capture_output=True, text=True).stdout.strip()


config = os.path.join(work, "universe.toml")
open(config, "w").write('[churn]\nmin_hold = "0s"\n')
live = ["--base-url", base, "--no-cache", "--max-data-age", "0"]
moments = [1689465600000, 1689465600000 + 37 * H + 15 * 60_000, 1690200000000, 1690848000000, 1691020800000]
for n, t in enumerate(moments):
    move(t)
    generated = run("generate", *live, "--store", f"file:{work}/alone-{n}", "--dry-run", "--json")
    tested = run("backtest", "--history", history, "--from", at(t), "--to", at(t), "--json", "--draws", "1")
    assert published(generated) == stepped(tested["steps"][0]), (t, published(generated), stepped(tested["steps"][0]))
sequence = [1690200000000 + k * H for k in range(6)]
generated = []
for t in sequence:
    move(t)
    generated.append(published(run("--config", config, "generate", *live, "--store", f"file:{work}/sequence", "--json")))
tested = run("--config", config, "backtest", "--history", history, "--from", at(sequence[0]), "--to", at(sequence[-1]),
             "--step", "1h", "--json", "--draws", "1")
assert generated == [stepped(s) for s in tested["steps"]], (generated, [stepped(s) for s in tested["steps"]])
changes = sum(a[0] != b[0] for a, b in zip(generated, generated[1:]))
print(f"ci: backtest equals generate against the replay at {len(moments)} moments, and over {len(sequence)} "
      f"hourly publishes with churn carried ({changes} universe changes)")
