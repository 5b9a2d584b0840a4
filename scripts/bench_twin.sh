#!/usr/bin/env bash
# Twin against SimPy, two comparisons. Run from anywhere; prints Markdown tables.
#
# 1. Engine: one FIFO furnace, 100,000 batches (exponential inter-arrival 100 s, melt 80 s).
#    Rust: `cargo bench -p lodestone-twin --bench fifo` (median of 20 runs); SimPy:
#    scripts/peer/twin_fifo_simpy.py (in-process time).
# 2. Whole reference plant (examples/plant/baotou-50kt.toml, 365 days after the file's 14-day
#    warm-up), whole processes timed by wall clock (median; one untimed warm-up run first):
#      target/release/lodestone twin run PLANT --replications R --days 365 --logistics-only
#      scripts/.venv/bin/python scripts/peer/twin_plant_simpy.py PLANT --replications R --days 365
#    for R = 1 (the issue's target: ≥ 30× faster than SimPy) and R = 10; then the estimates of the
#    10-replication runs side by side (same seeds 1..10, but different random streams, so they
#    agree within their 95 % intervals, not digit for digit).
#
# Usage: scripts/bench_twin.sh [--plant-only | --fifo-only]
# Knobs: RUST_RUNS (default 20), SIMPY_RUNS (3) timed runs for R = 1; REPS10=0 skips R = 10
#   (SimPy takes ≈ 45 s for it; timed once, Rust RUST10_RUNS=5 times); PLANT (TOML path).
# Needs scripts/.venv with simpy (scripts/peer/setup_venv.sh) and builds
# `cargo build --release -p lodestone-cli`.
set -euo pipefail
cd "$(dirname "$0")/.."

RUST_RUNS="${RUST_RUNS:-20}"
SIMPY_RUNS="${SIMPY_RUNS:-3}"
RUST10_RUNS="${RUST10_RUNS:-5}"
REPS10="${REPS10:-1}"
PLANT="${PLANT:-examples/plant/baotou-50kt.toml}"
PY=scripts/.venv/bin/python
LODESTONE=target/release/lodestone
fifo=1 plant=1
case "${1:-}" in
  --plant-only) fifo=0 ;;
  --fifo-only) plant=0 ;;
  "") ;;
  -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
  *) echo "bench_twin.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

have_simpy=0
if [ -x "$PY" ] && "$PY" -c "import simpy" 2>/dev/null; then
  have_simpy=1
else
  echo "SimPy not installed: run scripts/peer/setup_venv.sh" >&2
fi

# --- 1. the engine: one FIFO furnace ------------------------------------------------------
if [ "$fifo" = 1 ]; then
  bench=$(cargo bench -p lodestone-twin --bench fifo 2>&1 | grep "fifo_furnace_100k_batches")
  echo "$bench"
  # The median column of divan's table, e.g. "5.224 ms".
  median=$(echo "$bench" | awk -F'│' '{print $3}' | xargs)
  rust_s=$(python3 -c "
v, unit = '$median'.split()
print(float(v) * {'ns': 1e-9, 'µs': 1e-6, 'us': 1e-6, 'ms': 1e-3, 's': 1.0}[unit])")
  simpy_s=""
  if [ "$have_simpy" = 1 ]; then
    simpy_s=$("$PY" scripts/peer/twin_fifo_simpy.py 100000 | python3 -c "import json,sys; print(json.load(sys.stdin)['seconds'])")
  fi
  echo
  echo "| one FIFO furnace, 100k batches | seconds |"
  echo "|---|---|"
  echo "| Lodestone twin engine | $(python3 -c "print(f'{$rust_s:.4f}')") |"
  if [ -n "$simpy_s" ]; then
    echo "| SimPy 4.1 (same model) | $(python3 -c "print(f'{$simpy_s:.3f}')") |"
    echo "| speed-up | $(python3 -c "print(f'{$simpy_s / $rust_s:.0f}×')") |"
  fi
fi

# --- 2. the whole reference plant ---------------------------------------------------------
[ "$plant" = 1 ] || exit 0
if [ "$have_simpy" = 0 ]; then
  echo "bench_twin.sh: the plant comparison needs SimPy (scripts/peer/setup_venv.sh)" >&2
  exit 1
fi
cargo build --release -q -p lodestone-cli >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# wall RUNS WARMUP OUT CMD... : median wall seconds of RUNS whole-process runs (after WARMUP
# untimed ones); the last run's stdout goes to OUT. Every run must exit 0.
wall() {
  python3 - "$@" <<'PYEOF'
import statistics, subprocess, sys, time
runs, warmup, out, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
for _ in range(warmup):
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, check=True)
    times.append(time.perf_counter() - t0)
open(out, "wb").write(p.stdout)
print(statistics.median(times))
PYEOF
}

rust_cmd=("$LODESTONE" twin run "$PLANT" --days 365 --logistics-only)
simpy_cmd=("$PY" scripts/peer/twin_plant_simpy.py "$PLANT" --days 365)
echo "timing the plant: lodestone × $RUST_RUNS, SimPy × $SIMPY_RUNS (1 replication)…" >&2
r1=$(wall "$RUST_RUNS" 1 "$tmp/r1.txt" "${rust_cmd[@]}" --replications 1)
s1=$(wall "$SIMPY_RUNS" 1 "$tmp/s1.json" "${simpy_cmd[@]}" --replications 1)
r10="" s10=""
if [ "$REPS10" != 0 ]; then
  echo "timing the plant: lodestone × $RUST10_RUNS, SimPy × 1 (10 replications)…" >&2
  r10=$(wall "$RUST10_RUNS" 0 "$tmp/r10.txt" "${rust_cmd[@]}" --replications 10)
  s10=$(wall 1 0 "$tmp/s10.json" "${simpy_cmd[@]}" --replications 10)
  reps=10
else
  cp "$tmp/s1.json" "$tmp/s10.json"
  reps=1
fi
# The Rust estimates for the table: the same run with --json (same seeds, same numbers).
"${rust_cmd[@]}" --replications "$reps" --json > "$tmp/r.json"

python3 - "$PLANT" "$r1" "$s1" "$r10" "$s10" "$tmp/r.json" "$tmp/s10.json" "$RUST_RUNS" "$SIMPY_RUNS" "$RUST10_RUNS" <<'PYEOF'
import json, math, sys
plant, r1, s1, r10, s10, rj, sj, rr, sr, rr10 = sys.argv[1:]
rust, simpy = json.load(open(rj)), json.load(open(sj))
print()
print(f"| whole plant, {plant}, 365 days (+ warm-up), whole process | replications | median wall s | speed-up |")
print("|---|---|---|---|")
print(f"| lodestone twin run (Rust, {rr} runs) | 1 | {float(r1):.3f} | 1× |")
print(f"| {simpy['engine']} twin_plant_simpy.py ({sr} runs) | 1 | {float(s1):.2f} | "
      f"**{float(s1) / float(r1):.0f}×** (target ≥ 30×: {'met' if float(s1) / float(r1) >= 30 else 'NOT met'}) |")
if r10:
    print(f"| lodestone twin run (Rust, {rr10} runs) | 10 | {float(r10):.3f} | 1× |")
    print(f"| {simpy['engine']} twin_plant_simpy.py (1 run) | 10 | {float(s10):.2f} | "
          f"**{float(s10) / float(r10):.0f}×** |")
n = len(rust["replications"])
print()
print(f"| estimate ({n} replication{'s' if n > 1 else ''}, mean ± 95 %) | Rust | SimPy | difference | within the 95 % interval of the difference |")
print("|---|---|---|---|---|")
# Estimates only the Rust model makes (the heats' metallurgy) are skipped.
simpy_by_name = {e["name"]: e for e in simpy["estimates"]}
for a in rust["estimates"]:
    b = simpy_by_name.get(a["name"])
    if b is None:
        continue
    pct = a["unit"] == ""
    k, unit = (100.0, " %") if pct else (1.0, " " + a["unit"])
    fmt = (lambda v: f"{v * k:.3f}") if pct else (lambda v: f"{v:.1f}")
    d = b["mean"] - a["mean"]
    half = math.hypot(a["ci95"], b["ci95"])
    ok = ("yes" if abs(d) <= half else f"no ({abs(d) / half:.1f}×)") if n > 1 else "—"
    print(f"| {a['name']} | {fmt(a['mean'])} ± {fmt(a['ci95'])}{unit} | {fmt(b['mean'])} ± {fmt(b['ci95'])}{unit} "
          f"| {'+' if d >= 0 else '−'}{fmt(abs(d))}{' pp' if pct else unit} | {ok} |")
PYEOF
