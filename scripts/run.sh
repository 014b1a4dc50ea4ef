#!/usr/bin/env bash
# run.sh: set up (packages + build), then run sipd in the foreground with the
# default modules.conf. The SQLite database (sipd.db) is created on first start.
# Extra arguments go to sipd (e.g. -l debug, -L udp:127.0.0.1:5070).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctl="${SIPD_CONTROL:-$PWD/build/sipd.ctl}"
echo "sipd: starting with modules.conf (control socket $ctl; try: build/core/sipctl -S $ctl help)"
exec build/core/sipd -D -f modules.conf -S "$ctl" "$@"
