# Shared by rtc_player.sh and janus_compare.sh (sourced; run from the repository root with BUILD and dir set):
# sipd with only the player on a free loopback UDP port, no authentication (the benches measure the player,
# not digest).

# player_start_sipd MEDIA_THREADS: writes $dir/modules.conf and routing.cfg, starts $BUILD's sipd and waits until
# rtc_player answers; sets port and sipd_pid. RT_PRIORITY: the media threads' real-time priority (0: none).
player_start_sipd() {
	port=$(python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
	cat >"$dir/modules.conf" <<CONF
core = { listen = [ "udp:127.0.0.1:$port" ]; workers = 2; routing = "routing.cfg"; database = "$dir/sipd.db";
         log_level = "info"; control_socket = "$dir/sipd.ctl"; };
modules = ( { name = "parser"; }, { name = "udp"; }, { name = "tm"; },
  { name = "rtc_player"; bind_address = "127.0.0.1"; port_min = 30000; port_max = 39999; rtp_timeout = 0;
    ring_ms = 0; media_threads = $1; rt_priority = ${RT_PRIORITY:-0}; audio_dir = "$PWD/audio"; } );
CONF
	cat >"$dir/routing.cfg" <<'CFG'
request_route {
	if (has_to_tag()) { rtc_player_in_dialog(); drop; }
	if (rtc_player_is_target()) { rtc_player_answer(); }
	reply(404, "Not Here");
}
CFG
	"$BUILD/core/sipd" -D -f "$dir/modules.conf" -M "$BUILD/modules" -S "$dir/sipd.ctl" >"$dir/sipd.log" 2>&1 &
	sipd_pid=$!
	# rtc.stats answers once rtc_player has started (EAGAIN before).
	for _ in $(seq 300); do ctl rtc stats >/dev/null 2>&1 && break; sleep 0.1; done
}

# ctl ARGS...: sipctl -j against that sipd.
ctl() { "$BUILD/core/sipctl" -S "$dir/sipd.ctl" -j "$@"; }
