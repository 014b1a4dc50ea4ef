#!/bin/bash
# calls_udp: stateful calls (INVITE/100/180/200/ACK/BYE/200 with Record-Route) over UDP through sipd
# and Kamailio to a SIPp UAS; rates stepped up to the highest without failed calls.
# BENCH_SERVERS="sipd" or "kamailio" measures only one; BENCH_CALL_PROTO=tcp is calls_tcp.
set -u
. "$(dirname "$0")/../lib.sh"
. "$BENCH_DIR/calls_lib.sh"
calls_suite calls_udp udp
