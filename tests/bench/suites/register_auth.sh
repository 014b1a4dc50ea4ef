#!/bin/bash
# register_auth: digest-authenticated REGISTER over 10 000 users (SIPp injection file),
# sipd with durable bindings (group commit) against Kamailio with usrloc in memory and
# with write-through to SQLite; then memory per binding of sipd at 100 000 bindings.
set -u
. "$(dirname "$0")/../lib.sh"
. "$BENCH_DIR/register_lib.sh"

FILL=${BENCH_REGISTER_FILL:-100000}
# Authenticated registrations per second (each is REGISTER, 401, REGISTER, 200).
BENCH_RATES=${BENCH_REGISTER_RATES:-"1000 2000 4000 8000 16000 32000"}
# sipd reads with 8 MiB socket buffers: let Kamailio have as much.
KAMAILIO_MAXBUFFER=${KAMAILIO_MAXBUFFER:-8388608}

bench_build sipd sipctl parser udp sanity maxfwd auth_db registrar || exit 1

csv="$BENCH_TMP/users.csv"
reg_users_csv "$csv"
# sipd: users provisioned before start-up; Kamailio: the same users, usrloc in memory and write-through.
sipd_port=$(bench_free_port)
sdir="$BENCH_TMP/sipd-$sipd_port"
reg_start_sipd "$BENCH_BUILD" "$sdir" 127.0.0.1 "$sipd_port" "$sdir/sipd.db" || exit 1
bench_log "sipd pid $SIPD_PID on port $sipd_port with $REG_USERS users"
reg_start_kamailio mem || exit 1
kam_mem_port=$KAM_PORT kam_mem_pid=$KAMAILIO_PID
reg_start_kamailio db WRITE_THROUGH || exit 1
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
read -r jobs batches < <(reg_db_stats "$sdir/sipd.ctl")
bench_log "sipd group commit: $jobs writes in $batches transactions"

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
