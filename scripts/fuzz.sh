#!/usr/bin/env bash
# fuzz.sh BUILD_DIR SECONDS [TARGET...]: run each libFuzzer target (built with -DSIPD_FUZZ=ON, clang) for
# SECONDS, seeded with its corpus (tests/fuzz/<name>/ plus the fixtures it reads); fails on any crash or
# sanitizer report. Targets: parser digest script config sdp stun rtp api ws_handshake ws_frames (default: all). See docs/fuzzing.md.
#   FUZZ_JOBS=N   run N processes per target (libFuzzer -jobs/-workers; default 1)
#   FUZZ_RUNS=N   stop each target after N executions instead of SECONDS (the long bench run)
#   FUZZ_LOGS=DIR keep each target's libFuzzer log as DIR/fuzz_<target>.log (the long bench run's record)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
secs=${2:-20}
shift $(( $# > 2 ? 2 : $# ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parser digest script config sdp stun rtp api ws_handshake ws_frames)
jobs=${FUZZ_JOBS:-1}
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

seeds() { # seeds TARGET DIR: copies the target's seed inputs into DIR
	cp tests/fuzz/"$1"/* "$2"/ 2>/dev/null || true
	case $1 in
	parser) cp tests/data/sip/*/*.sip "$2"/ ;;
	script) cp tests/data/script/*.cfg routing.cfg "$2"/ ;;
	config) cp tests/data/config/*.conf modules.conf "$2"/ ;;
	esac
}

rc=0
for t in "${targets[@]}"; do
	fuzzer="$dir/fuzz/fuzz_$t"
	[ -x "$fuzzer" ] || { echo "fuzz.sh: $fuzzer not built (configure with CC=clang -DSIPD_FUZZ=ON)" >&2; exit 1; }
	fuzzer=$(realpath "$fuzzer")
	work=$(mktemp -d)
	seeds "$t" "$work"
	limit=(-max_total_time="$secs")
	[ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
	[ "$jobs" -gt 1 ] && limit+=(-jobs="$jobs" -workers="$jobs")
	# libconfig 1.5's lexer loses a string on some parse errors (lsan.supp): libFuzzer's leak check after
	# each such input would scan the whole heap (fuzz_config ran at a third of its speed). LeakSanitizer's
	# check at exit, with the suppressions, still fails the run on any leak of sipd's own.
	# That string stays allocated, so a long run's RSS grows by ~300 bytes an input (3 GB at 10 M runs):
	# above libFuzzer's default 2 GB RSS limit, which would end the run as an out-of-memory "crash".
	[ "$t" = config ] && limit+=(-detect_leaks=0 -rss_limit_mb=8192)
	what="${secs}s"
	[ -n "${FUZZ_RUNS:-}" ] && what="$FUZZ_RUNS runs"
	echo "--- fuzz_$t ($what, $(ls "$work" | wc -l) seeds)"
	# Logs of -jobs runs go to fuzz-N.log in the working directory: keep them in $work.
	if ! (cd "$work" && "$fuzzer" "${limit[@]}" -max_len=70000 -print_final_stats=1 \
		-artifact_prefix="$work/" "$work" >"$work/out.log" 2>&1); then
		rc=1
		[ -z "${FUZZ_LOGS:-}" ] || { mkdir -p "$FUZZ_LOGS" && cat "$work"/fuzz-*.log "$work/out.log" >"$FUZZ_LOGS/fuzz_$t.log" 2>/dev/null; } || true
		echo "fuzz_$t FAILED: artifacts and log in $work" >&2
		tail -40 "$work/out.log" "$work"/fuzz-*.log 2>/dev/null >&2 || true
		continue
	fi
	cat "$work"/fuzz-*.log "$work/out.log" 2>/dev/null | grep -E "^(stat::number_of_executed_units|Done [0-9]+ runs)" || true
	[ -z "${FUZZ_LOGS:-}" ] || { mkdir -p "$FUZZ_LOGS" && cat "$work"/fuzz-*.log "$work/out.log" >"$FUZZ_LOGS/fuzz_$t.log" 2>/dev/null; } || true
	rm -rf "$work"
done
exit $rc
