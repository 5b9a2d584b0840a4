#!/usr/bin/env bash
# Alloy benchmarks against the issue's targets:
#   - one heat (the example plan and a 15-material, 12-element heat with integer pieces) < 20 ms:
#     `cargo bench -p lodestone-alloy --bench charge` (when the bench exists);
#   - 10,000 heats in one campaign run < 60 s: the shift example scaled to 2 × 5000 heats with
#     unlimited stock, timed whole-process.
# Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p lodestone-cli >/dev/null
out="target/bench_alloy"
mkdir -p "$out"
python3 - "$out/campaign-10k.toml" <<'PY'
import re, sys
s = open("examples/alloy/campaign-shift.toml").read()
s = s.replace("count = 16", "count = 5000").replace("count = 8", "count = 5000")
s = re.sub(r"stock_kg = [0-9.]+", "stock_kg = 1.0e9", s)
open(sys.argv[1], "w").write(s)
PY
start=$(date +%s.%N)
summary=$(target/release/lodestone alloy campaign "$out/campaign-10k.toml" | head -1)
end=$(date +%s.%N)
seconds=$(python3 -c "print(f'{$end - $start:.2f}')")
if [ -f crates/alloy/benches/charge.rs ]; then
  cargo bench -p lodestone-alloy --bench charge 2>&1 | tee "$out/charge-bench.txt" | grep -E "^(├|╰|│)" || true
fi
echo
echo "| benchmark | result | target | met |"
echo "|---|---|---|---|"
met=$(python3 -c "print('yes' if $seconds < 60 else 'no')")
echo "| 10,000-heat campaign (whole process) | ${seconds} s — ${summary} | < 60 s | ${met} |"
