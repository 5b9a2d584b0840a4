#!/usr/bin/env bash
# bench_mes.sh — MES benchmarks against the issue's targets.
#
# Usage (from the repo root):
#   scripts/bench_mes.sh               # trace + ingest benchmarks, Markdown on stdout
#   scripts/bench_mes.sh --no-trace    # ingest only
#   scripts/bench_mes.sh --no-ingest   # traces only
#   scripts/bench_mes.sh --pin-cpu     # run the ingest bench pinned to CPU 0 (taskset): a
#                                      # diagnostic — the tokio thread and sqlx's SQLite worker
#                                      # thread then share a CPU, so no statement round trip
#                                      # pays a cross-CPU wake-up (expensive on small VMs)
#
# Steps:
#   1. `cargo bench -p lodestone-mes --bench genealogy` (crates/mes/benches/genealogy.rs). The
#      first run builds a 1,000,000-lot, 10-level genealogy through real commands into
#      target/mes-bench/genealogy-1m.db (≈ 5 min on 2 cores, progress on stderr); later runs
#      reuse it until the SQLite migrations or the generator change. It then times backward
#      traces from up to 300 random top-level lots and forward traces from raw lots, median and
#      p95 (`[mes-bench] trace …` lines), then divan's table. Each twice: on connections as
#      `Mes::open` sets them up, and with `PRAGMA automatic_index = OFF` (a diagnostic of the
#      query plan, not a configuration the MES uses).
#   2. `cargo bench -p lodestone-mes --bench ingest` (crates/mes/benches/ingest.rs): furnace-line
#      production events with client ids through `execute_batch`, batches of 1 (reference), 100,
#      1,000 and 5,000, on SQLite and on PostgreSQL when reachable
#      (LODESTONE_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres), then
#      a per-statement profile of one 1,000-event batch per backend.
#   3. A Markdown table against the targets: backward trace in the 1M-lot genealogy < 50 ms on
#      SQLite; ingest ≥ 20,000 events/s on SQLite (batched) and ≥ 5,000 events/s on PostgreSQL.
# Knobs pass through: LODESTONE_MES_BENCH_LOTS (smaller genealogy), LODESTONE_MES_BENCH_REBUILD=1,
# LODESTONE_MES_BENCH_EVENTS, LODESTONE_MES_BENCH_REPEAT (runs per batch size, default 3; the
# median is reported), LODESTONE_MES_BENCH_BACKENDS, LODESTONE_REQUIRE_SERVICES=1.
# Raw outputs are kept in target/bench_mes/ (genealogy.out/.err, ingest.out/.err).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

trace=1
ingest=1
pin=()
for arg in "$@"; do
  case "$arg" in
    --no-trace) trace=0 ;;
    --no-ingest) ingest=0 ;;
    --pin-cpu) command -v taskset >/dev/null || { echo "bench_mes.sh: --pin-cpu needs taskset" >&2; exit 2; }
               pin=(taskset -c 0) ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "bench_mes.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

note() { echo "bench_mes.sh: $*" >&2; }
die() { echo "bench_mes.sh: error: $*" >&2; exit 1; }

out_dir="target/bench_mes"
mkdir -p "$out_dir"

# --- 1. genealogy traces ----------------------------------------------------------------------
if [ "$trace" = 1 ]; then
  note "cargo bench -p lodestone-mes --bench genealogy (first run builds the 1M-lot file: ≈ 5 min)"
  if ! cargo bench -p lodestone-mes --bench genealogy 2>&1 >"$out_dir/genealogy.out" \
      | tee "$out_dir/genealogy.err" >&2; then
    die "cargo bench --bench genealogy failed (see $out_dir/genealogy.err)"
  fi
fi

# --- 2. ingest --------------------------------------------------------------------------------
if [ "$ingest" = 1 ]; then
  note "${pin[*]:+${pin[*]} }cargo bench -p lodestone-mes --bench ingest (≈ 3 min)"
  if ! "${pin[@]}" cargo bench -p lodestone-mes --bench ingest 2>&1 >"$out_dir/ingest.out" \
      | tee "$out_dir/ingest.err" >&2; then
    die "cargo bench --bench ingest failed (see $out_dir/ingest.err)"
  fi
fi

# --- 3. Markdown table ------------------------------------------------------------------------
# Value of KEY=… on the first line of FILE that has that key and every TOKEN as a whole word.
field() {  # field FILE KEY TOKEN...
  local file="$1" key="$2"; shift 2
  awk -v key="$key" -v toks="$*" '
    BEGIN { n = split(toks, t, " ") }
    {
      val = ""; for (j = 1; j <= NF; j++) { have[$j] = 1; if (index($j, key "=") == 1) val = substr($j, length(key) + 2) }
      ok = (val != ""); for (i = 1; i <= n; i++) if (!(t[i] in have)) ok = 0
      delete have
      if (ok) { print val; exit }
    }' "$file"
}
# Median of a divan benchmark row, in ms.
divan_median_ms() {  # divan_median_ms FILE NAME
  awk -F'│' -v name="$2" '
    ($1 ~ /^(├─|╰─) /) {
      split($1, head, " "); if (head[2] != name) next
      split($3, m, " "); v = m[1]; u = m[2]
      f = (u == "ns") ? 1e-6 : (u == "µs" || u == "us") ? 1e-3 : (u == "ms") ? 1 : (u == "s") ? 1e3 : -1
      if (f < 0) exit 1
      x = v * f; if (x >= 100) printf "%.0f\n", x; else printf "%.3g\n", x; exit
    }' "$1"
}
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

rev="unknown"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  rev="$(git rev-parse --short HEAD)"
  git diff --quiet HEAD -- crates/mes 2>/dev/null || rev="$rev + uncommitted changes in crates/mes/"
fi

echo "### MES benchmarks"
echo
echo "Host: $(nproc) cores; commit $rev.${pin[*]:+ Ingest pinned to CPU 0 (\`${pin[*]}\`, diagnostic).}"
echo

echo "| benchmark | result | target | met |"
echo "|---|---|---|---|"
g_err="$out_dir/genealogy.err"; g_out="$out_dir/genealogy.out"
if [ "$trace" = 1 ]; then
  lots="$(field "$g_err" lots "genealogy:")"
  events="$(field "$g_err" events "genealogy:")"
  built="$(field "$g_err" build_seconds "genealogy:")"
  size="$(field "$g_err" file_mb "genealogy:")"
  for variant in as-built automatic-index-off; do
    for dir in backward forward; do
      pats="direction=$dir variant=$variant"  # two tokens
      med="$(field "$g_err" median_ms $pats)"; p95="$(field "$g_err" p95_ms $pats)"
      n="$(field "$g_err" n $pats)"; reach="$(field "$g_err" lots_reached_median $pats)"
      rmax="$(field "$g_err" lots_reached_max $pats)"; depth="$(field "$g_err" depth_max $pats)"
      if [ "$dir" = backward ]; then from="random top-level lot"; bench="backward_trace_top_lot"
      else from="random raw lot"; bench="forward_trace_raw_lot"; fi
      [ "$variant" = automatic-index-off ] && bench="${bench}_automatic_index_off"
      dmed="$(divan_median_ms "$g_out" "$bench" || true)"
      label="$dir trace from a $from, ${lots:-?} lots, depth ${depth:-?}, SQLite"
      [ "$variant" = automatic-index-off ] && label="$label, \`PRAGMA automatic_index = OFF\` (diagnostic)"
      if [ -z "$med" ]; then
        echo "| $label | (no result) | — | — |"; continue
      fi
      result="median $med ms, p95 $p95 ms (n = $n); divan median ${dmed:-—} ms; lots reached: median $reach, max $rmax"
      if [ "$dir" = backward ]; then
        target="< 50 ms"
        if lt "$med" 50 && lt "$p95" 50; then met="yes"; elif lt "$med" 50; then met="median yes, p95 no"; else met="no"; fi
        [ "$variant" = automatic-index-off ] && met="$met (not the MES as built)"
      else
        target="—"; met="—"
      fi
      echo "| $label | $result | $target | $met |"
    done
  done
  echo "| genealogy build through \`execute_batch\` (5,000 commands a batch) | ${lots:-?} lots, ${events:-?} events, ${size:-?} MB, built in ${built:-?} s | — | — |"
fi
i_err="$out_dir/ingest.err"
if [ "$ingest" = 1 ]; then
  for backend in sqlite postgres; do
    if [ "$backend" = sqlite ]; then target=20000; else target=5000; fi
    if ! grep -q "^\[mes-ingest\] result backend=$backend " "$i_err"; then
      echo "| ingest, $backend | not run: $(grep -o 'skipped PostgreSQL.*' "$i_err" | head -1 || echo 'no result') | ≥ $target events/s | n/a |"
      continue
    fi
    for batch in 1 100 1000 5000; do
      rate="$(field "$i_err" events_per_s result "backend=$backend" "batch=$batch")"
      [ -n "$rate" ] || continue
      n="$(field "$i_err" events result "backend=$backend" "batch=$batch")"
      runs="$(field "$i_err" runs result "backend=$backend" "batch=$batch")"
      lo="$(field "$i_err" min result "backend=$backend" "batch=$batch")"
      hi="$(field "$i_err" max result "backend=$backend" "batch=$batch")"
      if [ "$batch" = 1 ]; then t="— (reference: a commit per event)"; met="—"
      else t="≥ $target events/s"; if ge "$rate" "$target"; then met="yes"; else met="no"; fi; fi
      echo "| ingest, $backend, batches of $batch | $rate events/s (median of $runs runs of $n events; $lo–$hi) | $t | $met |"
    done
    per="$(field "$i_err" statements_per_event profile "backend=$backend")"
    outside="$(field "$i_err" outside_statements_ms profile "backend=$backend")"
    wall="$(field "$i_err" wall_ms profile "backend=$backend")"
    [ -n "$per" ] && echo "| ingest profile, $backend, one batch of 1,000 | $per SQL statements per event; $wall ms wall, $outside ms of it outside statements | — | — |"
  done
fi
if [ "$ingest" = 1 ] && [ -s "$out_dir/ingest.out" ]; then
  echo
  cat "$out_dir/ingest.out"
fi
