"""auth_db over the real binary: challenges, right/wrong passwords, stale nonces, replays, AOR ownership,
users RPC, UDP and TCP, and sipsak registering with a password."""

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import Sipd, TestRun  # noqa: E402
from regtest import Client, challenges, credentials  # noqa: E402

run = TestRun("auth")
REALM = "sipd.test"
MODULES = [{"name": "parser"}, {"name": "udp"}, {"name": "tcp"}, {"name": "sanity"},
           {"name": "auth_db", "realm": REALM, "nonce_ttl": 5},
           {"name": "registrar", "min_expires": 1}]
ROUTING = """
request_route {
	sanity();
	auth_check();
	if ($rm == "REGISTER") { save(); exit; }
	lookup();
	reply(299, "Authenticated");
}
"""

with Sipd(run.build, modules=MODULES, routing=ROUTING,
          listen=["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}"]) as s:
    s.ctl("users", "add", "alice", "alice-secret")
    s.ctl("users", "add", "bob", "bob-secret")
    uri = f"sip:127.0.0.1:{s.port}"

    @run.case
    def register_without_credentials_is_challenged_sha256_first():
        c = Client(s.port)
        r = c.register("alice", "<sip:alice@127.0.0.1:5070>")
        run.expect(r and r.status == 401, f"401, got {r and r.start}")
        ch = challenges(r)
        run.expect([x.get("algorithm") for x in ch] == ["SHA-256", "MD5"], f"SHA-256 then MD5: {ch}")
        run.expect(all(x.get("qop") == "auth" and x.get("realm") == REALM for x in ch), "qop=auth, realm")
        run.expect(ch[0]["nonce"] == ch[1]["nonce"], "one nonce for both")

    @run.case
    def right_password_sha256_registers():
        c = Client(s.port)
        r, _ = c.register_auth("alice", "alice-secret", "<sip:alice@127.0.0.1:5070>", 600)
        run.expect(r and r.status == 200, f"200, got {r and r.start}")
        run.expect(any("sip:alice@127.0.0.1:5070" in v for v in r.all("Contact")), "binding listed")

    @run.case
    def right_password_md5_registers():
        c = Client(s.port)
        r, _ = c.register_auth("bob", "bob-secret", "<sip:bob@127.0.0.1:5071>", 600, algo="MD5")
        run.expect(r and r.status == 200, f"200, got {r and r.start}")

    @run.case
    def wrong_password_is_403():
        c = Client(s.port)
        r, _ = c.register_auth("alice", "wrong", "<sip:alice@127.0.0.1:5070>", 600)
        run.expect(r and r.status == 403, f"403, got {r and r.start}")

    @run.case
    def unknown_user_is_403_like_a_wrong_password():
        c = Client(s.port)
        bad, _ = c.register_auth("alice", "wrong", "<sip:alice@127.0.0.1:5070>", 600)
        c2 = Client(s.port)
        r, _ = c2.register_auth("mallory", "x", "<sip:m@127.0.0.1:5070>", 600)
        run.expect(r and r.status == 403, f"403, got {r and r.start}")
        run.expect(r.reason == bad.reason, "same reason phrase: nothing tells which names exist")

    @run.case
    def disabled_user_is_403_until_enabled():
        s.ctl("users", "disable", "bob")
        c = Client(s.port)
        r, _ = c.register_auth("bob", "bob-secret", "<sip:bob@127.0.0.1:5071>", 600)
        run.expect(r and r.status == 403, f"403 while disabled, got {r and r.start}")
        s.ctl("users", "enable", "bob")
        c = Client(s.port)
        r, _ = c.register_auth("bob", "bob-secret", "<sip:bob@127.0.0.1:5071>", 600)
        run.expect(r and r.status == 200, f"200 once enabled, got {r and r.start}")

    @run.case
    def foreign_aor_is_403():
        c = Client(s.port)
        r, _ = c.register_auth("bob", "alice-secret", "<sip:bob@127.0.0.1:5071>", 600, auth_user="alice")
        run.expect(r and r.status == 403, f"alice may not register bob: got {r and r.start}")

    @run.case
    def nonce_count_replay_gets_stale_challenge():
        c = Client(s.port)
        first = c.register("alice", "<sip:alice@127.0.0.1:5070>", 600)
        nonce = challenges(first)[0]["nonce"]
        cred = credentials("alice", "alice-secret", REALM, nonce, "REGISTER", uri, nc=1, cnonce="abc")
        r = c.register("alice", "<sip:alice@127.0.0.1:5070>", 600, [cred])
        run.expect(r and r.status == 200, f"first use 200, got {r and r.start}")
        r = c.register("alice", "<sip:alice@127.0.0.1:5070>", 600, [cred])
        run.expect(r and r.status == 401, f"replayed nc refused, got {r and r.start}")
        run.expect(challenges(r)[0].get("stale") == "true", "stale=true")
        cred2 = credentials("alice", "alice-secret", REALM, nonce, "REGISTER", uri, nc=2, cnonce="abc")
        r = c.register("alice", "<sip:alice@127.0.0.1:5070>", 600, [cred2])
        run.expect(r and r.status == 200, f"next nc accepted, got {r and r.start}")

    @run.case
    def forged_nonce_gets_a_fresh_challenge():
        c = Client(s.port)
        cred = credentials("alice", "alice-secret", REALM, "0" * 56, "REGISTER", uri)
        r = c.register("alice", "<sip:alice@127.0.0.1:5070>", 600, [cred])
        run.expect(r and r.status == 401 and challenges(r)[0].get("stale") is None, f"401, got {r and r.start}")

    @run.case
    def malformed_credentials_are_400():
        c = Client(s.port)
        first = c.register("alice", "<sip:alice@127.0.0.1:5070>", 600)
        nonce = challenges(first)[0]["nonce"]
        wrong_uri = credentials("alice", "alice-secret", REALM, nonce, "REGISTER", "sip:elsewhere.example")
        r = c.register("alice", None, None, [wrong_uri])
        run.expect(r and r.status == 400, f"uri mismatch 400, got {r and r.start}")
        no_qop = (f'Authorization: Digest username="alice", realm="{REALM}", nonce="{nonce}", uri="{uri}", '
                  'response="0123456789abcdef0123456789abcdef"')
        r = c.register("alice", None, None, [no_qop])
        run.expect(r and r.status == 400, f"no qop 400, got {r and r.start}")
        sess = credentials("alice", "alice-secret", REALM, nonce, "REGISTER", uri, algo="MD5").replace(
            "algorithm=MD5", "algorithm=MD5-sess")
        r = c.register("alice", None, None, [sess])
        run.expect(r and r.status == 400, f"MD5-sess 400, got {r and r.start}")

    @run.case
    def other_requests_get_407_then_pass():
        c = Client(s.port)
        target = f"sip:alice@127.0.0.1:{s.port}"
        r = c.request("MESSAGE", target, from_user="bob")
        run.expect(r and r.status == 407 and r.get("Proxy-Authenticate"), f"407, got {r and r.start}")
        nonce = challenges(r, "Proxy-Authenticate")[0]["nonce"]
        cred = credentials("bob", "bob-secret", REALM, nonce, "MESSAGE", target, header="Proxy-Authorization")
        r = c.request("MESSAGE", target, [cred], from_user="bob")
        run.expect(r and r.status == 299, f"authenticated and looked up, got {r and r.start}")

    @run.case
    def stale_nonce_with_right_password_gets_stale_true():
        c = Client(s.port)
        first = c.register("alice", "<sip:alice@127.0.0.1:5070>", 600)
        nonce = challenges(first)[0]["nonce"]
        time.sleep(6)  # nonce_ttl is 5 s here
        cred = credentials("alice", "alice-secret", REALM, nonce, "REGISTER", uri)
        r = c.register("alice", "<sip:alice@127.0.0.1:5070>", 600, [cred])
        run.expect(r and r.status == 401, f"401, got {r and r.start}")
        run.expect(challenges(r)[0].get("stale") == "true", f"stale=true: {r.all('WWW-Authenticate')}")
        wrong = credentials("alice", "nope", REALM, nonce, "REGISTER", uri)
        r = c.register("alice", "<sip:alice@127.0.0.1:5070>", 600, [wrong])
        run.expect(r and r.status == 403, f"old nonce, wrong password: 403, got {r and r.start}")

    @run.case
    def register_over_tcp():
        c = Client(s.port, "tcp")
        try:
            r, _ = c.register_auth("bob", "bob-secret", "<sip:bob@127.0.0.1:5072;transport=tcp>", 600)
            run.expect(r and r.status == 200, f"200, got {r and r.start}")
            regs = [x for x in s.ctl("registrations", "bob") if "5072" in x["contact"]]
            run.expect(regs and regs[0]["transport"] == "tcp" and regs[0]["conn_id"] > 0,
                       f"tcp binding with its connection: {regs}")
        finally:
            c.close()

    @run.case
    def lookup_404_unknown_480_unregistered():
        s.ctl("users", "add", "carol", "carol-secret")
        c = Client(s.port)
        for user, want in (("nobody", 404), ("carol", 480)):
            target = f"sip:{user}@127.0.0.1:{s.port}"
            r = c.request("MESSAGE", target, from_user="bob")
            nonce = challenges(r, "Proxy-Authenticate")[0]["nonce"]
            cred = credentials("bob", "bob-secret", REALM, nonce, "MESSAGE", target, header="Proxy-Authorization")
            r = c.request("MESSAGE", target, [cred], from_user="bob")
            run.expect(r and r.status == want, f"{user}: {want}, got {r and r.start}")

    @run.case
    def users_rpc_manages_users():
        run.expect(s.ctl("users", "add", "dave", "pw1")["username"] == "dave", "added")
        dup = subprocess.run([s.sipctl, "-S", s.sock, "users", "add", "dave", "pw1"], capture_output=True,
                             text=True, timeout=10)
        run.expect(dup.returncode != 0 and "exists" in (dup.stdout + dup.stderr), "duplicate refused")
        names = [u["username"] for u in s.ctl("users", "list")]
        run.expect("dave" in names and "alice" in names, f"listed: {names}")
        run.expect(s.ctl("users", "get", "dave")["enabled"] is True, "get")
        s.ctl("users", "passwd", "dave", "pw2")
        c = Client(s.port)
        r, _ = c.register_auth("dave", "pw1", "<sip:dave@127.0.0.1:5073>", 600)
        run.expect(r and r.status == 403, "old password refused")
        c = Client(s.port)
        r, _ = c.register_auth("dave", "pw2", "<sip:dave@127.0.0.1:5073>", 600)
        run.expect(r and r.status == 200, "new password works")
        s.ctl("users", "delete", "dave")
        gone = subprocess.run([s.sipctl, "-S", s.sock, "users", "get", "dave"], capture_output=True, text=True,
                              timeout=10)
        run.expect(gone.returncode != 0, "deleted")
        bad = subprocess.run([s.sipctl, "-S", s.sock, "users", "add", "bad\"name", "x"], capture_output=True,
                             text=True, timeout=10)
        run.expect(bad.returncode != 0, "invalid username refused")

    @run.case
    def passwords_never_stored_or_logged():
        data = b""
        for suffix in ("", "-wal"):
            try:
                with open(s.db + suffix, "rb") as f:
                    data += f.read()
            except OSError:
                pass
        run.expect(b"alice" in data, "the users are in the database file")
        for pw in (b"alice-secret", b"bob-secret", b"pw2"):
            run.expect(pw not in data, f"{pw!r} not in the database")
            run.expect(pw not in s.log_text().encode(), f"{pw!r} not in the log")

# A legacy client that only reads the first challenge: offer MD5 alone for it.
if shutil.which("sipsak"):
    legacy = [dict(m) for m in MODULES]
    legacy[4] = {"name": "auth_db", "realm": REALM, "algorithms": ["MD5"]}
    with Sipd(run.build, modules=legacy, routing=ROUTING,
              listen=["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}"]) as s:
        s.ctl("users", "add", "erin", "erin-pw")

        @run.case
        def sipsak_registers_with_password():
            p = subprocess.run(["sipsak", "-U", "-s", f"sip:erin@127.0.0.1:{s.port}", "-u", "erin", "-a",
                                "erin-pw", "-C", "sip:erin@127.0.0.1:5090", "-x", "300", "-i"],
                               capture_output=True, text=True, timeout=20)
            run.expect(p.returncode == 0, f"sipsak succeeded: {p.stdout[-500:]}{p.stderr[-300:]}")
            regs = s.ctl("registrations", "erin")
            run.expect(any(r["contact"] == "sip:erin@127.0.0.1:5090" for r in regs), f"bound: {regs}")

        @run.case
        def sipsak_wrong_password_fails():
            p = subprocess.run(["sipsak", "-U", "-s", f"sip:erin@127.0.0.1:{s.port}", "-u", "erin", "-a",
                                "nope", "-C", "sip:erin@127.0.0.1:5091", "-x", "300", "-i"],
                               capture_output=True, text=True, timeout=20)
            run.expect(p.returncode != 0, f"sipsak reports the failure: {p.returncode}")
            regs = s.ctl("registrations", "erin")
            run.expect(not any("5091" in r["contact"] for r in regs), f"nothing bound: {regs}")

run.finish()
