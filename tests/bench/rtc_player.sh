#!/usr/bin/env bash
# rtc_player.sh [BUILD_DIR] [CALLS...]: how many player calls this machine holds, and at what cost.
# For each count N: SIPp places N calls to the demo user (G.711 over plain RTP, then over SDES-SRTP), holds
# them, and while all N stream we sample sipd's CPU for SAMPLE seconds and read the media threads'
# send lateness (rtc.stats: how long after its due time each packet left). Loopback only.
#   HOLD=30 SAMPLE=10 MEDIA_THREADS=1 RT_PRIORITY=0 tests/bench/rtc_player.sh build 100 500 1000
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/player_lib.sh
BUILD=${1:-build}
shift || true
COUNTS=("${@:-100 500 1000}")
HOLD=${HOLD:-30}
SAMPLE=${SAMPLE:-10}
MEDIA_THREADS=${MEDIA_THREADS:-1}
HZ=$(getconf CLK_TCK)
dir=$(mktemp -d)
sipd_pid=
trap '[ -n "$sipd_pid" ] && kill "$sipd_pid" 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT

player_start_sipd "$MEDIA_THREADS"
cpu() { awk '{print $14 + $15}' "/proc/$sipd_pid/stat"; }

printf '%-6s %6s %6s %9s %8s %12s %10s %10s %10s\n' kind calls held packets cpu% "us/call/s" late_p50 late_p99 late_max
for proto in RTP/AVP RTP/SAVP; do
	crypto="a=sendrecv"
	[ "$proto" = RTP/SAVP ] && crypto="a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj"
	for n in ${COUNTS[@]}; do
		timeout -k 5 $((HOLD + 120)) sipp -sf tests/bench/rtc_player_uac.xml -s welcome "127.0.0.1:$port" \
			-i 127.0.0.1 -p 0 -mi 127.0.0.1 -m "$n" -l "$n" -r 200 -d $((HOLD * 1000)) \
			-key proto "$proto" -key crypto "$crypto" -nostdin >"$dir/sipp.out" 2>&1 &
		sipp_pid=$!
		for _ in $(seq 300); do
			held=$(ctl rtc stats | python3 -c 'import json,sys;print(json.load(sys.stdin)["calls"])')
			[ "$held" -ge "$n" ] && break
			sleep 0.1
		done
		sleep 2
		c0=$(cpu); t0=$(date +%s.%N)
		ctl rtc stats reset >/dev/null
		sleep "$SAMPLE"
		c1=$(cpu); t1=$(date +%s.%N)
		after=$(ctl rtc stats)
		python3 - "$proto" "$n" "$held" "$c0" "$c1" "$t0" "$t1" "$HZ" "$after" <<'PY'
import json, sys
proto, n, held = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c0, c1, t0, t1, hz = map(float, sys.argv[4:9])
a = json.loads(sys.argv[9])
cpu = (c1 - c0) / hz / (t1 - t0)
print("%-6s %6d %6d %9d %7.1f%% %12.1f %8dus %8dus %8dus" % ("sdes" if proto == "RTP/SAVP" else "rtp", n, held,
      a["packets"], cpu * 100, cpu * 1e6 / max(held, 1), a["send_late_p50_us"], a["send_late_p99_us"], a["send_late_max_us"]))
PY
		# Let the calls end (BYE after HOLD) before the next step.
		for _ in $(seq $((HOLD * 10 + 300))); do
			[ "$(ctl rtc stats | python3 -c 'import json,sys;print(json.load(sys.stdin)["calls"])')" = 0 ] && break
			sleep 0.1
		done
		wait "$sipp_pid" || true
	done
done
