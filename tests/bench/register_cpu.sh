#!/bin/bash
# register_cpu.sh: CPU per authenticated REGISTER of sipd (durable, BENCH_BUILD) against Kamailio (usrloc in memory)
# at one fixed RATE, ROUNDS alternating 5 s rounds (and of a second sipd build BASE=DIR when given, for A/B).
# Each sipd line also splits its CPU per registration into user and system time and by thread (workers, DB).
# PERF=1 records a profile of sipd during its first round (PERF_ARGS, PERF_OUT; PERF_STAT=events counts instead).
set -u
. "$(dirname "$0")/lib.sh"
. "$BENCH_DIR/register_lib.sh"
RATE=${RATE:-4000}
ROUNDS=${ROUNDS:-3}
BENCH_STEP_SECONDS=${BENCH_STEP_SECONDS:-5}
csv="$BENCH_TMP/users.csv"
reg_users_csv "$csv"
start_sipd() { # start_sipd NAME BUILD: sets SPORT SPID SCTL
	SPORT=$(bench_free_port)
	reg_start_sipd "$2" "$BENCH_TMP/sipd-$1" 127.0.0.1 "$SPORT" "$BENCH_TMP/sipd-$1/sipd.db" || exit 1
	SPID=$SIPD_PID SCTL="$BENCH_TMP/sipd-$1/sipd.ctl"
}
start_sipd new "$BENCH_BUILD"
NEW_PID=$SPID sipd_port=$SPORT NEW_CTL=$SCTL
if [ -n "${BASE:-}" ]; then
	start_sipd base "$BASE"
	BASE_PID=$SPID base_port=$SPORT
fi
reg_start_kamailio mem || exit 1
export BENCH_SIPP_ARGS="-inf $csv"
scenario="$BENCH_DIR/register_auth_uac.xml"
# "user system" ticks of a process, and "name ticks" per thread group (sipd-w*: workers; the rest by name).
ticks_split() { # summed over a process and its children (Kamailio's)
	local pid
	for pid in "$1" $(pgrep -P "$1"); do cat "/proc/$pid/stat" 2>/dev/null; done |
		awk '{ sub(/.*\) /, ""); u += $12; s += $13 } END { print u, s }'
}
ticks_threads() {
	local f
	for f in /proc/"$1"/task/*; do
		echo "$(cat "$f/comm" 2>/dev/null) $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "$f/stat" 2>/dev/null)"
	done | awk '{ n = ($1 ~ /^sipd-w/) ? "workers" : $1; t[n] += $2 } END { for (n in t) print n, t[n] }' | sort
}
us() { echo $(($1 * 1000000 / BENCH_CLK_TCK / ($2 > 0 ? $2 : 1))); }
one() { # name port pid
	local t0 t1 u0 s0 u1 s1 th0 th1 ach failed ok split=""
	t0=$(bench_cpu_ticks "$3")
	read -r u0 s0 < <(ticks_split "$3")
	th0=$(ticks_threads "$3")
	read -r ach failed ok < <(bench_sipp_step "$2" "$RATE" "$scenario")
	t1=$(bench_cpu_ticks "$3")
	read -r u1 s1 < <(ticks_split "$3")
	th1=$(ticks_threads "$3")
	split=" user_us=$(us $((u1 - u0)) "$ok") sys_us=$(us $((s1 - s0)) "$ok")"
	if [ "${1#kamailio}" = "$1" ]; then
		split="$split $(join -a 2 <(echo "$th0") <(echo "$th1") |
			awk -v ok="$ok" -v hz="$BENCH_CLK_TCK" '{ b = NF == 3 ? $2 : 0; printf "%s_us=%d ", $1, ($NF - b) * 1000000 / hz / (ok > 0 ? ok : 1) }')"
	fi
	echo "$1 rate=$RATE achieved=$ach failed=$failed ok=$ok cpu_us=$(us $((t1 - t0)) "$ok")$split"
}
# warm-up: every user registered once on each, so that every round measures refreshes of existing bindings
one sipd-warm "$sipd_port" "$NEW_PID" >/dev/null
[ -n "${BASE:-}" ] && one base-warm "$base_port" "$BASE_PID" >/dev/null
one kamailio-warm "$KAM_PORT" "$KAMAILIO_PID" >/dev/null
for ((r = 0; r < ROUNDS; r++)); do
	if [ "${PERF:-0}" = 1 ] && [ $r = 0 ]; then
		if [ -n "${PERF_STAT:-}" ]; then
			perf stat -e "$PERF_STAT" -p "$NEW_PID" -o "${PERF_OUT:-/tmp/regperf.stat}" -- sleep $((BENCH_STEP_SECONDS)) >/dev/null 2>&1 &
		else
			perf record ${PERF_ARGS:--g} -p "$NEW_PID" -o "${PERF_OUT:-/tmp/regperf.data}" -- sleep $((BENCH_STEP_SECONDS)) >/dev/null 2>&1 &
		fi
		ppid=$!
		one sipd "$sipd_port" "$NEW_PID"
		wait $ppid
	else
		one sipd "$sipd_port" "$NEW_PID"
	fi
	sleep 1
	if [ -n "${BASE:-}" ]; then one base "$base_port" "$BASE_PID"; sleep 1; fi
	one kamailio "$KAM_PORT" "$KAMAILIO_PID"
	sleep 1
done
read -r jobs batches < <(reg_db_stats "$NEW_CTL")
echo "db.jobs $jobs db.batches $batches load $(cut -d' ' -f1-3 /proc/loadavg)"
