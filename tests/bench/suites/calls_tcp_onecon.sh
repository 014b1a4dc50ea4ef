#!/bin/bash
# calls_tcp_onecon: calls over ONE TCP connection from sipload's UAC (and one the server opens to sipload's
# UAS), the calls_tcp proxy, through sipd with 1 and 2 workers (tcp spread on: each message handled on the
# worker its Call-ID hashes to), 2 workers with spread = false (all on the connection's worker), and
# Kamailio with 1 and 2 children (children + tcp_children) for reference. A step passes with under
# BENCH_MAX_FAIL_PCT (default 1) percent failed or timed-out calls. sipload (one thread, ~30-60 us of CPU per
# call for both sides) replaces SIPp -t t1, which was the bound at 1 000-2 000 calls/s.
# Knobs: BENCH_CALL_RATES (default 1000 2000 3000 4000 6000 8000 10000 12000), BENCH_ONECON_RUNS
# (default "sipd-1w sipd-2w sipd-2w-nospread kamailio-1 kamailio-2").
set -u
. "$(dirname "$0")/../lib.sh"
BENCH_MAX_FAIL_PCT=${BENCH_MAX_FAIL_PCT:-1}
. "$BENCH_DIR/sipload_lib.sh"

suite=calls_tcp_onecon
BENCH_RATES=${BENCH_CALL_RATES:-"1000 2000 3000 4000 6000 8000 10000 12000"}
runs=${BENCH_ONECON_RUNS:-sipd-1w sipd-2w sipd-2w-nospread kamailio-1 kamailio-2}
export BENCH_PROBE_PROTO=tcp
sl_build sipd sipctl parser udp tcp sanity maxfwd tm || exit 1
declare -A result share

for run in $runs; do
	uas_port=$(bench_free_port)
	port=$(bench_free_port)
	case $run in
	sipd-*)
		workers=${run#sipd-}
		workers=${workers%%w*}
		spread=true
		[ "${run%-nospread}" != "$run" ] && spread=false
		BENCH_WORKERS=$workers BENCH_SIPD_LISTEN="\"tcp:127.0.0.1:{port}\"" bench_start_sipd "$port" \
			"$(bench_proxy_routing "sip:\$rU@127.0.0.1:$uas_port;transport=tcp")" \
			parser udp "tcp:spread = $spread" sanity maxfwd tm || exit 1
		pid=$SIPD_PID
		;;
	kamailio-*)
		workers=${run#kamailio-}
		cfg="$BENCH_TMP/calls_onecon-$port.cfg"
		{
			echo '#!KAMAILIO'
			echo '#!define UASTCP'
			sed -e "s/UASPORT/$uas_port/" -e "s/^tcp_children=.*/tcp_children=$workers/" \
				"$BENCH_DIR/kamailio/calls.cfg" | grep -v '^#!KAMAILIO'
		} >"$cfg"
		BENCH_WORKERS=$workers bench_start_kamailio "$cfg" "$port" "tcp:127.0.0.1:$port" || exit 1
		pid=$KAMAILIO_PID
		;;
	esac
	result[$run]=$(sl_find_max "$suite" "$run" "$port" "$pid" -p tcp -c one -l "$uas_port")
	[ "${run#sipd}" != "$run" ] && share[$run]=$(bench_busiest_share "$pid")
	sl_stop "$pid"
done
parts=()
for run in $runs; do
	read -r r c b t s <<<"${result[$run]:-0 0 0 0 n/a}"
	part="$run $r/s (${c}us/call, sipload ${t}us"
	[ -n "${share[$run]:-}" ] && part="$part, busiest worker ${share[$run]}%"
	[ "$b" = 1 ] && part="$part, sipload-bound"
	parts+=("$part, setup ms $s)")
done
line="$suite: one TCP connection, < ${BENCH_MAX_FAIL_PCT}% failed: $(IFS=';'; echo "${parts[*]}" | sed 's/;/; /g'); load $(cut -d' ' -f1-3 /proc/loadavg)"
bench_result "$line"
