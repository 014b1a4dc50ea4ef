#!/bin/bash
# calls_rss: memory under a steady call load. For each rate of BENCH_RSS_RATES (default 3000 9000 calls/s),
# a fresh sipd and a fresh Kamailio in turn relay BENCH_RSS_SECONDS (default 60) of SIPp calls
# (calls_udp's proxy and scenario); RSS and PSS of the server (all its processes) are sampled every
# BENCH_RSS_SAMPLE seconds (default 5) into $BENCH_OUT/calls_rss.log. Finished transactions stay for their
# RFC 3261 wait time (32 s over UDP), so memory grows for about 32 s and must then stay flat.
# The last line: per rate, the highest and the last PSS of each server and the calls that failed.
set -u
. "$(dirname "$0")/../lib.sh"
. "$BENCH_DIR/calls_lib.sh"

suite=calls_rss
RATES=${BENCH_RSS_RATES:-"3000 9000"}
SECONDS_RUN=${BENCH_RSS_SECONDS:-60}
SAMPLE=${BENCH_RSS_SAMPLE:-5}
log="$BENCH_OUT/$suite.log"
bench_build sipd sipctl parser udp sanity maxfwd tm || exit 1

# mem_kib PID: "rss pss" in KiB over PID and its child processes (Kamailio forks; shared memory counts
# once in PSS, split between the processes that map it).
mem_kib() {
	local rss=0 pss=0 pid r p
	for pid in "$1" $(pgrep -P "$1"); do
		read -r r p < <(awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } END { print r + 0, p + 0 }' \
			"/proc/$pid/smaps_rollup" 2>/dev/null)
		rss=$((rss + ${r:-0}))
		pss=$((pss + ${p:-0}))
	done
	echo "$rss $pss"
}

# rss_run NAME PID PORT RATE: one run at RATE while sampling; prints "max_pss last_pss failed ok".
rss_run() {
	local name=$1 pid=$2 port=$3 rate=$4 t=0 max=0 rss pss ach failed ok sipp_pid out
	out="$BENCH_TMP/rss-$name-$rate"
	BENCH_STEP_SECONDS=$SECONDS_RUN BENCH_SIPP_ARGS="-s callee" \
		bench_sipp_step "$port" "$rate" "$BENCH_DIR/uac_call.xml" >"$out" &
	sipp_pid=$!
	while kill -0 "$sipp_pid" 2>/dev/null && [ "$t" -le $((SECONDS_RUN + 40)) ]; do
		read -r rss pss < <(mem_kib "$pid")
		[ "$pss" -gt "$max" ] && max=$pss
		echo "$(date +%T) $suite $name rate=$rate t=${t}s rss_kib=$rss pss_kib=$pss" | tee -a "$log" >&2
		sleep "$SAMPLE"
		t=$((t + SAMPLE))
	done
	wait "$sipp_pid"
	read -r ach failed ok <"$out"
	echo "$(date +%T) $suite $name rate=$rate achieved=$ach failed=$failed ok=$ok max_pss_kib=$max" |
		tee -a "$log" >&2
	echo "$max $pss $failed $ok"
}

summary=""
for rate in $RATES; do
	# sipd
	calls_start_uas udp
	port=$(bench_free_port)
	bench_start_sipd "$port" "
request_route {
	sanity();
	maxfwd(70);
	if (has_to_tag()) { loose_route(); relay(); exit; }
	\$ru = \"sip:\$rU@127.0.0.1:$UAS_PORT\";
	record_route();
	relay();
}" parser udp sanity maxfwd tm || exit 1
	read -r s_max s_last s_failed s_ok < <(rss_run sipd "$SIPD_PID" "$port" "$rate")
	kill -TERM "$SIPD_PID"
	wait "$SIPD_PID" 2>/dev/null
	# Kamailio, alone on the machine in its turn
	calls_start_uas udp
	port=$(bench_free_port)
	sed "s/UASPORT/$UAS_PORT/" "$BENCH_DIR/kamailio/calls.cfg" >"$BENCH_TMP/calls-$port.cfg"
	bench_start_kamailio "$BENCH_TMP/calls-$port.cfg" "$port" "udp:127.0.0.1:$port" || exit 1
	read -r k_max k_last k_failed k_ok < <(rss_run kamailio "$KAMAILIO_PID" "$port" "$rate")
	kill -TERM "$KAMAILIO_PID"
	wait "$KAMAILIO_PID" 2>/dev/null
	summary="$summary${summary:+; }$rate calls/s for ${SECONDS_RUN}s: sipd PSS max $((s_max / 1024)) MiB last $((s_last / 1024)) MiB ($s_ok ok, $s_failed failed), kamailio PSS max $((k_max / 1024)) MiB last $((k_last / 1024)) MiB ($k_ok ok, $k_failed failed)"
done
line="$suite: $summary; workers $BENCH_WORKERS, kamailio shm ${KAMAILIO_SHM_MB} MiB"
bench_result "$line"
