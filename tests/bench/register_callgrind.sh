#!/bin/bash
# register_callgrind.sh BUILD OUT: user-space instructions of authenticated REGISTERs (callgrind), for before/after
# comparisons that a shared machine does not blur. Instrumentation is on only for N registrations at RATE/s
# (after a 1 000-registration warm-up); then: callgrind_annotate OUT.1 (total / N = instructions per registration).
set -u
. "$(dirname "$0")/lib.sh"
. "$BENCH_DIR/register_lib.sh"
build=$1 out=$2
RATE=${RATE:-10} N=${N:-150}
csv="$BENCH_TMP/users.csv"
reg_users_csv "$csv"
port=$(bench_free_port)
sdir="$BENCH_TMP/sipd"
BENCH_WORKERS=2 REG_SIPD_RUNNER="valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$out" \
	reg_start_sipd "$build" "$sdir" 127.0.0.1 "$port" "$sdir/sipd.db" || exit 1
pid=$SIPD_PID
sipp_run() { sipp "127.0.0.1:$port" -sf "$BENCH_DIR/register_auth_uac.xml" -i 127.0.0.1 -p "$(bench_free_port)" -r "$RATE" -m "$1" -inf "$csv" -trace_stat -stf "$BENCH_TMP/st.csv" -nostdin >/dev/null 2>&1; tail -1 "$BENCH_TMP/st.csv" | awk -F';' '{print "ok", $16, "failed", $18}'; }
RATE_SAVE=$RATE; RATE=200; sipp_run 1000; RATE=$RATE_SAVE   # warm-up
callgrind_control -i on "$pid" >/dev/null
sipp_run "$N"
callgrind_control -i off "$pid" >/dev/null
callgrind_control -d "$pid" >/dev/null
sleep 1
kill -TERM "$pid"; wait "$pid"
ls -la "$out"*
