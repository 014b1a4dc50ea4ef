#!/bin/bash
# register_cpu.sh: CPU per authenticated REGISTER of sipd (durable, BENCH_BUILD) against Kamailio (usrloc in memory)
# at one fixed RATE, ROUNDS alternating 5 s rounds (and of a second sipd build BASE=DIR when given, for A/B).
# PERF=1 records a profile of sipd during its first round (PERF_ARGS, PERF_OUT; PERF_STAT=events counts instead).
set -u
. "$(dirname "$0")/lib.sh"
USERS=10000
RATE=${RATE:-4000}
ROUNDS=${ROUNDS:-3}
BENCH_STEP_SECONDS=${BENCH_STEP_SECONDS:-5}
csv="$BENCH_TMP/users.csv"
python3 - "$csv" "$USERS" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(int(sys.argv[2])):
        f.write(f"user{i};[authentication username=user{i} password=pw{i}]\n")
PY
start_sipd() { # start_sipd BUILD: sets SPORT SPID
local build=$1 sipd_port sdir
sipd_port=$(bench_free_port)
sdir="$BENCH_TMP/sipd-$sipd_port"
mkdir -p "$sdir"
cat >"$sdir/modules.conf" <<EOF2
core = { listen = [ "udp:127.0.0.1:$sipd_port" ]; workers = $BENCH_WORKERS; routing = "routing.cfg";
	 database = "$sdir/sipd.db"; log_level = "warn"; control_socket = "$sdir/sipd.ctl"; };
modules = ( { name = "parser"; }, { name = "udp"; }, { name = "sanity"; }, { name = "maxfwd"; },
	    { name = "auth_db"; realm = "sipd"; algorithms = [ "MD5" ]; },
	    { name = "registrar"; max_expires = 7200; } );
EOF2
cat >"$sdir/routing.cfg" <<'EOF2'
request_route {
	sanity();
	maxfwd(70);
	if ($rm == "REGISTER") {
		auth_check();
		save();
		exit;
	}
	reply(404, "Not Here");
}
EOF2
"$build/core/sipd" -c -f "$sdir/modules.conf" -M "$build/modules" --db "$sdir/sipd.db" >"$sdir/check.log" 2>&1 || { cat "$sdir/check.log"; exit 1; }
python3 - "$sdir/sipd.db" "$USERS" <<'PY'
import hashlib, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
now = int(time.time())
rows = []
for i in range(int(sys.argv[2])):
    u, p = f"user{i}", f"pw{i}"
    rows.append((u, "sipd", hashlib.md5(f"{u}:sipd:{p}".encode()).hexdigest(),
                 hashlib.sha256(f"{u}:sipd:{p}".encode()).hexdigest(), now, now))
db.executemany("INSERT INTO users(username, realm, ha1_md5, ha1_sha256, enabled, created, updated) "
               "VALUES(?, ?, ?, ?, 1, ?, ?)", rows)
db.commit()
PY
"$build/core/sipd" -D -f "$sdir/modules.conf" -M "$build/modules" -S "$sdir/sipd.ctl" \
	--db "$sdir/sipd.db" >"$sdir/sipd.log" 2>&1 &
SPID=$!
BENCH_PIDS+=("$SPID")
SPORT=$sipd_port
SCTL="$sdir/sipd.ctl"
bench_wait_sip 127.0.0.1 "$sipd_port" udp || { tail -20 "$sdir/sipd.log"; exit 1; }
}
start_sipd "$BENCH_BUILD"; SIPD_PID=$SPID; NEW_PORT=$SPORT; sipd_port=$SPORT; NEW_CTL=$SCTL
if [ -n "${BASE:-}" ]; then start_sipd "$BASE"; BASE_PID=$SPID; base_port=$SPORT; fi
sipd_port=$NEW_PORT
kdb="$BENCH_TMP/kam.db"
cat /usr/share/kamailio/db_sqlite/standard-create.sql /usr/share/kamailio/db_sqlite/auth_db-create.sql \
	/usr/share/kamailio/db_sqlite/usrloc-create.sql | sqlite3 "$kdb"
sqlite3 "$kdb" 'PRAGMA journal_mode=WAL;' >/dev/null
python3 - "$kdb" "$USERS" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executemany("INSERT INTO subscriber(username, domain, password) VALUES(?, '127.0.0.1', ?)",
               [(f"user{i}", f"pw{i}") for i in range(int(sys.argv[2]))])
db.commit()
PY
KAM_PORT=$(bench_free_port)
cfg="$BENCH_TMP/register.cfg"
{ echo "#!KAMAILIO"; echo "#!define DBURL \"sqlite:///$kdb\""; echo "include_file \"$BENCH_DIR/kamailio/register.cfg\""; } >"$cfg"
bench_start_kamailio "$cfg" "$KAM_PORT" "udp:127.0.0.1:$KAM_PORT" || exit 1
export BENCH_SIPP_ARGS="-inf $csv"
scenario="$BENCH_DIR/register_auth_uac.xml"
one() { # name port pid
	local t0 t1 ach failed ok
	t0=$(bench_cpu_ticks "$3")
	read -r ach failed ok < <(bench_sipp_step "$2" "$RATE" "$scenario")
	t1=$(bench_cpu_ticks "$3")
	echo "$1 rate=$RATE achieved=$ach failed=$failed ok=$ok cpu_us=$(( ok > 0 ? (t1 - t0) * 1000000 / BENCH_CLK_TCK / ok : 0 ))"
}
# warm-up: every user registered once on both
one sipd-warm "$sipd_port" "$SIPD_PID" >/dev/null
[ -n "${BASE:-}" ] && one base-warm "$base_port" "$BASE_PID" >/dev/null
for ((r = 0; r < ROUNDS; r++)); do
	if [ "${PERF:-0}" = 1 ] && [ $r = 0 ]; then
		if [ -n "${PERF_STAT:-}" ]; then
			perf stat -e "$PERF_STAT" -p "$SIPD_PID" -o "${PERF_OUT:-/tmp/regperf.stat}" -- sleep $((BENCH_STEP_SECONDS)) >/dev/null 2>&1 &
		else
			perf record ${PERF_ARGS:--g} -p "$SIPD_PID" -o "${PERF_OUT:-/tmp/regperf.data}" -- sleep $((BENCH_STEP_SECONDS)) >/dev/null 2>&1 &
		fi
		ppid=$!
		one sipd "$sipd_port" "$SIPD_PID"
		wait $ppid
	else
		one sipd "$sipd_port" "$SIPD_PID"
	fi
	sleep 1
	if [ -n "${BASE:-}" ]; then one base "$base_port" "$BASE_PID"; sleep 1; fi
	one kamailio "$KAM_PORT" "$KAMAILIO_PID"
	sleep 1
done
"$BENCH_BUILD/core/sipctl" -S "$NEW_CTL" -j stats 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print("db.jobs", d.get("db.jobs"), "db.batches", d.get("db.batches"))'
