#!/usr/bin/env python3
"""Run PrOMMiS's own V1 flowsheet from a cold start and check it against sx.md.

V1 = prommis.solvent_extraction.solvent_extraction_steady (dosage 5 %, 3 stages,
no holdup), run exactly as that module's main(): build + set inputs + scale,
IDAES default initializer from the default starting values, then
get_solver("ipopt_v2").solve(m). Nothing is taken from the answer.

It needs an executable called "ipopt" on PATH. None is obtainable here
(scripts/peer/PEER.md); scripts/peer/shim/ipopt presents POUNCE (PyPI
pounce-solver) under that name:

  scripts/peer/setup_venv.sh --prommis        # once: scripts/.venv with prommis + pounce
  PATH="$PWD/scripts/peer/shim:$PWD/scripts/.venv/bin:$PATH" \\
      scripts/.venv/bin/python scripts/peer/v1_prommis.py [--json] [--tee]

Checks the same expected values as v1_scipy.py (rel 1e-4, Y aq abs 1e-8,
stage pH abs 1e-3) and exits non-zero on a miss or a non-optimal solve.
--json prints {"aqueous_out_mg_per_l", "organic_out_mg_per_l", "stage_ph",
"solve_seconds", "initialize_seconds", "build_seconds", "import_seconds"}.
solve_seconds is initialization + final solve (the cold-start solve work);
the final solve alone is "final_solve_seconds".
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import time

T_IMPORT0 = time.perf_counter()
import logging  # noqa: E402

from pyomo.environ import check_optimal_termination, value  # noqa: E402
from idaes.core.solvers import get_solver  # noqa: E402
from prommis.solvent_extraction.solvent_extraction_steady import (  # noqa: E402
    model_buildup_and_set_inputs,
)

T_IMPORT = time.perf_counter() - T_IMPORT0

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from v1_scipy import (  # noqa: E402  (expected values only; no solver code shared)
    ABS_TOL, EXPECTED_AQ, EXPECTED_ORG, EXPECTED_PH, PH_ABS_TOL, REL_TOL,
)

N_STAGES = 3
DOSAGE = 5


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--tee", action="store_true", help="show solver logs")
    args = ap.parse_args()
    if not args.tee:
        logging.getLogger("idaes").setLevel(logging.ERROR)
        logging.getLogger("pyomo").setLevel(logging.ERROR)

    t0 = time.perf_counter()
    m = model_buildup_and_set_inputs(DOSAGE, N_STAGES, has_holdup=False)
    t_build = time.perf_counter() - t0

    sink = contextlib.nullcontext() if args.tee else contextlib.redirect_stdout(io.StringIO())
    with sink:
        t0 = time.perf_counter()
        initializer = m.fs.solex.default_initializer()
        initializer.initialize(m.fs.solex)
        t_init = time.perf_counter() - t0
        t0 = time.perf_counter()
        results = get_solver("ipopt_v2").solve(m, tee=args.tee)
        t_solve = time.perf_counter() - t0
    if not check_optimal_termination(results):
        print(f"PrOMMiS V1: solve not optimal: {results.solver.termination_condition}", file=sys.stderr)
        return 2

    mc = m.fs.solex.mscontactor
    aq_out = {j: value(mc.aqueous[0, N_STAGES].conc_mass_comp[j]) for j in EXPECTED_AQ}
    org_out = {j: value(mc.organic[0, 1].conc_mass_comp[j if j == "DEHPA" else j + "_o"])
               for j in EXPECTED_ORG}
    ph = [-math.log10(value(mc.aqueous[0, s].conc_mass_comp["H"]) / 1.0 / 1e3)
          for s in range(1, N_STAGES + 1)]

    failures, max_rel = [], 0.0
    for phase, got, exp in (("aq", aq_out, EXPECTED_AQ), ("org", org_out, EXPECTED_ORG)):
        for k, ev in exp.items():
            rel = abs(got[k] - ev) / abs(ev)
            if (phase, k) in ABS_TOL:
                ok = abs(got[k] - ev) <= ABS_TOL[(phase, k)]
            else:
                ok = rel <= REL_TOL
                max_rel = max(max_rel, rel)
            if not ok:
                failures.append(f"{phase} {k}: got {got[k]:.6g}, expected {ev:.6g} (rel {rel:.2e})")
    for s, (gp, ep) in enumerate(zip(ph, EXPECTED_PH), start=1):
        if abs(gp - ep) > PH_ABS_TOL:
            failures.append(f"stage {s} pH: got {gp:.5f}, expected {ep}")

    if args.json:
        print(json.dumps({
            "aqueous_out_mg_per_l": aq_out,
            "organic_out_mg_per_l": org_out,
            "stage_ph": ph,
            "solve_seconds": t_init + t_solve,
            "initialize_seconds": t_init,
            "final_solve_seconds": t_solve,
            "build_seconds": t_build,
            "import_seconds": T_IMPORT,
        }))
    else:
        print("PrOMMiS V1 (solvent_extraction_steady, dosage 5, 3 stages), cold start, "
              "IDAES default initializer + ipopt_v2")
        print(f"import {T_IMPORT:.2f} s, build+scale {t_build:.3f} s, initialize {t_init:.3f} s, "
              f"final solve {t_solve:.3f} s")
        for label, d in (("aqueous out", aq_out), ("organic out", org_out)):
            print(f"{label}: " + ", ".join(f"{k} {v:.5g}" for k, v in d.items()))
        print("stage pH: " + " / ".join(f"{p:.4f}" for p in ph))
        print(f"max relative error over rel-checked outlets: {max_rel:.2e}")
    if failures:
        print("PrOMMiS V1 FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    if not args.json:
        print("PrOMMiS V1 OK: all expected values reproduced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
