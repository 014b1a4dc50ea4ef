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
# tls enabled with the default certificate path and no certificate yet: a self-signed one for a first start
# (tls: and wss: entries both use it).
if grep -Eq '^[[:space:]]*\{[[:space:]]*name[[:space:]]*=[[:space:]]*"tls"' modules.conf &&
	grep -q 'build/tls/sipd.pem' modules.conf && [ ! -f build/tls/sipd.pem ]; then
	mkdir -p build/tls
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj "/CN=$(hostname)" \
		-addext "subjectAltName=DNS:$(hostname),DNS:localhost,IP:127.0.0.1" \
		-keyout build/tls/sipd.key -out build/tls/sipd.pem 2>/dev/null
	echo "sipd: no TLS certificate yet: made a self-signed one in build/tls/sipd.pem (valid 365 days)." \
		"tls: and wss: entries use it; clients (and browsers) must be told to trust it; replace it with a CA-issued chain and run sipctl tls reload."
fi
echo "sipd: starting with modules.conf (control socket $ctl; try: build/core/sipctl -S $ctl help)"
exec build/core/sipd -D -f modules.conf -S "$ctl" "$@"
