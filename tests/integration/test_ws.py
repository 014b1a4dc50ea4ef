"""SIP over WebSocket (RFC 7118) against the real sipd, over ws and wss (the tls module's certificate):
the handshake policy (subprotocol, Origin, limits), hostile frames answered with the right close codes,
and a browser-like client that registers over its connection and is called from UDP through two
Record-Routes."""

import json
import os
import random
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import Sipd, TestRun, free_port, new_branch, parse_sip  # noqa: E402
from wsclient import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,  # noqa: E402
                      HandshakeRefused, WsClient, frame)

run = TestRun("ws")
ORIGIN = "http://127.0.0.1:8080"
MAX_MSG = 4096
PER_IP = 6

ROUTING = """
request_route {
	sanity();
	maxfwd(70);
	if (is_method("ACK")) {
		if (loose_route() || !uri_is_myself()) { relay(); }
		drop;
	}
	if (has_to_tag() && loose_route()) { relay(); }
	if (has_to_tag()) { reply(481, "Call/Transaction Does Not Exist"); }
	if (is_method("OPTIONS") && $rU == "") { reply(200, "OK"); }
	if ($rm == "REGISTER") { save(); exit; }
	lookup();
	record_route();
	relay();
}
"""


def rand_tag():
    return "%08x" % random.getrandbits(32)


class WsUA:
    """A browser-like UA over a WebSocket: .invalid Via and Contact, as JsSIP sends them."""

    def __init__(self, port, user, origin=ORIGIN, tls=False):
        self.ws = WsClient(port, origin=origin, tls=tls)
        self.user = user
        self.via = "WSS" if tls else "WS"
        self.host = "%s.invalid" % rand_tag()
        self.contact = f"<sip:{user}-c@{self.host};transport=ws;ob>"

    def send(self, text):
        self.ws.send_text(text)

    def recv(self, timeout=5.0):
        m = self.ws.recv_message(timeout)
        return parse_sip(m.encode()) if m else None

    def request(self, method, ruri, cseq=1, call_id=None, extra=()):
        call_id = call_id or "%016x" % random.getrandbits(64)
        lines = [f"{method} {ruri} SIP/2.0",
                 f"Via: SIP/2.0/{self.via} {self.host};branch={new_branch()}",
                 "Max-Forwards: 70", f"From: <sip:{self.user}@127.0.0.1>;tag={rand_tag()}",
                 f"To: <sip:{self.user}@127.0.0.1>", f"Call-ID: {call_id}", f"CSeq: {cseq} {method}",
                 f"Contact: {self.contact}"] + list(extra)
        self.send("\r\n".join(lines) + "\r\n\r\n")

    def register(self, expires=600):
        self.request("REGISTER", "sip:127.0.0.1", extra=[f"Expires: {expires}"])
        while True:
            r = self.recv()
            if r is None or (r.status and r.status >= 200):
                return r

    def reply(self, req, status, reason, to_tag):
        lines = [f"SIP/2.0 {status} {reason}"]
        for n, v in req.headers:
            ln = n.lower()
            if ln in ("via", "from", "call-id", "cseq", "record-route"):
                lines.append(f"{n}: {v}")
            elif ln == "to":
                lines.append(f"{n}: {v}" + ("" if "tag=" in v else f";tag={to_tag}"))
        lines.append(f"Contact: {self.contact}")
        self.send("\r\n".join(lines) + "\r\n\r\n")


class UdpUA:
    """A scripted UDP caller."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def send(self, text, port):
        self.sock.sendto(text.encode(), ("127.0.0.1", port))

    def recv(self, timeout=5.0):
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65535)
        except socket.timeout:
            return None
        return parse_sip(data)

    def final(self, timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.recv(deadline - time.time())
            if m is None:
                return None
            if m.status and m.status >= 200:
                return m
        return None

    def close(self):
        self.sock.close()


def invite(caller, sipd_port, user, call_id, from_tag, cseq=1):
    sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
    return "\r\n".join([
        f"INVITE sip:{user}@127.0.0.1:{sipd_port} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{caller.port};branch={new_branch()};rport",
        "Max-Forwards: 70", f"From: <sip:caller@127.0.0.1>;tag={from_tag}",
        f"To: <sip:{user}@127.0.0.1>", f"Call-ID: {call_id}", f"CSeq: {cseq} INVITE",
        f"Contact: <sip:caller@127.0.0.1:{caller.port}>", "Content-Type: application/sdp",
        f"Content-Length: {len(sdp)}", "", sdp])


def in_dialog(caller, method, resp, route_set, cseq, call_id, from_tag):
    """ACK/BYE from the UDP caller along the route set of a 2xx (RFC 3261 12.2.1.1)."""
    ruri = re.search(r"<([^>]+)>", resp.get("Contact")).group(1)
    return "\r\n".join([
        f"{method} {ruri} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{caller.port};branch={new_branch()};rport",
        "Max-Forwards: 70", f"From: <sip:caller@127.0.0.1>;tag={from_tag}", f"To: {resp.get('To')}",
        f"Call-ID: {call_id}", f"CSeq: {cseq} {method}"] + [f"Route: {r}" for r in route_set] +
        ["Content-Length: 0", "", ""])


def record_routes(m):
    out = []
    for v in m.all("Record-Route"):
        out += [x.strip() for x in v.split(",")]
    return out


def make_cert():
    """A self-signed certificate for 127.0.0.1 in a temporary directory: (dir, cert, key)."""
    d = tempfile.mkdtemp(prefix="ws-cert-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return d, cert, key


certdir, CERT, KEY = make_cert()
wsport, wssport = free_port("tcp"), free_port("tcp")
modules = [{"name": "parser"}, {"name": "udp"}, {"name": "tcp"}, {"name": "tls", "certificate": CERT,
                                                                   "private_key": KEY},
           {"name": "sanity"}, {"name": "maxfwd"}, {"name": "tm"}, {"name": "registrar"},
           {"name": "ws", "max_message_size": MAX_MSG, "max_connections_per_ip": PER_IP,
            "allowed_origins": [ORIGIN, "https://phone.example"]}]
with Sipd(run.build, modules=modules, routing=ROUTING,
          listen=["udp:127.0.0.1:{port}", f"ws:127.0.0.1:{wsport}", f"wss:127.0.0.1:{wssport}"]) as s:
    for PROTO, PORT, TLS in (("ws", wsport, False), ("wss", wssport, True)):

        def case(fn):
            """Runs fn as a case named after it and the protocol (ws cases keep their old names)."""
            if TLS:
                fn.__name__ += "_wss"
            return run.case(fn)

        def Ws(**kw):
            return WsClient(PORT, tls=TLS, **kw)

        def refused(**kw):
            try:
                Ws(**kw).close()
            except HandshakeRefused as e:
                return e
            return None

        @case
        def handshake_selects_sip():
            ws = Ws(protocols="chat, sip", origin=ORIGIN)
            run.expect(ws.protocol == "sip", f"Sec-WebSocket-Protocol {ws.protocol}")
            ws.close()

        @case
        def handshake_without_sip_refused_400():
            for protos in (None, "chat", "SIP, sips"):
                e = refused(protocols=protos, origin=ORIGIN)
                run.expect(e and e.status == 400, f"{protos}: {e}")
                run.expect('"error"' in e.body and "sip" in e.body, e.body)

        @case
        def bad_origin_refused_403():
            for origin in ("http://evil.example", "http://127.0.0.1:8081", "null"):
                e = refused(origin=origin)
                run.expect(e and e.status == 403, f"{origin}: {e}")
                run.expect("not allowed" in e.body, e.body)
            ws = Ws(origin="https://phone.example")  # a configured one
            ws.close()

        @case
        def plain_http_gets_426():
            c = socket.create_connection(("127.0.0.1", wsport), timeout=3)
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                d = c.recv(4096)
                if not d:
                    break
                data += d
            c.close()
            run.expect(data.startswith(b"HTTP/1.1 426"), data[:80])

        def options(ws, text_frames=True):
            msg = ("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=%s\r\n"
                   "Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\n"
                   "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\n\r\n" % (new_branch(), rand_tag()))
            return msg

        @case
        def text_binary_and_fragmented_messages_answered():
            ws = Ws(origin=ORIGIN)
            ws.send(OP_TEXT, options(ws))
            r = parse_sip(ws.recv_message().encode())
            run.expect(r.status == 200 and "received=127.0.0.1" in r.get("Via"), r.start)
            ws.send(OP_BINARY, options(ws))
            run.expect(parse_sip(ws.recv_message().encode()).status == 200, "binary frame answered")
            m = options(ws).encode()
            ws.send(OP_TEXT, m[:30], fin=False)
            ws.send(OP_PING, b"in-between")
            ws.send(OP_CONT, m[30:60], fin=False)
            ws.send(OP_CONT, m[60:])
            op, payload = ws.recv_frame()
            run.expect(op == OP_PONG and payload == b"in-between", f"pong {op} {payload}")
            run.expect(parse_sip(ws.recv_message().encode()).status == 200, "fragmented message answered")
            ws.close()

        @case
        def ping_pong_and_close_echoed():
            ws = Ws(origin=ORIGIN)
            ws.send(OP_PING, b"abc")
            op, payload = ws.recv_frame()
            run.expect(op == OP_PONG and payload == b"abc", f"{op} {payload}")
            ws.send(OP_CLOSE, struct.pack("!H", 1000) + b"bye")
            run.expect(ws.close_code() == 1000, "close echoed with 1000")
            run.expect(ws.closed(), "server closed the socket")

        def closed_with(payload_frames, code):
            ws = Ws(origin=ORIGIN)
            for f in payload_frames:
                ws.send_raw(f)
            got = ws.close_code()
            closed = ws.closed()
            ws.close()
            run.expect(got == code, f"close code {got}, want {code}")
            run.expect(closed, "socket closed")

        @case
        def oversize_message_closed_1009():
            closed_with([frame(OP_TEXT, "X" * (MAX_MSG + 1))], 1009)
            # over the limit only once fragments add up
            closed_with([frame(OP_TEXT, "X" * 3000, fin=False), frame(OP_CONT, "X" * 3000)], 1009)

        @case
        def protocol_errors_closed_1002():
            closed_with([frame(0x3, "x")], 1002)                      # unknown opcode
            closed_with([frame(OP_TEXT, "x", rsv=4)], 1002)           # RSV1 without an extension
            closed_with([frame(OP_CONT, "x")], 1002)                  # continuation of nothing
            closed_with([frame(OP_TEXT, "a", fin=False), frame(OP_TEXT, "b")], 1002)  # nested message

        @case
        def invalid_utf8_text_closed_1007():
            closed_with([frame(OP_TEXT, b"OPTIONS \xc3\x28")], 1007)

        @case
        def unmasked_frame_closed_1002_others_served():
            # RFC 6455 5.1: a server closes on a frame from the client that is not masked.
            good = Ws(origin=ORIGIN)
            closed_with([frame(OP_TEXT, "garbage that is no SIP", mask=False)], 1002)
            closed_with([frame(OP_PING, b"", mask=False)], 1002)
            good.send_text(options(good))
            run.expect(parse_sip(good.recv_message().encode()).status == 200, "other client served")
            good.close()

        @case
        def lying_length_closed_1009_before_the_payload():
            # A header announcing more than max_message_size is refused at once, not buffered.
            closed_with([frame(OP_BINARY, b"x", length=1 << 40)], 1009)

        @case
        def server_keeps_serving_after_hostile_clients():
            ws = Ws(origin=ORIGIN)
            ws.send_text(options(ws))
            run.expect(parse_sip(ws.recv_message().encode()).status == 200, "served")
            ws.close()
            st = s.stats()
            flat = json.dumps(st) if not isinstance(st, str) else st
            run.expect("closed_too_big" in flat and "refused_origin" in flat, "ws counters in stats")

        def wait_conns(n, timeout=5.0):
            deadline = time.time() + timeout
            while time.time() < deadline:
                if len([c for c in s.ctl("ws", "list") if c["proto"] == PROTO]) == n:
                    return True
                time.sleep(0.1)
            return False

        @case
        def per_ip_limit_503():
            held = []
            # Closed sockets of earlier cases leave the table as soon as sipd reads their EOF.
            run.expect(wait_conns(0), f"connections of earlier cases still open: {s.ctl('ws', 'list')}")
            try:
                # Admission is counted at accept: exactly PER_IP get in, the next one gets 503 with JSON.
                for i in range(PER_IP):
                    held.append(Ws(origin=ORIGIN))
                e = refused(origin=ORIGIN)
                run.expect(e and e.status == 503, f"refused with {e and e.status}")
                run.expect(e and '"error"' in e.body and "too many" in e.body, e and e.body)
                run.expect(e and e.headers.get("retry-after") == "5", e and e.headers)
            finally:
                for w in held:
                    w.close()
            # Room again once sipd has seen them close.
            deadline = time.time() + 5
            while True:
                try:
                    Ws(origin=ORIGIN).close()
                    break
                except HandshakeRefused as e:
                    run.expect(e.status == 503 and time.time() < deadline, f"no room after closing: {e}")
                    time.sleep(0.1)

        @case
        def register_binds_flow_and_udp_call_reaches_it_with_two_record_routes():
            ua = WsUA(PORT, "webby", tls=TLS)
            r = ua.register()
            run.expect(r and r.status == 200, f"REGISTER: {r and r.start}")
            regs = s.ctl("registrations", "webby")
            mine = "webby" in json.dumps(regs) and "transport=ws" in json.dumps(regs)
            run.expect(mine, f"binding listed: {regs}")
            caller = UdpUA()
            call_id, ftag = "ws-call-%s" % rand_tag(), rand_tag()
            caller.send(invite(caller, s.port, "webby", call_id, ftag), s.port)
            inv = ua.recv()
            run.expect(inv and inv.start.startswith("INVITE sip:webby-c@"), f"INVITE over the flow: {inv and inv.start}")
            rr = record_routes(inv)
            run.expect(len(rr) == 2, f"two Record-Routes: {rr}")
            run.expect("transport=ws" in rr[0] and re.search(r"<sip:[0-9a-f]{40,}@", rr[0]),
                       f"top one is ours toward the ws peer, with a flow token: {rr[0]}")
            run.expect("transport" not in rr[1], f"second one toward UDP: {rr[1]}")
            run.expect(inv.all("Via")[0].startswith("SIP/2.0/%s 127.0.0.1:%d" % (PROTO.upper(), PORT)), inv.all("Via")[0])
            ua.reply(inv, 180, "Ringing", "callee1")
            ua.reply(inv, 200, "OK", "callee1")
            ok = caller.final()
            run.expect(ok and ok.status == 200, f"caller got {ok and ok.start}")
            route_set = list(reversed(record_routes(ok)))
            caller.send(in_dialog(caller, "ACK", ok, route_set, 1, call_id, ftag), s.port)
            ack = ua.recv()
            run.expect(ack and ack.start.startswith("ACK "), f"ACK over the flow: {ack and ack.start}")
            caller.send(in_dialog(caller, "BYE", ok, route_set, 2, call_id, ftag), s.port)
            bye = ua.recv()
            run.expect(bye and bye.start.startswith("BYE "), f"BYE over the flow: {bye and bye.start}")
            ua.reply(bye, 200, "OK", "callee1")
            fin = caller.final()
            run.expect(fin and fin.status == 200, f"BYE answered: {fin and fin.start}")

            # The callee hangs up a second call: its BYE follows the Record-Routes back to UDP.
            call_id, ftag = "ws-call-%s" % rand_tag(), rand_tag()
            caller.send(invite(caller, s.port, "webby", call_id, ftag), s.port)
            inv = ua.recv()
            ua.reply(inv, 200, "OK", "callee2")
            ok = caller.final()
            caller.send(in_dialog(caller, "ACK", ok, list(reversed(record_routes(ok))), 1, call_id, ftag), s.port)
            ua.recv()
            rr = record_routes(inv)
            bye = "\r\n".join([
                f"BYE sip:caller@127.0.0.1:{caller.port} SIP/2.0",
                f"Via: SIP/2.0/{ua.via} {ua.host};branch={new_branch()}", "Max-Forwards: 70",
                f"From: {inv.get('To')};tag=callee2", f"To: {inv.get('From')}", f"Call-ID: {call_id}",
                "CSeq: 5 BYE"] + [f"Route: {r}" for r in rr] + ["", ""])
            ua.send(bye)
            got = caller.recv()
            while got and got.status:  # a late 100 of the INVITE (its worker may lag behind the 200's)
                got = caller.recv()
            run.expect(got and got.start.startswith("BYE "), f"BYE reached the UDP side: {got and got.start}")

            # The flow goes away: the binding reaches nobody, a new call gets 480 (no DNS for .invalid).
            ua.ws.close()
            time.sleep(0.5)
            caller.send(invite(caller, s.port, "webby", "ws-gone", rand_tag()), s.port)
            fin = caller.final()
            run.expect(fin and fin.status == 480, f"call to a gone flow: {fin and fin.start}")
            caller.close()

        @case
        def connection_lost_while_ringing_fails_the_call_at_once():
            ua = WsUA(PORT, "dropper", tls=TLS)
            r = ua.register()
            run.expect(r and r.status == 200, f"REGISTER: {r and r.start}")
            caller = UdpUA()
            caller.send(invite(caller, s.port, "dropper", "ws-drop-%s" % rand_tag(), rand_tag()), s.port)
            inv = ua.recv()
            run.expect(inv and inv.start.startswith("INVITE "), "INVITE over the flow")
            ua.reply(inv, 180, "Ringing", "d1")
            t0 = time.time()
            ua.ws.close()  # the browser tab goes away without answering
            fin = caller.final(timeout=10)
            run.expect(fin and fin.status >= 400, f"caller got a final answer: {fin and fin.start}")
            run.expect(time.time() - t0 < 5, f"at once, not at Timer C: {time.time() - t0:.1f}s")
            caller.close()

        @case
        def forged_flow_token_not_followed():
            caller = UdpUA()
            token = "ab" * 36
            req = "\r\n".join([
                "BYE sip:x@y.invalid;transport=ws SIP/2.0",
                f"Via: SIP/2.0/UDP 127.0.0.1:{caller.port};branch={new_branch()};rport", "Max-Forwards: 70",
                "From: <sip:a@127.0.0.1>;tag=1", "To: <sip:b@127.0.0.1>;tag=2", "Call-ID: forged",
                "CSeq: 1 BYE", f"Route: <sip:{token}@127.0.0.1:{PORT};transport={PROTO};lr>", "Content-Length: 0",
                "", ""])
            caller.send(req, s.port)
            fin = caller.final(timeout=10)
            # Not followed, and no DNS query for .invalid either: the flow is unknown, 430 Flow Failed.
            run.expect(fin and fin.status == 430, f"answered with: {fin and fin.start}")
            run.expect("cannot resolve" not in s.log_text(), "no lookup of .invalid")
            caller.close()

        @case
        def sipctl_lists_connections():
            ws = Ws(origin=ORIGIN)
            lst = s.ctl("ws", "list")
            run.expect(any(c["origin"] == ORIGIN and c["proto"] == PROTO for c in lst), f"{lst}")
            conns = s.ctl("conns", "list")
            run.expect(any(c["proto"] == PROTO and c["id"] in [x["id"] for x in lst] for c in conns),
                       f"also in conns list: {conns}")
            ws.close()



@run.case
def idle_peer_closed_1001_live_one_kept_by_pongs_silent_socket_closed():
    port = free_port("tcp")
    with Sipd(run.build, modules=[{"name": "parser"}, {"name": "udp"}, {"name": "tcp"},
                                  {"name": "ws", "idle_timeout": 3, "keepalive_interval": 1,
                                   "handshake_timeout": 1}],
              listen=["udp:127.0.0.1:{port}", f"ws:127.0.0.1:{port}"]) as sd:
        silent = socket.create_connection(("127.0.0.1", port), timeout=4)  # never sends its upgrade
        mute, live = WsClient(port, origin=ORIGIN), WsClient(port, origin=ORIGIN)
        stop = threading.Event()

        def answer_pings():  # what a browser does
            while not stop.is_set():
                try:
                    op, payload = live.recv_frame(timeout=0.2)
                except socket.timeout:
                    continue
                if op is None:
                    return
                if op == OP_PING:
                    live.send(OP_PONG, payload)

        th = threading.Thread(target=answer_pings, daemon=True)
        th.start()
        t0 = time.time()
        pings, code = 0, None
        while time.time() - t0 < 8 and code is None:
            op, payload = mute.recv_frame(timeout=8)  # never answers
            if op == OP_PING:
                pings += 1
            elif op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0]
            elif op is None:
                break
        try:
            gone = silent.recv(1) == b""
        except OSError:
            gone = True
        silent.close()
        run.expect(gone, "a connection without an upgrade request is closed after handshake_timeout")
        run.expect(pings >= 1, "sipd pinged the silent peer")
        run.expect(code == 1001, f"closed with 1001 after idle_timeout: {code} after {time.time() - t0:.1f}s")
        # The other one answered every ping: still open.
        time.sleep(1)
        conns = sd.ctl("ws", "list")
        stop.set()
        th.join()
        run.expect(len(conns) == 1, f"the answering peer is kept: {conns}")
        st = sd.stats()
        run.expect(st.get("ws.closed_idle") == 1, f"counted: {st.get('ws.closed_idle')}")
        mute.close()
        live.close()


@run.case
def wss_without_the_tls_module_refused_at_start():
    port = free_port("tcp")
    sd = Sipd(run.build, modules=[{"name": "parser"}, {"name": "udp"}, {"name": "tcp"}, {"name": "ws"}],
              listen=["udp:127.0.0.1:{port}", f"wss:127.0.0.1:{port}"])
    try:
        sd.start()
        sd.stop()
        run.expect(False, "sipd started a wss listener without a certificate")
    except RuntimeError as e:
        run.expect("wss: listen entries need the tls module" in str(e), f"start-up refused with the reason: {e}")


shutil.rmtree(certdir, ignore_errors=True)
run.finish()
