#!/usr/bin/env bash
# compare_v1.sh — wall-clock comparison of Lodestone with its peers on validation case V1
# (PrOMMiS steady 3-stage DEHPA solvent-extraction cascade; /work/shared/research/sx.md §1.3).
#
# Usage (from the repo root):
#   scripts/peer/compare_v1.sh               # peers + lodestone, Markdown table on stdout
#   scripts/peer/compare_v1.sh --peer-only   # peers only (no lodestone binary/example needed)
#
# What is timed (median wall seconds of whole processes, after one untimed warm-up run):
#   * v1_scipy.py --json        independent numpy/scipy implementation (scripts/peer/v1_scipy.py),
#                               PEER_RUNS times; its in-process solve time (from --json) is
#                               reported as an extra row.
#   * v1_prommis.py --json      PrOMMiS 1.1.0's own flowsheet, cold start, IDAES initializer +
#                               ipopt_v2, with POUNCE behind the scripts/peer/shim/ipopt shim
#                               (see PEER.md). Only if scripts/.venv has prommis + pounce
#                               (scripts/peer/setup_venv.sh --prommis); PROMMIS=0 skips it,
#                               PROMMIS=1 makes its absence an error.
#   * lodestone sx simulate examples/sx/prommis-dehpa-3stage.toml --json > /dev/null,
#                               LODE_RUNS times. target/release/lodestone is built with
#                               `cargo build --release -p lodestone-cli` only if it is missing.
# Every command is run once first and must exit 0 (v1_scipy.py / v1_prommis.py exit non-zero
# if their outlets miss the sx.md expected values), so a wrong answer is never timed.
#
# Timing: hyperfine (-N, no shell) if installed, else a Python perf_counter loop.
# Environment knobs: PEER_RUNS (default 5), LODE_RUNS (50), PROMMIS (auto|0|1),
#   LODESTONE (binary path; default target/release/lodestone), EXAMPLE (TOML path),
#   NO_HYPERFINE=1 (force the Python loop).
# Needs python3 with venv and PyPI access the first time (creates the gitignored scripts/.venv).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

PEER_RUNS="${PEER_RUNS:-5}"
LODE_RUNS="${LODE_RUNS:-50}"
PROMMIS="${PROMMIS:-auto}"
LODESTONE="${LODESTONE:-target/release/lodestone}"
EXAMPLE="${EXAMPLE:-examples/sx/prommis-dehpa-3stage.toml}"
peer_only=0
case "${1:-}" in
  --peer-only) peer_only=1 ;;
  "") ;;
  -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
  *) echo "compare_v1.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

die() { echo "compare_v1.sh: error: $*" >&2; exit 1; }
note() { echo "compare_v1.sh: $*" >&2; }

# --- Lodestone prerequisites first, so a missing example fails before any slow work ---------
if [ "$peer_only" = 0 ]; then
  [ -f "$EXAMPLE" ] || die "example '$EXAMPLE' is missing (the V1 case file for 'lodestone sx simulate'); add it, set EXAMPLE=..., or run with --peer-only"
  if [ ! -x "$LODESTONE" ]; then
    [ "$LODESTONE" = "target/release/lodestone" ] || die "LODESTONE='$LODESTONE' is not an executable"
    note "$LODESTONE missing: cargo build --release -p lodestone-cli"
    cargo build --release -p lodestone-cli >&2 || die "cargo build --release -p lodestone-cli failed"
    [ -x "$LODESTONE" ] || die "build finished but $LODESTONE does not exist"
  fi
fi

# --- Python venv (gitignored scripts/.venv) ------------------------------------------------
PY="scripts/.venv/bin/python"
if ! { [ -x "$PY" ] && "$PY" -c 'import numpy, scipy' 2>/dev/null; }; then
  note "setting up scripts/.venv (numpy, scipy)"
  scripts/peer/setup_venv.sh
fi

run_prommis=0
if [ "$PROMMIS" != 0 ]; then
  if "$PY" -c 'import prommis' 2>/dev/null && [ -x scripts/.venv/bin/pounce ]; then
    run_prommis=1
  elif [ "$PROMMIS" = 1 ]; then
    die "PROMMIS=1 but scripts/.venv lacks prommis/pounce: run scripts/peer/setup_venv.sh --prommis"
  else
    note "PrOMMiS not installed in scripts/.venv: skipping it (scripts/peer/setup_venv.sh --prommis adds it)"
  fi
fi
# PrOMMiS finds the solver as "ipopt" on PATH: the shim, backed by the venv's pounce.
PROMMIS_PATH="$repo/scripts/peer/shim:$repo/scripts/.venv/bin:$PATH"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

use_hyperfine=0
if [ -z "${NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null 2>&1; then use_hyperfine=1; fi

# median_wall RUNS NAME CMD... : prints the median wall seconds of RUNS whole-process runs
# (stdout discarded; one untimed warm-up run first).
median_wall() {
  local runs="$1" name="$2"; shift 2
  if [ "$use_hyperfine" = 1 ]; then
    hyperfine -N --style none --warmup 1 --runs "$runs" --export-json "$tmp/$name.json" \
      -- "$(printf '%q ' "$@")" >/dev/null 2>&1 || die "hyperfine failed timing: $*"
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$tmp/$name.json"
  else
    "$PY" - "$runs" "$@" <<'PYEOF'
import statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)  # warm-up
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    times.append(time.perf_counter() - t0)
print(statistics.median(times))
PYEOF
  fi
}

# json_median RUNS KEY CMD... : median of a key of the command's --json output over RUNS runs
json_median() {
  local runs="$1" key="$2"; shift 2
  "$PY" - "$runs" "$key" "$@" <<'PYEOF'
import json, statistics, subprocess, sys
runs, key, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
vals = [json.loads(subprocess.run(cmd, capture_output=True, check=True, text=True).stdout)[key]
        for _ in range(runs)]
print(statistics.median(vals))
PYEOF
}

# --- Correctness gate: each command once, must succeed ---------------------------------------
scipy_cmd=("$PY" scripts/peer/v1_scipy.py --json)
"${scipy_cmd[@]}" >/dev/null || die "v1_scipy.py failed (did not reproduce V1)"
prommis_cmd=("$PY" scripts/peer/v1_prommis.py --json)
if [ "$run_prommis" = 1 ]; then
  PATH="$PROMMIS_PATH" "${prommis_cmd[@]}" >/dev/null || die "v1_prommis.py failed (PrOMMiS did not reproduce V1)"
fi
lode_cmd=("$LODESTONE" sx simulate "$EXAMPLE" --json)
if [ "$peer_only" = 0 ]; then
  "${lode_cmd[@]}" >/dev/null || die "'${lode_cmd[*]}' exited non-zero"
fi

# --- Timing ----------------------------------------------------------------------------------
timer="python perf_counter loop"
if [ "$use_hyperfine" = 1 ]; then timer="$(hyperfine --version 2>/dev/null || echo hyperfine)"; fi
note "timing with $timer: peers ${PEER_RUNS} runs, lodestone ${LODE_RUNS} runs"

t_scipy="$(median_wall "$PEER_RUNS" scipy "${scipy_cmd[@]}")"
t_scipy_solve="$(json_median "$PEER_RUNS" solve_seconds "${scipy_cmd[@]}")"
if [ "$run_prommis" = 1 ]; then
  t_prommis="$(PATH="$PROMMIS_PATH" median_wall "$PEER_RUNS" prommis "${prommis_cmd[@]}")"
  t_prommis_solve="$(PATH="$PROMMIS_PATH" json_median "$PEER_RUNS" solve_seconds "${prommis_cmd[@]}")"
fi
t_lode=""
if [ "$peer_only" = 0 ]; then
  t_lode="$(median_wall "$LODE_RUNS" lodestone "${lode_cmd[@]}")"
fi

# --- Markdown table --------------------------------------------------------------------------
row() {  # peer, what, seconds, whole-process? (1 -> ratio against lodestone)
  "$PY" - "$@" "$t_lode" <<'PYEOF'
import sys
peer, what, secs, whole, lode = sys.argv[1:6]
s = float(secs)
ratio = "n/a"
if lode and whole == "1":
    ratio = f"{s / float(lode):.1f}×" if s / float(lode) >= 10 else f"{s / float(lode):.2f}×"
elif whole != "1":
    ratio = "— (in-process)"
print(f"| {peer} | {what} | {s:.4g} | {ratio} |")
PYEOF
}

echo "### V1 (PrOMMiS steady 3-stage DEHPA cascade): peer vs Lodestone"
echo
echo "Median wall seconds; timer: $timer; host: $(nproc) cores. Ratio = peer / lodestone (whole process)."
echo
echo "| peer | what is timed | median wall s | ratio peer/lodestone |"
echo "|---|---|---|---|"
row "v1_scipy.py (numpy $("$PY" -c 'import numpy; print(numpy.__version__)'), scipy $("$PY" -c 'import scipy; print(scipy.__version__)'))" \
    "whole process \`python3 scripts/peer/v1_scipy.py --json\` (${PEER_RUNS} runs)" "$t_scipy" 1
row "v1_scipy.py" "cold-start solve only, in-process (\`solve_seconds\`)" "$t_scipy_solve" 0
if [ "$run_prommis" = 1 ]; then
  pv="$("$PY" -c 'import importlib.metadata as m; print(m.version("prommis"), m.version("idaes-pse"), m.version("pounce-solver"))')"
  read -r v_prommis v_idaes v_pounce <<<"$pv"
  row "PrOMMiS $v_prommis (IDAES $v_idaes, POUNCE $v_pounce as ipopt)" \
      "whole process \`v1_prommis.py --json\`: import, build, initialize, solve (${PEER_RUNS} runs)" "$t_prommis" 1
  row "PrOMMiS $v_prommis" "initialize + solve only, in-process (\`solve_seconds\`)" "$t_prommis_solve" 0
fi
if [ "$peer_only" = 0 ]; then
  row "lodestone" "whole process \`${lode_cmd[*]} > /dev/null\` (${LODE_RUNS} runs)" "$t_lode" 1
fi
