#!/bin/bash
# options_tcp: stateless OPTIONS over TCP, sipd vs Kamailio, over one shared
# connection (SIPp -t t1) and one connection per call (-t tn).
set -u
. "$(dirname "$0")/../lib.sh"

bench_build sipd sipctl parser tcp sanity maxfwd || exit 1

# Opening a connection per call costs far more than a message: a lower ladder for tn,
# and short steps, because every call leaves a TIME_WAIT socket on SIPp's side and the
# loopback has about 28000 ephemeral ports.
BENCH_RATES_T1=${BENCH_RATES_T1:-$BENCH_RATES}
BENCH_RATES_TN=${BENCH_RATES_TN:-"1000 2000 3000 4000 6000"}
BENCH_STEP_SECONDS_TN=${BENCH_STEP_SECONDS_TN:-2}
step_seconds_t1=$BENCH_STEP_SECONDS

# Waits (70 s at most) until the TIME_WAIT sockets of earlier steps are gone, so the
# second server measured does not inherit a port shortage from the first.
wait_time_wait() {
	local i n
	for ((i = 0; i < 70; i++)); do
		n=$(ss -tan state time-wait 2>/dev/null | wc -l)
		[ "$n" -lt 2000 ] && return 0
		sleep 1
	done
	bench_log "still $n sockets in TIME_WAIT"
}

sipd_port=$(bench_free_port)
kam_port=$(bench_free_port)
export BENCH_PROBE_PROTO=tcp
BENCH_SIPD_LISTEN='"tcp:127.0.0.1:{port}"'
bench_start_sipd "$sipd_port" "$(bench_options_routing)" parser tcp sanity maxfwd || exit 1
# Every SIPp connection comes from 127.0.0.1: lift the per-IP cap (Kamailio has none) by
# restarting sipd with the same files plus one tcp parameter.
sipd_dir="$BENCH_TMP/sipd-$sipd_port"
kill -TERM "$SIPD_PID" && wait "$SIPD_PID" 2>/dev/null
sed -i 's/{ name = "tcp"; }/{ name = "tcp"; max_connections_per_ip = 65536; }/' "$sipd_dir/modules.conf"
grep -q max_connections_per_ip "$sipd_dir/modules.conf" || { bench_log "cannot set the tcp parameter"; exit 1; }
"$BENCH_BUILD/core/sipd" -D -f "$sipd_dir/modules.conf" -M "$BENCH_BUILD/modules" -S "$sipd_dir/sipd.ctl" \
	--db "$sipd_dir/sipd.db" >>"$sipd_dir/sipd.log" 2>&1 &
SIPD_PID=$!
BENCH_PIDS+=("$SIPD_PID")
bench_wait_sip 127.0.0.1 "$sipd_port" tcp || { tail -20 "$sipd_dir/sipd.log" >&2; exit 1; }
bench_start_kamailio "$BENCH_DIR/kamailio/options_tcp.cfg" "$kam_port" "tcp:127.0.0.1:$kam_port" || exit 1

lines=()
for mode in t1 tn; do
	BENCH_SIPP_ARGS="-t $mode"
	# one socket per call: SIPp refuses to start while its default (50000) exceeds ulimit -n
	[ "$mode" = tn ] && BENCH_SIPP_ARGS="$BENCH_SIPP_ARGS -max_socket 15000"
	if [ "$mode" = t1 ]; then
		BENCH_RATES=$BENCH_RATES_T1 BENCH_STEP_SECONDS=$step_seconds_t1
	else
		BENCH_RATES=$BENCH_RATES_TN BENCH_STEP_SECONDS=$BENCH_STEP_SECONDS_TN
		wait_time_wait
	fi
	sipd=$(bench_find_max "options_tcp_$mode" sipd "$sipd_port" "$SIPD_PID" "$BENCH_DIR/options_uac.xml")
	[ "$mode" = tn ] && wait_time_wait
	kam=$(bench_find_max "options_tcp_$mode" kamailio "$kam_port" "$KAMAILIO_PID" "$BENCH_DIR/options_uac.xml")
	lines+=("$(bench_report "options_tcp_$mode" "$sipd" "$kam")")
	echo "${lines[-1]}"
done
# bench.sh keeps the last line as the summary: both figures on it.
echo "options_tcp: ${lines[0]#options_tcp_t1: } | tn: ${lines[1]#options_tcp_tn: }"
