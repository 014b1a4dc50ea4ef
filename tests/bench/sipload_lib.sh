# Shared by suites/calls_tls.sh, calls_wss.sh and calls_tcp_onecon.sh (sourced after lib.sh): steps the
# rate of sipload (tests/bench/sipload/, our C load generator: UAC and UAS in one process) against a server.
# Knobs (environment):
#   BENCH_MAX_FAIL_PCT     failed + timed-out calls a step may have, in percent of its calls (default 0)
#   BENCH_SIPLOAD_TIMEOUT  seconds a call may take before it counts as timed out (default 3)
#   BENCH_ANSWER_MS        the UAS's 180 -> 200 gap (default 20, as uas_call.xml)

#   SIPLOAD_BUILD          build dir of sipload (default BENCH_BUILD); set it to measure a sipd built from
#                          another tree (BENCH_BUILD=that tree's Release build, configured beforehand)

SIPLOAD_BUILD=${SIPLOAD_BUILD:-$BENCH_BUILD}
SIPLOAD="$SIPLOAD_BUILD/tests/bench/sipload/sipload"
BENCH_MAX_FAIL_PCT=${BENCH_MAX_FAIL_PCT:-0}

# sl_build TARGET...: bench_build of the server's targets, and sipload (in SIPLOAD_BUILD).
sl_build() {
	if [ "$SIPLOAD_BUILD" = "$BENCH_BUILD" ]; then
		bench_build "$@" sipload
		return
	fi
	bench_build "$@" || return 1
	cmake --build "$SIPLOAD_BUILD" -j2 --target sipload >"$BENCH_TMP/sipload-build.log" 2>&1 ||
		{ tail -20 "$BENCH_TMP/sipload-build.log" >&2; return 1; }
}

# sl_pki: a self-signed P-256 certificate for 127.0.0.1 in $BENCH_TMP/pki; sets PKI.
sl_pki() {
	PKI="$BENCH_TMP/pki"
	mkdir -p "$PKI"
	(cd "$PKI" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench \
			-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout key.pem -out cert.pem) >/dev/null 2>&1 ||
		{ bench_log "openssl could not make the certificate"; return 1; }
}

# sl_kamailio_tls_cfg FILE: Kamailio's tls.cfg for $PKI (TLS 1.2+, no client certificates, no verification).
sl_kamailio_tls_cfg() {
	printf '[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\nprivate_key = %s\ncertificate = %s\n\n[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n' \
		"$PKI/key.pem" "$PKI/cert.pem" >"$1"
}

# sl_field NAME: a key=value of the last sipload result line (SL_LINE).
sl_field() {
	local f
	for f in $SL_LINE; do
		[ "${f%%=*}" = "$1" ] && { echo "${f#*=}"; return; }
	done
	echo 0
}

# sl_settle PID: waits (15 s at most) until the server is idle (under ~4 % of a core over half a second):
# after an overloaded step it still works off the dead run's backlog (handshakes, calls), which would
# otherwise fail the next step from its start.
sl_settle() {
	local i a b
	sleep 0.5
	for ((i = 0; i < 30; i++)); do
		a=$(bench_cpu_ticks "$1")
		sleep 0.5
		b=$(bench_cpu_ticks "$1")
		[ $((b - a)) -le $((BENCH_CLK_TCK / 50)) ] && return
	done
	bench_log "server $1 still busy 15 s after the step"
}

# sl_find_max SUITE NAME PORT PID SIPLOAD_ARGS...: steps BENCH_RATES up until a step fails (more failed or
# timed-out calls than BENCH_MAX_FAIL_PCT, or under 90% of the asked rate), refines by bisection, and prints
# "best_rate server_cpu_us_per_call bound tool_cpu_us_per_call setup_ms_p50/p90/p99/max". bound=1: sipload
# reached no more than it was asked with no failures, or used most of a core (the generator was the limit).
sl_find_max() {
	local suite=$1 name=$2 port=$3 pid=$4 log="$BENCH_OUT/$1.log"
	local best=0 best_cpu=0 best_tool=0 best_setup=n/a rate bound=0
	local ach fails ok tool cpu t0 t1 busy
	shift 4

	sl_step_once() {
		local started r=$1
		shift
		t0=$(bench_cpu_ticks "$pid")
		SL_LINE=$(timeout -k 5 $((BENCH_STEP_SECONDS + 40)) "$SIPLOAD" -s "127.0.0.1:$port" -r "$r" \
			-d "$BENCH_STEP_SECONDS" -t "${BENCH_SIPLOAD_TIMEOUT:-3}" -a "${BENCH_ANSWER_MS:-20}" "$@" \
			2>>"$BENCH_TMP/sipload.err" | grep '^sipload:')
		t1=$(bench_cpu_ticks "$pid")
		ach=$(sl_field achieved)
		ok=$(sl_field ok)
		started=$(sl_field started)
		fails=$(($(sl_field failed) + $(sl_field timeout) + $(sl_field unfinished)))
		tool=$(sl_field tool_cpu_us_per_call)
		# Share of a core sipload used over the step: above 90 it was the bound.
		busy=$(awk -v c="$(sl_field tool_cpu_s)" -v e="$(sl_field elapsed)" 'BEGIN { printf "%d", (e > 0 ? c * 100 / e : 0) }')
		cpu=0
		[ "$ok" -gt 0 ] && cpu=$(((t1 - t0) * 1000000 / BENCH_CLK_TCK / ok))
		echo "$(date +%T) $suite $name rate=$r achieved=$ach ok=$ok fails=$fails cpu_us_per_call=$cpu" \
			"failed=$(sl_field failed) timeout=$(sl_field timeout) errors=$(sl_field final_errors) conn_errors=$(($(sl_field connect_errors) + $(sl_field tls_errors))) sipload_us_per_call=$tool sipload_core=${busy}% setup_ms=$(sl_field setup_ms)" \
			"load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$log" >&2
		sl_settle "$pid"
		[ "${started:-0}" -gt 0 ] && [ $((fails * 100)) -le $((BENCH_MAX_FAIL_PCT * started)) ] &&
			[ $((ach * 10)) -ge $((r * 9)) ]
	}
	sl_keep() {
		if [ "$ach" -gt "$best" ]; then
			best=$ach best_cpu=$cpu best_tool=$tool best_setup=$(sl_field setup_ms)
			[ "$busy" -ge 90 ] && bound=1
		fi
	}
	bench_ladder fails sl_keep : sl_step_once "$@"
	echo "$best $best_cpu $bound $best_tool $best_setup"
}

# sl_report SUITE LABEL SIPD_RESULT KAMAILIO_RESULT: the comparison line, printed and kept in results.txt.
sl_report() {
	local suite=$1 label=$2 s s_cpu s_b s_tool s_setup k k_cpu k_b k_tool k_setup note="" ratio line
	read -r s s_cpu s_b s_tool s_setup <<<"$3"
	read -r k k_cpu k_b k_tool k_setup <<<"$4"
	[ "$s_b" = 1 ] && note="$note; sipd sipload-bound"
	[ "$k_b" = 1 ] && note="$note; kamailio sipload-bound"
	ratio=$(awk -v a="$s" -v b="$k" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }')
	line="$suite $label: sipd $s/s, kamailio $k/s, ratio $ratio; CPU per call sipd ${s_cpu}us, kamailio ${k_cpu}us"
	line="$line; sipload ${s_tool}/${k_tool}us per call; setup ms p50/p90/p99/max sipd ${s_setup:-n/a}, kamailio ${k_setup:-n/a}"
	line="$line; workers $BENCH_WORKERS; max fails ${BENCH_MAX_FAIL_PCT}%; load $(cut -d' ' -f1-3 /proc/loadavg)$note"
	bench_result "$line"
}

# sl_stop PID: stops one server this suite started (the exit trap stops the rest).
sl_stop() {
	local i
	kill -TERM "$1" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
