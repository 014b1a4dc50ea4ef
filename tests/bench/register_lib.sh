# Set-up shared by the authenticated-REGISTER benches (suites/register_auth.sh, suites/register_pg.sh,
# register_cpu.sh, register_callgrind.sh); sourced after lib.sh: SIPp's users, sipd as a durable
# registrar with digest authentication and its users provisioned, Kamailio's register instance.
#
# Knobs (environment):
#   BENCH_REGISTER_USERS  users (user0..userN-1, password pw0..pwN-1; default 10 000)
#   REG_SIPD_RUNNER       a command sipd runs under (register_callgrind.sh: valgrind)
# shellcheck shell=bash

REG_USERS=${BENCH_REGISTER_USERS:-10000}

# reg_users_csv FILE [FIRST STEP]: SIPp's injection file, "user;[authentication ...]" per user
# FIRST, FIRST+STEP, ... (all users by default; 0 2 and 1 2 split them in halves).
reg_users_csv() {
	python3 - "$1" "$REG_USERS" "${2:-0}" "${3:-1}" <<'PY'
import sys
path, n, first, step = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with open(path, "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(first, n, step):
        f.write(f"user{i};[authentication username=user{i} password=pw{i}]\n")
PY
}

# reg_users_sql FILE: sipd's users as one SQL transaction (SQLite and PostgreSQL alike).
reg_users_sql() {
	python3 - "$1" "$REG_USERS" <<'PY'
import hashlib, sys, time
now = int(time.time())
with open(sys.argv[1], "w") as f:
    f.write("BEGIN;\n")
    for i in range(int(sys.argv[2])):
        u, p = f"user{i}", f"pw{i}"
        f.write(f"INSERT INTO users(username, realm, ha1_md5, ha1_sha256, enabled, created, updated) VALUES("
                f"'{u}', 'sipd', '{hashlib.md5(f'{u}:sipd:{p}'.encode()).hexdigest()}', "
                f"'{hashlib.sha256(f'{u}:sipd:{p}'.encode()).hexdigest()}', 1, {now}, {now});\n")
    f.write("COMMIT;\n")
PY
}

# reg_sipd_config DIR HOST PORT DATABASE [CORE_EXTRA]: modules.conf and routing.cfg of a durable
# registrar behind auth_check(). SIPp's [authentication] does MD5 only: sipd offers MD5 alone
# (as Kamailio does).
reg_sipd_config() {
	local dir=$1 host=$2 port=$3 db=$4 extra=${5:-}
	mkdir -p "$dir"
	cat >"$dir/modules.conf" <<EOF
core = { listen = [ "udp:$host:$port" ]; workers = $BENCH_WORKERS; routing = "routing.cfg";
	 database = "$db"; log_level = "warn"; control_socket = "$dir/sipd.ctl"; $extra };
modules = ( { name = "parser"; }, { name = "udp"; }, { name = "sanity"; }, { name = "maxfwd"; },
	    { name = "auth_db"; realm = "sipd"; algorithms = [ "MD5" ]; },
	    { name = "registrar"; max_expires = 7200; } );
EOF
	cat >"$dir/routing.cfg" <<'EOF'
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
}

# reg_start_sipd BUILD DIR HOST PORT DATABASE [CORE_EXTRA]: the registrar of reg_sipd_config, its
# schema made by a check run and the users provisioned (unless REG_PROVISION=0; DATABASE is an
# SQLite file or a PostgreSQL conninfo), then started; sets SIPD_PID. Returns 1 on failure.
reg_start_sipd() {
	local build=$1 dir=$2 host=$3 port=$4 db=$5 extra=${6:-}
	reg_sipd_config "$dir" "$host" "$port" "$db" "$extra"
	"$build/core/sipd" -c -f "$dir/modules.conf" -M "$build/modules" --db "$db" >"$dir/check.log" 2>&1 ||
		{ cat "$dir/check.log" >&2; return 1; }
	if [ "${REG_PROVISION:-1}" = 1 ]; then
		[ -s "$BENCH_TMP/users.sql" ] || reg_users_sql "$BENCH_TMP/users.sql"
		case "$db" in
		*=* | postgres*://*) psql -qAtX -v ON_ERROR_STOP=1 "$db" -f "$BENCH_TMP/users.sql" >/dev/null ;;
		*) sqlite3 "$db" <"$BENCH_TMP/users.sql" ;;
		esac || return 1
	fi
	# shellcheck disable=SC2086 # REG_SIPD_RUNNER is a command with its options
	${REG_SIPD_RUNNER:-} "$build/core/sipd" -D -f "$dir/modules.conf" -M "$build/modules" -S "$dir/sipd.ctl" \
		--db "$db" >"$dir/sipd.log" 2>&1 &
	SIPD_PID=$!
	BENCH_PIDS+=("$SIPD_PID")
	bench_wait_sip "$host" "$port" udp || { tail -20 "$dir/sipd.log" >&2; return 1; }
}

# reg_kamailio_db FILE: Kamailio's SQLite database with the same users in its subscriber table.
reg_kamailio_db() {
	cat /usr/share/kamailio/db_sqlite/standard-create.sql /usr/share/kamailio/db_sqlite/auth_db-create.sql \
		/usr/share/kamailio/db_sqlite/usrloc-create.sql | sqlite3 "$1" || return 1
	# WAL (persistent in the file) so its readers do not wait for its writers, as sipd's do not.
	sqlite3 "$1" 'PRAGMA journal_mode=WAL;' >/dev/null || return 1
	python3 - "$1" "$REG_USERS" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executemany("INSERT INTO subscriber(username, domain, password) VALUES(?, '127.0.0.1', ?)",
               [(f"user{i}", f"pw{i}") for i in range(int(sys.argv[2]))])
db.commit()
PY
}

# reg_start_kamailio NAME [WRITE_THROUGH]: Kamailio's register.cfg on its own SQLite database, usrloc
# in memory (or writing every contact through with WRITE_THROUGH); sets KAM_PORT and KAMAILIO_PID.
reg_start_kamailio() {
	local dir="$BENCH_TMP/kam-$1" cfg
	KAM_PORT=$(bench_free_port)
	mkdir -p "$dir"
	reg_kamailio_db "$dir/kamailio.db" || return 1
	cfg="$dir/register.cfg"
	{
		echo "#!KAMAILIO"
		echo "#!define DBURL \"sqlite:///$dir/kamailio.db\""
		[ -n "${2:-}" ] && echo "#!define WRITE_THROUGH"
		echo "include_file \"$BENCH_DIR/kamailio/register.cfg\""
	} >"$cfg"
	bench_start_kamailio "$cfg" "$KAM_PORT" "udp:127.0.0.1:$KAM_PORT"
}

# reg_db_stats CTL: "writes transactions" the DB thread of the sipd on control socket CTL committed.
reg_db_stats() {
	"$BENCH_BUILD/core/sipctl" -S "$1" -j stats 2>/dev/null |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("db.jobs", 0), d.get("db.batches", 0))'
}
