#!/usr/bin/env bash
# run.sh: set up (packages + build), then run sipd in the foreground with the
# default modules.conf. The SQLite database (sipd.db) is created on first start.
# Extra arguments go to sipd (e.g. -l debug, -L udp:127.0.0.1:5070).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctl="${SIPD_CONTROL:-$PWD/build/sipd.ctl}"
# tls enabled with the default certificate path and no certificate yet: a self-signed one for a first start.
if grep -Eq '^[[:space:]]*\{[[:space:]]*name[[:space:]]*=[[:space:]]*"tls"' modules.conf &&
	grep -q 'build/tls/sipd.pem' modules.conf && [ ! -f build/tls/sipd.pem ]; then
	mkdir -p build/tls
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj "/CN=$(hostname)" \
		-addext "subjectAltName=DNS:$(hostname),DNS:localhost,IP:127.0.0.1" \
		-keyout build/tls/sipd.key -out build/tls/sipd.pem 2>/dev/null
	echo "sipd: no TLS certificate yet: made a self-signed one in build/tls/sipd.pem (valid 365 days)." \
		"Clients must be told to trust it; replace it with a CA-issued chain and run sipctl tls reload."
fi
echo "sipd: starting with modules.conf (control socket $ctl; try: build/core/sipctl -S $ctl help)"
exec build/core/sipd -D -f modules.conf -S "$ctl" "$@"
