#!/bin/bash
# options_udp: stateless OPTIONS over UDP, sipd vs Kamailio, the same checks on both sides.
set -u
. "$(dirname "$0")/../lib.sh"

bench_build sipd sipctl parser udp sanity maxfwd || exit 1

sipd_port=$(bench_free_port)
kam_port=$(bench_free_port)
bench_start_sipd "$sipd_port" '
request_route {
	sanity();
	maxfwd(70);
	if ($rm == "OPTIONS") {
		reply(200, "OK");
		exit;
	}
	reply(404, "Not Here");
}' parser udp sanity maxfwd || exit 1
bench_start_kamailio "$BENCH_DIR/kamailio/options.cfg" "$kam_port" "udp:127.0.0.1:$kam_port" || exit 1

sipd=$(bench_find_max options_udp sipd "$sipd_port" "$SIPD_PID" "$BENCH_DIR/options_uac.xml")
kam=$(bench_find_max options_udp kamailio "$kam_port" "$KAMAILIO_PID" "$BENCH_DIR/options_uac.xml")
bench_report options_udp "$sipd" "$kam"
