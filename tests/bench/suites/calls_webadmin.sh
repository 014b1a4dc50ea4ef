#!/bin/bash
# calls_webadmin: does an open dashboard slow the SIP path? The calls of calls_session_timer (INVITE, 200,
# ACK, UPDATE refresh, BYE, with session_timer tracking, so each call makes session.started/refreshed/ended
# events) through one sipd with webadmin loaded: the highest rate without failed calls and the CPU per
# call, first with no /api/events client, then with one reading every event (tests/bench/sse_reader.py).
# The highest rate is bound by SIPp on a busy 2-core machine, so both are also measured at one fixed rate
# (BENCH_WA_FIXED_RATE, default 300), alternately, BENCH_WA_ROUNDS times (default 3): CPU per call.
# Knobs: BENCH_CALL_RATES (default 500 1000 2000 3000 4000 6000).
set -u
. "$(dirname "$0")/../lib.sh"

suite=calls_webadmin
BENCH_RATES=${BENCH_CALL_RATES:-"500 1000 2000 3000 4000 6000"}
bench_build sipd sipctl parser udp sanity maxfwd tm session_timer webadmin || exit 1

bench_start_sipp_uas uas_call_timer.xml
port=$(bench_free_port)
http=$(bench_free_port)
bench_start_sipd "$port" "$(bench_timer_routing "$UAS_PORT" 'if (is_method("INVITE|UPDATE")) { session_timer_check(); }')" parser udp sanity maxfwd tm session_timer \
	"{ name = \"webadmin\"; listen = [ \"127.0.0.1:$http\" ]; bootstrap_admin = false; }" >&2 || exit 1
"$BENCH_BUILD/core/sipctl" -S "$BENCH_TMP/sipd-$port/sipd.ctl" admin add bench bench-password >/dev/null || exit 1
BENCH_SIPP_ARGS="-s callee -key uas_port $UAS_PORT -key se 1800"

counts="$BENCH_TMP/sse-counts"
fixed=${BENCH_WA_FIXED_RATE:-300}
# wa_fixed NAME: microseconds of sipd CPU per successful call at the fixed rate (0 when calls failed).
wa_fixed() {
	local t0 t1 ach failed ok
	t0=$(bench_cpu_ticks "$SIPD_PID")
	read -r ach failed ok < <(bench_sipp_step "$port" "$fixed" "$BENCH_DIR/uac_call_timer.xml")
	t1=$(bench_cpu_ticks "$SIPD_PID")
	echo "$(date +%T) $suite fixed $1 rate=$fixed achieved=$ach failed=$failed ok=$ok" \
		"cpu_us_per_call=$(((t1 - t0) * 1000000 / BENCH_CLK_TCK / (ok > 0 ? ok : 1)))" | tee -a "$BENCH_OUT/$suite.log" >&2
	[ "$failed" -eq 0 ] && echo $(((t1 - t0) * 1000000 / BENCH_CLK_TCK / (ok > 0 ? ok : 1))) || echo 0
}
fixed_idle="" fixed_open=""
for ((round = 0; round < ${BENCH_WA_ROUNDS:-3}; round++)); do
	fixed_idle="$fixed_idle $(wa_fixed no-dashboard)"
	python3 "$BENCH_DIR/sse_reader.py" "$http" bench bench-password "$counts" >"$BENCH_TMP/sse.out" 2>&1 &
	reader=$!
	sleep 2
	fixed_open="$fixed_open $(wa_fixed dashboard)"
	kill "$reader" 2>/dev/null
	wait "$reader" 2>/dev/null
done

idle=$(bench_find_max "$suite" "no-dashboard" "$port" "$SIPD_PID" "$BENCH_DIR/uac_call_timer.xml")
python3 "$BENCH_DIR/sse_reader.py" "$http" bench bench-password "$counts" >"$BENCH_TMP/sse.out" 2>&1 &
BENCH_PIDS+=($!)
sleep 2
open=$(bench_find_max "$suite" "dashboard" "$port" "$SIPD_PID" "$BENCH_DIR/uac_call_timer.xml")
read -r i_rate i_cpu i_bound <<<"$idle"
read -r o_rate o_cpu o_bound <<<"$open"
drops=$(curl -s "http://127.0.0.1:$http/metrics" | awk '/^sipd_webadmin_event_drops_total/ { print $2 }')
line="$suite: no dashboard $i_rate calls/s (${i_cpu}us CPU per call), dashboard on /api/events $o_rate calls/s"
line="$line (${o_cpu}us per call); at $fixed calls/s CPU per call without:$fixed_idle us, with:$fixed_open us"
line="$line; events read by the last reader: $(cat "$counts" 2>/dev/null); event drops ${drops:-n/a}"
[ "$i_bound" = 1 ] || [ "$o_bound" = 1 ] && line="$line; SIPp-bound"
line="$line; workers $BENCH_WORKERS"
bench_result "$line"
