"""The NdFeB alloy plant of crates/twin/src/model.rs, written again in SimPy 4: the peer the
twin's speed is measured against (and a cross-check of its logic).

It reads the same plant TOML (crates/twin/src/plant.rs) and follows model.rs step by step:

* orders: at the start of each month (365/12 days) every grade's demand is turned into heats
  (t / (heat_kg × flake_yield / 1000)), the fractional heat carried over to the next month, and
  split into orders of `heats_per_order`; the orders of all grades are interleaved (1st order of
  each grade, then the 2nd, …) and appended to one queue.
* a line always has one charge prepared ahead: when it starts a heat (and at each month start)
  the next charge is chosen — an order of the line's last grade if one is queued, else the
  oldest order — and sent to batching. When the grade changes and wash heats are enabled, the
  charge is a wash heat instead (one material, no product, the order is not consumed).
* batching station (Resource): handling + materials × weigh time; AGV (Resource, one FIFO queue
  for both trips, or a PriorityResource with deliveries first; every n-th trip keeps its vehicle
  for a battery charge) to the line's buffer.
* the heats' metallurgy (alloy optimiser, melt loss, casting, lab verdict) is not modelled: the
  Rust side runs with `--logistics-only` for the comparison.
* the line runs charge, melt, cast, cool. Failures come after an exponential *operating* time
  (the clock runs only while a heat is in the furnace); the phase pauses for the repair and
  resumes with its remaining time. Planned maintenance is due every `maintenance_every_days`,
  lines offset by (i + ½)/count of the interval; it starts at once on an idle line, else when the
  current heat ends.
* a product heat goes by AGV to the store, then to the lab (Resource), then to finished goods.
* statistics from the end of the warm-up: output by grade, per-line time in each state,
  availability = run / (measured time − maintenance), performance = ideal cycle (sum of the
  phases' minima: triangular min, fixed value, mean otherwise) × all heats / run (≤ 1),
  quality = product heats / all heats, OEE = A × P × Q; resource utilisation, mean queue and
  wait; WIP (heats from charge dispatch to finished goods, wash heats until melted); lead time
  (model.rs measures it from the moment the charge is dispatched to batching, not from the
  order's release — both are reported here, the estimate uses model.rs's); backlog = heats of
  orders not yet started at the end.

Random streams differ from the Rust model (Python's Mersenne Twister), so the two agree in
distribution, not event for event.

Usage: python scripts/peer/twin_plant_simpy.py PLANT.toml [--days D] [--replications N] [--seed S]
Prints JSON: the estimates (same names and units as `lodestone twin run --json`), each
replication's results, and the wall time. Needs simpy (scripts/peer/setup_venv.sh).
"""
import argparse
import json
import math
import random
import statistics
import sys
import time
import tomllib
from collections import deque

import simpy

DAY_S = 86_400.0
MONTH_S = 365.0 / 12.0 * DAY_S

PRODUCING, WASHING, STARVED, DOWN, MAINTENANCE = range(5)
STATE_NAMES = ("producing", "washing", "starved", "down", "maintenance")


# --- distributions (plant.rs Duration::sample) --------------------------------------------

def sampler(d, rng):
    """A zero-argument function drawing a duration in seconds from a plant.rs Duration table."""
    kind = d["dist"]
    if kind == "fixed":
        s = float(d["s"])
        return lambda: s
    if kind == "triangular":
        lo, mode, hi = float(d["min_s"]), float(d["mode_s"]), float(d["max_s"])
        if hi <= lo:
            return lambda: lo
        tri = rng.triangular
        return lambda: tri(lo, hi, mode)
    if kind == "exponential":
        rate = 1.0 / float(d["mean_s"])
        expo = rng.expovariate
        return lambda: expo(rate)
    if kind == "lognormal":
        mean, sd = float(d["mean_s"]), float(d["sd_s"])
        sigma2 = math.log(1.0 + (sd / mean) ** 2)
        mu, sigma = math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)
        logn = rng.lognormvariate
        return lambda: logn(mu, sigma)
    raise ValueError(f"unknown dist '{kind}'")


def ideal(d):
    """model.rs `ideal`: the shortest (triangular) or typical duration of a phase."""
    kind = d["dist"]
    if kind == "fixed":
        return float(d["s"])
    if kind == "triangular":
        return float(d["min_s"])
    return float(d["mean_s"])


# --- statistics ---------------------------------------------------------------------------

class TimeWeighted:
    """Time average of a piecewise-constant quantity (engine.rs TimeWeighted)."""
    __slots__ = ("value", "since", "integral", "start")

    def __init__(self, start=0.0, value=0.0):
        self.value, self.since, self.integral, self.start = value, start, 0.0, start

    def set(self, now, value):
        self.integral += self.value * (now - self.since)
        self.since = now
        self.value = value

    def add(self, now, delta):
        self.integral += self.value * (now - self.since)
        self.since = now
        self.value += delta

    def mean(self, now):
        span = now - self.start
        if span <= 0.0:
            return self.value
        return (self.integral + self.value * (now - self.since)) / span

    def reset(self, now):
        self.integral, self.since, self.start = 0.0, now, now


class Station:
    """A simpy.Resource with the statistics engine.rs Resource keeps: servers busy and queue
    length (time-weighted) and the wait of each granted request."""

    def __init__(self, env, capacity, priority=False):
        self.env = env
        self.res = (simpy.PriorityResource if priority else simpy.Resource)(env, capacity=capacity)
        self.capacity = capacity
        self.busy = TimeWeighted()
        self.queue = TimeWeighted()
        self.wait_sum = 0.0
        self.wait_n = 0

    def request(self, priority=0):
        """Request a server; returns (request, time asked, whether it has to queue). Lower
        `priority` goes first on a priority station (FIFO within a priority)."""
        req = self.res.request(priority=priority) if isinstance(self.res, simpy.PriorityResource) else self.res.request()
        queued = not req.triggered
        if queued:
            self.queue.add(self.env.now, 1.0)
        return req, self.env.now, queued

    def granted(self, asked, queued):
        now = self.env.now
        if queued:
            self.queue.add(now, -1.0)
        self.busy.set(now, len(self.res.users))
        self.wait_sum += now - asked
        self.wait_n += 1

    def released(self):
        # Leaving the `with` block released the server and already granted the next request.
        self.busy.set(self.env.now, len(self.res.users))

    def reset(self, now):
        self.busy.reset(now)
        self.queue.reset(now)
        self.wait_sum, self.wait_n = 0.0, 0

    def stats(self, now):
        return {
            "capacity": self.capacity,
            "utilisation": self.busy.mean(now) / self.capacity,
            "mean_queue": self.queue.mean(now),
            "mean_wait_s": self.wait_sum / self.wait_n if self.wait_n else 0.0,
        }


# --- the model ----------------------------------------------------------------------------

class Charge:
    __slots__ = ("grade", "wash", "line", "released", "ordered", "melted")

    def __init__(self, grade, wash, line, released, ordered, melted):
        self.grade, self.wash, self.line = grade, wash, line
        self.released, self.ordered, self.melted = released, ordered, melted


class Line:
    __slots__ = ("index", "state", "since", "time_in", "buffer", "on_the_way", "uptime_left",
                 "last_grade", "maintenance_due", "heats", "wash_heats", "wake")

    def __init__(self, index, uptime_left):
        self.index = index
        self.state, self.since, self.time_in = STARVED, 0.0, [0.0] * 5
        self.buffer = deque()          # charges delivered, waiting at the line (at most one)
        self.on_the_way = False        # a charge is in batching or on an AGV for this line
        self.uptime_left = uptime_left  # operating time before the next failure, s
        self.last_grade = None
        self.maintenance_due = False
        self.heats = self.wash_heats = 0
        self.wake = None               # event the idle line waits on (delivery, maintenance)

    def set_state(self, now, state):
        self.time_in[self.state] += now - self.since
        self.state, self.since = state, now


class Plant:
    def __init__(self, plant, seed):
        self.p = plant
        self.rng = rng = random.Random(seed)
        self.env = env = simpy.Environment()
        lines = plant["lines"]
        b, a = plant["batching"], plant["agv"]
        self.handling = sampler(b["handling"], rng)
        self.weigh = sampler(b["weigh_per_material"], rng)
        self.to_line = sampler(a["batching_to_line"], rng)
        self.to_store = sampler(a["line_to_store"], rng)
        self.phases = tuple(sampler(lines[k], rng) for k in ("charge", "melt", "cast", "cool"))
        self.repair = sampler(lines["repair"], rng)
        self.analysis = sampler(plant["lab"]["analysis"], rng)
        failure_rate = 1.0 / (float(lines["mtbf_h"]) * 3600.0)
        self.failure = lambda: rng.expovariate(failure_rate)
        self.ideal_cycle = sum(ideal(lines[k]) for k in ("charge", "melt", "cast", "cool"))
        self.heat_kg = float(lines["heat_kg"]) * float(lines["flake_yield"])
        self.wash_enabled = bool(lines.get("wash_heat_between_grades", False))
        self.maintenance_s = float(lines.get("maintenance_h") or 0.0) * 3600.0
        self.grades = plant["grade"]
        self.materials = [int(g["materials_per_heat"]) for g in self.grades]
        self.heats_per_order = int(plant["heats_per_order"])

        self.batching = Station(env, int(b["stations"]))
        # Dispatch rule: deliveries to the lines before drums for the store (engine.rs
        # request_first), else one FIFO queue.
        self.deliveries_first = a.get("dispatch", "fifo") == "deliveries-first"
        self.agv = Station(env, int(a["fleet"]), priority=self.deliveries_first)
        # Battery charging: every n-th trip of the pooled fleet keeps its vehicle for a charge.
        self.charge_every = int(a.get("charge_every_trips") or 0)
        self.charge_time = sampler(a["charge"], rng) if self.charge_every else None
        self.agv_trips = 0
        self.lab = Station(env, int(plant["lab"]["analysts"]))
        self.lines = [Line(i, self.failure()) for i in range(int(lines["count"]))]
        self.orders = deque()  # [grade, heats left, release time]
        self.open_orders = [0] * len(self.grades)  # orders queued per grade (skips vain scans)
        self.carry = [0.0] * len(self.grades)
        self.wip = TimeWeighted()
        self.lead_sum = self.lead_n = 0.0
        self.lead_order_sum = 0.0
        self.output_kg = [0.0] * len(self.grades)

    # -- orders and dispatch ---------------------------------------------------------------

    def release_orders(self):
        heat_t = self.heat_kg / 1000.0
        per_order = self.heats_per_order
        now = self.env.now
        by_grade = []
        for g, grade in enumerate(self.grades):
            self.carry[g] += float(grade["demand_t_per_month"]) / heat_t
            heats = math.floor(self.carry[g])
            self.carry[g] -= heats
            orders = []
            while heats > 0:
                n = min(heats, per_order)
                orders.append([g, n, now])
                heats -= n
            by_grade.append(orders)
        # Orders of all grades interleave, so no grade waits a month behind another.
        for i in range(max(map(len, by_grade), default=0)):
            for orders in by_grade:
                if i < len(orders):
                    self.orders.append(orders[i])
                    self.open_orders[orders[i][0]] += 1

    def next_charge(self, line):
        """The line's current grade's campaign if one is queued, else the oldest order —
        preceded by a wash heat when the grade changes."""
        orders = self.orders
        if not orders:
            return None
        last = line.last_grade
        pick = 0
        if last is not None and self.open_orders[last]:
            for i, o in enumerate(orders):
                if o[0] == last:
                    pick = i
                    break
        order = orders[pick]
        grade = order[0]
        now = self.env.now
        line.last_grade = grade
        if self.wash_enabled and last is not None and last != grade:
            return Charge(grade, True, line, now, order[2], self.env.event())
        order[1] -= 1
        if order[1] == 0:
            del orders[pick]
            self.open_orders[grade] -= 1
        return Charge(grade, False, line, now, order[2], self.env.event())

    def prepare_next(self, line):
        """Dispatch the line's next charge unless one is already waiting or on the way."""
        if line.on_the_way or line.buffer:
            return
        charge = self.next_charge(line)
        if charge is None:
            return
        line.on_the_way = True
        self.wip.add(self.env.now, 1.0)
        self.env.process(self.heat(charge))

    # -- processes -------------------------------------------------------------------------

    def months(self):
        env = self.env
        while True:
            self.release_orders()
            for line in self.lines:
                self.prepare_next(line)
            yield env.timeout(MONTH_S)

    def trip_done(self, req):
        """A vehicle finished a trip: it charges if its battery is due, else is free."""
        self.agv_trips += 1
        if self.charge_every and self.agv_trips % self.charge_every == 0:
            self.env.process(self.charge_vehicle(req))
        else:
            self.agv.res.release(req)
            self.agv.released()

    def charge_vehicle(self, req):
        yield self.env.timeout(self.charge_time())
        self.agv.res.release(req)
        self.agv.released()

    def heat(self, charge):
        """One charge from batching to finished goods (a wash heat ends in the furnace)."""
        env = self.env
        batching, agv, lab = self.batching, self.agv, self.lab
        # Batching: weigh the materials into the container.
        materials = 1 if charge.wash else self.materials[charge.grade]
        req, asked, queued = batching.request()
        with req:
            yield req
            batching.granted(asked, queued)
            t = self.handling()
            for _ in range(materials):
                t += self.weigh()
            yield env.timeout(t)
        batching.released()
        # AGV to the line.
        req, asked, queued = agv.request(priority=0)
        yield req
        agv.granted(asked, queued)
        yield env.timeout(self.to_line())
        self.trip_done(req)
        line = charge.line
        line.on_the_way = False
        line.buffer.append(charge)
        if line.wake is not None and not line.wake.triggered:
            line.wake.succeed()
        # The line melts and casts it.
        yield charge.melted
        if charge.wash:
            return
        # AGV to the store, lab analysis, release to finished goods.
        req, asked, queued = agv.request(priority=1)
        yield req
        agv.granted(asked, queued)
        yield env.timeout(self.to_store())
        self.trip_done(req)
        req, asked, queued = lab.request()
        with req:
            yield req
            lab.granted(asked, queued)
            yield env.timeout(self.analysis())
        lab.released()
        now = env.now
        self.wip.add(now, -1.0)
        self.output_kg[charge.grade] += self.heat_kg
        self.lead_sum += (now - charge.released) / 3600.0
        self.lead_order_sum += (now - charge.ordered) / 3600.0
        self.lead_n += 1

    def line(self, line):
        """A melting and strip-casting line: maintenance when due, else the next charge,
        else wait (starved)."""
        env = self.env
        timeout = env.timeout
        phases = self.phases
        while True:
            if line.maintenance_due:
                line.maintenance_due = False
                line.set_state(env.now, MAINTENANCE)
                self.prepare_next(line)
                yield timeout(self.maintenance_s)
                line.set_state(env.now, STARVED)
                continue
            if not line.buffer:
                line.set_state(env.now, STARVED)
                self.prepare_next(line)
                line.wake = env.event()
                yield line.wake
                line.wake = None
                continue
            charge = line.buffer.popleft()
            running = WASHING if charge.wash else PRODUCING
            line.set_state(env.now, running)
            # The next charge is prepared while this one melts.
            self.prepare_next(line)
            for phase in phases:
                left = phase()
                # A failure after the operating time left; the phase resumes after repair.
                while line.uptime_left < left:
                    up = line.uptime_left
                    yield timeout(up)
                    left -= up
                    line.set_state(env.now, DOWN)
                    repair = self.repair()
                    line.uptime_left = self.failure()
                    yield timeout(repair)
                    line.set_state(env.now, running)
                yield timeout(left)
                line.uptime_left -= left
            if charge.wash:
                line.wash_heats += 1
                self.wip.add(env.now, -1.0)
            else:
                line.heats += 1
            charge.melted.succeed()

    def maintenance_clock(self, line, offset, every):
        env = self.env
        yield env.timeout(offset)
        while True:
            line.maintenance_due = True  # an idle line starts now, a busy one after its heat
            if line.wake is not None and not line.wake.triggered:
                line.wake.succeed()
            yield env.timeout(every)

    def warmup_end(self, at):
        yield self.env.timeout(at)
        now = self.env.now
        for line in self.lines:
            line.set_state(now, line.state)
            line.time_in = [0.0] * 5
            line.heats = line.wash_heats = 0
        for st in (self.batching, self.agv, self.lab):
            st.reset(now)
        self.wip.reset(now)
        self.lead_sum = self.lead_n = self.lead_order_sum = 0.0
        self.output_kg = [0.0] * len(self.grades)

    # -- a replication ---------------------------------------------------------------------

    def run(self, days, warmup_days):
        env = self.env
        warmup_s = warmup_days * DAY_S
        end_s = warmup_s + days * DAY_S
        env.process(self.months())
        if warmup_s > 0.0:
            env.process(self.warmup_end(warmup_s))
        lines = self.p["lines"]
        every = lines.get("maintenance_every_days")
        if every is not None:
            # Lines are maintained in turn, spread over the interval.
            n = len(self.lines)
            for line in self.lines:
                offset = every * DAY_S * (line.index + 0.5) / n
                env.process(self.maintenance_clock(line, offset, every * DAY_S))
        for line in self.lines:
            env.process(self.line(line))
        env.run(until=end_s)
        now = end_s
        out_lines = []
        for line in self.lines:
            line.set_state(now, line.state)
            t = line.time_in
            planned = (now - warmup_s) - t[MAINTENANCE]
            run = t[PRODUCING] + t[WASHING]
            all_heats = line.heats + line.wash_heats
            availability = run / planned if planned > 0 else 0.0
            performance = min(self.ideal_cycle * all_heats / run, 1.0) if run > 0 else 0.0
            quality = line.heats / all_heats if all_heats else 0.0
            out_lines.append({
                "hours": {STATE_NAMES[i]: t[i] / 3600.0 for i in range(5)},
                "heats": line.heats,
                "wash_heats": line.wash_heats,
                "availability": availability,
                "performance": performance,
                "quality": quality,
                "oee": availability * performance * quality,
            })
        by_grade = {g["name"]: kg / 1000.0 for g, kg in zip(self.grades, self.output_kg)}
        output_t = sum(by_grade.values())
        return {
            "days": days,
            "output_t_by_grade": by_grade,
            "output_t": output_t,
            "output_t_per_yr": output_t * 365.0 / days,
            "lines": out_lines,
            "batching": self.batching.stats(now),
            "agv": self.agv.stats(now),
            "lab": self.lab.stats(now),
            "mean_wip_heats": self.wip.mean(now),
            "mean_lead_time_h": self.lead_order_sum / self.lead_n if self.lead_n else 0.0,
            "mean_flow_time_h": self.lead_sum / self.lead_n if self.lead_n else 0.0,
            "backlog_heats": sum(o[1] for o in self.orders),
        }


# --- replications and estimates (study.rs) ------------------------------------------------

# Student t 0.975 quantiles for 1..30 degrees of freedom (scipy.stats.t.ppf, 6 decimals);
# scipy itself is not imported, to keep the timed process lean.
T975 = [12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004,
        2.262157, 2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.13145, 2.119905,
        2.109816, 2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899,
        2.059539, 2.055529, 2.051831, 2.048407, 2.04523, 2.042272]


def t975(df):
    if df <= len(T975):
        return T975[df - 1]
    z = 1.959963984540054  # Cornish-Fisher expansion around the normal quantile
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def mean_ci95(values):
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    return mean, t975(n - 1) * statistics.stdev(values) / math.sqrt(n)


def estimates(plant, runs):
    out = []

    def est(name, unit, values):
        mean, ci = mean_ci95(values)
        out.append({"name": name, "unit": unit, "mean": mean, "ci95": ci})

    def line_mean(r, key):
        return sum(l[key] for l in r["lines"]) / len(r["lines"])

    est("output", "t/yr", [r["output_t_per_yr"] for r in runs])
    for g in plant["grade"]:
        est(f"output {g['name']}", "t/yr",
            [r["output_t_by_grade"][g["name"]] * 365.0 / r["days"] for r in runs])
    est("line availability", "", [line_mean(r, "availability") for r in runs])
    est("line OEE", "", [line_mean(r, "oee") for r in runs])
    est("batching utilisation", "", [r["batching"]["utilisation"] for r in runs])
    est("AGV utilisation", "", [r["agv"]["utilisation"] for r in runs])
    est("lab utilisation", "", [r["lab"]["utilisation"] for r in runs])
    est("lead time, order release to finished goods", "h", [r["mean_lead_time_h"] for r in runs])
    est("flow time, charge dispatch to finished goods", "h", [r["mean_flow_time_h"] for r in runs])
    est("WIP", "heats", [r["mean_wip_heats"] for r in runs])
    est("backlog at end", "heats", [float(r["backlog_heats"]) for r in runs])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("plant", help="plant TOML (e.g. examples/plant/baotou-50kt.toml)")
    ap.add_argument("--days", type=float, help="days measured after the warm-up (default: the file's)")
    ap.add_argument("--replications", type=int, default=10)
    ap.add_argument("--seed", type=int, help="first seed (default: the file's); replication i uses seed + i")
    args = ap.parse_args(argv)
    with open(args.plant, "rb") as f:
        plant = tomllib.load(f)
    sim = plant.get("simulation", {})
    days = args.days if args.days is not None else float(sim.get("days", 365.0))
    warmup = float(sim.get("warmup_days", 0.0))
    seed = args.seed if args.seed is not None else int(sim.get("seed", 1))
    started = time.perf_counter()
    runs = []
    for i in range(max(args.replications, 1)):
        t0 = time.perf_counter()
        r = Plant(plant, seed + i).run(days, warmup)
        r["seed"] = seed + i
        r["seconds"] = time.perf_counter() - t0
        runs.append(r)
    seconds = time.perf_counter() - started
    json.dump({
        "plant": plant["name"],
        "days": days,
        "warmup_days": warmup,
        "engine": f"SimPy {simpy.__version__}, Python {sys.version.split()[0]}",
        "seconds": seconds,
        "estimates": estimates(plant, runs),
        "replications": runs,
    }, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
