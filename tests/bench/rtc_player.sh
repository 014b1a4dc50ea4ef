#!/usr/bin/env bash
# rtc_player.sh [BUILD_DIR] [CALLS...]: how many player calls this machine holds, and at what cost.
# For each count N: SIPp places N calls to the demo user (G.711 over plain RTP, then over SDES-SRTP), holds
# them, and while all N stream we sample sipd's CPU for SAMPLE seconds and read the media threads'
# send lateness (rtc.stats: how long after its due time each packet left). Loopback only.
#   HOLD=30 SAMPLE=10 MEDIA_THREADS=1 RT_PRIORITY=0 tests/bench/rtc_player.sh build 100 500 1000
set -euo pipefail
cd "$(dirname "$0")/../.."
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

port=$(python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat >"$dir/modules.conf" <<CONF
core = { listen = [ "udp:127.0.0.1:$port" ]; workers = 2; routing = "routing.cfg"; database = "$dir/sipd.db";
         log_level = "info"; control_socket = "$dir/sipd.ctl"; };
modules = ( { name = "parser"; }, { name = "udp"; }, { name = "tm"; },
  { name = "rtc_player"; bind_address = "127.0.0.1"; port_min = 30000; port_max = 39999; rtp_timeout = 0;
    ring_ms = 0; media_threads = $MEDIA_THREADS; rt_priority = ${RT_PRIORITY:-0}; audio_dir = "$PWD/audio"; } );
CONF
# No authentication: the bench measures the player, not digest.
cat >"$dir/routing.cfg" <<'CFG'
request_route {
	if (has_to_tag()) { rtc_player_in_dialog(); drop; }
	if (rtc_player_is_target()) { rtc_player_answer(); }
	reply(404, "Not Here");
}
CFG
"$BUILD/core/sipd" -D -f "$dir/modules.conf" -M "$BUILD/modules" -S "$dir/sipd.ctl" >"$dir/sipd.log" 2>&1 &
sipd_pid=$!
ctl() { "$BUILD/core/sipctl" -S "$dir/sipd.ctl" -j "$@"; }
# rtc.stats answers once rtc_player has started (EAGAIN before).
for _ in $(seq 300); do ctl rtc stats >/dev/null 2>&1 && break; sleep 0.1; done
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
