"""One FIFO furnace, batches arriving at random (exponential inter-arrival 100 s, service 80 s):
the same model as crates/twin/src/fifo.rs, in SimPy, timed as a whole process would be.

Usage: python scripts/peer/twin_fifo_simpy.py [BATCHES]   (needs: pip install simpy)
Prints one JSON line: batches, seconds, utilisation, mean wait.
"""
import json
import random
import sys
import time

import simpy


def run(batches, seed=1, mean_interarrival=100.0, mean_service=80.0):
    rng = random.Random(seed)
    env = simpy.Environment()
    furnace = simpy.Resource(env, capacity=1)
    waits = []
    busy = [0.0]

    def batch(env):
        arrived = env.now
        with furnace.request() as req:
            yield req
            waits.append(env.now - arrived)
            service = rng.expovariate(1.0 / mean_service)
            busy[0] += service
            yield env.timeout(service)

    def source(env):
        for _ in range(batches):
            env.process(batch(env))
            yield env.timeout(rng.expovariate(1.0 / mean_interarrival))

    env.process(source(env))
    env.run()
    return env.now, busy[0] / env.now, sum(waits) / len(waits)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    start = time.perf_counter()
    end, utilisation, wait = run(n)
    seconds = time.perf_counter() - start
    print(json.dumps({"batches": n, "seconds": seconds, "utilisation": utilisation, "mean_wait_s": wait}))
