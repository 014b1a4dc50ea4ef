"""Memory per transaction: RSS of sipd before and after N requests relayed to a callee.
Usage: python3 tests/bench/tm_memory.py BUILD_DIR [N] [MODE]   (prints bytes per transaction)
MODE live (default): INVITEs to a callee that never answers, so every transaction stays alive (request,
  branch copy, 100 Trying kept).
MODE completed: the callee answers each INVITE 200 (SDP) and each BYE 200 at once; the transactions wait
  out their RFC 3261 timers (L/M for the INVITE, J/K for the BYE, stretched here so none ends) holding only
  what absorbing retransmissions needs."""

import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sipdtest import Sipd, rss_kib, sip_request  # noqa: E402

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" + "a=x\r\n" * 40


def answer(sock, stop):
    """The callee: a 200 to each request, with the request's Via, From, Call-ID, CSeq and a To tag."""
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, addr = sock.recvfrom(65535)
        except socket.timeout:
            continue
        head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        if head.startswith("ACK "):
            continue
        keep = [ln for ln in head.split("\r\n")[1:] if re.match(r"(?i)(via|from|call-id|cseq|record-route):", ln)]
        to = next((ln for ln in head.split("\r\n") if ln.lower().startswith("to:")), "To: <sip:x@x>")
        body = SDP if head.startswith("INVITE ") else ""
        resp = ["SIP/2.0 200 OK"] + keep + [to + ";tag=callee", "Contact: <sip:callee@127.0.0.1>",
                                            f"Content-Length: {len(body)}"]
        sock.sendto(("\r\n".join(resp) + "\r\n\r\n" + body).encode(), addr)


build = sys.argv[1] if len(sys.argv) > 1 else "build"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
mode = sys.argv[3] if len(sys.argv) > 3 else "live"
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", 0))  # live: bound, never read, so INVITEs go nowhere and transactions stay alive
sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
sink_port = sink.getsockname()[1]
stop = threading.Event()
if mode == "completed":
    threading.Thread(target=answer, args=(sink, stop), daemon=True).start()
routing = (f'request_route {{ maxfwd(70); if (has_to_tag()) {{ loose_route(); relay(); exit; }}\n'
           f'$ru = "sip:$rU@127.0.0.1:{sink_port}"; record_route(); relay(); }}\n')
# Long timers: no transaction ends during the measure (T1 2 s: Timers J, L, M are 128 s; T4: Timer K).
mods = [{"name": "parser"}, {"name": "udp"}, {"name": "maxfwd"},
        {"name": "tm", "t1": 2000, "t2": 4000, "t4": 128000, "timer_c": 600000}]
with Sipd(build, modules=mods, routing=routing, log_level="error") as s:
    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller.bind(("127.0.0.1", 0))
    caller.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    port = caller.getsockname()[1]
    time.sleep(0.3)
    before = rss_kib(s.proc.pid)
    for i in range(n):
        caller.sendto(sip_request("INVITE", f"sip:u{i}@127.0.0.1:{s.port}", via_port=port, call_id=f"c{i}",
                                  from_tag="f", body="v=0\r\n" + "a=x\r\n" * 40), ("127.0.0.1", s.port))
        if mode == "completed":
            caller.sendto(sip_request("BYE", f"sip:u{i}@127.0.0.1:{s.port}", via_port=port, call_id=f"c{i}",
                                      from_tag="f", cseq=2, to=f"<sip:u{i}@127.0.0.1>;tag=callee"),
                          ("127.0.0.1", s.port))
        if i % (500 if mode == "live" else 100) == 0:
            time.sleep(0.02 if mode == "live" else 0.06)  # let sipd keep up: every request must count
            while True:  # drain the answers
                caller.setblocking(False)
                try:
                    caller.recv(65535)
                except BlockingIOError:
                    break
    time.sleep(1.5)
    st = s.ctl("tm.stats")
    after = rss_kib(s.proc.pid)
    live = st["current"]
    states = st.get("by_state", st)
    stop.set()
    what = ("request, branch copy, 100 Trying kept" if mode == "live" else
            "completed: INVITEs Accepted, BYEs Completed, about 300-byte SDP in the 200")
    print(f"{live} transactions (of {n} calls), RSS {before} KiB -> {after} KiB: "
          f"{(after - before) * 1024 / max(live, 1):.0f} bytes per transaction ({what}); tm.stats {states}")
