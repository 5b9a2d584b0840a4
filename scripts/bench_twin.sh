#!/usr/bin/env bash
# Twin engine against SimPy on the same model: one FIFO furnace, 100,000 batches
# (exponential inter-arrival 100 s, melt 80 s). Rust: `cargo bench -p lodestone-twin --bench fifo`
# (median of 20 runs); SimPy: scripts/peer/twin_fifo_simpy.py in scripts/.venv
# (scripts/peer/setup_venv.sh installs simpy). Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
bench=$(cargo bench -p lodestone-twin --bench fifo 2>&1 | grep "fifo_furnace_100k_batches")
echo "$bench"
# The median column of divan's table, e.g. "5.224 ms".
median=$(echo "$bench" | awk -F'│' '{print $3}' | xargs)
rust_s=$(python3 -c "
v, unit = '$median'.split()
print(float(v) * {'ns': 1e-9, 'µs': 1e-6, 'us': 1e-6, 'ms': 1e-3, 's': 1.0}[unit])")
if [ -x scripts/.venv/bin/python ] && scripts/.venv/bin/python -c "import simpy" 2>/dev/null; then
  simpy_s=$(scripts/.venv/bin/python scripts/peer/twin_fifo_simpy.py 100000 | python3 -c "import json,sys; print(json.load(sys.stdin)['seconds'])")
else
  echo "SimPy not installed: run scripts/peer/setup_venv.sh" >&2
  simpy_s=""
fi
echo
echo "| one FIFO furnace, 100k batches | seconds |"
echo "|---|---|"
echo "| Lodestone twin engine | $(python3 -c "print(f'{$rust_s:.4f}')") |"
if [ -n "$simpy_s" ]; then
  echo "| SimPy 4.1 (same model) | $(python3 -c "print(f'{$simpy_s:.3f}')") |"
  echo "| speed-up | $(python3 -c "print(f'{$simpy_s / $rust_s:.0f}×')") |"
fi
