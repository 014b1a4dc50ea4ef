#!/usr/bin/env bash
# fuzz.sh BUILD_DIR SECONDS: run the parser fuzzer (built with -DSIPD_FUZZ=ON, clang)
# seeded with the SIP fixture corpus; fails on any crash. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
secs=${2:-60}
fuzzer="$dir/fuzz/fuzz_parser"
[ -x "$fuzzer" ] || { echo "fuzz.sh: $fuzzer not built (configure with CC=clang -DSIPD_FUZZ=ON)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp tests/data/sip/*/*.sip "$work/" 2>/dev/null || true
"$fuzzer" -max_total_time="$secs" -max_len=70000 -print_final_stats=1 \
	-artifact_prefix="$work/" "$work" 2>&1 | tail -15
