"""auth_db's brute-force guard against the real sipd: wrong passwords from one address back off that
user+address (403 Too Many Failed Attempts with Retry-After, password not even checked), the user still logs
in from elsewhere and from the same address once the wait is over; many addresses guessing one user slow
down new addresses but not the user's own. Other loopback addresses (127.0.0.x) play the other hosts."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import Sipd, TestRun  # noqa: E402
from regtest import Client  # noqa: E402

run = TestRun("auth_guard")
MODULES = [{"name": "parser"}, {"name": "udp"}, {"name": "sanity"},
           {"name": "auth_db", "realm": "sipd.test", "guard_failures": 3, "guard_max_backoff": 60,
            "guard_user_failures": 8},
           {"name": "registrar", "min_expires": 1}]
ROUTING = """request_route {
	sanity();
	auth_check();
	if ($rm == "REGISTER") { save(); exit; }
	reply(299, "Authenticated");
}
"""


def register(s, source, password, user="alice"):
    c = Client(s.port, source=source)
    try:
        r, _ = c.register_auth(user, password, f"<sip:{user}@{source}:5070>", 60)
        return r
    finally:
        c.close()


with Sipd(run.build, modules=MODULES, routing=ROUTING) as s:
    s.ctl("users", "add", "alice", "alice-secret")
    s.ctl("users", "add", "bob", "bob-secret")

    @run.case
    def wrong_passwords_back_off_that_address():
        for i in range(3):
            r = register(s, "127.0.0.2", f"guess-{i}")
            run.expect(r and r.status == 403 and r.reason == "Forbidden", f"guess {i}: {r and r.start}")
        r = register(s, "127.0.0.2", "alice-secret")
        run.expect(r and r.status == 403 and r.reason == "Too Many Failed Attempts",
                   f"right password during the back-off is not even checked: {r and r.start}")
        run.expect(r.get("Retry-After") in ("1", "2"), f"Retry-After: {r.get('Retry-After')}")
        run.expect(s.stats()["auth_db.guard_refused"] >= 1, "counted")
        run.expect("backing off" in s.log_text(), "logged")

    @run.case
    def the_user_still_logs_in_from_another_address():
        r = register(s, "127.0.0.1", "alice-secret")
        run.expect(r and r.status == 200, f"alice's phone: {r and r.start}")

    @run.case
    def other_users_from_that_address_are_not_affected():
        r = register(s, "127.0.0.2", "bob-secret", user="bob")
        run.expect(r and r.status == 200, f"bob from the guessing address: {r and r.start}")

    @run.case
    def the_address_may_try_again_after_the_wait():
        time.sleep(1.1)
        r = register(s, "127.0.0.2", "alice-secret")
        run.expect(r and r.status == 200, f"after the back-off: {r and r.start}")

    @run.case
    def back_off_doubles_with_further_failures():
        for i in range(3):
            register(s, "127.0.0.3", f"x{i}")
        time.sleep(1.1)
        r = register(s, "127.0.0.3", "wrong-again")
        run.expect(r and r.reason == "Forbidden", f"checked again after 1 s: {r and r.start}")
        r = register(s, "127.0.0.3", "alice-secret")
        run.expect(r and r.reason == "Too Many Failed Attempts" and r.get("Retry-After") == "2",
                   f"now 2 s: {r and r.start} Retry-After {r and r.get('Retry-After')}")

    @run.case
    def many_addresses_slow_new_ones_not_the_users_own():
        # 127.0.0.1 logged alice in above; eight other addresses guess once or twice each.
        for i in range(8):
            register(s, f"127.0.0.{10 + i}", "guess")
        r = register(s, "127.0.0.30", "alice-secret")
        run.expect(r and r.status == 403 and r.reason == "Too Many Failed Attempts",
                   f"a new address waits its turn: {r and r.start}")
        r = register(s, "127.0.0.1", "alice-secret")
        run.expect(r and r.status == 200, f"alice's known phone is not slowed: {r and r.start}")
        time.sleep(1.1)
        r = register(s, "127.0.0.30", "alice-secret")
        run.expect(r and r.status == 200, f"the new address gets its turn a second later: {r and r.start}")

run.finish()
