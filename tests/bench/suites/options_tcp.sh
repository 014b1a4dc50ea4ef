#!/bin/bash
# options_tcp: stateless OPTIONS over TCP, sipd vs Kamailio, over one shared
# connection (SIPp -t t1) and one connection per call (-t tn).
set -u
. "$(dirname "$0")/../lib.sh"

bench_build sipd sipctl parser tcp sanity maxfwd || exit 1

# Opening a connection per call costs far more than a message: a lower ladder for tn.
BENCH_RATES_T1=${BENCH_RATES_T1:-$BENCH_RATES}
BENCH_RATES_TN=${BENCH_RATES_TN:-"1000 2000 4000 8000 16000"}

sipd_port=$(bench_free_port)
kam_port=$(bench_free_port)
export BENCH_PROBE_PROTO=tcp
BENCH_SIPD_LISTEN='"tcp:127.0.0.1:{port}"'
bench_start_sipd "$sipd_port" '
request_route {
	sanity();
	maxfwd(70);
	if ($rm == "OPTIONS") {
		reply(200, "OK");
		exit;
	}
	reply(404, "Not Here");
}' parser tcp sanity maxfwd || exit 1
bench_start_kamailio "$BENCH_DIR/kamailio/options_tcp.cfg" "$kam_port" "tcp:127.0.0.1:$kam_port" || exit 1

lines=()
for mode in t1 tn; do
	BENCH_SIPP_ARGS="-t $mode"
	# one socket per call: SIPp refuses to start while its default (50000) exceeds ulimit -n
	[ "$mode" = tn ] && BENCH_SIPP_ARGS="$BENCH_SIPP_ARGS -max_socket 15000"
	if [ "$mode" = t1 ]; then BENCH_RATES=$BENCH_RATES_T1; else BENCH_RATES=$BENCH_RATES_TN; fi
	sipd=$(bench_find_max "options_tcp_$mode" sipd "$sipd_port" "$SIPD_PID" "$BENCH_DIR/options_uac.xml")
	kam=$(bench_find_max "options_tcp_$mode" kamailio "$kam_port" "$KAMAILIO_PID" "$BENCH_DIR/options_uac.xml")
	lines+=("$(bench_report "options_tcp_$mode" "$sipd" "$kam")")
	echo "${lines[-1]}"
done
# bench.sh keeps the last line as the summary: both figures on it.
echo "options_tcp: ${lines[0]#options_tcp_t1: } | tn: ${lines[1]#options_tcp_tn: }"
