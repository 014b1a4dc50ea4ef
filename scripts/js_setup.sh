#!/usr/bin/env bash
# js_setup.sh: install the JavaScript packages of package.json (npm, nothing is
# committed) and bundle JsSIP for the web admin's softphone page into
# webroot/vendor/jssip.js. Idempotent; quiet when there is nothing to do.
# playwright-core (browser tests) drives Debian's /usr/bin/chromium and never
# downloads a browser.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
	echo "js_setup: installing nodejs and npm"
	sudo_cmd=()
	[ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
	DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

stamp=node_modules/.sipd-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
	echo "js_setup: npm ci"
	npm ci --no-audit --no-fund --loglevel=error >/dev/null
	touch "$stamp"
fi

bundle=webroot/vendor/jssip.js
if [ ! -f "$bundle" ] || [ "$stamp" -nt "$bundle" ]; then
	mkdir -p webroot/vendor
	node_modules/.bin/esbuild node_modules/jssip/lib/JsSIP.js --bundle --format=esm \
		--platform=browser --minify --log-level=warning --outfile="$bundle"
fi
