"""tm and the stateful proxy against the real sipd: calls with SIPp over UDP, TCP and across,
CANCEL, forking, Timer C, loops, Max-Forwards and dead callees, with scripted UAs on loopback."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import Sipd, TestRun, free_port, parse_sip, sip_request, tcp_connect, wait_until  # noqa: E402
from sipua import UA, Caller, accept_msg, calling, reply_to, sipp_calls, tcp_msg  # noqa: E402

run = TestRun("tm_proxy")


UAS_PORT = free_port()
TCP_UAS_PORT = free_port()
DEAD_PORT = free_port()


def routing(extra):
    return f"""request_route {{
	sanity();
	maxfwd(70);
	if (has_to_tag()) {{ loose_route(); relay(); exit; }}
	if (is_method("CANCEL")) {{ t_reply(481, "Call/Transaction Does Not Exist"); exit; }}
{extra}
	record_route();
	relay();
}}
"""


MODS = [{"name": "parser"}, {"name": "udp"}, {"name": "tcp"}, {"name": "sanity"}, {"name": "maxfwd"},
        {"name": "tm", "t1": 100, "t2": 400, "t4": 500, "timer_c": 1500}]


SCRIPT = routing(f"""	if ($rU == "loop") {{ relay(); exit; }}
	if ($rU == "failover") {{ t_on_failure(NEXT); $ru = "sip:first@127.0.0.1:$hdr(X-A)"; record_route(); relay(); exit; }}
	if ($rU == "tcpbob") {{ $ru = "sip:bob@127.0.0.1:{TCP_UAS_PORT};transport=tcp"; }}
	else if ($rU == "dead") {{ $ru = "sip:dead@127.0.0.1:{DEAD_PORT};transport=tcp"; }}
	else if ($rU == "fork") {{ append_branch("sip:a@127.0.0.1:$hdr(X-A)"); append_branch("sip:b@127.0.0.1:$hdr(X-B)"); }}
	else if ($hdr(X-UA) != "") {{ $ru = "sip:$rU@127.0.0.1:$hdr(X-UA)"; }}
	else {{ $ru = "sip:$rU@127.0.0.1:{UAS_PORT}"; }}""")
SCRIPT += """
failure_route NEXT {
	append_branch("sip:second@127.0.0.1:$hdr(X-B)");
	relay();
}
"""

with Sipd(run.build, modules=MODS, routing=SCRIPT,
          listen=["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}"]) as s:

    @run.case
    def call_udp():
        rc, ok, failed, _ = sipp_calls(s.port, "bob", 3, uas_port=UAS_PORT, transport="u1", uas_transport="u1")
        run.expect(rc == 0 and ok == 3 and failed == 0, f"sipp rc {rc}, {ok} ok, {failed} failed")

    @run.case
    def call_tcp():
        rc, ok, failed, _ = sipp_calls(s.port, "tcpbob", 3, uas_port=TCP_UAS_PORT, transport="t1", uas_transport="t1")
        run.expect(rc == 0 and ok == 3 and failed == 0, f"sipp rc {rc}, {ok} ok, {failed} failed")

    @run.case
    def call_udp_to_tcp():
        rc, ok, failed, _ = sipp_calls(s.port, "tcpbob", 3, uas_port=TCP_UAS_PORT, transport="u1", uas_transport="t1")
        run.expect(rc == 0 and ok == 3 and failed == 0, f"sipp rc {rc}, {ok} ok, {failed} failed")

    @run.case
    def cancel_while_ringing():
        ua = UA(mode="ring")
        with calling(s.port, "carol", headers=[f"X-UA: {ua.port}"], parties=(ua,)) as c:
            trying = c.wait(lambda r: r.status == 100, 0.3)
            run.expect(trying is not None, "no 100 Trying within 300 ms")
            run.expect(c.wait(lambda r: r.status == 180, 2) is not None, "no 180")
            c.cancel()
            ok = c.wait(lambda r: r.status == 200 and "CANCEL" in r.get("CSeq", ""), 2)
            run.expect(ok is not None, "no 200 for the CANCEL")
            fin = c.wait(lambda r: r.status >= 300 and "INVITE" in r.get("CSeq", ""), 3)
            run.expect(fin is not None and fin.status == 487, f"final {fin and fin.start}")
            run.expect("CANCEL" in ua.seen, f"callee saw {ua.seen}")

    @run.case
    def fork_one_answers_other_cancelled():
        a, b = UA(mode="ring"), UA(mode="answer", delay=0.3)
        with calling(s.port, "fork", headers=[f"X-A: {a.port}", f"X-B: {b.port}"], parties=(a, b)) as c:
            fin = c.final(4)
            run.expect(fin is not None and fin.status == 200, f"final {fin and fin.start}")
            run.expect(fin.get("Contact", "").endswith(f":{b.port}>"), f"200 from {fin.get('Contact')}")
            time.sleep(0.5)
            run.expect("INVITE" in a.seen and "CANCEL" in a.seen, f"ringing branch saw {a.seen}")
            run.expect("ACK" in a.seen, f"487 not acknowledged hop by hop: {a.seen}")

    @run.case
    def forked_busy_everywhere():
        a, b = UA(mode="busy"), UA(mode="busy")
        with calling(s.port, "fork", headers=[f"X-A: {a.port}", f"X-B: {b.port}"], parties=(a, b)) as c:
            fin = c.final(4)
            run.expect(fin is not None and fin.status == 486, f"final {fin and fin.start}")

    @run.case
    def failure_route_tries_the_next_target():
        a, b = UA(mode="busy"), UA(mode="answer", delay=0.1)
        with calling(s.port, "failover", headers=[f"X-A: {a.port}", f"X-B: {b.port}"], parties=(a, b)) as c:
            fin = c.final(4)
            run.expect(fin is not None and fin.status == 200, f"final {fin and fin.start}")
            run.expect(not any(r.status == 486 for r in c.responses), "the 486 went upstream")
            run.expect("INVITE" in a.seen and "INVITE" in b.seen, f"saw {a.seen} / {b.seen}")

    @run.case
    def timer_c_gives_408():
        ua = UA(mode="ring")
        with calling(s.port, "dave", headers=[f"X-UA: {ua.port}"], parties=(ua,)) as c:
            fin = c.final(6)
            run.expect(fin is not None and fin.status == 408, f"final {fin and fin.start}")
            run.expect("CANCEL" in ua.seen, f"Timer C did not cancel the ringing branch: {ua.seen}")

    @run.case
    def loop_gives_482():
        with calling(s.port, "loop") as c:
            fin = c.final(4)
            run.expect(fin is not None and fin.status == 482, f"final {fin and fin.start}")

    @run.case
    def max_forwards_zero_gives_483():
        with calling(s.port, "bob", max_forwards=0) as c:
            fin = c.final(3)
            run.expect(fin is not None and fin.status == 483, f"final {fin and fin.start}")

    @run.case
    def dead_tcp_callee_gives_480():
        with calling(s.port, "dead") as c:
            fin = c.final(8)
            run.expect(fin is not None and fin.status in (480, 408, 503), f"final {fin and fin.start}")

    @run.case
    def retransmission_absorbed():
        ua = UA(mode="busy")
        with calling(s.port, "erin", headers=[f"X-UA: {ua.port}"], parties=(ua,)) as c:
            fin = c.final(3)
            run.expect(fin is not None and fin.status == 486, f"final {fin and fin.start}")
            c.responses = []
            c.sock.sendto(c.raw, c.target)
            again = c.final(2)
            run.expect(again is not None and again.status == 486, "retransmitted INVITE not answered again")
            run.expect(ua.seen.count("INVITE") == 1, f"callee saw {ua.seen}")
            st = s.ctl("tm.stats")
            run.expect(st["absorbed"] >= 1, f"stats {st}")

# A callee registered over TCP (baresip's pattern): its connections come and go; its Contact names where it
# listens. Requests from a UDP caller may lack Content-Length, which a stream peer needs to find the message end.
REG_SCRIPT = """request_route {
	sanity();
	maxfwd(70);
	if (is_method("ACK")) { if (loose_route()) { relay(); } drop; }
	if (has_to_tag() && loose_route()) { relay(); }
	if ($rm == "REGISTER") { save(); exit; }
	lookup();
	record_route();
	relay();
}
"""
REG_MODS = MODS + [{"name": "registrar", "min_expires": 60, "max_expires": 3600}]


with Sipd(run.build, modules=REG_MODS, routing=REG_SCRIPT,
          listen=["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}"]) as s:

    @run.case
    def fork_to_two_registered_contacts_one_answers_other_cancelled():
        # lookup() puts both bindings of the AOR in the destination set; relay() forks in parallel.
        ringer, answerer = UA(mode="ring"), UA(mode="answer", delay=0.3)
        c = None
        try:
            for ua in (ringer, answerer):
                # From the UA's own socket, as a phone does (the 200 is read and ignored by its thread).
                ua.sock.sendto(sip_request("REGISTER", f"sip:127.0.0.1:{s.port}", via_port=ua.port,
                                           to=f"<sip:dave@127.0.0.1:{s.port}>",
                                           headers=[f"Contact: <sip:dave@127.0.0.1:{ua.port}>", "Expires: 600"]),
                               ("127.0.0.1", s.port))
            run.expect(wait_until(lambda: len([b for b in s.ctl("registrations") if "dave@" in str(b)]) == 2, 3),
                       f"two bindings for dave: {s.ctl('registrations')}")
            c = Caller(s.port, "dave")
            fin = c.final(4)
            run.expect(fin is not None and fin.status == 200, f"final {fin and fin.start}")
            run.expect(fin.get("Contact", "").endswith(f":{answerer.port}>"), f"200 from {fin.get('Contact')}")
            time.sleep(0.5)
            run.expect("INVITE" in ringer.seen and "CANCEL" in ringer.seen, f"ringing contact saw {ringer.seen}")
        finally:
            if c:
                c.close()
            ringer.close()
            answerer.close()

    @run.case
    def tcp_contact_reached_after_its_connection_closed_and_in_dialog_requests_framed():
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(4)
        lport = lsock.getsockname()[1]
        contact = f"sip:bob@127.0.0.1:{lport};transport=tcp"
        caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        caller.bind(("127.0.0.1", 0))
        cport = caller.getsockname()[1]
        caller.settimeout(3)
        socks = [lsock, caller]
        try:
            reg = tcp_connect("127.0.0.1", s.port)
            socks.append(reg)
            reg.sendall(sip_request("REGISTER", f"sip:127.0.0.1:{s.port}", transport="TCP",
                                    via_port=lport, to=f"<sip:bob@127.0.0.1:{s.port}>",
                                    headers=[f"Contact: <{contact}>", "Expires: 600"]))
            r = tcp_msg(reg)
            run.expect(r is not None and r.status == 200, f"registered over TCP: {r and r.start}")
            reg.close()
            run.expect(wait_until(lambda: s.stats()["tcp.closed_peer"] >= 1, 3), "sipd saw the close")
            # The INVITE: not to the closed connection's source port, but to the Contact's.
            call_id = "tcpcontact-%d" % cport
            caller.sendto(sip_request("INVITE", f"sip:bob@127.0.0.1:{s.port}", via_port=cport, call_id=call_id,
                                      from_tag="caller1"), ("127.0.0.1", s.port))
            conn1, inv = accept_msg(lsock)
            run.expect(inv is not None and inv.start.startswith("INVITE sip:bob@127.0.0.1:%d" % lport),
                       f"INVITE on a new connection to the Contact: {inv and inv.start}")
            socks.append(conn1)
            # The 200 goes back over yet another connection, and the first one is dropped (as baresip does).
            other = tcp_connect("127.0.0.1", s.port)
            socks.append(other)
            other.sendall(reply_to(inv, 200, contact))
            conn1.close()
            ok = None
            deadline = time.time() + 3
            while time.time() < deadline and not (ok and ok.status == 200):
                ok = parse_sip(caller.recvfrom(65535)[0])
            run.expect(ok is not None and ok.status == 200, f"caller got the 200: {ok and ok.start}")
            routes = [v for rr in reversed(ok.all("Record-Route")) for v in reversed(rr.split(", "))]
            to = ok.get("To")
            for method, cseq in (("ACK", 1), ("BYE", 2)):
                # No Content-Length, as a UDP UA may send it (RFC 3261 20.14).
                caller.sendto(sip_request(method, contact, via_port=cport, call_id=call_id, from_tag="caller1",
                                          to=to, cseq=cseq, headers=[f"Route: {', '.join(routes)}"],
                                          omit=("Content-Length",)), ("127.0.0.1", s.port))
                if method == "ACK":
                    conn, req = accept_msg(lsock)
                    if conn:
                        socks.append(conn)
                else:
                    req = tcp_msg(conn)  # sipd's connection to the Contact stays in use
                run.expect(req is not None and req.start.startswith(f"{method} {contact}"),
                           f"{method} reached the Contact: {req and req.start}")
                run.expect(req.get("Content-Length") == "0", f"{method} framed for TCP: {req.raw!r}")
                if method == "BYE":
                    conn.sendall(reply_to(req, 200, contact))
                    fin = parse_sip(caller.recvfrom(65535)[0])
                    run.expect(fin is not None and fin.status == 200 and "BYE" in fin.get("CSeq"),
                               f"BYE answered: {fin and fin.start}")
        finally:
            for x in socks:
                x.close()

run.finish()
