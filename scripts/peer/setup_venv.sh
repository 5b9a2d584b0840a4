#!/usr/bin/env bash
# Create/refresh the gitignored venv scripts/.venv for the peer benchmark.
#   scripts/peer/setup_venv.sh             # numpy + scipy (v1_scipy.py), simpy (twin_fifo_simpy.py)
#   scripts/peer/setup_venv.sh --prommis   # + PrOMMiS, IDAES, Pyomo, POUNCE (v1_prommis.py)
# Needs python3 >= 3.10 with venv, and PyPI. Runnable from any directory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/../.venv"
req="$here/requirements.txt"
if [ "${1:-}" = "--prommis" ]; then req="$here/requirements-prommis.txt"; fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
echo "scripts/.venv ready ($(basename "$req"))" >&2
