"""Fills a registrar with COUNT distinct AORs over UDP (a bounded window of outstanding REGISTERs).
Usage: register_fill.py PORT COUNT  -> prints "acked elapsed_seconds"."""

import random
import socket
import sys
import time

port, count = int(sys.argv[1]), int(sys.argv[2])
window = 1000
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", 0))
lport = s.getsockname()[1]
s.settimeout(0.5)
sent = acked = 0
start = time.time()
deadline = start + 300
pending = set()
while acked < count and time.time() < deadline:
    while sent < count and sent - acked < window:
        u = f"fill{sent}"
        msg = (f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK{random.getrandbits(48):x};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:{u}@127.0.0.1>;tag={sent}\r\nTo: <sip:{u}@127.0.0.1>\r\n"
               f"Call-ID: {u}@fill\r\nCSeq: 1 REGISTER\r\nContact: <sip:{u}@10.2.{sent >> 16 & 255}.{sent & 255}:5060>\r\n"
               f"Expires: 3600\r\nUser-Agent: register_fill\r\nContent-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), ("127.0.0.1", port))
        pending.add(u)
        sent += 1
    try:
        data, _ = s.recvfrom(65535)
    except socket.timeout:
        # Lost on the way: send the missing ones again (same Call-ID and CSeq: a retransmission).
        sent = acked
        continue
    if data.startswith(b"SIP/2.0 200"):
        i = data.find(b"Call-ID: ")
        cid = data[i + 9:data.find(b"@", i)].decode()
        if cid in pending:
            pending.discard(cid)
            acked += 1
print(acked, round(time.time() - start, 1))
