#!/usr/bin/env bash
# bench.sh: runs the SIPp benchmark suites (tests/bench/suites/*.sh), sipd against Kamailio.
# Usage: scripts/bench.sh [SUITE...]   e.g. scripts/bench.sh options_udp
# Knobs are environment variables, see tests/bench/lib.sh (BENCH_RATES, BENCH_SIPP_INSTANCES, ...).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
suites=()
if [ $# -gt 0 ]; then
	for name in "$@"; do
		f="tests/bench/suites/${name%.sh}.sh"
		[ -f "$f" ] || { echo "bench.sh: no suite $name ($f)" >&2; exit 2; }
		suites+=("$f")
	done
else
	suites=(tests/bench/suites/*.sh)
fi
failed=0
summary=()
for f in "${suites[@]}"; do
	echo "=== $(basename "$f" .sh)"
	out=$(bash "$f")
	rc=$?
	echo "$out"
	if [ $rc -ne 0 ]; then
		failed=$((failed + 1))
		summary+=("$(basename "$f" .sh): FAILED (exit $rc)")
	else
		summary+=("$(echo "$out" | tail -1)")
	fi
done
echo "=== summary"
printf '%s\n' "${summary[@]}"
exit $((failed > 0))
