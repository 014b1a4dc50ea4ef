"""sanity() and maxfwd() against the real sipd over UDP: each rejection's status, reason and Warning."""

import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import OPTIONS_ROUTING, Sipd, TestRun, parse_sip, sip_request, udp_request  # noqa: E402


run = TestRun("sanity")
WARNING = re.compile(r'^399 (\S+) "(.*)"$')


def replace_line(raw, name, new):
    """Replaces the header line starting with name (or the request line for name None)."""
    lines = raw.split(b"\r\n")
    for i, line in enumerate(lines):
        if (name is None and i == 0) or (name and line.lower().startswith(name.lower().encode() + b":")):
            lines[i] = new.encode()
            break
    return b"\r\n".join(lines)


def ask(s, raw, timeout=2.0):
    return parse_sip(udp_request("127.0.0.1", s.port, raw, timeout=timeout))


def expect_rejection(resp, status, mention):
    """status, a reason phrase mentioning `mention`, and the same reason quoted in a 399 Warning."""
    run.expect(resp is not None, "no answer")
    run.expect(resp.status == status, f"expected {status}, got {resp.start}")
    run.expect(mention.lower() in resp.reason.lower(), f"reason {resp.reason!r} does not mention {mention}")
    warning = resp.get("Warning")
    m = WARNING.match(warning or "")
    run.expect(m is not None, f"Warning header: {warning!r}")
    run.expect(m.group(2) == resp.reason, f"Warning text {m.group(2)!r} != reason {resp.reason!r}")


with Sipd(run.build, modules=[{"name": "parser"}, {"name": "udp"}, {"name": "sanity"}, {"name": "maxfwd"}],
          routing=OPTIONS_ROUTING) as s:
    uri = f"sip:127.0.0.1:{s.port}"

    @run.case
    def sound_request_passes():
        resp = ask(s, sip_request("OPTIONS", uri))
        run.expect(resp is not None and resp.status == 200, f"{resp and resp.start}")

    @run.case
    def missing_call_id_is_400():
        expect_rejection(ask(s, sip_request("OPTIONS", uri, omit=("Call-ID",))), 400, "Call-ID")

    @run.case
    def bad_cseq_is_400():
        raw = replace_line(sip_request("OPTIONS", uri), "CSeq", "CSeq: abc OPTIONS")
        expect_rejection(ask(s, raw), 400, "CSeq")

    @run.case
    def cseq_method_mismatch_is_400():
        raw = replace_line(sip_request("OPTIONS", uri), "CSeq", "CSeq: 1 INVITE")
        expect_rejection(ask(s, raw), 400, "CSeq")

    @run.case
    def bad_content_length_is_400():
        raw = replace_line(sip_request("OPTIONS", uri), "Content-Length", "Content-Length: 50")
        expect_rejection(ask(s, raw), 400, "Content-Length")

    @run.case
    def bad_max_forwards_is_400():
        raw = replace_line(sip_request("OPTIONS", uri), "Max-Forwards", "Max-Forwards: ten")
        expect_rejection(ask(s, raw), 400, "Max-Forwards")

    @run.case
    def unknown_require_is_420_with_unsupported():
        resp = ask(s, sip_request("OPTIONS", uri, headers=["Require: frobnicate"]))
        run.expect(resp is not None and resp.status == 420, f"{resp and resp.start}")
        run.expect(resp.get("Unsupported") == "frobnicate", f"Unsupported: {resp.get('Unsupported')}")
        run.expect(WARNING.match(resp.get("Warning") or ""), f"Warning: {resp.get('Warning')}")

    @run.case
    def max_forwards_zero_is_483():
        resp = ask(s, sip_request("OPTIONS", uri, max_forwards=0))
        run.expect(resp is not None and resp.status == 483, f"{resp and resp.start}")
        run.expect(resp.reason == "Too Many Hops", f"reason {resp.reason!r}")

    @run.case
    def missing_max_forwards_is_added_not_rejected():
        resp = ask(s, sip_request("OPTIONS", uri, omit=("Max-Forwards",)))
        run.expect(resp is not None and resp.status == 200, f"{resp and resp.start}")

    @run.case
    def sip_3_0_is_505():
        raw = replace_line(sip_request("OPTIONS", uri), None, f"OPTIONS {uri} SIP/3.0")
        resp = ask(s, raw)
        run.expect(resp is not None and resp.status == 505, f"{resp and resp.start}")
        run.expect(WARNING.match(resp.get("Warning") or ""), f"Warning: {resp.get('Warning')}")

    @run.case
    def ack_is_never_answered():
        raw = replace_line(sip_request("ACK", uri), "CSeq", "CSeq: 1 INVITE")
        run.expect(ask(s, raw, timeout=0.7) is None, "an ACK got an answer")

    @run.case
    def no_via_is_dropped_silently():
        before = s.stats()
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.bind(("127.0.0.1", 0))
        try:
            a.sendto(sip_request("OPTIONS", uri, omit=("Via",)), ("127.0.0.1", s.port))
            a.settimeout(0.7)
            try:
                data = a.recv(65535)
                raise AssertionError(f"answered without a Via: {data[:60]!r}")
            except socket.timeout:
                pass
        finally:
            a.close()
        # Whether the parser or sanity() refused it, a counter says so.
        after = s.stats()
        moved = [k for k, v in after.items() if isinstance(v, int) and v > int(before.get(k, 0))
                 and ("drop" in k or "unparseable" in k)]
        run.expect(moved, "no drop counter moved")

    @run.case
    def rejections_are_counted():
        st = s.stats()
        run.expect(int(st.get("sanity.rejected_400", 0)) >= 5, f"sanity.rejected_400 = {st.get('sanity.rejected_400')}")
        run.expect(int(st.get("sanity.rejected_420", 0)) >= 1, "sanity.rejected_420")
        run.expect(int(st.get("sanity.rejected_505", 0)) >= 1, "sanity.rejected_505")
        run.expect(int(st.get("maxfwd.rejected_483", 0)) >= 1, "maxfwd.rejected_483")

run.finish()
