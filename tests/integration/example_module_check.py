"""Checks the out-of-tree hello module inside the installed sipd (called by example_module.sh)."""
import os
import sys

from sipdtest import Sipd, TestRun, parse_sip, sip_request, udp_request

prefix, hello_dir = sys.argv[2], sys.argv[3]
sys.argv = sys.argv[:2]
run = TestRun("example_module")
modules = [{"name": "parser"}, {"name": "udp"}, {"name": "hello", "greeting": "Howdy"}]
script = 'request_route {\n    hello("$fU");\n    reply(200, "OK");\n}\n'
module_path = f"{hello_dir}:{prefix}/lib/sipd/modules"

with Sipd(run.build, modules=modules, routing=script, sipd_bin=f"{prefix}/bin/sipd",
          sipctl_bin=f"{prefix}/bin/sipctl", module_path=module_path) as s:

    @run.case
    def module_listed():
        names = [m["name"] for m in s.ctl("modules")]
        run.expect("hello" in names, f"hello not in {names}")

    @run.case
    def script_function_runs():
        resp = parse_sip(udp_request("127.0.0.1", s.port, sip_request("OPTIONS", f"sip:127.0.0.1:{s.port}")))
        run.expect(resp is not None and resp.status == 200, "OPTIONS answered 200")
        st = s.ctl("hello", "stats")
        run.expect(st["greetings"] == 1 and st["last"] == "tester", f"hello.stats {st}")

    @run.case
    def rpc_method_over_sipctl():
        run.expect(s.ctl("hello", "greet", "world") == "Howdy, world!", "greeting from the parameter")

run.finish()
