#!/usr/bin/env bash
# test.sh: set up (packages + build), then run every test and print a summary.
#   1. unit tests (Criterion) of the -Werror build
#   2. unit + integration tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the threaded tests (script reload under load, loops, timers) under ThreadSanitizer
#   4. the libFuzzer targets (parser, digest, script, config, sdp, stun, rtp, api), FUZZ_SECONDS each (default 15)
#   5. the example third-party module built out of tree against the installed package
# Usage: scripts/test.sh [--quick]   (--quick: steps 1 and 2 only)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
quick=0
[ "${1:-}" = "--quick" ] && quick=1
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
JOBS=$(nproc)

scripts/setup.sh --test-tools || exit 1

passed=0
failed=0
failures=()
step() { # step NAME COMMAND...
	local name=$1; shift
	local t0=$SECONDS
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
		echo "=== $name: ok ($((SECONDS - t0))s)"
	else
		failed=$((failed + 1))
		failures+=("$name")
		echo "=== $name: FAILED ($((SECONDS - t0))s)"
	fi
}

build_variant() { # build_variant DIR CMAKE_ARGS...
	local dir=$1; shift
	if [ ! -f "$dir/CMakeCache.txt" ]; then
		cmake -S . -B "$dir" -DSIPD_WERROR=ON "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
	fi
	cmake --build "$dir" -j "$JOBS" ${TARGET:+--target $TARGET} >"$dir.build.log" 2>&1 || { grep -E 'error' "$dir.build.log" | head -40; return 1; }
}

unit_tests() { # unit_tests DIR [ctest regex]
	(cd "$1" && ctest -L unit --output-on-failure -j "$JOBS" ${2:+-R "$2"})
}

tsan_tests() { # the threaded unit tests, built against tests/tsan's in-process runner
	(cd "$1" && ctest -L tsan --output-on-failure)
}

integration_tests() { # integration_tests BUILD_DIR
	local dir=$1 rc=0 t
	for t in tests/integration/test_*.py; do
		[ -e "$t" ] || continue
		timeout 600 python3 "$t" "$dir" || rc=1
	done
	for t in tests/integration/test_*.sh; do
		[ -e "$t" ] || continue
		timeout 600 bash "$t" "$dir" || rc=1
	done
	return $rc
}

build_tsan() {
	TARGET="tsan_test_script_reload tsan_test_loop tsan_test_timer tsan_test_stats tsan_rtc_media_loopback tsan_udp_order" \
		build_variant build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIPD_SANITIZE=thread
}

build_fuzzer() {
	CC=clang TARGET="fuzz_parser fuzz_digest fuzz_script fuzz_config fuzz_sdp fuzz_stun fuzz_rtp fuzz_api fuzz_ws_handshake fuzz_ws_frames" \
		build_variant build-fuzz \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIPD_FUZZ=ON -DSIPD_WERROR=OFF -DSIPD_SANITIZE=address,undefined
}

# A PostgreSQL cluster for the storage tests on the second engine and the
# multi-node tests (SIPD_TEST_PG: its conninfo); skipped with a message when
# PostgreSQL cannot start here.
pg_dir=$(mktemp -d /tmp/sipd-pg-XXXXXX)
chmod 755 "$pg_dir"
if SIPD_TEST_PG=$(tests/pg/pg_cluster.sh start "$pg_dir" 2>"$pg_dir.err"); then
	export SIPD_TEST_PG SIPD_TEST_PG_DIR=$pg_dir
	echo "test.sh: PostgreSQL for the tests at $SIPD_TEST_PG"
else
	echo "test.sh: PostgreSQL tests will be skipped: $(tail -n 1 "$pg_dir.err")"
	unset SIPD_TEST_PG
fi
stop_pg() { tests/pg/pg_cluster.sh stop "$pg_dir" >/dev/null 2>&1 || true; rm -rf "$pg_dir" "$pg_dir.err"; }
trap stop_pg EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

step "unit tests (-Werror build)" unit_tests build
step "asan+ubsan build" build_variant build-asan -DCMAKE_BUILD_TYPE=Debug -DSIPD_SANITIZE=address,undefined
step "unit tests (asan+ubsan)" unit_tests build-asan
step "integration tests (asan+ubsan)" integration_tests "$ROOT/build-asan"

if [ $quick = 0 ]; then
	step "tsan build" build_tsan
	step "threaded tests (tsan)" tsan_tests build-tsan
	step "fuzz build (clang)" build_fuzzer
	step "fuzzing (10 targets, ${FUZZ_SECONDS}s each)" scripts/fuzz.sh build-fuzz "$FUZZ_SECONDS"
	step "out-of-tree example module" tests/integration/example_module.sh "$ROOT/build"
fi

echo
if [ $failed -gt 0 ]; then
	printf 'failed step: %s\n' "${failures[@]}"
fi
echo "test.sh: $passed passed, $failed failed"
[ $failed = 0 ]
