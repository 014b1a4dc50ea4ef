#!/usr/bin/env bash
# run.sh: set up (packages + build), then run sipd in the foreground with the
# default modules.conf. The SQLite database (sipd.db) is created on first start.
# Extra arguments go to sipd (e.g. -l debug, -L udp:127.0.0.1:5070).
#
# The web admin listens on http://127.0.0.1:8080 (webadmin's listen in modules.conf).
# On the first start (no admin account yet) sipd creates the account 'admin' and
# prints its generated password once, in the log line "first start: created the
# web admin account 'admin' with password ...". Change it with
#   build/core/sipctl -S build/sipd.ctl admin passwd admin
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctl="${SIPD_CONTROL:-$PWD/build/sipd.ctl}"
admin_url=$(sed -n 's/.*name = "webadmin";.*listen = \[ *"\([^"]*\)".*/\1/p' modules.conf | head -1)
if [ -n "$admin_url" ]; then
	case "$admin_url" in
	*s) admin_url="https://${admin_url%s}" ;;
	*) admin_url="http://$admin_url" ;;
	esac
	admin_url="${admin_url/0.0.0.0/127.0.0.1}"
	echo "sipd: web admin at $admin_url/ (first start: the password of 'admin' is printed below, once)"
fi
echo "sipd: starting with modules.conf (control socket $ctl; try: build/core/sipctl -S $ctl help)"
exec build/core/sipd -D -f modules.conf -S "$ctl" "$@"
