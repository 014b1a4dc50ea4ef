#!/usr/bin/env bash
# setup.sh: install missing Debian packages, then configure and build sipd.
# Idempotent and quiet when there is nothing to do.
#   scripts/setup.sh                 build deps + build into build/
#   scripts/setup.sh --test-tools    also the tools the tests drive (sipp, sipsak, kamailio, clang, ...)
#   BUILD_DIR=... CMAKE_ARGS=... scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
CMAKE_ARGS=${CMAKE_ARGS:-}
want_test_tools=0
for arg in "$@"; do
	case "$arg" in
	--test-tools) want_test_tools=1 ;;
	*) echo "setup.sh: unknown option $arg" >&2; exit 1 ;;
	esac
done

build_packages=(build-essential cmake pkg-config python3
	libsqlite3-dev libconfig-dev libcivetweb-dev libsrtp2-dev libopus-dev libssl-dev
	libltdl-dev libcriterion-dev libjansson-dev libc-ares-dev sqlite3
	libsndfile1-dev libsamplerate0-dev libpq-dev openssl espeak-ng sox)
test_packages=(clang libclang-rt-14-dev sip-tester sipsak kamailio kamailio-sqlite-modules
	valgrind procps iproute2 baresip-core linphone-cli dnsmasq-base
	chromium python3-aiortc postgresql kamailio-websocket-modules kamailio-tls-modules
	kamailio-postgres-modules stunnel4)

packages=("${build_packages[@]}")
[ "$want_test_tools" = 1 ] && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	sudo_cmd=()
	[ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
	export DEBIAN_FRONTEND=noninteractive
	"${sudo_cmd[@]}" apt-get update -qq
	"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# The kamailio package must not run a server on 5060 behind our back.
	if [ -d /run/systemd/system ] && systemctl is-active -q kamailio 2>/dev/null; then
		"${sudo_cmd[@]}" systemctl disable --now kamailio >/dev/null 2>&1 || true
	fi
fi

# JsSIP for the softphone page and playwright-core for the browser tests (npm).
scripts/js_setup.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
	if ! cmake -S . -B "$BUILD_DIR" -DSIPD_WERROR=ON $CMAKE_ARGS >"$log" 2>&1; then
		cat "$log" >&2
		echo "setup: cmake configure failed" >&2
		exit 1
	fi
fi
if ! cmake --build "$BUILD_DIR" -j "$(nproc)" >"$log" 2>&1; then
	grep -E 'error|Error' "$log" | head -50 >&2 || cat "$log" >&2
	echo "setup: build failed (full log above or run: cmake --build $BUILD_DIR)" >&2
	exit 1
fi
