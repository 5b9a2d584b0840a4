#!/usr/bin/env python3
"""Peer check of the alloy charge optimiser: the same heat LP in scipy/HiGHS.

Reads a batch plan (TOML, docs/alloy-plan-format.md; default
scripts/peer/alloy-15-materials.toml), builds the linear program exactly as
crates/alloy/src/batch.rs does -- continuous, so lots charged in pieces are
relaxed -- and solves its stages with scipy.optimize.linprog(method="highs"):

  1. feasibility of the hard rows (the optimiser's elastic stage 1 reports
     reasons; here an infeasible LP is simply reported);
  2. the smallest deviation from the aim, each element weighted by
     1 / (tolerance * output);
  3. the least cost with the deviation at most that of stage 2 (the aim exact
     when it can be hit).

Then runs `target/release/lodestone alloy batch PLAN --json` and prints a
comparison table: cost, kg per lot, max |kg difference|.

Usage (from the repository root):
  scripts/.venv/bin/python scripts/peer/alloy_highs.py [PLAN.toml] [--build] [--json]

Uses scripts/.venv (numpy, scipy) when run with another interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / "scripts" / ".venv" / "bin" / "python"
DEFAULT_PLAN = ROOT / "scripts" / "peer" / "alloy-15-materials.toml"
LODESTONE = ROOT / "target" / "release" / "lodestone"


def _ensure_scipy() -> None:
    """Re-executes under scripts/.venv when scipy is missing here; else explains."""
    try:
        import scipy  # noqa: F401
        import numpy  # noqa: F401

        return
    except ImportError:
        pass
    running_venv = Path(sys.prefix).resolve() == (ROOT / "scripts" / ".venv").resolve()
    if VENV_PYTHON.exists() and not running_venv:
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    sys.exit(
        "alloy_highs.py needs numpy and scipy (HiGHS ships with scipy >= 1.6). "
        f"{VENV_PYTHON} was not found or lacks them; create it with "
        "scripts/peer/setup_venv.sh, or install numpy and scipy for "
        f"{sys.executable}."
    )


_ensure_scipy()

import tomllib  # noqa: E402  (Python >= 3.11)

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.optimize import linprog  # noqa: E402

# --- the pieces of crates/alloy/src/spec.rs the LP needs ---------------------------------------

RARE_EARTHS = {
    "Sc", "Y", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm",
    "Yb", "Lu",
}
QUALITY_INDEX = {"045001": 0, "045002": 1, "045003": 2, "045004": 3}
RE_TOLERANCE = [0.20, 0.40, 0.60, 0.80]
OTHER_TOLERANCE = [0.02, 0.04, 0.06, 0.08]
RE_IMPURITIES_MAX = [0.50, 0.60, 0.70, 0.80]
# The standard's "other impurities" row: any element the grade neither aims nor limits.
OTHER_IMPURITY_MAX = [0.01, 0.02, 0.03, 0.05]
IMPURITY_LIMITS = {
    "Si": [0.05, 0.08, 0.10, 0.12],
    "Ca": [0.02, 0.03, 0.04, 0.05],
    "Ti": [0.02, 0.03, 0.04, 0.05],
    "Mn": [0.05, 0.06, 0.07, 0.09],
    "C": [0.025, 0.030, 0.040, 0.050],
    "N": [0.004, 0.005, 0.006, 0.010],
    "O": [0.02, 0.03, 0.04, 0.05],
}
LOW_BORON_FACTOR = 72.3


class Grade:
    def __init__(self, g: dict):
        self.name = g["name"]
        self.aim = dict(g["aim_wt_pct"])
        self.balance = g.get("balance", "Fe")
        self.q = QUALITY_INDEX[g.get("quality", "045001")]
        self.tolerance = dict(g.get("tolerance_wt_pct", {}))
        self.impurity_max = dict(g.get("impurity_max_wt_pct", {}))
        self.rules = list(g.get("rules", []))

    def tolerance_of(self, e: str) -> float:
        if e in self.tolerance:
            return self.tolerance[e]
        if e in RARE_EARTHS:
            total = sum(v for k, v in self.aim.items() if k in RARE_EARTHS)
            if total > 0:
                return RE_TOLERANCE[self.q] * self.aim.get(e, 0.0) / total
        return OTHER_TOLERANCE[self.q]

    def impurity_limits(self) -> dict[str, float]:
        limits = {e: v[self.q] for e, v in IMPURITY_LIMITS.items()}
        limits.update(self.impurity_max)
        return {e: v for e, v in limits.items() if e not in self.aim and e != self.balance}


# --- the LP of crates/alloy/src/batch.rs ---------------------------------------------------------


class HeatLp:
    """Rows `a @ x (<=|==) b` over x = [kg per usable lot] (+ deviation variables)."""

    def __init__(self, plan: dict):
        self.plan = plan
        self.grade = Grade(plan["grade"])
        self.output = float(plan["output_kg"])
        self.min_returns = float(plan.get("min_returns_kg", 0.0))
        self.recovery = dict(plan.get("recovery", {}))
        self.heel = plan.get("heel")
        lots = plan["lot"]
        self.usable = [
            lot
            for lot in lots
            if lot.get("status", "released") == "released" and lot["stock_kg"] > 0.0
        ]
        self.pieces_relaxed = [lot["id"] for lot in self.usable if "piece_kg" in lot]
        elements = set(self.grade.aim) | {self.grade.balance}
        for lot in lots:
            elements |= set(lot["chemistry_wt_pct"])
        if self.heel:
            elements |= set(self.heel["composition_wt_pct"])
        self.elements = sorted(elements)
        n = len(self.usable)
        # mass_e = coef[e] @ x + const[e]
        self.coef = {}
        self.const = {}
        for e in self.elements:
            eta = self.recovery.get(e, 1.0)
            self.coef[e] = np.array(
                [eta * lot["chemistry_wt_pct"].get(e, 0.0) / 100.0 for lot in self.usable]
            )
            self.const[e] = (
                self.heel["mass_kg"] * self.heel["composition_wt_pct"].get(e, 0.0) / 100.0
                if self.heel
                else 0.0
            )
        self.total_coef = sum(self.coef.values(), np.zeros(n))
        self.total_const = sum(self.const.values())

    def spec_rows(self):
        """(kind, coef, const, low, high): low*M <= coef@x + const <= high*M, M the melt mass."""
        g = self.grade
        rows = []
        for e, aim in sorted(g.aim.items()):
            band = g.tolerance_of(e) / 100.0
            coef = self.coef[e] - aim / 100.0 * self.total_coef
            const = self.const[e] - aim / 100.0 * self.total_const
            rows.append((("band", e), coef, const, -band, band))
        limits = g.impurity_limits()
        for e, mx in sorted(limits.items()):
            if e in self.coef:
                rows.append((("impurity", e), self.coef[e], self.const[e], -np.inf, mx / 100.0))
        foreign = [e for e in self.elements if e in RARE_EARTHS and e not in g.aim]
        if foreign:
            rows.append(
                (
                    ("foreign RE",),
                    sum(self.coef[e] for e in foreign),
                    sum(self.const[e] for e in foreign),
                    -np.inf,
                    RE_IMPURITIES_MAX[g.q] / 100.0,
                )
            )
        other_max = OTHER_IMPURITY_MAX[g.q]
        for e in self.elements:
            if not (e in g.aim or e == g.balance or e in limits or e in RARE_EARTHS):
                rows.append((("other", e), self.coef[e], self.const[e], -np.inf, other_max / 100.0))
        zero = np.zeros(len(self.usable))
        for rule in g.rules:
            if rule["rule"] == "low-boron":
                t = rule.get("transition", ["Fe", "Co", "Ni"])
                coef = sum((self.coef[e] for e in t if e in self.coef), zero) - LOW_BORON_FACTOR * (
                    self.coef.get("B", zero)
                )
                const = sum(self.const[e] for e in t if e in self.const) - LOW_BORON_FACTOR * (
                    self.const.get("B", 0.0)
                )
                rows.append((("rule", "low-boron"), coef, const, 1e-6, np.inf))
            elif rule["rule"] == "ratio":
                if rule["basis"] != "mass":
                    sys.exit("alloy_highs.py: only mass-basis ratio rules are implemented")
                num_c = sum((self.coef[e] for e in rule["numerator"] if e in self.coef), zero)
                num_k = sum(self.const[e] for e in rule["numerator"] if e in self.const)
                den_c = sum((self.coef[e] for e in rule["denominator"] if e in self.coef), zero)
                den_k = sum(self.const[e] for e in rule["denominator"] if e in self.const)
                if rule.get("min") is not None:
                    lo = rule["min"]
                    rows.append((("rule", rule["name"]), num_c - lo * den_c, num_k - lo * den_k, 0.0, np.inf))
                if rule.get("max") is not None:
                    hi = rule["max"]
                    rows.append((("rule", rule["name"]), num_c - hi * den_c, num_k - hi * den_k, -np.inf, 0.0))
            else:
                sys.exit(f"alloy_highs.py: unknown rule {rule['rule']!r}")
        return rows

    def hard_model(self):
        """Variables [x (n), d+ (k), d- (k)] for the k aimed elements. Returns the row blocks,
        the bounds and the deviation objective."""
        n = len(self.usable)
        aimed = sorted(self.grade.aim)
        k = len(aimed)
        nv = n + 2 * k
        a_ub, b_ub, a_eq, b_eq = [], [], [], []

        def pad(c):
            row = np.zeros(nv)
            row[:n] = c
            return row

        # Σ element masses = M.
        a_eq.append(pad(self.total_coef))
        b_eq.append(self.output - self.total_const)
        if self.min_returns > 0.0:
            a_ub.append(pad(-np.array([1.0 if lot.get("is_return") else 0.0 for lot in self.usable])))
            b_ub.append(-self.min_returns)
        deviation = np.zeros(nv)
        for kind, coef, const, low, high in self.spec_rows():
            if kind[0] == "band":
                i = aimed.index(kind[1])
                row = pad(coef)
                row[n + i] = -1.0
                row[n + k + i] = 1.0
                a_eq.append(row)
                b_eq.append(-const)
                w = 1.0 / (max(self.grade.tolerance_of(kind[1]), 1e-4) / 100.0 * self.output)
                deviation[n + i] = w
                deviation[n + k + i] = w
            # low*M <= coef@x + const  <=>  (low*total_coef - coef)@x <= const - low*total_const
            if np.isfinite(low):
                a_ub.append(pad(low * self.total_coef - coef))
                b_ub.append(const - low * self.total_const)
            if np.isfinite(high):
                a_ub.append(pad(coef - high * self.total_coef))
                b_ub.append(high * self.total_const - const)
        bounds = [(0.0, lot["stock_kg"]) for lot in self.usable] + [(0.0, None)] * (2 * k)
        return (np.array(a_ub), np.array(b_ub), np.array(a_eq), np.array(b_eq), bounds, deviation)

    def solve(self):
        a_ub, b_ub, a_eq, b_eq, bounds, deviation = self.hard_model()
        n = len(self.usable)
        t0 = time.perf_counter()
        stage2 = linprog(deviation, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        if stage2.status != 0:
            return {"status": f"stage 2: {stage2.message}"}
        best = stage2.fun
        cost = np.zeros(len(deviation))
        cost[:n] = [lot["price_per_kg"] for lot in self.usable]
        a_ub3 = np.vstack([a_ub, deviation])
        b_ub3 = np.append(b_ub, best + 1e-9 * (1.0 + best))
        stage3 = linprog(cost, A_ub=a_ub3, b_ub=b_ub3, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        seconds = time.perf_counter() - t0
        if stage3.status != 0:
            return {"status": f"stage 3: {stage3.message}"}
        x = stage3.x[:n]
        return {
            "status": "optimal",
            "deviation": best,
            "cost": float(cost @ stage3.x),
            "kg": {lot["id"]: float(v) for lot, v in zip(self.usable, x)},
            "seconds": seconds,
            "rows": a_ub3.shape[0] + a_eq.shape[0],
            "columns": len(deviation),
        }


def run_lodestone(plan: Path, build: bool) -> dict:
    if build or not LODESTONE.exists():
        print("building lodestone: cargo build --release -p lodestone-cli", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "-p", "lodestone-cli"], cwd=ROOT, check=True)
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(LODESTONE), "alloy", "batch", str(plan), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"lodestone failed ({out.returncode}):\n{out.stderr}")
    charge = json.loads(out.stdout)
    charge["seconds"] = seconds
    return charge


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    build = "--build" in sys.argv
    as_json = "--json" in sys.argv
    plan_path = Path(args[0]) if args else DEFAULT_PLAN
    with open(plan_path, "rb") as f:
        plan = tomllib.load(f)
    lp = HeatLp(plan)
    peer = lp.solve()
    if peer["status"] != "optimal":
        sys.exit(f"HiGHS: {peer['status']}")
    ours = run_lodestone(plan_path, build)
    ours_kg = {line["lot"]: line["kg"] for line in ours["lines"]}
    ids = [lot["id"] for lot in lp.usable]
    diffs = {i: ours_kg.get(i, 0.0) - peer["kg"][i] for i in ids}
    max_abs = max(abs(d) for d in diffs.values())
    cost_diff = ours["cost"] - peer["cost"]
    if as_json:
        print(json.dumps({"highs": peer, "lodestone_cost": ours["cost"], "lodestone_kg": ours_kg,
                          "max_abs_kg_difference": max_abs, "cost_difference": cost_diff}, indent=2))
        return 0
    try:
        shown = plan_path.resolve().relative_to(ROOT)
    except ValueError:
        shown = plan_path
    print(f"plan: {shown}")
    print(f"grade: {lp.grade.name}; {len(lp.usable)} usable lots, {len(lp.elements)} elements, "
          f"output {lp.output} kg")
    if lp.pieces_relaxed:
        print(f"note: piece_kg relaxed to continuous for {', '.join(lp.pieces_relaxed)}; "
              "lodestone charges whole pieces, so kg and cost may differ")
    print(f"HiGHS (scipy {scipy.__version__}): {peer['rows']} rows x {peer['columns']} columns, "
          f"stage-2 deviation {peer['deviation']:.3e}, stages 2+3 in {peer['seconds'] * 1e3:.1f} ms")
    print(f"lodestone: on_aim = {ours['on_aim']}, whole process {ours['seconds'] * 1e3:.1f} ms")
    print()
    print("| lot | HiGHS kg | lodestone kg | difference kg |")
    print("|---|---:|---:|---:|")
    for i in ids:
        print(f"| {i} | {peer['kg'][i]:.6f} | {ours_kg.get(i, 0.0):.6f} | {diffs[i]:+.3e} |")
    print()
    print("| quantity | HiGHS | lodestone | difference |")
    print("|---|---:|---:|---:|")
    print(f"| cost | {peer['cost']:.6f} | {ours['cost']:.6f} | {cost_diff:+.3e} |")
    print(f"| charged kg | {sum(peer['kg'].values()):.6f} | {ours['charged_kg']:.6f} | "
          f"{ours['charged_kg'] - sum(peer['kg'].values()):+.3e} |")
    print(f"| max abs kg difference per lot | | | {max_abs:.3e} |")
    rel = abs(cost_diff) / max(1.0, abs(peer["cost"]))
    ok = max_abs <= 1e-3 and rel <= 1e-7
    print()
    print(f"agreement (max |Δkg| <= 1e-3 kg and |Δcost| <= 1e-7 relative): {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
