#!/bin/bash
# register_pg: durable digest-authenticated REGISTER/s over 10 000 users (SIPp injection file, MD5):
# sipd on SQLite (baseline), sipd on PostgreSQL with one node, two sipd nodes (127.0.0.1 and
# 127.0.0.2) sharing one PostgreSQL database with one SIPp per node, and Kamailio with db_postgres
# (auth_db, usrloc write-through db_mode 1). PostgreSQL runs with fsync=on (a throw-away cluster
# from tests/pg/pg_cluster.sh), so a commit is on disk as with SQLite's synchronous=FULL.
# CPU per registration counts the SIP server's processes and, separately, PostgreSQL's.
set -u
. "$(dirname "$0")/../lib.sh"
. "$BENCH_DIR/register_lib.sh"

# Authenticated registrations per second (each is REGISTER, 401, REGISTER, 200), as register_auth.
BENCH_RATES=${BENCH_REGISTER_RATES:-"1000 2000 4000 8000 16000 32000"}
KAMAILIO_MAXBUFFER=${KAMAILIO_MAXBUFFER:-8388608}
PG_FSYNC=${PG_FSYNC:-on}
LOG="$BENCH_OUT/register_pg.log"

bench_build sipd sipctl parser udp sanity maxfwd auth_db registrar || exit 1
command -v psql >/dev/null || { bench_log "psql not found (Debian postgresql-client)"; exit 2; }

# PostgreSQL: its own directory (the server runs as 'postgres' under root and cannot enter BENCH_TMP).
PG_DIR=$(mktemp -d /tmp/sipd-bench-pg.XXXXXX)
pg_stop() {
	bash "$BENCH_ROOT/tests/pg/pg_cluster.sh" stop "$PG_DIR" >/dev/null 2>&1
	rm -rf "$PG_DIR"
}
trap 'bench_stop_all; pg_stop' EXIT
admin=$(PG_FSYNC=$PG_FSYNC PG_OPTS="-c shared_preload_libraries=pg_stat_statements" \
	bash "$BENCH_ROOT/tests/pg/pg_cluster.sh" start "$PG_DIR") || exit 2
PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
pg_port=$(cat "$PG_DIR/port")
bench_log "PostgreSQL pid $PG_PID: $admin (fsync=$PG_FSYNC, synchronous_commit=on)"
psql_do() { # psql_do CONNINFO SQL...
	local c=$1
	shift
	psql -qAtX -v ON_ERROR_STOP=1 "$c" "$@"
}
new_db() { # new_db NAME: creates the database with pg_stat_statements, prints its conninfo
	psql_do "$admin" -c "CREATE DATABASE $1" || return 1
	psql_do "${admin/dbname=postgres/dbname=$1}" -c "CREATE EXTENSION pg_stat_statements" || return 1
	echo "${admin/dbname=postgres/dbname=$1}"
}
# The statements that took PostgreSQL's time since the last reset, into the log.
pg_top() { # pg_top CONNINFO LABEL
	{
		echo "--- pg_stat_statements, $2 (calls, total ms, mean ms, rows, query)"
		psql_do "$1" -F ' | ' -c "SELECT calls, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3),
			rows, left(regexp_replace(query, '\s+', ' ', 'g'), 110) FROM pg_stat_statements
			WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
			ORDER BY total_exec_time DESC LIMIT 8"
		psql_do "$1" -F ' | ' -c "SELECT 'commits', xact_commit, 'wal_sync_cluster_total', (SELECT wal_sync FROM pg_stat_wal)
			FROM pg_stat_database WHERE datname = current_database()"
	} 2>&1 | tee -a "$LOG" >&2
	pg_reset "$1"
}
pg_reset() { psql_do "$1" -c "SELECT pg_stat_statements_reset()" >/dev/null; }

# Injection files: all users, and each half for the two nodes.
csv="$BENCH_TMP/users.csv"
reg_users_csv "$csv"
reg_users_csv "$BENCH_TMP/users-a.csv" 0 2
reg_users_csv "$BENCH_TMP/users-b.csv" 1 2

# start_sipd NAME HOST DATABASE [NODE_ID]: the register_lib.sh registrar (users provisioned unless
# PROVISION=0); sets SIPD_PID, SIPD_PORT, SIPD_DIR.
start_sipd() {
	local name=$1 host=$2 db=$3 node=${4:-} extra=""
	SIPD_PORT=$(bench_free_port)
	SIPD_DIR="$BENCH_TMP/sipd-$name"
	[ -n "$node" ] && extra="node_id = \"$node\"; node_address = \"sip:$host:$SIPD_PORT\";"
	[ "$db" = sqlite ] && db="$SIPD_DIR/sipd.db"
	REG_PROVISION=${PROVISION:-1} reg_start_sipd "$BENCH_BUILD" "$SIPD_DIR" "$host" "$SIPD_PORT" "$db" "$extra" || return 1
	bench_log "sipd $name pid $SIPD_PID on $host:$SIPD_PORT ($db)"
}

# stop_pid PID: TERM, KILL after 10 s (bench_stop_all skips it afterwards: kill -0 fails).
stop_pid() {
	local i
	kill -TERM "$1" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# "db.jobs db.batches" of a sipd (group commit: writes and the transactions they went in).
db_stats() { reg_db_stats "$1/sipd.ctl"; }

# TARGETS: "host port csv" per SIPp instance, PIDS: the SIP server's processes.
# step RATE: one step, RATE shared by the targets; sets ach failed ok cpu pgcpu.
step_once() {
	local rate=$1 n=${#TARGETS[@]} per calls host port inf lport i t0 p0 t1 p1 stat pids=() stats=()
	per=$(((rate + n - 1) / n))
	calls=$((per * BENCH_STEP_SECONDS))
	t0=0
	for i in "${PIDS[@]}"; do t0=$((t0 + $(bench_cpu_ticks "$i"))); done
	p0=$(bench_cpu_ticks "$PG_PID")
	for ((i = 0; i < n; i++)); do
		read -r host port inf <<<"${TARGETS[$i]}"
		lport=$(bench_free_port)
		stat="$BENCH_TMP/sipp-$port-$rate-$i.csv"
		rm -f "$stat"
		stats+=("$stat")
		timeout -k 5 $((BENCH_STEP_SECONDS + 40)) sipp "$host:$port" -sf "$BENCH_DIR/register_auth_uac.xml" \
			-i "$host" -p "$lport" -r "$per" -rp 1000 -m "$calls" -l $((per * 4 + 100)) -inf "$inf" \
			-timeout $((BENCH_STEP_SECONDS + 30))s -buff_size "$BENCH_SIPP_BUFFER" \
			-trace_stat -stf "$stat" -fd 1 -nostdin >"$BENCH_TMP/sipp-$i.out" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	t1=0
	for i in "${PIDS[@]}"; do t1=$((t1 + $(bench_cpu_ticks "$i"))); done
	p1=$(bench_cpu_ticks "$PG_PID")
	# Fields of SIPp's stat CSV: 8 CallRate(C), 16 SuccessfulCall(C), 18 FailedCall(C).
	read -r ach failed ok < <(for stat in "${stats[@]}"; do
		if [ -s "$stat" ]; then tail -1 "$stat"; else echo "x;x;x;x;x;x;x;0;x;x;x;x;x;x;x;0;x;$calls"; fi
	done | awk -F';' '{ rate += $8; ok += $16; failed += $18 } END { printf "%d %d %d\n", rate, failed, ok }')
	cpu=0 pgcpu=0
	if [ "$ok" -gt 0 ]; then
		cpu=$(((t1 - t0) * 1000000 / BENCH_CLK_TCK / ok))
		pgcpu=$(((p1 - p0) * 1000000 / BENCH_CLK_TCK / ok))
	fi
	echo "$(date +%T) register_pg $NAME rate=$rate achieved=$ach failed=$failed ok=$ok cpu_us_per_reg=$cpu postgres_cpu_us_per_reg=$pgcpu load=$(cut -d' ' -f1 /proc/loadavg)" |
		tee -a "$LOG" >&2
	sleep 1
	[ "$failed" -eq 0 ] && [ $((ach * 10)) -ge $((rate * 9)) ]
}
step() {
	bench_retry failed step_once "$1"
}

# find_max: BENCH_RATES up until a step fails, then bisection; prints "best cpu pgcpu bound goodput".
# With no clean step at all, goodput is the best 200 OKs per second seen (with failures).
find_max() {
	local good=0 bad=0 best=0 best_cpu=0 best_pg=0 bound=0 rate round goodput=0
	keep() { if [ "$ach" -gt "$best" ]; then best=$ach best_cpu=$cpu best_pg=$pgcpu; fi; }
	seen() { [ $((ok / BENCH_STEP_SECONDS)) -gt "$goodput" ] && goodput=$((ok / BENCH_STEP_SECONDS)); return 0; }
	for rate in $BENCH_RATES; do
		if step "$rate"; then
			good=$rate
			keep
		else
			bad=$rate
			seen
			[ "$failed" -eq 0 ] && bound=1
			break
		fi
		seen
	done
	if [ "$bad" -gt 0 ] && [ "$bound" -eq 0 ]; then
		for ((round = 0; round < BENCH_REFINE; round++)); do
			rate=$(((good + bad) / 2))
			[ $((bad - rate)) -lt $((bad / 20 + 1)) ] && break
			if step "$rate"; then
				good=$rate
				keep
			else
				bad=$rate
			fi
			seen
		done
	fi
	echo "$best $best_cpu $best_pg $bound $goodput"
}

results=()
record() { # record LABEL "best cpu pgcpu bound goodput" [NOTE]
	local best cpu pg bound goodput line
	read -r best cpu pg bound goodput <<<"$2"
	line="$1: $best reg/s; CPU per registration ${cpu}us server + ${pg}us PostgreSQL"
	[ "$bound" = 1 ] && line="$line; SIPp-bound"
	[ "$best" -eq 0 ] && line="$line; no clean step, best goodput $goodput/s"
	[ -n "${3:-}" ] && line="$line; $3"
	results+=("$line")
	echo "$(date '+%F %T') register_pg $line" | tee -a "$BENCH_OUT/results.txt" >&2
}
batch_note() { # batch_note "jobs0 batches0" "jobs1 batches1"
	local j0 b0 j1 b1
	read -r j0 b0 <<<"$1"
	read -r j1 b1 <<<"$2"
	awk -v j=$((j1 - j0)) -v b=$((b1 - b0)) 'BEGIN { printf "sipd db: %d writes in %d transactions (%.1f per commit)", j, b, (b > 0 ? j / b : 0) }'
}

# 1. sipd on SQLite.
NAME=sipd_sqlite
start_sipd sqlite 127.0.0.1 sqlite || exit 1
TARGETS=("127.0.0.1 $SIPD_PORT $csv") PIDS=("$SIPD_PID")
s0=$(db_stats "$SIPD_DIR")
r_sqlite=$(find_max)
record "sipd SQLite (1 node)" "$r_sqlite" "$(batch_note "$s0" "$(db_stats "$SIPD_DIR")")"
stop_pid "$SIPD_PID"

# 2. sipd on PostgreSQL, one node.
NAME=sipd_pg_1node
db1=$(new_db sipd_one) || exit 1
start_sipd pg1 127.0.0.1 "$db1" || exit 1
TARGETS=("127.0.0.1 $SIPD_PORT $csv") PIDS=("$SIPD_PID")
pg_reset "$db1"
s0=$(db_stats "$SIPD_DIR")
r_pg1=$(find_max)
record "sipd PostgreSQL (1 node)" "$r_pg1" "$(batch_note "$s0" "$(db_stats "$SIPD_DIR")")"
pg_top "$db1" "sipd one node"
stop_pid "$SIPD_PID"

# 3. Two sipd nodes sharing one database, one SIPp per node with half the users each.
NAME=sipd_pg_2nodes
db2=$(new_db sipd_two) || exit 1
start_sipd pg2a 127.0.0.1 "$db2" node-a || exit 1
a_pid=$SIPD_PID a_port=$SIPD_PORT a_dir=$SIPD_DIR
PROVISION=0 start_sipd pg2b 127.0.0.2 "$db2" node-b || exit 1
b_pid=$SIPD_PID b_port=$SIPD_PORT b_dir=$SIPD_DIR
TARGETS=("127.0.0.1 $a_port $BENCH_TMP/users-a.csv" "127.0.0.2 $b_port $BENCH_TMP/users-b.csv")
PIDS=("$a_pid" "$b_pid")
pg_reset "$db2"
sa0=$(db_stats "$a_dir") sb0=$(db_stats "$b_dir")
r_pg2=$(find_max)
record "sipd PostgreSQL (2 nodes, sum)" "$r_pg2" \
	"node-a $(batch_note "$sa0" "$(db_stats "$a_dir")"), node-b $(batch_note "$sb0" "$(db_stats "$b_dir")")"
pg_top "$db2" "sipd two nodes"
stop_pid "$a_pid"
stop_pid "$b_pid"

# 4. Kamailio: auth_db and usrloc write-through on PostgreSQL.
NAME=kamailio_pg
dbk=$(new_db kamailio) || exit 1
for f in standard auth_db usrloc; do
	psql_do "$dbk" -f "/usr/share/kamailio/postgres/$f-create.sql" >/dev/null || exit 1
done
python3 - "$REG_USERS" <<'PY' | psql_do "$dbk" || exit 1
import sys
print("BEGIN;")
for i in range(int(sys.argv[1])):
    print(f"INSERT INTO subscriber(username, domain, password) VALUES('user{i}', '127.0.0.1', 'pw{i}');")
print("COMMIT;")
PY
kam_port=$(bench_free_port)
mkdir -p "$BENCH_TMP/kam-pg"
{
	echo "#!KAMAILIO"
	echo "#!define DBURL \"postgres://postgres@127.0.0.1:$pg_port/kamailio\""
	echo "include_file \"$BENCH_DIR/kamailio/register_pg.cfg\""
} >"$BENCH_TMP/kam-pg/register.cfg"
bench_start_kamailio "$BENCH_TMP/kam-pg/register.cfg" "$kam_port" "udp:127.0.0.1:$kam_port" || exit 1
TARGETS=("127.0.0.1 $kam_port $csv") PIDS=("$KAMAILIO_PID")
pg_reset "$dbk"
r_kam=$(find_max)
record "Kamailio PostgreSQL (usrloc db_mode 1)" "$r_kam"
pg_top "$dbk" "kamailio"
stop_pid "$KAMAILIO_PID"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
read -r s _ <<<"$r_sqlite"
read -r p1 p1_cpu p1_pg _ <<<"$r_pg1"
read -r p2 _ <<<"$r_pg2"
read -r k k_cpu k_pg _ <<<"$r_kam"
printf '%s\n' "${results[@]}"
echo "register_pg: fsync=$PG_FSYNC, workers $BENCH_WORKERS, load $(cut -d' ' -f1-3 /proc/loadavg); sipd SQLite $s/s, PostgreSQL 1 node $p1/s, 2 nodes $p2/s, Kamailio PostgreSQL $k/s; ratio sipd/Kamailio 1 node $(ratio "$p1" "$k"), 2 nodes $(ratio "$p2" "$k"); CPU/reg (server+PostgreSQL) 1 node $(ratio $((p1_cpu + p1_pg)) $((k_cpu + k_pg)))x Kamailio's"
