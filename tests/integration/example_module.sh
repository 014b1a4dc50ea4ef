#!/usr/bin/env bash
# example_module.sh BUILD_DIR: install sipd into a temporary prefix, build
# docs/examples/hello out of tree with find_package(sipd), load it into the
# installed sipd, call it from a script and over sipctl.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(cd "${1:-build}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
cmake -S docs/examples/hello -B "$tmp/hello" -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/hello.log" 2>&1 \
	|| { cat "$tmp/hello.log"; exit 1; }
cmake --build "$tmp/hello" >>"$tmp/hello.log" 2>&1 || { cat "$tmp/hello.log"; exit 1; }
pkg-config --exists --print-errors "$tmp/prefix/lib/pkgconfig/sipd.pc" 2>/dev/null \
	|| PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs sipd >/dev/null

python3 tests/integration/example_module_check.py "$build" "$tmp/prefix" "$tmp/hello"
