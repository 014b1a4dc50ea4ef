#!/bin/bash
# register_callgrind.sh BUILD OUT: user-space instructions of authenticated REGISTERs (callgrind), for before/after
# comparisons that a shared machine does not blur. Instrumentation is on only for N registrations at RATE/s
# (after a 1 000-registration warm-up); then: callgrind_annotate OUT.1 (total / N = instructions per registration).
set -u
. "$(dirname "$0")/lib.sh"
build=$1 out=$2
USERS=10000 RATE=${RATE:-10} N=${N:-150}
csv="$BENCH_TMP/users.csv"
python3 - "$csv" "$USERS" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(int(sys.argv[2])):
        f.write(f"user{i};[authentication username=user{i} password=pw{i}]\n")
PY
port=$(bench_free_port)
sdir="$BENCH_TMP/sipd"
mkdir -p "$sdir"
cat >"$sdir/modules.conf" <<EOF2
core = { listen = [ "udp:127.0.0.1:$port" ]; workers = 2; routing = "routing.cfg";
	 database = "$sdir/sipd.db"; log_level = "warn"; control_socket = "$sdir/sipd.ctl"; };
modules = ( { name = "parser"; }, { name = "udp"; }, { name = "sanity"; }, { name = "maxfwd"; },
	    { name = "auth_db"; realm = "sipd"; algorithms = [ "MD5" ]; },
	    { name = "registrar"; max_expires = 7200; } );
EOF2
printf 'request_route {\n\tsanity();\n\tmaxfwd(70);\n\tif ($rm == "REGISTER") {\n\t\tauth_check();\n\t\tsave();\n\t\texit;\n\t}\n\treply(404, "Not Here");\n}\n' >"$sdir/routing.cfg"
"$build/core/sipd" -c -f "$sdir/modules.conf" -M "$build/modules" --db "$sdir/sipd.db" >/dev/null 2>&1 || exit 1
python3 - "$sdir/sipd.db" "$USERS" <<'PY'
import hashlib, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1]); now = int(time.time())
db.executemany("INSERT INTO users(username, realm, ha1_md5, ha1_sha256, enabled, created, updated) VALUES(?, 'sipd', ?, ?, 1, ?, ?)",
  [(f"user{i}", hashlib.md5(f"user{i}:sipd:pw{i}".encode()).hexdigest(), hashlib.sha256(f"user{i}:sipd:pw{i}".encode()).hexdigest(), now, now) for i in range(int(sys.argv[2]))])
db.commit()
PY
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" "$build/core/sipd" -D -f "$sdir/modules.conf" -M "$build/modules" -S "$sdir/sipd.ctl" --db "$sdir/sipd.db" >"$sdir/sipd.log" 2>&1 &
pid=$!
BENCH_PIDS+=("$pid")
bench_wait_sip 127.0.0.1 "$port" udp || { tail "$sdir/sipd.log"; exit 1; }
sipp_run() { sipp "127.0.0.1:$port" -sf "$BENCH_DIR/register_auth_uac.xml" -i 127.0.0.1 -p "$(bench_free_port)" -r "$RATE" -m "$1" -inf "$csv" -trace_stat -stf "$BENCH_TMP/st.csv" -nostdin >/dev/null 2>&1; tail -1 "$BENCH_TMP/st.csv" | awk -F';' '{print "ok", $16, "failed", $18}'; }
RATE_SAVE=$RATE; RATE=200; sipp_run 1000; RATE=$RATE_SAVE   # warm-up
callgrind_control -i on "$pid" >/dev/null
sipp_run "$N"
callgrind_control -i off "$pid" >/dev/null
callgrind_control -d "$pid" >/dev/null
sleep 1
kill -TERM "$pid"; wait "$pid"
ls -la "$out"*
