#!/usr/bin/env python3
"""Login latency under parallel logins (issue 14's benchmark): starts `lodestone serve --demo`,
sends ROUNDS rounds of PARALLEL simultaneous logins (half right, half wrong passwords, and
unknown users among them), and prints p50/p90/p99 and the status counts.

    scripts/bench_login.py [LODESTONE_BIN] [PARALLEL] [ROUNDS]

Standard library only. Logins are argon2 checks (deliberately expensive) behind the server's
login gate (`--max-logins`, default 1), so p99 grows with PARALLEL × one argon2 check.
"""
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/lodestone"
PARALLEL = int(sys.argv[2]) if len(sys.argv) > 2 else 50
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5

server = subprocess.Popen(
    [BIN, "serve", "--demo", "--listen", "127.0.0.1:0", "--speed", "0", "--log", "off"],
    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
url = None
start = time.time()
while url is None and time.time() - start < 60:
    line = server.stdout.readline()
    m = re.search(r"serving (http://\S+)", line)
    if m:
        url = m.group(1).rstrip("/")
if url is None:
    server.kill()
    sys.exit("the server did not start")
threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()

def login(i, times, statuses):
    user, password = [("qa", "lodestone-qa"), ("operator", "wrong-password-x"),
                      ("nobody-%d" % i, "whatever-pass")][i % 3]
    body = json.dumps({"user": user, "password": password}).encode()
    req = urllib.request.Request(url + "/api/login", data=body,
                                 headers={"content-type": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    times.append(time.perf_counter() - t0)
    statuses[status] = statuses.get(status, 0) + 1

times, statuses = [], {}
for round_ in range(ROUNDS):
    threads = [threading.Thread(target=login, args=(round_ * PARALLEL + i, times, statuses))
               for i in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
server.terminate()
times.sort()
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000
print(f"{len(times)} logins, {PARALLEL} at a time: p50 {pick(0.5):.0f} ms, "
      f"p90 {pick(0.9):.0f} ms, p99 {pick(0.99):.0f} ms, max {times[-1]*1000:.0f} ms; "
      f"statuses {dict(sorted(statuses.items()))}")
