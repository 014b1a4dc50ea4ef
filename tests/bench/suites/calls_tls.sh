#!/bin/bash
# calls_tls: stateful calls over TLS, sipd (tls module) vs Kamailio (tls module), driven by sipload (our C
# load generator: Debian's SIPp has no TLS, and stunnel in front of it was the bound). sipload's UAC
# calls over one TLS connection for all calls (one) or a new TLS connection, full handshake, per call
# (call); the server relays over TLS to sipload's UAS (one connection the server opens and reuses).
#   sipload UAC -> TLS -> server (record_route, tm relay) -> TLS -> sipload UAS
# Knobs: BENCH_RATES_ONE, BENCH_RATES_CALL (calls/s to step), BENCH_SERVERS, BENCH_MODES ("one call").
set -u
. "$(dirname "$0")/../lib.sh"
. "$BENCH_DIR/sipload_lib.sh"

suite=calls_tls
BENCH_RATES_ONE=${BENCH_RATES_ONE:-"500 1000 2000 3000 4000 6000 8000"}
BENCH_RATES_CALL=${BENCH_RATES_CALL:-"50 100 200 300 400 600 800"}
modes=${BENCH_MODES:-one call}
servers=${BENCH_SERVERS:-sipd kamailio}
sl_build sipd sipctl parser udp tcp tls sanity maxfwd tm || exit 1
sl_pki || exit 1
export BENCH_PROBE_PROTO=port
declare -A result

for srv in $servers; do
	uas_port=$(bench_free_port)
	port=$(bench_free_port)
	if [ "$srv" = sipd ]; then
		BENCH_SIPD_LISTEN="\"tls:127.0.0.1:{port}\"" bench_start_sipd "$port" \
			"$(bench_proxy_routing "sip:\$rU@127.0.0.1:$uas_port;transport=tls")" parser udp "tcp:max_connections_per_ip = 65536" \
			"{ name = \"tls\"; certificate = \"$PKI/cert.pem\"; private_key = \"$PKI/key.pem\"; verify_server = false; }" \
			sanity maxfwd tm || exit 1
		pid=$SIPD_PID
	else
		cfg="$BENCH_TMP/calls_tls-$port.cfg"
		sl_kamailio_tls_cfg "$BENCH_TMP/tls-$port.cfg"
		sed -e "s/UASPORT/$uas_port/" -e "s#TLSCFG#$BENCH_TMP/tls-$port.cfg#" "$BENCH_DIR/kamailio/calls_tls.cfg" >"$cfg"
		bench_start_kamailio "$cfg" "$port" "tls:127.0.0.1:$port" || exit 1
		pid=$KAMAILIO_PID
	fi
	for mode in $modes; do
		if [ "$mode" = one ]; then BENCH_RATES=$BENCH_RATES_ONE; else BENCH_RATES=$BENCH_RATES_CALL; fi
		result[$srv-$mode]=$(sl_find_max "${suite}_$mode" "$srv" "$port" "$pid" -p tls -c "$mode" \
			-l "$uas_port" -C "$PKI/cert.pem" -K "$PKI/key.pem")
	done
	sl_stop "$pid"
done
lines=()
for mode in $modes; do
	lines+=("$(sl_report "$suite" "$mode-connection" "${result[sipd-$mode]:-0 0 0 0 n/a}" "${result[kamailio-$mode]:-0 0 0 0 n/a}")")
	echo "${lines[-1]}"
done
echo "calls_tls: ${lines[*]}"
