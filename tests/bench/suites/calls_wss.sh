#!/bin/bash
# calls_wss: calls over SIP over WebSocket (RFC 7118), plain ws and wss (over TLS), sipd (ws module; wss
# with the tls module's certificate) vs Kamailio (xhttp + websocket modules, tls for wss), driven by
# sipload. A browser-to-browser call: sipload's UAS registers user "uas" over its WebSocket (.invalid
# contact, the flow is the binding); sipload's UAC calls it over one WebSocket for all calls (one) or a
# new WebSocket (TCP + TLS + HTTP upgrade) per call (call); the server looks the callee up, record-routes
# and relays over the callee's WebSocket. Masked client frames, text, one SIP message per frame.
# Knobs: BENCH_WS_PROTOS ("ws wss"), BENCH_RATES_ONE, BENCH_RATES_CALL, BENCH_SERVERS, BENCH_MODES.
set -u
. "$(dirname "$0")/../lib.sh"
. "$BENCH_DIR/sipload_lib.sh"

suite=calls_wss
BENCH_RATES_ONE=${BENCH_RATES_ONE:-"500 1000 2000 3000 4000 6000 8000"}
BENCH_RATES_CALL=${BENCH_RATES_CALL:-"50 100 200 300 400 600 800"}
protos=${BENCH_WS_PROTOS:-ws wss}
modes=${BENCH_MODES:-one call}
servers=${BENCH_SERVERS:-sipd kamailio}
sl_build sipd sipctl parser udp tcp tls ws sanity maxfwd tm registrar || exit 1
sl_pki || exit 1
export BENCH_PROBE_PROTO=port
declare -A result

# ws_sipd PROTO PORT: sipd with a PROTO listen entry; sets pid (empty if sipd refused the entry).
ws_sipd() {
	local tls=()
	[ "$1" = wss ] && tls=("{ name = \"tls\"; certificate = \"$PKI/cert.pem\"; private_key = \"$PKI/key.pem\"; verify_server = false; }")
	pid=
	BENCH_SIPD_LISTEN="\"$1:127.0.0.1:{port}\"" bench_start_sipd "$2" "$(bench_proxy_routing lookup)" \
		parser udp "tcp:max_connections_per_ip = 65536" "${tls[@]}" \
		"ws:allowed_origins = [ \"*\" ]; max_connections = ${BENCH_WS_MAX_CONNECTIONS:-1024}; max_connections_per_ip = ${BENCH_WS_MAX_CONNECTIONS:-1024}" \
		sanity maxfwd tm registrar && pid=$SIPD_PID
}

# ws_kamailio PROTO PORT: Kamailio with tests/bench/kamailio/calls_ws.cfg; sets pid.
ws_kamailio() {
	local cfg="$BENCH_TMP/calls_ws-$2.cfg" listen="tcp:127.0.0.1:$2"
	pid=
	{
		echo '#!KAMAILIO'
		if [ "$1" = wss ]; then
			echo '#!define WITH_TLS'
			listen="tls:127.0.0.1:$2"
		fi
		sl_kamailio_tls_cfg "$BENCH_TMP/tls-$2.cfg"
		sed "s#TLSCFG#$BENCH_TMP/tls-$2.cfg#" "$BENCH_DIR/kamailio/calls_ws.cfg" | grep -v '^#!KAMAILIO'
	} >"$cfg"
	bench_start_kamailio "$cfg" "$2" "$listen" && pid=$KAMAILIO_PID
}

for proto in $protos; do
	for srv in $servers; do
		port=$(bench_free_port)
		"ws_$srv" "$proto" "$port"
		if [ -z "$pid" ]; then
			bench_log "$srv did not serve $proto: no figure"
			continue
		fi
		for mode in $modes; do
			if [ "$mode" = one ]; then BENCH_RATES=$BENCH_RATES_ONE; else BENCH_RATES=$BENCH_RATES_CALL; fi
			result[$proto-$srv-$mode]=$(sl_find_max "${suite}_${proto}_$mode" "$srv" "$port" "$pid" -p "$proto" -c "$mode")
		done
		sl_stop "$pid"
	done
done
lines=()
for proto in $protos; do
	for mode in $modes; do
		lines+=("$(sl_report "$suite" "$proto $mode-connection" "${result[$proto-sipd-$mode]:-0 0 0 0 n/a}" \
			"${result[$proto-kamailio-$mode]:-0 0 0 0 n/a}")")
		echo "${lines[-1]}"
	done
done
echo "calls_wss: ${lines[*]}"
