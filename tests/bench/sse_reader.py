"""A dashboard stand-in for benchmarks: logs in to the web admin and reads /api/events until killed.
Usage: sse_reader.py PORT USER PASSWORD COUNT_FILE (writes the number of events read there every second)."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from webclient import WebClient  # noqa: E402

port, user, password, count_file = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
web = WebClient(port).wait_ready()
if web.login(user, password).status != 200:
    sys.exit("sse_reader: login failed")
stream = web.events(timeout=30)
counts, last = {}, time.time()
while True:
    ev = stream.next_event(timeout=1.0)
    if ev:
        counts[ev[0]] = counts.get(ev[0], 0) + 1
    if time.time() - last >= 1.0:
        with open(count_file + ".tmp", "w") as f:
            f.write(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) + "\n")
        os.replace(count_file + ".tmp", count_file)
        last = time.time()
