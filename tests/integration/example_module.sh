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
# The pkg-config file builds the same module without CMake.
flags=$(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs sipd)
# shellcheck disable=SC2086
cc -shared -fPIC -DSIPD_MODULE_NAME='"hello"' -Wl,--no-undefined -o "$tmp/hello-pc.so" \
	docs/examples/hello/hello.c $flags
nm -D --defined-only "$tmp/hello-pc.so" | grep -q ' sipd_module_export$' \
	|| { echo "hello built with pkg-config exports no descriptor" >&2; exit 1; }

python3 tests/integration/example_module_check.py "$build" "$tmp/prefix" "$tmp/hello"
