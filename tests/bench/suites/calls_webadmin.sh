#!/bin/bash
# calls_webadmin: does an open dashboard slow the SIP path? The calls of calls_session_timer (INVITE, 200,
# ACK, UPDATE refresh, BYE, with session_timer tracking, so each call makes session.started/refreshed/ended
# events) through one sipd with webadmin loaded: the highest rate without failed calls and the CPU per
# call, first with no /api/events client, then with one reading every event (tests/bench/sse_reader.py).
# Knobs: BENCH_CALL_RATES (default 500 1000 2000 3000 4000 6000).
set -u
. "$(dirname "$0")/../lib.sh"

suite=calls_webadmin
BENCH_RATES=${BENCH_CALL_RATES:-"500 1000 2000 3000 4000 6000"}
bench_build sipd sipctl parser udp sanity maxfwd tm session_timer webadmin || exit 1

uas=$(bench_free_port)
sipp -sf "$BENCH_DIR/uas_call_timer.xml" -i 127.0.0.1 -p "$uas" -buff_size "$BENCH_SIPP_BUFFER" \
	-nostdin >"$BENCH_TMP/uas-$uas.out" 2>&1 &
BENCH_PIDS+=($!)
sleep 0.5
port=$(bench_free_port)
http=$(bench_free_port)
bench_start_sipd "$port" "
request_route {
	sanity();
	maxfwd(70);
	if (is_method(\"ACK\")) { if (loose_route()) { relay(); } drop; }
	if (is_method(\"INVITE|UPDATE\")) { session_timer_check(); }
	if (has_to_tag()) { loose_route(); relay(); exit; }
	\$ru = \"sip:\$rU@127.0.0.1:$uas\";
	record_route();
	relay();
}" parser udp sanity maxfwd tm session_timer \
	"{ name = \"webadmin\"; listen = [ \"127.0.0.1:$http\" ]; bootstrap_admin = false; }" >&2 || exit 1
"$BENCH_BUILD/core/sipctl" -S "$BENCH_TMP/sipd-$port/sipd.ctl" admin add bench bench-password >/dev/null || exit 1
BENCH_SIPP_ARGS="-s callee -key uas_port $uas -key se 1800"

idle=$(bench_find_max "$suite" "no-dashboard" "$port" "$SIPD_PID" "$BENCH_DIR/uac_call_timer.xml")
counts="$BENCH_TMP/sse-counts"
python3 "$BENCH_DIR/sse_reader.py" "$http" bench bench-password "$counts" >"$BENCH_TMP/sse.out" 2>&1 &
BENCH_PIDS+=($!)
sleep 2
open=$(bench_find_max "$suite" "dashboard" "$port" "$SIPD_PID" "$BENCH_DIR/uac_call_timer.xml")
read -r i_rate i_cpu i_bound <<<"$idle"
read -r o_rate o_cpu o_bound <<<"$open"
drops=$(curl -s "http://127.0.0.1:$http/metrics" | awk '/^sipd_webadmin_event_drops_total/ { print $2 }')
line="$suite: no dashboard $i_rate calls/s (${i_cpu}us CPU per call), dashboard on /api/events $o_rate calls/s"
line="$line (${o_cpu}us per call); events read: $(cat "$counts" 2>/dev/null); event drops ${drops:-n/a}"
[ "$i_bound" = 1 ] || [ "$o_bound" = 1 ] && line="$line; SIPp-bound"
line="$line; workers $BENCH_WORKERS"
echo "$line"
echo "$(date '+%F %T') $line" >>"$BENCH_OUT/results.txt"
