#!/bin/bash
# calls_session_timer: the cost of RFC 4028 session timers. The same SIPp call with Session-Expires
# (INVITE, 200, ACK, an UPDATE refresh after 100 ms, BYE; uac_call_timer.xml / uas_call_timer.xml)
# through sipd without session_timer, then with session_timer_check() and dialog tracking; rates
# stepped up to the highest without failed calls. Then memory per dialog at BENCH_ST_DIALOGS
# (default 100000) live dialogs with tests/bench/st_memory.py.
# The maximum rate is often bound by SIPp on 2 cores, so both servers are also measured at one fixed
# rate (BENCH_ST_FIXED_RATE, default 2000), alternately, and CPU per call is compared there.
# Knobs: BENCH_CALL_RATES (default 500 1000 2000 3000 4000 6000), BENCH_ST_DIALOGS (0 skips memory).
set -u
. "$(dirname "$0")/../lib.sh"

suite=calls_session_timer
BENCH_RATES=${BENCH_CALL_RATES:-"500 1000 2000 3000 4000 6000"}
bench_build sipd sipctl parser udp sanity maxfwd tm session_timer || exit 1

# st_run NAME CHECK MODULES...: one sipd, its own SIPp UAS; sets ST_RESULT to "rate cpu bound".
# Not in a subshell: the PIDs it starts must reach BENCH_PIDS for the exit trap.
st_run() {
	local name=$1 check=$2 port
	shift 2
	bench_start_sipp_uas uas_call_timer.xml
	port=$(bench_free_port)
	bench_start_sipd "$port" "$(bench_timer_routing "$UAS_PORT" "$check")" "$@" >&2 || return 1
	BENCH_SIPP_ARGS="-s callee -key uas_port $UAS_PORT -key se 1800"
	ST_PORT=$port ST_PID=$SIPD_PID ST_ARGS=$BENCH_SIPP_ARGS
	ST_RESULT=$(bench_find_max "$suite" "$name" "$port" "$SIPD_PID" "$BENCH_DIR/uac_call_timer.xml")
}

# The first sipd stays up, idle, while the second is measured; the exit trap stops both.
st_run sipd-off "" parser udp sanity maxfwd tm || exit 1
read -r off_rate off_cpu _ <<<"$ST_RESULT"
off_port=$ST_PORT off_pid=$ST_PID off_args=$ST_ARGS
st_run sipd-on 'if (is_method("INVITE|UPDATE")) { session_timer_check(); }' \
	parser udp sanity maxfwd tm session_timer || exit 1
read -r on_rate on_cpu _ <<<"$ST_RESULT"
on_port=$ST_PORT on_pid=$ST_PID on_args=$ST_ARGS

# st_fixed PORT PID ARGS: microseconds of server CPU per successful call at BENCH_ST_FIXED_RATE.
st_fixed() {
	local t0 t1 ach failed ok
	BENCH_SIPP_ARGS=$3
	t0=$(bench_cpu_ticks "$2")
	read -r ach failed ok < <(bench_sipp_step "$1" "$fixed" "$BENCH_DIR/uac_call_timer.xml")
	t1=$(bench_cpu_ticks "$2")
	[ "$ok" -gt 0 ] && [ "$failed" -eq 0 ] || { echo 0; return; }
	echo $(((t1 - t0) * 1000000 / BENCH_CLK_TCK / ok))
}
fixed=${BENCH_ST_FIXED_RATE:-2000}
off_fixed=0 on_fixed=0
for round in 1 2 3; do
	a=$(st_fixed "$off_port" "$off_pid" "$off_args")
	b=$(st_fixed "$on_port" "$on_pid" "$on_args")
	bench_log "$suite at $fixed calls/s round $round: ${a}us per call without, ${b}us with session_timer"
	off_fixed=$((off_fixed + a)) on_fixed=$((on_fixed + b))
done
off_fixed=$((off_fixed / 3)) on_fixed=$((on_fixed / 3))
cost=$(awk -v a="$off_rate" -v b="$on_rate" 'BEGIN { if (a > 0) printf "%.1f", (a - b) * 100 / a; else print "n/a" }')
line="$suite: without session_timer $off_rate calls/s (${off_cpu}us CPU per call), with it $on_rate calls/s"
line="$line (${on_cpu}us per call): cost $cost% of the call rate; at $fixed calls/s ${off_fixed}us vs"
line="$line ${on_fixed}us of sipd CPU per call (+$((on_fixed - off_fixed))us); workers $BENCH_WORKERS"
bench_result "$line"
if [ "${BENCH_ST_DIALOGS:-100000}" -gt 0 ]; then
	mem=$(python3 "$BENCH_DIR/st_memory.py" "$BENCH_BUILD" "${BENCH_ST_DIALOGS:-100000}") || exit 1
	bench_result "$suite memory: $mem"
fi
