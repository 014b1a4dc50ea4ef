"""The webadmin JSON API against a real sipd: auth, CSRF, every endpoint's answers, hostile input, SSE, /metrics."""

import io
import math
import os
import re
import sqlite3
import struct
import sys
import tempfile
import time
import urllib.parse
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from regtest import Client  # noqa: E402
from sipua import UA, Call  # noqa: E402
from sipdtest import ROOT, Sipd, TestRun, free_port, parse_sip, sip_request, udp_request  # noqa: E402
from webclient import WebClient  # noqa: E402

with open(os.path.join(ROOT, "routing.cfg")) as f:
    DEFAULT = f.read()

run = TestRun("webadmin_api")
expect = run.expect

HTTP_PORT = free_port("tcp")
LOCKOUT = 3
# PBKDF2 cost of the test daemons: OpenSSL's PBKDF2 allocates per iteration, so under ASan the default
# 600 000 costs ~20 s a hash. The default (>= 600 000) is a unit test's; here the parameter is checked.
ITERATIONS = 20000

# A webroot of our own: a page, a directory without index, a dot file, and a symlink that leads out.
webroot = tempfile.mkdtemp(prefix="sipd-webroot-")
outside = tempfile.mkdtemp(prefix="sipd-outside-")
with open(os.path.join(webroot, "index.html"), "w") as f:
    f.write("<!doctype html><title>sipd</title>")
with open(os.path.join(webroot, "app.js"), "w") as f:
    f.write("export const x = 1;\n")
os.mkdir(os.path.join(webroot, "sub"))
with open(os.path.join(webroot, "sub", "page.css"), "w") as f:
    f.write("body{}")
with open(os.path.join(webroot, ".secret"), "w") as f:
    f.write("hidden")
with open(os.path.join(outside, "passwd"), "w") as f:
    f.write("root:x:0:0")
os.symlink(os.path.join(outside, "passwd"), os.path.join(webroot, "leak"))

MODULES = [
    {"name": "parser"}, {"name": "udp"}, {"name": "sanity"}, {"name": "maxfwd"}, {"name": "tm"},
    {"name": "auth_db", "realm": "sipd"}, {"name": "registrar"}, {"name": "session_timer"},
    # The default routing.cfg calls rtc_player's functions; the audio endpoints use it.
    {"name": "rtc_player", "bind_address": "127.0.0.1"},
    {"name": "webadmin", "listen": [f"127.0.0.1:{HTTP_PORT}"], "webroot": webroot, "max_body": 4096,
     "login_max_failures": 3, "login_window": 60, "login_lockout": LOCKOUT, "pbkdf2_iterations": ITERATIONS},
]

# Every /api endpoint with a method it serves: all answer 401 without a session.
ENDPOINTS = [
    ("GET", "/api/users"), ("POST", "/api/users"), ("GET", "/api/users/bob"), ("PUT", "/api/users/bob"),
    ("DELETE", "/api/users/bob"), ("GET", "/api/registrations"), ("DELETE", "/api/registrations?aor=a&contact=b"),
    ("GET", "/api/sessions"), ("DELETE", "/api/sessions/x"), ("GET", "/api/stats"), ("GET", "/api/modules"),
    ("GET", "/api/routing"), ("PUT", "/api/routing"), ("POST", "/api/routing/check"), ("GET", "/api/events"),
    ("GET", "/api/session"), ("POST", "/api/logout"), ("GET", "/api/admins"), ("GET", "/api/softphone"),
    ("GET", "/api/audio"), ("POST", "/api/audio?name=x"), ("DELETE", "/api/audio/x"), ("GET", "/api/audio/x/file"),
    ("GET", "/api/assignments"), ("PUT", "/api/users/bob/audio"), ("DELETE", "/api/users/bob/audio"),
    ("GET", "/api/rtc/calls"), ("GET", "/api/nodes"), ("GET", "/api/nosuch"),
]
CHANGES = [(m, p) for m, p in ENDPOINTS if m in ("POST", "PUT", "DELETE")]
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "connect-src 'self' ws: wss:; media-src 'self' blob:; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def has_security_headers(r):
    for k, v in SECURITY_HEADERS.items():
        expect(r.headers.get(k) == v, f"{k}: {r.headers.get(k)!r}")


with Sipd(run.build, modules=MODULES, routing=DEFAULT) as s:
    web = WebClient(HTTP_PORT).wait_ready()
    admin_pw = None

    @run.case
    def first_start_creates_admin_and_logs_its_password_once():
        global admin_pw
        for _ in range(200):  # made on a thread beside start-up
            m = re.findall(r"created the web admin account 'admin' with password (\S+)", s.log_text())
            if m:
                break
            time.sleep(0.05)
        expect(len(m) == 1, f"one first-start line, got {m}")
        admin_pw = m[0]
        admins = s.ctl("admin", "list")
        expect([a["name"] for a in admins] == ["admin"], f"admins {admins}")
        with open(s.db, "rb") as f:
            expect(admin_pw.encode() not in f.read(), "the password is not stored in clear")
        con = sqlite3.connect(s.db)
        stored = con.execute("SELECT hash FROM webadmin_admins WHERE name = 'admin'").fetchone()[0]
        con.close()
        expect(stored.startswith(f"pbkdf2-sha256${ITERATIONS}$"), f"hash format {stored[:30]}")

    @run.case
    def everything_but_login_needs_a_session():
        for method, path in ENDPOINTS:
            r = web.request(method, path, data={} if method in ("POST", "PUT") else None)
            expect(r.status == 401, f"{method} {path}: {r.status}")
            expect("error" in (r.json or {}), f"{method} {path}: JSON error body")
            has_security_headers(r)
        r = web.request("GET", "/api/users", headers={"Cookie": "sipd_session=forged-token"}, cookie=False)
        expect(r.status == 401, f"forged cookie: {r.status}")

    @run.case
    def login_errors():
        bad = web.request("POST", "/api/login", {"username": "admin", "password": "wrong"}, cookie=False)
        expect(bad.status == 401 and "set-cookie" not in bad.headers, f"wrong password: {bad}")
        unknown = web.request("POST", "/api/login", {"username": "nobody", "password": "x"}, cookie=False)
        expect(unknown.status == 401 and unknown.json == bad.json, "unknown name answers like a wrong password")
        r = web.request("POST", "/api/login", body=b"username=admin", ctype="application/x-www-form-urlencoded")
        expect(r.status == 415, f"form body: {r.status}")
        r = web.request("POST", "/api/login", body=b'{"username": "admin", ')
        expect(r.status == 400, f"malformed JSON: {r.status}")
        # The parser's excerpt of a body that is not UTF-8 must not break the JSON of the answer.
        r = web.request("POST", "/api/login", body=b'{"username": "\\\xd0\x82u\xb8\xfe\x7f", ')
        expect(r.status == 400 and "malformed JSON" in (r.json or {}).get("error", ""),
               f"malformed JSON that is not UTF-8: {r.status} {r.json}")
        r = web.request("POST", "/api/login", {"username": 5, "password": "x"})
        expect(r.status == 400 and r.json.get("field") == "username", f"bad username type: {r}")
        r = web.request("GET", "/api/login")
        expect(r.status == 405 and r.headers.get("allow") == "POST", f"GET /api/login: {r.status} {r.headers}")
        wa = WebClient(HTTP_PORT)
        wa.login("admin", admin_pw)  # a success clears the failures counted above
        expect(wa.cookie, "logged in")

    @run.case
    def login_sets_a_strict_cookie_and_a_csrf_token():
        r = web.login("admin", admin_pw)
        expect(r.status == 200, f"login: {r}")
        cookie = r.headers.get("set-cookie", "")
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
            expect(attr in cookie, f"cookie {cookie!r} lacks {attr}")
        expect("Secure" not in cookie, "no Secure flag over plain HTTP")
        expect(r.json["username"] == "admin" and len(r.json["csrf"]) >= 32, f"answer {r.json}")
        me = web.get("/api/session")
        expect(me.status == 200 and me.json["csrf"] == web.csrf, f"session: {me}")
        expect(me.headers.get("cache-control") == "no-store", "API answers are not cached")
        has_security_headers(me)

    @run.case
    def csrf_is_required_on_every_change():
        for method, path in CHANGES:
            if path == "/api/logout":
                continue
            for token in (False, "wrong-token", web.csrf[:-1]):
                r = web.request(method, path, data={}, csrf=token)
                expect(r.status == 403, f"{method} {path} with csrf={token!r}: {r.status}")
        r = web.request("GET", "/api/users", csrf=False)
        expect(r.status == 200, "GET needs no CSRF token")
        expect(s.ctl("users", "list") == [], "nothing was created by the refused requests")

    @run.case
    def users_crud():
        r = web.request("POST", "/api/users", {"username": "bob", "password": "pw1"})
        expect(r.status == 201 and r.json["username"] == "bob" and r.json["enabled"], f"add: {r}")
        expect(r.headers.get("location") == "/api/users/bob", f"Location {r.headers.get('location')}")
        r = web.request("POST", "/api/users", {"username": "bob", "password": "other"})
        expect(r.status == 409, f"duplicate: {r}")
        r = web.request("POST", "/api/users", {"username": "carol", "password": "pw", "enabled": False})
        expect(r.status == 201 and r.json["enabled"] is False, f"added disabled: {r}")
        for body, field in (({"password": "x"}, "username"), ({"username": "dave"}, "password"),
                            ({"username": "dave", "password": 5}, "password"),
                            ({"username": "dave", "password": "x", "enabled": "yes"}, "enabled"),
                            ({"username": "has space", "password": "x"}, "username"),
                            ({"username": "\u00e5lice", "password": "x"}, "username"),
                            ({"username": "dave", "password": "line\nbreak"}, "password"),
                            ({"username": "x" * 65, "password": "x"}, "username")):
            r = web.request("POST", "/api/users", body)
            expect(r.status == 400 and r.json.get("field") == field, f"{body}: {r} (field {field})")
        r = web.get("/api/users/bob")
        expect(r.status == 200 and r.json["realm"] == "sipd", f"get: {r}")
        expect(web.get("/api/users/nobody").status == 404, "missing user is 404")
        r = web.request("PUT", "/api/users/bob", {"enabled": False})
        expect(r.status == 200 and r.json["enabled"] is False, f"disable: {r}")
        r = web.request("PUT", "/api/users/bob", {"password": "pw2", "enabled": True})
        expect(r.status == 200 and r.json["enabled"] is True, f"passwd+enable: {r}")
        expect(web.request("PUT", "/api/users/bob", {}).status == 400, "PUT without fields is 400")
        expect(web.request("PUT", "/api/users/nobody", {"password": "x"}).status == 404, "PUT missing is 404")
        r = web.request("PATCH", "/api/users/bob", {"enabled": True})
        expect(r.status == 405 and "PUT" in r.headers.get("allow", ""), f"PATCH: {r.status} {r.headers}")
        r = web.request("DELETE", "/api/users/carol")
        expect(r.status == 200 and r.json["deleted"] is True, f"delete: {r}")
        expect(web.request("DELETE", "/api/users/carol").status == 404, "second delete is 404")
        names = [u["username"] for u in s.ctl("users", "list")]
        expect(names == ["bob"], f"stored users {names}")

    @run.case
    def users_search_and_paging():
        for i in range(12):
            expect(web.request("POST", "/api/users", {"username": f"page{i:02d}", "password": "p"}).status == 201,
                   "add")
        r = web.get("/api/users?q=PAGE&offset=10&limit=5")
        expect(r.status == 200, f"list: {r}")
        page = r.json
        expect(page["total"] == 12 and page["offset"] == 10 and page["limit"] == 5, f"page {page}")
        expect([u["username"] for u in page["items"]] == ["page10", "page11"], f"items {page['items']}")
        expect(web.get("/api/users").json["total"] == 13, "total without q")
        for q in ("limit=0", "limit=1001", "limit=x", "offset=-1", "offset=1e3"):
            r = web.get(f"/api/users?{q}")
            expect(r.status == 400, f"{q}: {r.status}")

    @run.case
    def hostile_bodies_leave_rows_intact():
        before = s.ctl("users", "list")
        r = web.request("POST", "/api/users", body=b'{"username": "x", "password": "y"' + b" " * 5000 + b"}")
        expect(r.status == 413, f"oversized: {r.status}")
        r = web.request("POST", "/api/users", body=b"\xff\xfe{\"username\": \"x\"}")
        expect(r.status == 400, f"not UTF-8: {r.status}")
        r = web.request("POST", "/api/users", body=b'{"username": "\xc3\x28", "password": "x"}')
        expect(r.status == 400, f"invalid UTF-8 in a string: {r.status}")
        r = web.request("POST", "/api/users", body=b'["bob", "pw"]')
        expect(r.status == 400, f"array body: {r.status}")
        r = web.request("POST", "/api/users", body=b'{"username": "a\\u0000b", "password": "x"}')
        expect(r.status == 400, f"NUL in a string: {r.status}")
        r = web.request("POST", "/api/users", body=b'{"username": "bob", "password": "pw"}', ctype="text/plain")
        expect(r.status == 415, f"text/plain: {r.status}")
        r = web.request("POST", "/api/users", body=b'{"username": "bob", "password": "pw"}', ctype=None)
        expect(r.status == 415, f"no Content-Type: {r.status}")
        r = web.request("PUT", "/api/users/bob", body=b'{"password": "a", "password": "b"}')
        expect(r.status == 400, f"duplicate keys: {r.status}")
        # Path segments and query values become JSON params: bytes that are not UTF-8 are refused, never
        # dropped (GET /api/registrations?aor=%FF listed every binding; found by tests/fuzz/fuzz_api).
        for method, path in (("GET", "/api/users/b%FFb"), ("DELETE", "/api/users/b%FFb"),
                             ("GET", "/api/registrations?aor=sip%3Ab%FF%40x"),
                             ("DELETE", "/api/registrations?aor=sip%3Ab%FF%40x&contact=sip%3Ab%40y"),
                             ("GET", "/api/users?q=%FF")):
            r = web.request(method, path)
            expect(r.status == 400 and isinstance(r.json.get("error"), str), f"{method} {path}: {r}")
        expect(s.ctl("users", "list") == before, "no stored row changed")
        sql = "x');DROP_TABLE_users;--"
        r = web.request("POST", "/api/users", {"username": sql, "password": "' OR '1'='1"})
        expect(r.status == 201 and r.json["username"] == sql, f"SQL-looking name is just a name: {r}")
        r = web.get("/api/users/" + urllib.parse.quote(sql, safe=""))
        expect(r.status == 200 and r.json["username"] == sql, f"it reads back: {r}")
        r = web.get("/api/users?q=" + urllib.parse.quote("' OR 1=1 --"))
        expect(r.status == 200 and r.json["total"] == 0, f"SQL-looking search finds nothing: {r}")
        after = [u["username"] for u in s.ctl("users", "list")]
        expect(len(after) == len(before) + 1 and "bob" in after, f"users {after}")
        expect(web.request("DELETE", "/api/users/" + urllib.parse.quote(sql, safe="")).status == 200, "delete")

    @run.case
    def registrations_listed_streamed_and_removed():
        stream = web.events()
        expect(stream.status == 200 and stream.headers.get("content-type") == "text/event-stream",
               f"events: {stream.status} {stream.headers}")
        ev = stream.next_event("stats", timeout=3)
        expect(ev and "uptime" in ev[1] and "calls_per_second" in ev[1], f"stats tick: {ev}")
        c = Client(s.port)
        contact = f"<sip:bob@127.0.0.1:{c.lport}>"
        resp, _ = c.register_auth("bob", "pw2", contact=contact, expires=600)
        expect(resp and resp.status == 200, f"REGISTER: {resp and resp.start}")
        ev = stream.next_event("registration.added", timeout=3)
        expect(ev and ev[1]["aor"] == "bob" and ev[1]["new"] is True and ev[1]["transport"] == "udp",
               f"event: {ev}")
        r = web.get("/api/registrations")
        items = r.json["items"]
        expect(r.status == 200 and len(items) == 1 and items[0]["aor"] == "bob", f"list: {r}")
        b = items[0]
        expect(b["expires_in"] > 500 and b["received"].startswith("udp:127.0.0.1:"), f"binding {b}")
        nodes = web.get("/api/nodes").json["items"]
        expect(len(nodes) == 1 and b["node"] == nodes[0]["node_id"] and nodes[0]["bindings"] == 1,
               f"the binding's node, and the node's count: {b}, {nodes}")
        expect(web.get("/api/registrations?aor=nobody").json["total"] == 0, "filter by AOR")
        expect(web.request("DELETE", "/api/registrations?aor=bob").status == 400, "contact missing")
        q = urllib.parse.urlencode({"aor": "bob", "contact": "sip:bob@127.0.0.1:1"})
        expect(web.request("DELETE", f"/api/registrations?{q}").status == 404, "unknown contact")
        q = urllib.parse.urlencode({"aor": b["aor"], "contact": b["contact"]})
        r = web.request("DELETE", f"/api/registrations?{q}")
        expect(r.status == 200 and r.json["removed"] is True, f"remove: {r}")
        ev = stream.next_event("registration.removed", timeout=3)
        expect(ev and ev[1]["reason"] == "removed", f"removed event: {ev}")
        expect(s.ctl("registrations") == [], "gone from the registrar")
        c.close()
        stream.close()

    @run.case
    def sessions_list_and_end_unknown():
        r = web.get("/api/sessions")
        expect(r.status == 200 and r.json == {"items": [], "total": 0, "offset": 0, "limit": 50}, f"{r}")
        r = web.request("DELETE", "/api/sessions/" + urllib.parse.quote("no-such@call", safe=""))
        expect(r.status == 404 and "no session" in r.json["error"], f"end unknown: {r}")
        expect(web.request("POST", "/api/sessions").status == 405, "POST sessions is 405")

    @run.case
    def nodes_list_this_node():
        r = web.get("/api/nodes")
        expect(r.status == 200 and r.json["total"] == 1, f"nodes: {r}")
        n = r.json["items"][0]
        expect(n["self"] is True and n["state"] == "alive" and n["seen_ago"] <= 3, f"this node, alive: {n}")
        expect(n["address"] == f"sip:127.0.0.1:{s.port}", f"address from the UDP listen entry: {n}")
        expect(n["sessions"] == 0 and isinstance(n["bindings"], int), f"counts: {n}")
        expect(isinstance(n["started"], int) and n["last_seen"] >= n["started"], f"times: {n}")
        expect(web.request("POST", "/api/nodes", {}).status == 405, "POST nodes is 405")
        expect(web.get("/api/nodes/x").status == 404, "no sub-path")

    @run.case
    def stats_modules_admins():
        st = web.get("/api/stats").json
        for k in ("uptime", "registrations", "sessions", "calls", "calls_per_second", "errors", "modules"):
            expect(k in st, f"stats lacks {k}: {st}")
        expect(st["modules"]["registrar"]["accepted"] >= 1, "per-module counters")
        mods = web.get("/api/modules?limit=100").json
        wa = [m for m in mods["items"] if m["name"] == "webadmin"]
        expect(wa and wa[0]["parameters"]["max_body"] == 4096, f"webadmin parameters {wa}")
        expect(wa[0]["parameters"]["listen"] == [f"127.0.0.1:{HTTP_PORT}"], "list parameters")
        admins = web.get("/api/admins").json
        expect([a["name"] for a in admins["items"]] == ["admin"] and admins["items"][0]["last_login"],
               f"admins {admins}")
        expect("hash" not in admins["items"][0], "no hash over the API")
        expect(web.request("POST", "/api/stats", {}).status == 405, "POST stats is 405")

    @run.case
    def audio_library_upload_assign_play_delete():
        s.ctl("users", "add", "listener", "listener-pw")
        wav = io.BytesIO()
        with wave.open(wav, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(i / 8.0))) for i in range(16000)))
        r = web.request("POST", "/api/audio?name=tone", body=wav.getvalue(), ctype="audio/wav")
        expect(r.status == 201 and r.json.get("name") == "tone", f"upload: {r}")
        expect(web.request("POST", "/api/audio?name=tone", body=wav.getvalue(), ctype="audio/wav").status == 409,
               "a second upload under the same name is 409")
        r = web.request("POST", "/api/audio?name=text", body=b"this is not audio at all" * 20, ctype="audio/wav")
        expect(r.status == 400 and r.json.get("error"), f"unreadable audio refused in words: {r}")
        expect("tone" in [a["name"] for a in web.get("/api/audio").json["items"]], "listed")
        r = web.request("PUT", "/api/users/listener/audio", {"audio": "tone", "mode": "sometimes"})
        expect(r.status == 400, f"a bad mode is 400: {r}")
        r = web.request("PUT", "/api/users/listener/audio", {"audio": "tone", "mode": "once"})
        expect(r.status == 200, f"assign: {r}")
        items = web.get("/api/assignments").json["items"]
        expect({"user": "listener", "audio": "tone", "mode": "once"} in
               [{k: a.get(k) for k in ("user", "audio", "mode")} for a in items], f"assignments: {items}")
        r = web.get("/api/audio/tone/file")
        expect(r.status == 200 and r.headers.get("content-type", "").startswith("audio/") and r.body[:4] == b"RIFF",
               f"the file plays in the browser: {r.status} {r.headers.get('content-type')}")
        expect(web.request("DELETE", "/api/users/listener/audio").status == 200, "unassign")
        expect(web.request("DELETE", "/api/audio/tone").status == 200, "delete")
        expect(web.get("/api/audio/tone/file").status == 404, "gone")

    @run.case
    def softphone_account():
        r = web.get("/api/softphone")
        sp = r.json
        expect(r.status == 200 and sp["ws_url"] is None and "ws" in sp["message"], f"softphone: {r}")
        expect(sp["username"] == "webadmin-admin" and sp["realm"] == "sipd" and len(sp["password"]) >= 16,
               f"softphone {sp}")
        expect(web.get("/api/users/webadmin-admin").status == 200, "the softphone user exists")
        c = Client(s.port)
        resp, _ = c.register_auth(sp["username"], sp["password"], contact=f"<sip:x@127.0.0.1:{c.lport}>",
                                  expires=60)
        expect(resp and resp.status == 200, f"the credential works: {resp and resp.start}")
        c.register(sp["username"], contact="*", expires=0)
        c.close()

    @run.case
    def routing_check_put_and_backup():
        r = web.get("/api/routing")
        expect(r.status == 200 and r.json["script"] == DEFAULT, "GET returns the running file")
        path = r.json["path"]
        expect(web.request("POST", "/api/routing/check", {"script": DEFAULT}).json == {"ok": True}, "good check")
        r = web.request("POST", "/api/routing/check", {"script": "request_route {\n  nosuch();\n}\n"})
        expect(r.status == 422, f"bad check: {r}")
        e = r.json["errors"][0]
        expect(e["line"] == 2 and e["column"] == 3 and "nosuch" in e["message"], f"error {e}")
        expect(web.request("POST", "/api/routing/check", {"script": 5}).status == 400, "script not a string")
        expect(web.request("POST", "/api/routing/check", {}).status == 400, "no script")
        r = web.request("PUT", "/api/routing", {"script": "request_route { nosuch(); }"})
        expect(r.status == 422, f"bad put: {r}")
        with open(os.path.join(s.dir, "routing.cfg")) as f:
            expect(f.read() == DEFAULT, "a refused script writes nothing")
        new = DEFAULT.replace("request_route {",
                              'request_route {\n\tif ($rm == "OPTIONS") { reply(200, "Webadmin Was Here"); exit; }', 1)
        r = web.request("PUT", "/api/routing", {"script": new})
        expect(r.status == 200 and r.json["reloaded"] is True, f"put: {r}")
        with open(r.json["backup"]) as f:
            expect(f.read() == DEFAULT, "the previous file is the backup")
        with open(path if os.path.isabs(path) else os.path.join(s.dir, path)) as f:
            expect(f.read() == new, "the new file is saved")
        m = parse_sip(udp_request("127.0.0.1", s.port, sip_request("OPTIONS", f"sip:127.0.0.1:{s.port}")))
        expect(m and m.reason == "Webadmin Was Here", f"the new script runs: {m and m.start}")
        expect(web.request("PUT", "/api/routing", {"script": DEFAULT}).status == 200, "put back")

    @run.case
    def metrics_for_loopback():
        r = web.raw("GET", "/metrics")
        text = r.body.decode()
        expect(r.status == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4"), f"{r}")
        expect("# TYPE sipd_registrar_accepted counter" in text, "counters")
        expect("# TYPE sipd_tm_current gauge" in text, "gauges")
        expect(re.search(r"^sipd_uptime_seconds \d+$", text, re.M), "uptime")
        expect(web.raw("POST", "/metrics", b"").status == 405, "POST /metrics")

    @run.case
    def static_files_and_traversal():
        r = web.raw("GET", "/")
        expect(r.status == 200 and b"<title>sipd</title>" in r.body, f"index: {r}")
        expect(r.headers["content-type"].startswith("text/html"), "html type")
        has_security_headers(r)
        r = web.raw("GET", "/app.js")
        expect(r.status == 200 and r.headers["content-type"].startswith("text/javascript"), f"js: {r}")
        expect(web.raw("GET", "/sub/page.css").status == 200, "file in a directory")
        expect(web.raw("HEAD", "/app.js").status == 200, "HEAD")
        for target in ("/sub", "/sub/", "/.secret", "/leak", "/../etc/passwd", "/sub/../../etc/passwd",
                       "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "/..%2f..%2fetc%2fpasswd",
                       "/%2e%2e%5c%2e%2e%5cetc%5cpasswd", "/sub/%2e%2e/%2e%2e/" + os.path.basename(outside) + "/passwd",
                       "/%252e%252e/etc/passwd", "/nosuch.html"):
            r = web.raw("GET", target)
            expect(r.status in (400, 404) and b"root:" not in r.body and b"hidden" not in r.body,
                   f"{target}: {r.status}")
        # civetweb decodes %00 and the path ends there: at most app.js itself is served.
        r = web.raw("GET", "/app.js%00.html")
        expect(r.status in (400, 404) or r.body == b"export const x = 1;\n", f"NUL: {r}")
        r = web.raw("DELETE", "/app.js")
        expect(r.status == 405 and "GET" in r.headers.get("allow", ""), f"DELETE file: {r.status}")

    @run.case
    def api_paths_with_traversal_and_encodings():
        for target in ("/api/users/..", "/api/users/../../etc", "/api/users/%2e%2e%2f%2e%2e",
                       "/api/users/a/b/c/d/e/f/g/h/i"):
            r = web.raw("GET", target, headers={"Cookie": f"sipd_session={web.cookie}"})
            expect(r.status in (400, 404), f"{target}: {r.status}")
        expect(s.ctl("users", "get", "bob")["username"] == "bob", "bob intact")

    @run.case
    def logout_ends_the_session():
        other = WebClient(HTTP_PORT)
        expect(other.login("admin", admin_pw).status == 200, "second session")
        r = other.request("POST", "/api/logout")
        expect(r.status == 200 and "Max-Age=0" in r.headers.get("set-cookie", ""), f"logout: {r}")
        expect(other.get("/api/users").status == 401, "the session is gone")
        expect(web.get("/api/users").status == 200, "other sessions stay")

    @run.case
    def audit_lines_name_the_admin():
        log = s.log_text()
        expect(re.search(r"audit: admin=admin addr=127\.0\.0\.1 POST /api/users -> 201", log), "add audited")
        expect(re.search(r"audit: admin=admin addr=127\.0\.0\.1 PUT /api/routing -> 200", log), "routing audited")
        expect("pw2" not in log and log.count(admin_pw) == 1, "no password in the log but the first-start line")

    @run.case
    def sipctl_admin_words():
        out = s.ctl("admin", "add", "ops")
        expect(out["name"] == "ops" and len(out.get("password", "")) >= 16, f"generated: {out}")
        gen = out["password"]
        expect(s.ctl("admin", "add", "ops", "x", check=False) is not None, "duplicate refused")
        expect(s.ctl("admin", "passwd", "ops", "new-secret")["name"] == "ops", "passwd")
        expect(s.ctl("admin", "add", "bad name", check=False) is not None, "bad name refused")
        ops = WebClient(HTTP_PORT)
        expect(ops.login("ops", gen).status == 401, "the old password no longer works")
        expect(ops.login("ops", "new-secret").status == 200, "the new one does")
        expect(s.ctl("admin", "delete", "ops")["deleted"] is True, "delete")
        expect(ops.get("/api/users").status == 401, "a deleted admin's session ends")
        expect([a["name"] for a in s.ctl("admin", "list")] == ["admin"], "list")

    @run.case
    def login_rate_limit():
        for _ in range(3):
            expect(web.request("POST", "/api/login", {"username": "admin", "password": "nope"},
                               cookie=False).status == 401, "failure")
        r = web.request("POST", "/api/login", {"username": "admin", "password": admin_pw}, cookie=False)
        expect(r.status == 429 and int(r.headers.get("retry-after", "0")) > 0, f"locked: {r} {r.headers}")
        expect(r.json.get("retry_after", 0) > 0, "retry_after in the body")
        time.sleep(LOCKOUT + 0.5)
        expect(WebClient(HTTP_PORT).login("admin", admin_pw).status == 200, "the lock-out ends")

# A proxy to $hdr(X-UA) with session timers, to end a call from the API.
PROXY = """request_route {
	sanity();
	if (is_method("ACK")) { if (loose_route()) { relay(); } drop; }
	if (is_method("INVITE|UPDATE")) { session_timer_check(); }
	if (has_to_tag()) { loose_route(); relay(); exit; }
	$ru = "sip:$rU@127.0.0.1:$hdr(X-UA)";
	record_route();
	relay();
}
"""
HTTP_PORT2 = free_port("tcp")
PROXY_MODULES = MODULES[:5] + [{"name": "tcp"}, {"name": "session_timer"},
                               {"name": "webadmin", "listen": [f"127.0.0.1:{HTTP_PORT2}"], "webroot": webroot,
                                "pbkdf2_iterations": ITERATIONS}]

# TCP listed first: the node's default address is still the UDP entry.
with Sipd(run.build, modules=PROXY_MODULES, routing=PROXY, listen=["tcp:127.0.0.1:{port}", "udp:127.0.0.1:{port}"],
          core={"node_id": "wa-proxy"}) as s:
    web = WebClient(HTTP_PORT2).wait_ready()
    s.ctl("admin", "add", "ops", "ops-password")

    @run.case
    def audio_endpoints_without_rtc_player_are_404():
        expect(web.login("ops", "ops-password").status == 200, "login")
        for method, path in (("GET", "/api/audio"), ("GET", "/api/assignments"), ("GET", "/api/rtc/calls"),
                             ("POST", "/api/audio?name=x"), ("PUT", "/api/users/bob/audio")):
            r = web.request(method, path, data={} if method == "PUT" else None,
                            body=b"RIFF" if method == "POST" else None, ctype="audio/wav")
            expect(r.status == 404 and r.json == {"error": "rtc_player is not loaded"}, f"{method} {path}: {r}")

    @run.case
    def ending_a_session_sends_bye_to_both_parties():
        expect(web.login("ops", "ops-password").status == 200, "login")
        stream = web.events()
        a, b = UA("alice"), UA("bob")
        try:
            c = Call(s.port, a, b, ["Supported: timer", "Session-Expires: 600"])
            expect(c.ok and c.ok.status == 200, f"call: {c.ok and c.ok.start}")
            ev = stream.next_event("session.started", timeout=3)
            expect(ev and ev[1]["call_id"] == c.call_id and ev[1]["interval"] == 600, f"started: {ev}")
            items = web.get("/api/sessions").json["items"]
            expect(len(items) == 1 and items[0]["call_id"] == c.call_id, f"listed: {items}")
            expect(items[0]["refresher"] in ("caller", "callee") and 0 < items[0]["expires_in"] <= 600,
                   f"session {items[0]}")
            expect(items[0]["node"] == "wa-proxy" and items[0]["local"] is True, f"the node holding it, here: {items[0]}")
            nodes = web.get("/api/nodes").json["items"]
            expect([(n["node_id"], n["address"], n["sessions"], n["bindings"]) for n in nodes]
                   == [("wa-proxy", f"sip:127.0.0.1:{s.port}", 1, None)], f"nodes (no registrar: null): {nodes}")
            r = web.request("DELETE", "/api/sessions/" + urllib.parse.quote(c.call_id, safe=""))
            expect(r.status == 200 and r.json == {"call_id": c.call_id, "ended": True}, f"end: {r}")
            bye_b = b.wait_request("BYE", 3)
            bye_a = a.wait_request("BYE", 3)
            expect(bye_a is not None and bye_b is not None, "BYE reached both parties")
            for m in (bye_a, bye_b):
                expect("cause=200" in (m.get("Reason") or ""), f"Reason {m.get('Reason')}")
                expect(m.get("Call-ID") == c.call_id, "Call-ID")
            ev = stream.next_event("session.ended", timeout=3)
            expect(ev and ev[1] == {"call_id": c.call_id, "reason": "admin"}, f"ended: {ev}")
            expect(web.get("/api/sessions").json["total"] == 0, "no session left")
            expect(web.request("DELETE", "/api/sessions/" + urllib.parse.quote(c.call_id, safe="")).status == 404,
                   "ending it again is 404")
        finally:
            stream.close()
            a.close()
            b.close()

run.finish()
