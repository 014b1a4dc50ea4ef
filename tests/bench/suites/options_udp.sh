#!/bin/bash
# options_udp: stateless OPTIONS over UDP, sipd vs Kamailio, the same checks on both sides.
# BENCH_SERVERS="sipd" or "kamailio" measures only one of them.
set -u
. "$(dirname "$0")/../lib.sh"

servers=${BENCH_SERVERS:-sipd kamailio}
sipd="0 0 0"
kam="0 0 0"
bench_build sipd sipctl parser udp sanity maxfwd || exit 1

if [[ " $servers " == *" sipd "* ]]; then
	port=$(bench_free_port)
	bench_start_sipd "$port" "$(bench_options_routing)" parser udp sanity maxfwd || exit 1
	sipd=$(bench_find_max options_udp sipd "$port" "$SIPD_PID" "$BENCH_DIR/options_uac.xml")
fi
if [[ " $servers " == *" kamailio "* ]]; then
	port=$(bench_free_port)
	bench_start_kamailio "$BENCH_DIR/kamailio/options.cfg" "$port" "udp:127.0.0.1:$port" || exit 1
	kam=$(bench_find_max options_udp kamailio "$port" "$KAMAILIO_PID" "$BENCH_DIR/options_uac.xml")
fi
bench_report options_udp "$sipd" "$kam"
