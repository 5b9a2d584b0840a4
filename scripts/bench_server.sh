#!/usr/bin/env bash
# Load benchmark of the server on loopback while the demo twin writes (issue target: 1,000
# req/s of mixed reads with p99 < 50 ms).
#
# Starts `lodestone serve --demo` (release build) at one simulated hour per second, lets the
# plant run for WARMUP_S, logs in as qa, then drives mixed reads with wrk (Debian package `wrk`)
# flat out with CONNECTIONS connections for
# DURATION and reports the achieved rate and latency percentiles; the mix (scripts/wrk-mixed.lua)
# is overview 40 %, a drum 20 %, its trace 20 %, the heat's lab results 10 %, NCRs 10 %.
#
# Usage: scripts/bench_server.sh        Knobs: DURATION (30s), CONNECTIONS (16), THREADS (2),
#        WARMUP_S (15), PORT (18090).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-30s}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
WARMUP_S="${WARMUP_S:-15}"
PORT="${PORT:-18090}"
command -v wrk >/dev/null || { echo "bench_server.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }
cargo build --release -p lodestone-cli >&2
tmp=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$tmp"' EXIT
"${CARGO_TARGET_DIR:-target}/release/lodestone" serve --demo --demo-dir "$tmp" --listen "127.0.0.1:$PORT" >"$tmp/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
sleep "$WARMUP_S"
token=$(curl -sf -X POST -H 'Content-Type: application/json' \
  -d '{"user":"qa","password":"lodestone-qa"}' "http://127.0.0.1:$PORT/api/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
heat=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/api/overview" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["recent"][0]["id"])')
before=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/api/overview" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["head_seq"])')
echo "plant warmed up ${WARMUP_S} s; MES head event $before; reading around heat $heat" >&2
TOKEN="$token" HEAT="$heat" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
  -s scripts/wrk-mixed.lua "http://127.0.0.1:$PORT" | tee "$tmp/wrk.txt"
after=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/api/overview" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["head_seq"])')
echo "the twin wrote $((after - before)) MES events during the run"
grep -q "Non-2xx" "$tmp/wrk.txt" && { echo "bench_server.sh: some requests failed" >&2; exit 1; } || true
