"""sipctl and the control socket against a running sipd: methods, output, exit codes."""

import json
import os
import socket
import subprocess

from sipdtest import Sipd, TestRun

run = TestRun("sipctl")


def sipctl(s, *args, raw=False):
    """Runs sipctl (optionally -j); returns (exit code, stdout, stderr)."""
    cmd = [s.sipctl, "-S", s.sock] + (["-j"] if raw else []) + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=15)
    return p.returncode, p.stdout, p.stderr


def raw_request(path, lines, timeout=5.0):
    """Sends raw bytes on the control socket; returns the parsed response lines."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(timeout)
    c.connect(path)
    c.sendall(lines)
    c.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    c.close()
    return [json.loads(l) for l in data.decode().splitlines() if l.strip()]


with Sipd(run.build) as s:

    @run.case
    def help_lists_core_methods():
        code, out, _ = sipctl(s, "help")
        run.expect(code == 0, f"exit {code}")
        for words in ("version", "stats [GROUP]", "log level", "reload", "modules"):
            run.expect(words in out, f"'{words}' in help output:\n{out}")
        names = [m["name"] for m in s.ctl("help")]
        run.expect(names == sorted(names), "help is sorted")

    @run.case
    def words_map_to_dotted_methods():
        run.expect(s.ctl("log", "level") == {"level": "info"}, "log level -> log.level")
        res = s.ctl("log", "level", "debug")
        run.expect(res == {"level": "debug", "previous": "info"}, str(res))
        res = s.ctl("log.level", "level=info")
        run.expect(res["level"] == "info", f"key=value params: {res}")

    @run.case
    def readable_output():
        code, out, _ = sipctl(s, "version")
        run.expect(code == 0 and out.startswith("version: "), out)
        code, out, _ = sipctl(s, "modules")
        lines = out.splitlines()
        run.expect(code == 0 and lines[0].startswith("NAME"), f"a table with a header:\n{out}")
        run.expect(any(l.startswith("udp ") for l in lines), out)
        code, out, _ = sipctl(s, "stats", "udp")
        run.expect(code == 0 and "udp.rx_packets: " in out, out)

    @run.case
    def stats_group_filter():
        all_stats = s.ctl("stats")
        udp = s.ctl("stats", "udp")
        run.expect(udp and all(k.startswith("udp.") for k in udp), str(udp))
        run.expect(len(all_stats) > len(udp), "the filter keeps one group")
        rows = s.ctl("stats", "list", "udp")
        run.expect(all({"name", "help", "value"} <= set(r) for r in rows), str(rows[:2]))

    @run.case
    def errors_exit_1_with_message():
        code, _, err = sipctl(s, "no", "such", "thing")
        run.expect(code == 1 and "unknown command" in err, f"{code} {err}")
        code, _, err = sipctl(s, "log", "level", "shouty")
        run.expect(code == 1 and "shouty" in err, f"{code} {err}")
        code, out, _ = sipctl(s, "log", "level", "shouty", raw=True)
        run.expect(code == 1 and json.loads(out)["name"] == "EINVAL", out)

    @run.case
    def unreachable_exits_2():
        p = subprocess.run([s.sipctl, "-S", os.path.join(s.dir, "nothing.sock"), "version"],
                           capture_output=True, text=True, timeout=15)
        run.expect(p.returncode == 2 and "cannot connect to" in p.stderr, f"{p.returncode} {p.stderr}")
        env = dict(os.environ, SIPD_CONTROL=s.sock)
        p = subprocess.run([s.sipctl, "version"], capture_output=True, text=True, timeout=15, env=env)
        run.expect(p.returncode == 0, f"$SIPD_CONTROL is the default socket: {p.stderr}")

    @run.case
    def reload_reports_compiler_errors():
        with open(s.script) as f:
            good = f.read()
        with open(s.script, "w") as f:
            f.write("request_route { no_such_function(); }\n")
        code, _, err = sipctl(s, "reload")
        run.expect(code == 1 and "no_such_function" in err, f"{code} {err}")
        with open(s.script, "w") as f:
            f.write(good)
        run.expect(s.ctl("reload") == {"reloaded": True}, "reload of a good script")

    @run.case
    def socket_protocol_survives_garbage():
        replies = raw_request(s.sock, b'{"id":1,"method":"version"}\nnot json\n'
                              b'{"id":2,"method":"stats","params":"x"}\n{"id":3,"method":"version"}')
        run.expect(len(replies) == 4, str(replies))
        run.expect("result" in replies[0] and replies[0]["id"] == 1, str(replies[0]))
        run.expect(replies[1]["error"]["name"] == "EBADMSG", str(replies[1]))
        run.expect(replies[2]["error"]["name"] == "EINVAL" and replies[2]["id"] == 2, str(replies[2]))
        run.expect(replies[3]["id"] == 3 and "result" in replies[3], str(replies[3]))
        mode = os.stat(s.sock).st_mode & 0o777
        run.expect(mode == 0o600, f"socket mode {oct(mode)}")

run.finish()
