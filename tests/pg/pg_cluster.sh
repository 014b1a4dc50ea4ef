#!/usr/bin/env bash
# pg_cluster.sh: a throw-away PostgreSQL 15 cluster for the tests, on a loopback port.
#   pg_cluster.sh start DIR [PORT]   initdb into DIR (if empty) and start; prints the conninfo
#   pg_cluster.sh stop DIR           fast shutdown
#   pg_cluster.sh restart DIR        stop and start again (same port)
# Environment: PG_FSYNC=on makes commits durable (default off: throw-away test data);
#   PG_OPTS adds server options, e.g. "-c shared_preload_libraries=pg_stat_statements".
# As root the server runs as the 'postgres' user (PostgreSQL refuses to run as root).
# Exit status 2 with a message when PostgreSQL is not installed or cannot start.
set -euo pipefail
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|restart DIR [PORT]" >&2; exit 1; }

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
	echo "pg_cluster: PostgreSQL server binaries not found (Debian package postgresql)" >&2
	exit 2
fi

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
	local port=${1:-}
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; echo "pg_cluster: initdb failed" >&2; exit 2; }
	fi
	[ -n "$port" ] || port=$(cat "$dir/port" 2>/dev/null || free_port)
	echo "$port" >"$dir/port"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir/port"
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off} -c max_connections=200 ${PG_OPTS:-}" start >/dev/null ||
		{ tail -n 20 "$dir/server.log" >&2; echo "pg_cluster: the server did not start" >&2; exit 2; }
	echo "host=127.0.0.1 port=$port user=postgres dbname=postgres"
}

stop() {
	[ -f "$dir/data/postmaster.pid" ] || return 0
	as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
}

case "$cmd" in
start) start "${3:-}" ;;
stop) stop ;;
restart) stop; start ;;
*) echo "usage: $0 start|stop|restart DIR [PORT]" >&2; exit 1 ;;
esac
