#!/bin/bash
# register_auth: digest-authenticated REGISTER over 10 000 users (SIPp injection file),
# sipd with durable bindings (group commit) against Kamailio with usrloc in memory and
# with write-through to SQLite; then memory per binding of sipd at 100 000 bindings.
set -u
. "$(dirname "$0")/../lib.sh"

USERS=${BENCH_REGISTER_USERS:-10000}
FILL=${BENCH_REGISTER_FILL:-100000}
# Authenticated registrations per second (each is REGISTER, 401, REGISTER, 200).
BENCH_RATES=${BENCH_REGISTER_RATES:-"1000 2000 4000 8000 16000 32000"}
# sipd reads with 8 MiB socket buffers: let Kamailio have as much.
KAMAILIO_MAXBUFFER=${KAMAILIO_MAXBUFFER:-8388608}

bench_build sipd sipctl parser udp sanity maxfwd auth_db registrar || exit 1

# The injection file SIPp reads the credentials from: user;[authentication ...] per line.
csv="$BENCH_TMP/users.csv"
python3 - "$csv" "$USERS" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(int(sys.argv[2])):
        f.write(f"user{i};[authentication username=user{i} password=pw{i}]\n")
PY

# sipd: its own start (module parameters needed), users provisioned before start-up.
# SIPp's [authentication] does MD5 only, so sipd offers MD5 alone here (as Kamailio does).
sipd_port=$(bench_free_port)
sdir="$BENCH_TMP/sipd-$sipd_port"
mkdir -p "$sdir"
cat >"$sdir/modules.conf" <<EOF
core = { listen = [ "udp:127.0.0.1:$sipd_port" ]; workers = $BENCH_WORKERS; routing = "routing.cfg";
	 database = "$sdir/sipd.db"; log_level = "warn"; control_socket = "$sdir/sipd.ctl"; };
modules = ( { name = "parser"; }, { name = "udp"; }, { name = "sanity"; }, { name = "maxfwd"; },
	    { name = "auth_db"; realm = "sipd"; algorithms = [ "MD5" ]; },
	    { name = "registrar"; max_expires = 7200; } );
EOF
cat >"$sdir/routing.cfg" <<'EOF'
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
EOF
"$BENCH_BUILD/core/sipd" -c -f "$sdir/modules.conf" -M "$BENCH_BUILD/modules" --db "$sdir/sipd.db" \
	>"$sdir/check.log" 2>&1 || { cat "$sdir/check.log" >&2; exit 1; }
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
"$BENCH_BUILD/core/sipd" -D -f "$sdir/modules.conf" -M "$BENCH_BUILD/modules" -S "$sdir/sipd.ctl" \
	--db "$sdir/sipd.db" >"$sdir/sipd.log" 2>&1 &
SIPD_PID=$!
BENCH_PIDS+=("$SIPD_PID")
bench_wait_sip 127.0.0.1 "$sipd_port" udp || { tail -20 "$sdir/sipd.log" >&2; exit 1; }
bench_log "sipd pid $SIPD_PID on port $sipd_port with $USERS users"

# Kamailio: the same users in its subscriber table, one database per mode.
kam_db() {
	local db=$1
	cat /usr/share/kamailio/db_sqlite/standard-create.sql /usr/share/kamailio/db_sqlite/auth_db-create.sql \
		/usr/share/kamailio/db_sqlite/usrloc-create.sql | sqlite3 "$db" || return 1
	# WAL (persistent in the file) so its readers do not wait for its writers, as sipd's do not.
	sqlite3 "$db" 'PRAGMA journal_mode=WAL;' >/dev/null || return 1
	python3 - "$db" "$USERS" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executemany("INSERT INTO subscriber(username, domain, password) VALUES(?, '127.0.0.1', ?)",
               [(f"user{i}", f"pw{i}") for i in range(int(sys.argv[2]))])
db.commit()
PY
}
start_kam() { # start_kam NAME [WRITE_THROUGH]: sets KAM_PORT and KAMAILIO_PID
	local name=$1 wt=${2:-} cfg
	KAM_PORT=$(bench_free_port)
	mkdir -p "$BENCH_TMP/kam-$name"
	kam_db "$BENCH_TMP/kam-$name/kamailio.db" || return 1
	cfg="$BENCH_TMP/kam-$name/register.cfg"
	{
		echo "#!KAMAILIO"
		echo "#!define DBURL \"sqlite:///$BENCH_TMP/kam-$name/kamailio.db\""
		[ -n "$wt" ] && echo "#!define WRITE_THROUGH"
		echo "include_file \"$BENCH_DIR/kamailio/register.cfg\""
	} >"$cfg"
	bench_start_kamailio "$cfg" "$KAM_PORT" "udp:127.0.0.1:$KAM_PORT"
}
start_kam mem || exit 1
kam_mem_port=$KAM_PORT kam_mem_pid=$KAMAILIO_PID
start_kam db WRITE_THROUGH || exit 1
kam_db_port=$KAM_PORT kam_db_pid=$KAMAILIO_PID

export BENCH_SIPP_ARGS="${BENCH_SIPP_ARGS:-} -inf $csv"
scenario="$BENCH_DIR/register_auth_uac.xml"
sipd=$(bench_find_max register_auth sipd "$sipd_port" "$SIPD_PID" "$scenario")
kmem=$(bench_find_max register_auth kamailio_memory "$kam_mem_port" "$kam_mem_pid" "$scenario")
kdb=$(bench_find_max register_auth kamailio_sqlite "$kam_db_port" "$kam_db_pid" "$scenario")
# Write-through Kamailio loses registrations to "database is locked" at any rate, so the
# search above finds no clean step: measure its goodput (200 OKs per second) instead.
kdb_good=0 kdb_fail=0
for rate in ${BENCH_KAM_SQLITE_RATES:-500 1000 2500 5000}; do
	read -r ach failed ok < <(bench_sipp_step "$kam_db_port" "$rate" "$scenario")
	good=$((ok / BENCH_STEP_SECONDS))
	echo "$(date +%T) register_auth kamailio_sqlite_goodput rate=$rate achieved=$ach failed=$failed ok=$ok goodput=$good" |
		tee -a "$BENCH_OUT/register_auth.log" >&2
	if [ "$good" -gt "$kdb_good" ]; then
		kdb_good=$good kdb_fail=$((failed * 100 / (failed + ok > 0 ? failed + ok : 1)))
	fi
	sleep 1
done
bench_report register_auth_vs_memory "$sipd" "$kmem" >&2
bench_report register_auth_vs_sqlite "$sipd" "$kdb" >&2
committed=$("$BENCH_BUILD/core/sipctl" -S "$sdir/sipd.ctl" -j stats 2>/dev/null |
	python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("db.jobs", 0), "writes in", d.get("db.batches", 0), "transactions")')
bench_log "sipd group commit: $committed"

# Memory per binding: a fresh sipd (registrar only), RSS before and after FILL bindings.
mem_port=$(bench_free_port)
mdir="$BENCH_TMP/sipd-mem"
mkdir -p "$mdir"
cat >"$mdir/modules.conf" <<EOF
core = { listen = [ "udp:127.0.0.1:$mem_port" ]; workers = $BENCH_WORKERS; routing = "routing.cfg";
	 database = "$mdir/sipd.db"; log_level = "warn"; control_socket = "$mdir/sipd.ctl"; };
modules = ( { name = "parser"; }, { name = "udp"; }, { name = "registrar"; } );
EOF
printf 'request_route {\n\tif ($rm == "REGISTER") { save(); exit; }\n\treply(404, "Not Here");\n}\n' \
	>"$mdir/routing.cfg"
"$BENCH_BUILD/core/sipd" -D -f "$mdir/modules.conf" -M "$BENCH_BUILD/modules" -S "$mdir/sipd.ctl" \
	--db "$mdir/sipd.db" >"$mdir/sipd.log" 2>&1 &
mem_pid=$!
BENCH_PIDS+=("$mem_pid")
bench_wait_sip 127.0.0.1 "$mem_port" udp || { tail -20 "$mdir/sipd.log" >&2; exit 1; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
rss0=$(rss "$mem_pid")
read -r filled secs < <(python3 "$BENCH_DIR/register_fill.py" "$mem_port" "$FILL")
sleep 1
rss1=$(rss "$mem_pid")
per=$(((rss1 - rss0) * 1024 / (filled > 0 ? filled : 1)))
echo "$(date '+%F %T') register_memory: $filled bindings in ${secs}s, RSS ${rss0} -> ${rss1} KiB, $per bytes per binding" |
	tee -a "$BENCH_OUT/results.txt" >&2

read -r s _ _ <<<"$sipd"
read -r km _ _ <<<"$kmem"
read -r kd _ _ <<<"$kdb"
[ "$kd" -eq 0 ] && kd=$kdb_good
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "register_auth: sipd durable $s/s; kamailio usrloc memory $km/s (ratio $(ratio "$s" "$km")), SQLite write-through $kd/s good (ratio $(ratio "$s" "$kd"), ${kdb_fail}% of its registrations failed at best goodput); sipd memory $per bytes/binding at $filled bindings"
