#!/usr/bin/env bash
# bench_sx.sh — solve-time benchmarks of the sx cascade solver against the project's targets.
#
# Usage (from the repo root):
#   scripts/bench_sx.sh             # divan benchmarks + V1 peer comparison, Markdown on stdout
#   scripts/bench_sx.sh --no-peer   # skip the peer comparison (scripts/peer/compare_v1.sh)
#
# Steps:
#   1. `cargo bench -p lodestone-sx --bench cascade` (crates/sx/benches/cascade.rs). Every case
#      is first solved once, untimed, to record convergence. Then divan times `Case::simulate()`,
#      a cold-start solve plus result assembly, on a case parsed outside the timed closure.
#   2. `scripts/peer/compare_v1.sh`, only if its prerequisites exist: python3, and a
#      scripts/.venv that imports numpy and scipy (scripts/peer/setup_venv.sh creates it;
#      `--prommis` adds PrOMMiS). Its PROMMIS, PEER_RUNS and LODE_RUNS knobs pass through.
#   3. A Markdown table: case, stages × elements, model, median solve time, target, met.
#      Targets: V4 < 1 ms; 120 stages × 15 elements, model D < 50 ms; V1 ≥ 100× faster than the
#      fastest peer, whole process against whole process (`lodestone sx simulate` vs
#      `python3 v1_scipy.py` / PrOMMiS). A case that does not converge never meets its target:
#      its time is the iteration cap, not a solve.
# Raw outputs are kept in target/bench_sx/ (cascade.out, cascade.err, compare_v1.md).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

peer=1
case "${1:-}" in
  --no-peer) peer=0 ;;
  "") ;;
  -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
  *) echo "bench_sx.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

note() { echo "bench_sx.sh: $*" >&2; }
die() { echo "bench_sx.sh: error: $*" >&2; exit 1; }

out_dir="target/bench_sx"
mkdir -p "$out_dir"
bench_out="$out_dir/cascade.out"
bench_err="$out_dir/cascade.err"
peer_md="$out_dir/compare_v1.md"
rm -f "$peer_md"

# --- 1. divan benchmarks ----------------------------------------------------------------------
note "cargo bench -p lodestone-sx --bench cascade (≈ 1 min)"
# stdout (divan's table) to a file; stderr (cargo, convergence lines) to the terminal and a file.
if ! cargo bench -p lodestone-sx --bench cascade 2>&1 >"$bench_out" | tee "$bench_err" >&2; then
  die "cargo bench failed (see $bench_err)"
fi
grep -q '^├─\|^╰─' "$bench_out" || die "no divan table in $bench_out"

# --- 2. V1 peer comparison --------------------------------------------------------------------
peer_status="not run: --no-peer"
if [ "$peer" = 1 ]; then
  if ! command -v python3 >/dev/null 2>&1; then
    peer_status="not run: no python3"
  elif ! { [ -x scripts/.venv/bin/python ] && scripts/.venv/bin/python -c 'import numpy, scipy' 2>/dev/null; }; then
    peer_status="not run: no scripts/.venv with numpy and scipy (scripts/peer/setup_venv.sh)"
  elif [ ! -x scripts/peer/compare_v1.sh ]; then
    peer_status="not run: scripts/peer/compare_v1.sh missing"
  else
    # compare_v1.sh times target/release/lodestone: rebuild it so it matches the benchmarked source.
    note "cargo build --release -p lodestone-cli"
    cargo build --release -p lodestone-cli >&2 || die "cargo build --release -p lodestone-cli failed"
    note "scripts/peer/compare_v1.sh (PrOMMiS, if installed, takes ≈ 1–2 min)"
    if scripts/peer/compare_v1.sh >"$peer_md"; then
      peer_status="ok"
    else
      peer_status="failed: see the messages above"
      rm -f "$peer_md"
    fi
  fi
fi
[ "$peer_status" = ok ] || note "peer comparison: $peer_status"

# --- 3. Markdown table ------------------------------------------------------------------------
# Median (seconds) of a divan benchmark: third │-separated column of its row, unit-converted.
median_s() {
  awk -F'│' -v name="$1" '
    ($1 ~ /^(├─|╰─) /) {
      split($1, head, " "); if (head[2] != name) next
      split($3, m, " "); v = m[1]; u = m[2]
      f = (u == "ns") ? 1e-9 : (u == "µs" || u == "us") ? 1e-6 : (u == "ms") ? 1e-3 : (u == "s") ? 1 : -1
      if (f < 0) exit 1
      printf "%.6g\n", v * f; found = 1; exit
    }
    END { if (!found) exit 1 }' "$bench_out"
}
# Convergence line of a case from the untimed pre-solve: "yes N" / "no N" / "no error".
convergence() {
  local line
  line="$(grep "^\[sx-bench\] $1:" "$bench_err" | tail -1 || true)"
  [ -n "$line" ] || { echo "unknown"; return; }
  case "$line" in
    *converged=true*) echo "yes $(sed -n 's/.*iterations=\([0-9]*\).*/\1/p' <<<"$line")" ;;
    *iterations=*) echo "no $(sed -n 's/.*iterations=\([0-9]*\).*/\1/p' <<<"$line")" ;;
    *) echo "no error" ;;
  esac
}
human() {  # seconds → "123 µs" / "4.56 ms" / "1.23 s"
  awk -v s="$1" 'BEGIN {
    if (s < 1e-3) printf "%.3g µs", s * 1e6; else if (s < 1) printf "%.3g ms", s * 1e3; else printf "%.3g s", s }'
}
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# Whole-process medians from compare_v1.sh's table: lodestone, and the fastest peer.
lode_whole=""; peer_whole=""; peer_name=""
if [ -f "$peer_md" ]; then
  lode_whole="$(awk -F'|' '$2 ~ /^ *lodestone *$/ && $3 ~ /whole process/ { gsub(/ /, "", $4); print $4 }' "$peer_md")"
  read -r peer_whole peer_name < <(awk -F'|' '
    $2 !~ /^ *lodestone *$/ && $3 ~ /^ *whole process/ {
      v = $4; gsub(/ /, "", v); n = $2; sub(/^ +/, "", n); sub(/ +$/, "", n)
      if (best == "" || v + 0 < best + 0) { best = v; name = n }
    }
    END { if (best != "") print best, name }' "$peer_md") || true
fi

# name | case | stages × elements | model | target kind
cases=(
  "v4_xu_nd_pr_37x2_model_b|V4 ideal Nd/Pr (examples/sx/xu-nd-pr.toml)|37 × 2|B separation factor|lt:1e-3:< 1 ms"
  "v1_prommis_dehpa_3x12_model_c|V1 PrOMMiS DEHPA (examples/sx/prommis-dehpa-3stage.toml)|3 × 12 (8 REE + Sc, Al, Ca, Fe)|C distribution|peer"
  "v2_prommis_fixed_fraction_3x12_model_a|V2 PrOMMiS fixed fraction (examples/sx/prommis-fixed-fraction.toml)|3 × 12|A fixed fraction|none"
  "mass_action_pr_nd_53x2_model_d|Pr/Nd, saponified P507 (examples/sx/mass-action-pr-nd.toml)|53 × 2|D mass action|none"
  "bayan_obo_example_105x15_model_b|Bayan Obo Nd/Sm cut (examples/sx/bayan-obo-nd-sm-cut.toml)|105 × 15|B separation factor|none"
  "bayan_obo_25x15_model_d|Bayan Obo Nd/Sm cut, 25-stage variant (benches/data/bayan-obo-25x15-mass-action.toml)|25 × 15|D mass action|none"
  "bayan_obo_120x15_model_d|Bayan Obo Nd/Sm cut (benches/data/bayan-obo-120x15-mass-action.toml)|120 × 15|D mass action|lt:0.05:< 50 ms"
  "bayan_obo_120x15_model_b|Bayan Obo Nd/Sm cut, Xu form built in the bench|120 × 15|B separation factor|none"
)

echo "### sx cascade solve times (\`cargo bench -p lodestone-sx --bench cascade\`)"
echo
echo "Median of divan samples of \`Case::simulate()\` (cold start, parse excluded); host: $(nproc) cores;"
rev="unknown"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  rev="$(git rev-parse --short HEAD)"
  git diff --quiet HEAD -- crates 2>/dev/null || rev="$rev + uncommitted changes in crates/"
fi
echo "commit $rev. Converged: untimed pre-solve (iterations)."
echo
echo "| case | stages × elements | model | converged | median solve time | target | met |"
echo "|---|---|---|---|---|---|---|"
for entry in "${cases[@]}"; do
  IFS='|' read -r name label size model target <<<"$entry"
  if ! med="$(median_s "$name")"; then
    echo "| $label | $size | $model | — | (no result) | — | — |"
    continue
  fi
  read -r conv iters <<<"$(convergence "$name")"
  conv_txt="$conv${iters:+ ($iters)}"
  target_txt="—"; met="—"
  case "$target" in
    lt:*)
      IFS=':' read -r _ limit target_txt <<<"$target"
      if [ "$conv" != yes ]; then met="no (not converged)"
      elif lt "$med" "$limit"; then met="yes"
      else met="no"; fi
      ;;
    peer)
      if [ -n "$lode_whole" ] && [ -n "$peer_whole" ]; then
        ratio="$(awk -v p="$peer_whole" -v l="$lode_whole" 'BEGIN { printf "%.0f", p / l }')"
        inproc="$(awk -v p="$peer_whole" -v l="$med" 'BEGIN { printf "%.0f", p / l }')"
        target_txt="≥ 100× faster than the fastest peer, whole process: $peer_name $(human "$peer_whole") vs lodestone $(human "$lode_whole") = ${ratio}× (vs this in-process solve: ${inproc}×)"
        if [ "$conv" != yes ]; then met="no (not converged)"
        elif awk -v r="$ratio" 'BEGIN { exit !(r >= 100) }'; then met="yes"
        else met="no"; fi
      else
        target_txt="≥ 100× faster than the fastest peer, whole process (peer $peer_status)"
        met="n/a"
      fi
      ;;
  esac
  echo "| $label | $size | $model | $conv_txt | $(human "$med") | $target_txt | $met |"
done
if [ -f "$peer_md" ]; then
  echo
  cat "$peer_md"
fi
