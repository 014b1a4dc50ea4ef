"""What black-box conformance testing found (issue 13), against the real sipd with the default routing.cfg:
port-less aliases on a non-5060 port, 501/405 before authentication, 400 for a NUL byte in a header value,
and the digest uri rule (auth_db digest_uri)."""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import (ROOT, Sipd, TestRun, parse_sip, sip_request, tcp_connect, tcp_read_message,  # noqa: E402
                      udp_request, wait_until)
from regtest import Client, challenges, credentials  # noqa: E402
from sipua import UA  # noqa: E402

run = TestRun("conformance")
ALIAS = "example.test"
REALM = "sipd"

with open(os.path.join(ROOT, "routing.cfg")) as f:
    ROUTING = f.read()


def modules(**auth):
    a = {"name": "auth_db", "realm": REALM, "algorithms": ["MD5"]}
    a.update(auth)
    return [{"name": "parser"}, {"name": "udp"}, {"name": "tcp"}, {"name": "sanity"}, {"name": "maxfwd"},
            {"name": "tm", "t1": 100, "t2": 400, "t4": 500}, a,
            {"name": "registrar", "min_expires": 60, "max_expires": 3600},
            {"name": "session_timer", "policy": "supported"},
            # The default routing.cfg calls rtc_player's functions.
            {"name": "rtc_player", "bind_address": "127.0.0.1"}]


def request(port, method, ruri, headers=(), frm="alice", call_id=None, cseq=1, timeout=3.0):
    """One UDP request from frm; returns (final response or None, raw request)."""
    raw = sip_request(method, ruri, headers=list(headers), call_id=call_id, cseq=cseq)
    raw = raw.replace(b"<sip:tester@127.0.0.1>", f"<sip:{frm}@{ALIAS}>".encode())
    return parse_sip(udp_request("127.0.0.1", port, raw, timeout=timeout)), raw


def invite_with_credentials(port, ruri, digest_uri, password="alice-pw", headers=(), nc=1, challenge=None,
                            call_id=None):
    """An INVITE from alice answered to its 407; returns (final response, the challenge used)."""
    call_id = call_id or "%016x@conf" % random.getrandbits(64)
    if challenge is None:
        first, _ = request(port, "INVITE", ruri, headers, call_id=call_id)
        if not first or first.status != 407:
            return first, None
        challenge = challenges(first, "Proxy-Authenticate")[0]
    cred = credentials("alice", password, REALM, challenge["nonce"], "INVITE", digest_uri, "MD5", nc=nc,
                       header="Proxy-Authorization")
    r, _ = request(port, "INVITE", ruri, list(headers) + [cred], call_id=call_id, cseq=2)
    return r, challenge


with Sipd(run.build, modules=modules(), routing=ROUTING, core={"aliases": [ALIAS]},
          listen=["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}"]) as s:
    s.ctl("users", "add", "alice", "alice-pw")
    s.ctl("users", "add", "bob", "bob-pw")
    bob = UA("bob")

    # ---- finding 1: a port-less alias names us whatever port we listen on ----
    @run.case
    def register_to_portless_alias_on_other_port():
        run.expect(s.port != 5060, "the test needs a port other than 5060")
        r = bob.register(s.port, "bob-pw", ruri=f"sip:{ALIAS}")
        run.expect(r and r.status == 200, f"REGISTER sip:{ALIAS} -> {r and r.start}")
        b = s.ctl("registrations", "bob")
        run.expect(len(b) == 1 and f":{bob.port}" in b[0]["contact"], f"binding: {b}")

    @run.case
    def invite_to_user_at_portless_alias_is_ours():
        r, _ = request(s.port, "INVITE", f"sip:bob@{ALIAS}")
        run.expect(r and r.status == 407, f"challenged as ours, not resolved: {r and r.start}")
        r, _ = invite_with_credentials(s.port, f"sip:bob@{ALIAS}", f"sip:bob@{ALIAS}",
                                       headers=["Supported: timer"])
        run.expect(wait_until(lambda: "INVITE" in bob.seen, 3), f"bob's contact got the INVITE: {bob.seen}")
        run.expect(r and r.status == 200, f"answered by bob: {r and r.start}")

    @run.case
    def explicit_port_must_be_ours():
        other = 5060 if s.port != 5060 else 5061
        r, _ = request(s.port, "OPTIONS", f"sip:{ALIAS}:{other}", timeout=8)
        run.expect(r is None or r.status != 200, f"sip:{ALIAS}:{other} is not us: {r and r.start}")
        r, _ = request(s.port, "OPTIONS", f"sip:{ALIAS}:{s.port}")
        run.expect(r and r.status == 200, f"sip:{ALIAS}:{s.port} is us: {r and r.start}")
        r, _ = request(s.port, "OPTIONS", f"sip:{ALIAS}")
        run.expect(r and r.status == 200, f"sip:{ALIAS} is us: {r and r.start}")

    # ---- finding 2: methods nobody here handles, before authentication ----
    @run.case
    def unknown_method_for_us_is_501_not_407():
        for ruri in (f"sip:{ALIAS}", f"sip:127.0.0.1:{s.port}", f"sip:bob@{ALIAS}"):
            r, _ = request(s.port, "FOOBAR", ruri)
            run.expect(r and r.status == 501, f"FOOBAR {ruri}: {r and r.start}")

    @run.case
    def known_method_not_served_is_405_with_allow():
        r, _ = request(s.port, "PUBLISH", f"sip:{ALIAS}", ["Event: presence"])
        run.expect(r and r.status == 405, f"PUBLISH: {r and r.start}")
        allow = r.get("Allow") or ""
        run.expect("REGISTER" in allow and "INVITE" in allow and "PUBLISH" not in allow, f"Allow: {allow}")

    @run.case
    def served_methods_are_still_authenticated():
        r, _ = request(s.port, "MESSAGE", f"sip:bob@{ALIAS}")
        run.expect(r and r.status == 407, f"MESSAGE: {r and r.start}")
        r, _ = request(s.port, "OPTIONS", f"sip:{ALIAS}")
        run.expect(r and r.status == 200, f"OPTIONS: {r and r.start}")

    @run.case
    def unknown_method_relayed_to_others_is_unaffected():
        # Not ours: relayed (stateful) to the callee's address, which sees it; no 501 from us.
        n = bob.seen.count("FOOBAR")
        r, _ = request(s.port, "FOOBAR", f"sip:bob@127.0.0.1:{bob.port}", timeout=1.0)
        run.expect(r is None or r.status != 501, f"relayed FOOBAR: {r and r.start}")
        run.expect(wait_until(lambda: bob.seen.count("FOOBAR") > n, 3), f"bob saw {bob.seen}")

    # ---- finding 3: NUL bytes ----
    def nul_request(transport="UDP", where="Subject"):
        raw = sip_request("OPTIONS", f"sip:{ALIAS}", transport=transport,
                          headers=["Subject: hello\0world"] if where == "Subject" else [])
        if where == "Call-ID":
            raw = raw.replace(b"Call-ID: ", b"Call-ID: x\0", 1)
        return raw

    @run.case
    def nul_in_header_value_is_400_over_udp():
        for where in ("Subject", "Call-ID"):
            r = parse_sip(udp_request("127.0.0.1", s.port, nul_request(where=where)))
            run.expect(r and r.status == 400, f"NUL in {where}: {r and r.start}")
            run.expect(f"NUL byte in {where} header" in r.reason, f"reason: {r.reason}")
            run.expect("NUL" in (r.get("Warning") or ""), f"Warning: {r.get('Warning')}")

    @run.case
    def nul_in_header_value_is_400_over_tcp():
        c = tcp_connect("127.0.0.1", s.port)
        try:
            c.sendall(nul_request("TCP"))
            r = parse_sip(tcp_read_message(c, 3))
            run.expect(r and r.status == 400 and "NUL" in r.reason, f"over TCP: {r and r.start}")
            # The connection stays usable: the message was framed, only its content was bad.
            c.sendall(sip_request("OPTIONS", f"sip:{ALIAS}", transport="TCP"))
            r = parse_sip(tcp_read_message(c, 3))
            run.expect(r and r.status == 200, f"next request on the connection: {r and r.start}")
        finally:
            c.close()

    @run.case
    def nul_in_via_gets_no_answer_and_nothing_breaks():
        raw = sip_request("OPTIONS", f"sip:{ALIAS}").replace(b"branch=z9hG4bK", b"branch=z9hG4bK\0", 1)
        r = udp_request("127.0.0.1", s.port, raw, timeout=0.5)
        run.expect(r is None, f"no answer can be routed: {r!r}")
        r = parse_sip(udp_request("127.0.0.1", s.port, sip_request("OPTIONS", f"sip:{ALIAS}")))
        run.expect(r and r.status == 200, "still serving")

    # ---- finding 8: the digest uri ----
    @run.case
    def digest_uri_of_our_address_is_accepted_by_default():
        # SIPp's default: uri="sip:HOST:PORT" of the server, whatever the Request-URI.
        r, _ = invite_with_credentials(s.port, f"sip:bob@{ALIAS}", f"sip:127.0.0.1:{s.port}",
                                       headers=["Supported: timer"])
        run.expect(r and r.status == 200, f"INVITE with uri=sip:HOST:PORT: {r and r.start}")
        c = Client(s.port)
        try:
            r, _ = c.register_auth("alice", "alice-pw", "<sip:alice@127.0.0.1:5999>", 600, algo="MD5",
                                   digest_uri=f"sip:{ALIAS}")
            run.expect(r and r.status == 200, f"REGISTER with the domain as digest uri: {r and r.start}")
        finally:
            c.close()

    @run.case
    def digest_uri_of_someone_else_is_400():
        r, _ = invite_with_credentials(s.port, f"sip:bob@{ALIAS}", "sip:bob@elsewhere.invalid")
        run.expect(r and r.status == 400 and "Digest URI" in r.reason, f"foreign digest uri: {r and r.start}")

    @run.case
    def replay_protection_holds_with_a_loose_digest_uri():
        call_id = "%016x@replay" % random.getrandbits(64)
        r, ch = invite_with_credentials(s.port, f"sip:bob@{ALIAS}", f"sip:127.0.0.1:{s.port}",
                                        headers=["Supported: timer"], call_id=call_id)
        run.expect(r and r.status == 200, f"first use: {r and r.start}")
        # The same credentials (same nonce and nc) on a new request to another user: a stale challenge.
        r, _ = invite_with_credentials(s.port, f"sip:carol@{ALIAS}", f"sip:127.0.0.1:{s.port}",
                                       challenge=ch, call_id=call_id + "x")
        run.expect(r and r.status == 407 and 'stale=true' in (r.get("Proxy-Authenticate") or ""),
                   f"replayed nc: {r and r.start} {r and r.get('Proxy-Authenticate')}")

    @run.case
    def still_running():
        run.expect(s.proc.poll() is None, "sipd is alive")

    bob.close()

with Sipd(run.build, modules=modules(digest_uri="exact"), routing=ROUTING, core={"aliases": [ALIAS]},
          listen=["udp:127.0.0.1:{port}"]) as s:
    s.ctl("users", "add", "alice", "alice-pw")

    @run.case
    def digest_uri_exact_refuses_another_uri():
        r, _ = invite_with_credentials(s.port, f"sip:bob@{ALIAS}", f"sip:127.0.0.1:{s.port}")
        run.expect(r and r.status == 400 and r.reason == "Digest URI Does Not Match Request-URI",
                   f"exact: {r and r.start}")

    @run.case
    def digest_uri_exact_accepts_the_request_uri():
        c = Client(s.port)
        try:
            r, _ = c.register_auth("alice", "alice-pw", "<sip:alice@127.0.0.1:5999>", 600, algo="MD5")
            run.expect(r and r.status == 200, f"exact, same uri: {r and r.start}")
        finally:
            c.close()


@run.case
def bad_digest_uri_setting_is_a_config_error():
    sd = Sipd(run.build, modules=modules(digest_uri="loose"), routing=ROUTING)
    try:
        sd.start(timeout=5)
        sd.stop()
        run.expect(False, "sipd started with digest_uri = \"loose\"")
    except RuntimeError as e:
        run.expect("digest_uri" in str(e), f"the error names the setting: {str(e)[-400:]}")


run.finish()
