#!/bin/bash
# calls_tcp_spread: calls over ONE TCP connection (SIPp -t t1 on both sides, calls_tcp's proxy and
# scenario) through sipd with 1 worker, 2 workers, and 2 workers without spreading (tcp spread = false:
# every message on the connection's worker). Shows whether one busy connection scales with the workers.
# The machine has 2 cores shared with SIPp (UAC and UAS): expect the gain to be bounded by that.
# Knobs: BENCH_CALL_RATES (default 1000 2000 3000 4000 6000 8000).
set -u
. "$(dirname "$0")/../lib.sh"
. "$BENCH_DIR/calls_lib.sh"

suite=calls_tcp_spread
BENCH_RATES=${BENCH_CALL_RATES:-"1000 2000 3000 4000 6000 8000"}
BENCH_SIPP_ARGS="-s callee -t t1"
BENCH_PROBE_PROTO=tcp
BENCH_CALL_PROTO=tcp
bench_build sipd sipctl parser udp tcp sanity maxfwd tm || exit 1

# spread_run NAME WORKERS SPREAD: sets RESULT to "rate cpu_us_per_call bound". Not in a subshell: the
# PIDs it starts must reach BENCH_PIDS for the exit trap.
spread_run() {
	local name=$1 port
	calls_start_uas tcp
	port=$(bench_free_port)
	BENCH_WORKERS=$2 BENCH_SIPD_LISTEN="\"tcp:127.0.0.1:{port}\"" bench_start_sipd "$port" "
request_route {
	sanity();
	maxfwd(70);
	if (has_to_tag()) { loose_route(); relay(); exit; }
	if (\$rm == \"OPTIONS\" && \$rU == \"\") { t_reply(200, \"OK\"); exit; }
	\$ru = \"sip:\$rU@127.0.0.1:$UAS_PORT;transport=tcp\";
	record_route();
	relay();
}" parser tcp:"spread = $3" sanity maxfwd tm >&2 || return 1
	RESULT=$(bench_find_max "$suite" "$name" "$port" "$SIPD_PID" "$BENCH_DIR/uac_call.xml")
	RESULT="$RESULT $(bench_busiest_share "$SIPD_PID")"
	kill -TERM "$SIPD_PID"
	wait "$SIPD_PID" 2>/dev/null
}

spread_run sipd-1w 1 true || exit 1
read -r r1 c1 b1 _ <<<"$RESULT"
spread_run sipd-2w 2 true || exit 1
read -r r2 c2 b2 s2 <<<"$RESULT"
spread_run sipd-2w-nospread 2 false || exit 1
read -r r0 c0 b0 s0 <<<"$RESULT"
note=""
[ "$b1$b2$b0" != 000 ] && note=" (SIPp-bound: 1w $b1, 2w $b2, nospread $b0)"
line="$suite: one TCP connection: 1 worker $r1 calls/s (${c1}us CPU/call), 2 workers $r2 calls/s (${c2}us, busiest worker ${s2}% of worker CPU), 2 workers without spread $r0 calls/s (${c0}us, busiest ${s0}%)$note"
bench_result "$line"
