#!/usr/bin/env bash
# janus_compare.sh [BUILD_DIR] [PEERS...]: sipd's rtc_player against Janus 1.1's streaming plugin, both
# streaming the demo greeting (Opus) to N aiortc WebRTC receivers (tests/bench/webrtc_peers.py).
# sipd: the peers call the demo user through SIP (as interop/aiortc_caller.py does), the greeting looping.
# Janus: an "ondemand" mountpoint on an Ogg/Opus file made from audio/greeting.wav; the peers watch it over
# the REST transport. For each N: set up N peers, hold them HOLD s, report the server's CPU over the hold
# (/proc/PID/stat) and the RTP packets each peer received (aiortc stats).
#   HOLD=20 tests/bench/janus_compare.sh build-bench 10 25 50
# Janus never offers loopback candidates (libnice skips loopback interfaces; ice_enforce_list = "lo"
# does not help), so it runs in a private network namespace (unshare -n) holding only lo and a veth
# carrying 127.0.0.2: Janus offers 127.0.0.2 and its peers use 127.0.0.2 too (with peers on 127.0.0.1,
# libnice answered every check but aiortc never saw a success and ICE failed). Needs root for unshare.
# Nothing leaves 127.0.0.0/8.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/player_lib.sh
BUILD=${1:-build-bench}
shift || true
COUNTS=("${@:-10 25 50}")
HOLD=${HOLD:-20}
PY=/usr/bin/python3 # Debian's python3 has python3-aiortc
dir=$(mktemp -d)
sipd_pid=
trap '[ -n "$sipd_pid" ] && kill "$sipd_pid" 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT

scripts/make_greeting.sh audio/greeting.wav >/dev/null
# The same greeting as Ogg/Opus (48 kHz mono, 20 ms frames) for Janus, encoded with PyAV (aiortc's own
# dependency) since Debian's sox cannot write Opus.
"$PY" - audio/greeting.wav "$dir/greeting.opus" <<'PY'
import sys
import av
src, out = av.open(sys.argv[1]), av.open(sys.argv[2], "w", format="ogg")
st = out.add_stream("libopus", rate=48000)
st.layout, st.bit_rate, st.options = "mono", 32000, {"frame_duration": "20"}
rs = av.AudioResampler(format="s16", layout="mono", rate=48000)
for frame in src.decode(audio=0):
    for f in rs.resample(frame):
        for p in st.encode(f):
            out.mux(p)
for p in st.encode(None):
    out.mux(p)
out.close()
PY

results="$dir/results.jsonl"
: >"$results"

# --- sipd
player_start_sipd 1
# Janus's on-demand source loops the file; so does the player here (the greeting is shorter than a hold).
ctl audio assign welcome greeting loop >/dev/null
for n in ${COUNTS[@]}; do
	timeout -k 5 $((HOLD + 180)) "$PY" tests/bench/webrtc_peers.py sipd "$port" welcome "$n" "$HOLD" "$sipd_pid" \
		>>"$results" 2>>"$dir/peers.log" || true
	for _ in $(seq 300); do # the BYEs end every call before the next step
		[ "$(ctl rtc stats | "$PY" -c 'import json,sys;print(json.load(sys.stdin)["calls"])')" = 0 ] && break
		sleep 0.1
	done
done
kill "$sipd_pid"
wait "$sipd_pid" 2>/dev/null || true
sipd_pid=

# --- Janus, in its own network namespace
mkdir -p "$dir/janus"
cat >"$dir/janus/janus.jcfg" <<CONF
general: {
	configs_folder = "$dir/janus"
	plugins_folder = "/usr/lib/x86_64-linux-gnu/janus/plugins"
	transports_folder = "/usr/lib/x86_64-linux-gnu/janus/transports"
	events_folder = "/usr/lib/x86_64-linux-gnu/janus/events"
	loggers_folder = "/usr/lib/x86_64-linux-gnu/janus/loggers"
	debug_level = 4
	protected_folders = []
}
certificates: {
}
media: {
	rtp_port_range = "40000-40999"
}
nat: {
	ice_lite = true
	ice_enforce_list = "jb0"
	nice_debug = false
	ignore_mdns = true
}
plugins: {
	disable = "libjanus_audiobridge.so,libjanus_duktape.so,libjanus_lua.so,libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_echotest.so,libjanus_textroom.so,libjanus_videocall.so,libjanus_videoroom.so,libjanus_voicemail.so"
}
transports: {
	disable = "libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,libjanus_rabbitmq.so,libjanus_websockets.so"
}
events: {
	broadcast = false
}
loggers: {
	disable = "libjanus_jsonlog.so"
}
CONF
cat >"$dir/janus/janus.transport.http.jcfg" <<CONF
general: {
	json = "plain"
	base_path = "/janus"
	http = true
	port = 8266
	ip = "127.0.0.1"
	https = false
}
admin: {
	admin_http = false
	admin_https = false
}
cors: {
}
CONF
cat >"$dir/janus/janus.plugin.streaming.jcfg" <<CONF
general: {
}
greeting: {
	type = "ondemand"
	id = 1
	description = "sipd greeting"
	filename = "$dir/greeting.opus"
	audiopt = 111
	audiortpmap = "opus/48000/2"
	audio = true
	video = false
}
CONF
cat >"$dir/janus/run.sh" <<'RUN'
set -eu
dir=$1 hold=$2
shift 2
ip link set lo up
ip link add jb0 type veth peer name jb1
ip addr add 127.0.0.2/32 dev jb0
ip link set jb1 up
ip link set jb0 up
janus -C "$dir/janus/janus.jcfg" -F "$dir/janus" -o >"$dir/janus.log" 2>&1 &
jp=$!
for _ in $(seq 100); do
	/usr/bin/python3 -c 'import urllib.request;urllib.request.urlopen("http://127.0.0.1:8266/janus/info",timeout=1)' \
		2>/dev/null && break
	sleep 0.1
done
for n in "$@"; do
	PEER_ADDR=127.0.0.2 timeout -k 5 $((hold + 180)) /usr/bin/python3 tests/bench/webrtc_peers.py janus \
		http://127.0.0.1:8266/janus 1 "$n" "$hold" "$jp" || true
	sleep 2
done
kill "$jp"
wait "$jp" || true
RUN
timeout -k 5 $(((HOLD + 200) * ${#COUNTS[@]} + 30)) unshare -n sh "$dir/janus/run.sh" "$dir" "$HOLD" ${COUNTS[@]} \
	>>"$results" 2>>"$dir/peers.log" || true

"$PY" - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("%-6s %5s %9s %8s %10s %12s %22s %9s %8s" % ("server", "peers", "connected", "cpu%", "cpu%/strm",
      "us cpu/s/str", "pkts/peer min/med/max", "expected", "client%"))
for r in rows:
    per = r["server_cpu_pct_per_stream"]
    print("%-6s %5d %4d/%-4d %7.1f%% %9.2f%% %12.0f %22s %9d %7.1f%%" % (r["server"], r["peers"], r["connected"],
          r["still_connected"], r["server_cpu_pct"], per, per * 1e4,
          "%d/%d/%d" % (r["pkts_per_peer_min"], r["pkts_per_peer_median"], r["pkts_per_peer_max"]),
          r["expected_at_50pps"], r["client_cpu_pct"]))
    for e in r["errors"]:
        print("   error (%d in all): %s" % (r["error_count"], e))
PY
