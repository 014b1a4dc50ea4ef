#!/bin/bash
# calls_tcp: the calls_udp suite with SIPp UAC, proxy and SIPp UAS all over TCP.
set -u
. "$(dirname "$0")/../lib.sh"
. "$BENCH_DIR/calls_lib.sh"
calls_suite calls_tcp tcp
