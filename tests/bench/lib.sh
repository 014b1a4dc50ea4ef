# Bench library sourced by tests/bench/suites/*.sh: build, start sipd and Kamailio, step SIPp rates.
#
# Knobs (environment):
#   BENCH_BUILD           build dir (default build-bench, Release)
#   BENCH_OUT             where result files go (default $BENCH_BUILD/bench-results)
#   BENCH_RATES           call rates to step through (calls/s)
#   BENCH_STEP_SECONDS    length of one step
#   BENCH_REFINE          bisection rounds between the last good and first bad rate
#   BENCH_SIPP_INSTANCES  SIPp processes sharing the load (SIPp is single-threaded)
#   BENCH_WORKERS         sipd workers and Kamailio children (default 2)
#   BENCH_RETRIES         reruns of a failing step before it counts as failed (other load on the box)
#   BENCH_SIPP_BUFFER     SIPp's socket buffers, so the generator is not the one dropping answers
#   KAMAILIO_MAXBUFFER    Kamailio's receive-buffer probing limit (default 8 MiB, sipd's own rcvbuf;
#                         set it empty for Kamailio's 256 KiB default)
#   KAMAILIO_SHM_MB       Kamailio's shared memory in MiB (default 1024: with 256 its transactions
#                         run out of memory above ~1 700 calls/s on this machine)

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC2034 # used by the suites
BENCH_DIR="$BENCH_ROOT/tests/bench"
BENCH_BUILD=${BENCH_BUILD:-$BENCH_ROOT/build-bench}
BENCH_OUT=${BENCH_OUT:-$BENCH_BUILD/bench-results}
BENCH_RATES=${BENCH_RATES:-"2000 4000 8000 16000 32000 64000"}
BENCH_STEP_SECONDS=${BENCH_STEP_SECONDS:-5}
BENCH_REFINE=${BENCH_REFINE:-3}
BENCH_SIPP_INSTANCES=${BENCH_SIPP_INSTANCES:-1}
BENCH_WORKERS=${BENCH_WORKERS:-2}
BENCH_RETRIES=${BENCH_RETRIES:-1}
BENCH_SIPP_BUFFER=${BENCH_SIPP_BUFFER:-8388608}
KAMAILIO_MAXBUFFER=${KAMAILIO_MAXBUFFER-8388608}
KAMAILIO_SHM_MB=${KAMAILIO_SHM_MB:-1024}
KAMAILIO_MODULES=${KAMAILIO_MODULES:-/usr/lib/x86_64-linux-gnu/kamailio/modules}

BENCH_TMP=$(mktemp -d /tmp/sipd-bench.XXXXXX)
BENCH_PIDS=()
BENCH_CLK_TCK=$(getconf CLK_TCK)

bench_log() {
	echo "[bench] $*" >&2
}

# Stops everything this run started, by PID: TERM, then KILL after 10 s.
bench_stop_all() {
	local pid i
	for pid in "${BENCH_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${BENCH_PIDS[@]}"; do
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			bench_log "pid $pid ignored SIGTERM: killing it"
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
	done
	BENCH_PIDS=()
	rm -rf "$BENCH_TMP"
}
trap bench_stop_all EXIT
trap 'exit 130' INT TERM

# bench_build TARGET...: configures build-bench as Release once, then builds the targets.
# Suites run at the same time share the build dir: a lock keeps their builds apart.
bench_build() {
	mkdir -p "$BENCH_BUILD"
	(
		flock -w 900 9 || { bench_log "build dir $BENCH_BUILD stayed locked"; exit 1; }
		if [ ! -f "$BENCH_BUILD/CMakeCache.txt" ]; then
			cmake -S "$BENCH_ROOT" -B "$BENCH_BUILD" -DCMAKE_BUILD_TYPE=Release -DSIPD_BUILD_TESTS=OFF \
				>"$BENCH_TMP/cmake.log" 2>&1 || { cat "$BENCH_TMP/cmake.log" >&2; exit 1; }
		fi
		cmake --build "$BENCH_BUILD" -j2 --target "$@" >"$BENCH_TMP/build.log" 2>&1 ||
			{ tail -30 "$BENCH_TMP/build.log" >&2; exit 1; }
	) 9>"$BENCH_BUILD/.bench-build.lock" || return 1
	mkdir -p "$BENCH_OUT"
}

# A loopback port free for UDP and TCP.
bench_free_port() {
	python3 -c "import sys; sys.path.insert(0, '$BENCH_ROOT/tests/integration'); \
from sipdtest import free_port; print(free_port())"
}

# bench_wait_sip HOST PORT [TRANSPORT]: waits (10 s at most) until an OPTIONS gets a final answer
# (udp, tcp), or until the port accepts a connection (port: for tls, ws and wss listeners).
bench_wait_sip() {
	python3 - "$1" "$2" "${3:-udp}" <<'EOF'
import socket, sys, time
sys.path.insert(0, sys.path[0] or ".")
host, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
req = (f"OPTIONS sip:{host}:{port} SIP/2.0\r\nVia: SIP/2.0/{proto.upper()} {host}:9;branch=z9hG4bKbench;rport\r\n"
       f"Max-Forwards: 70\r\nFrom: <sip:b@{host}>;tag=1\r\nTo: <sip:{host}>\r\nCall-ID: bench-probe\r\n"
       "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()
deadline = time.time() + 10
while time.time() < deadline:
    try:
        if proto == "port":
            socket.create_connection((host, port), timeout=0.3).close()
            sys.exit(0)
        if proto == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(0.3)
            s.sendto(req, (host, port))
            data = s.recv(65535)
        else:
            s = socket.create_connection((host, port), timeout=0.3)
            s.sendall(req)
            data = s.recv(65535)
        s.close()
        if data.startswith(b"SIP/2.0 "):
            sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

# bench_await NAME PID PORT LOG: adds the server just started to BENCH_PIDS and waits until it answers on PORT
# (bench_wait_sip with BENCH_PROBE_PROTO, default udp); on failure shows the end of its LOG and returns 1.
bench_await() {
	BENCH_PIDS+=("$2")
	if ! bench_wait_sip 127.0.0.1 "$3" "${BENCH_PROBE_PROTO:-udp}"; then
		bench_log "$1 did not answer on port $3:"
		tail -20 "$4" >&2
		return 1
	fi
	bench_log "$1 pid $2 on port $3"
}

# bench_options_routing: the stateless OPTIONS script of the options suites, sipdtest.py's OPTIONS_ROUTING (sanity
# and maxfwd first, then 200 to OPTIONS and 404 to everything else).
bench_options_routing() {
	python3 -c "import sys; sys.path.insert(0, '$BENCH_ROOT/tests/integration'); \
from sipdtest import OPTIONS_ROUTING; print(OPTIONS_ROUTING, end='')"
}

# bench_proxy_routing CALLEE: the stateful proxy of the call suites: sanity, maxfwd, in-dialog requests along
# the route, 200 to OPTIONS for the server itself, 481 to CANCEL, then record_route and relay to CALLEE: a URI
# (as $ru; $rU is the called user), or "lookup" (REGISTERs are saved, calls go to the callee's binding).
bench_proxy_routing() {
	local target="	\$ru = \"$1\";"
	[ "$1" = lookup ] && target='	if ($rm == "REGISTER") { save(); exit; }
	lookup();'
	cat <<EOF
request_route {
	sanity();
	maxfwd(70);
	if (has_to_tag()) { loose_route(); relay(); exit; }
	if (\$rm == "OPTIONS" && \$rU == "") { t_reply(200, "OK"); exit; }
	if (\$rm == "CANCEL") { t_reply(481, "Call/Transaction Does Not Exist"); exit; }
$target
	record_route();
	relay();
}
EOF
}

# bench_timer_routing UAS_PORT CHECK: the session-timer proxy of calls_session_timer and calls_webadmin: ACKs
# along the route, the CHECK line (session_timer_check() for INVITE and UPDATE, or nothing), in-dialog
# requests along the route, new calls record-routed to the SIPp UAS on UAS_PORT.
bench_timer_routing() {
	cat <<EOF
request_route {
	sanity();
	maxfwd(70);
	if (is_method("ACK")) { if (loose_route()) { relay(); } drop; }
	$2
	if (has_to_tag()) { loose_route(); relay(); exit; }
	\$ru = "sip:\$rU@127.0.0.1:$1";
	record_route();
	relay();
}
EOF
}

# bench_start_sipp_uas SCENARIO [TRANSPORT]: a SIPp UAS (tests/bench/SCENARIO, SIPp -t TRANSPORT, default u1)
# on a free port, stopped by the exit trap; sets UAS_PORT.
bench_start_sipp_uas() {
	UAS_PORT=$(bench_free_port)
	sipp -sf "$BENCH_DIR/$1" -i 127.0.0.1 -p "$UAS_PORT" ${2:+-t "$2"} -buff_size "$BENCH_SIPP_BUFFER" \
		-nostdin >"$BENCH_TMP/uas-$UAS_PORT.out" 2>&1 &
	BENCH_PIDS+=($!)
	sleep 0.5
}

# bench_start_sipd PORT ROUTING MODULE...: sipd with BENCH_WORKERS workers; sets SIPD_PID. A MODULE is a
# name, a name with parameters ("tcp:spread = false"), or a libconfig group with parameters.
# BENCH_SIPD_LISTEN overrides the listen list ({port} is replaced), e.g. '"tcp:127.0.0.1:{port}"'.
bench_start_sipd() {
	local port=$1 routing=$2 dir="$BENCH_TMP/sipd-$1" mods="" m listen
	shift 2
	mkdir -p "$dir"
	# A module is a name, or a whole group with its parameters: '{ name = "webadmin"; listen = [...]; }'.
	for m in "$@"; do
		case "$m" in
		"{"*) mods="$mods${mods:+, }$m" ;;
		# "name:key=value;key=value" passes module parameters (values as libconfig writes them).
		*:*) mods="$mods${mods:+, }{ name = \"${m%%:*}\"; ${m#*:}; }" ;;
		*) mods="$mods${mods:+, }{ name = \"$m\"; }" ;;
		esac
	done
	listen=${BENCH_SIPD_LISTEN:-'"udp:127.0.0.1:{port}"'}
	listen=${listen//\{port\}/$port}
	cat >"$dir/modules.conf" <<EOF
core = { listen = [ $listen ]; workers = $BENCH_WORKERS; routing = "routing.cfg";
	 database = "$dir/sipd.db"; log_level = "warn"; control_socket = "$dir/sipd.ctl"; };
modules = ( $mods );
EOF
	printf '%s\n' "$routing" >"$dir/routing.cfg"
	"$BENCH_BUILD/core/sipd" -D -f "$dir/modules.conf" -M "$BENCH_BUILD/modules" -S "$dir/sipd.ctl" \
		--db "$dir/sipd.db" >"$dir/sipd.log" 2>&1 &
	SIPD_PID=$!
	bench_await sipd "$SIPD_PID" "$port" "$dir/sipd.log"
}

# bench_start_kamailio CFG PORT LISTEN...: Kamailio with BENCH_WORKERS children; sets KAMAILIO_PID.
bench_start_kamailio() {
	local cfg=$1 port=$2 dir="$BENCH_TMP/kamailio-$2" args=() l
	shift 2
	mkdir -p "$dir"
	for l in "$@"; do
		args+=(-l "$l")
	done
	[ -n "${KAMAILIO_MAXBUFFER:-}" ] && args+=(-A "MAXBUFFER=$KAMAILIO_MAXBUFFER")
	kamailio -f "$cfg" -DD -E -n "$BENCH_WORKERS" -Y "$dir" -P "$dir/kamailio.pid" -w "$dir" \
		-L "$KAMAILIO_MODULES" -m "$KAMAILIO_SHM_MB" -M 16 "${args[@]}" >"$dir/kamailio.log" 2>&1 &
	KAMAILIO_PID=$!
	bench_await kamailio "$KAMAILIO_PID" "$port" "$dir/kamailio.log"
}

# CPU ticks (user + system) of a process and its children threads/processes.
bench_cpu_ticks() {
	local total=0 pid f
	for pid in "$1" $(pgrep -P "$1"); do
		f=$(cut -d')' -f2 "/proc/$pid/stat" 2>/dev/null) || continue
		# shellcheck disable=SC2086 # split the stat fields on purpose
		set -- $f
		total=$((total + ${12} + ${13}))
	done
	echo "$total"
}

# bench_busiest_share PID: the busiest worker thread's share of all worker CPU so far, in percent. With every
# message on the connection's worker it is 100; spread evenly over two, near 50. Unlike calls/s, this does
# not depend on the load generator keeping up.
bench_busiest_share() {
	local f total=0 max=0 t
	for f in /proc/"$1"/task/*; do
		grep -q '^sipd-w' "$f/comm" 2>/dev/null || continue
		t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "$f/stat")
		total=$((total + t))
		[ "$t" -gt "$max" ] && max=$t
	done
	[ "$total" -gt 0 ] && echo $((max * 100 / total)) || echo 0
}

# System-wide UDP datagrams the kernel dropped for a full receive buffer (either side's).
bench_udp_drops() {
	awk '/^Udp:/ { if (!n) { for (i = 1; i <= NF; i++) col[$i] = i; n = 1 } else print $col["RcvbufErrors"] }' \
		/proc/net/snmp
}

# Datagrams dropped so far by the sockets bound to PORT (the server's share of the drops).
bench_udp_port_drops() {
	local hex
	hex=$(printf '%04X' "$1")
	cat /proc/net/udp /proc/net/udp6 2>/dev/null |
		awk -v p=":$hex" 'NR > 1 && substr($2, length($2) - 4) == p { d += $NF } END { print d + 0 }'
}

# bench_sipp_step PORT RATE SCENARIO: one step with BENCH_SIPP_INSTANCES SIPp processes
# sharing RATE. Prints "achieved_rate failed_calls successful_calls". BENCH_SIPP_ARGS adds options (-t t1).
bench_sipp_step() {
	local port=$1 rate=$2 scenario=$3 n=$BENCH_SIPP_INSTANCES i per calls lport pids=() stat
	local -a stats=()
	per=$(((rate + n - 1) / n))
	calls=$((per * BENCH_STEP_SECONDS))
	for ((i = 0; i < n; i++)); do
		lport=$(bench_free_port)
		stat="$BENCH_TMP/sipp-$port-$rate-$i.csv"
		rm -f "$stat"
		stats+=("$stat")
		# shellcheck disable=SC2086 # BENCH_SIPP_ARGS holds several options
		timeout -k 5 $((BENCH_STEP_SECONDS + 40)) sipp "127.0.0.1:$port" -sf "$scenario" -i 127.0.0.1 \
			-p "$lport" -r "$per" -rp 1000 -m "$calls" -l $((per * 4 + 100)) \
			-timeout $((BENCH_STEP_SECONDS + 30))s -buff_size "$BENCH_SIPP_BUFFER" \
			-trace_stat -stf "$stat" -fd 1 -nostdin \
			${BENCH_SIPP_ARGS:-} >"$BENCH_TMP/sipp-$i.out" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	# Fields of SIPp's stat CSV: 8 CallRate(C), 16 SuccessfulCall(C), 18 FailedCall(C).
	for stat in "${stats[@]}"; do
		if [ -s "$stat" ]; then
			tail -1 "$stat"
		else
			echo "x;x;x;x;x;x;x;0;x;x;x;x;x;x;x;0;x;$calls"
		fi
	done | awk -F';' '{ rate += $8; ok += $16; failed += $18 } END { printf "%d %d %d\n", rate, failed, ok }'
}

# bench_retry FAILS_VAR STEP ARGS...: runs "STEP ARGS..." until it passes, at most 1 + BENCH_RETRIES times (other
# load on the box); a step that failed with the variable FAILS_VAR at 0 (no failed calls, only under the asked
# rate: the generator's limit) is not rerun.
bench_retry() {
	local fails_var=$1 try
	shift
	for ((try = 0; try <= BENCH_RETRIES; try++)); do
		"$@" && return 0
		[ "${!fails_var}" -eq 0 ] && return 1
	done
	return 1
}

# bench_ladder FAILS_VAR KEEP SEEN STEP ARGS...: the rate search of the find_max functions. Runs
# "STEP RATE ARGS..." (through bench_retry) for each of BENCH_RATES until one fails, then bisects BENCH_REFINE
# rounds between the last good and the first bad rate (down to 5 %); KEEP runs after each good step, SEEN after
# every step (":" for nothing). A first failing step with FAILS_VAR at 0 means the generator was the limit:
# bound=1 and no bisection. Sets the caller's rate (the step's rate, for KEEP) and bound (bash's dynamic
# scope; KEEP may set bound=1 too).
bench_ladder() {
	local fails_var=$1 keep=$2 seen=$3 good=0 bad=0 round
	shift 3
	for rate in $BENCH_RATES; do
		if ! bench_ladder_step "$@"; then
			$seen
			[ "${!fails_var}" -eq 0 ] && bound=1
			break
		fi
		$seen
	done
	if [ "$bad" -gt 0 ] && [ "$bound" -eq 0 ]; then
		for ((round = 0; round < BENCH_REFINE; round++)); do
			rate=$(((good + bad) / 2))
			[ $((bad - rate)) -lt $((bad / 20 + 1)) ] && break
			bench_ladder_step "$@"
			$seen
		done
	fi
}

# bench_ladder_step STEP ARGS...: bench_ladder's step at $rate: moves good (and runs KEEP) or bad.
bench_ladder_step() {
	if bench_retry "$fails_var" "$1" "$rate" "${@:2}"; then
		good=$rate
		$keep
		return 0
	fi
	bad=$rate
	return 1
}

# bench_find_max SUITE NAME PORT PID SCENARIO: steps BENCH_RATES up until a step fails
# (failed calls, or under 90% of the asked rate), refines by bisection, and prints
# "best_rate cpu_us_per_call generator_bound(0/1)". Each step is logged to $BENCH_OUT/SUITE.log.
bench_find_max() {
	local suite=$1 name=$2 port=$3 pid=$4 scenario=$5 log="$BENCH_OUT/$1.log"
	local best=0 best_cpu=0 rate ach failed ok t0 t1 d0 d1 s0 s1 cpu bound=0

	step_once() {
		t0=$(bench_cpu_ticks "$pid")
		d0=$(bench_udp_drops)
		s0=$(bench_udp_port_drops "$port")
		read -r ach failed ok < <(bench_sipp_step "$port" "$1" "$scenario")
		t1=$(bench_cpu_ticks "$pid")
		d1=$(bench_udp_drops)
		s1=$(bench_udp_port_drops "$port")
		cpu=0
		[ "$ok" -gt 0 ] && cpu=$(((t1 - t0) * 1000000 / BENCH_CLK_TCK / ok))
		echo "$(date +%T) $suite $name rate=$1 achieved=$ach failed=$failed ok=$ok cpu_us_per_call=$cpu drops_server=$((s1 - s0)) drops_all=$((d1 - d0))" |
			tee -a "$log" >&2
		sleep 1
		[ "$failed" -eq 0 ] && [ $((ach * 10)) -ge $(($1 * 9)) ]
	}
	keep() {
		if [ "$ach" -gt "$best" ]; then best=$ach best_cpu=$cpu; fi
	}
	bench_ladder failed keep : step_once
	echo "$best $best_cpu $bound"
}

# bench_result LINE: prints a suite's result line and keeps it, dated, in $BENCH_OUT/results.txt.
bench_result() {
	echo "$1"
	echo "$(date '+%F %T') $1" >>"$BENCH_OUT/results.txt"
}

# bench_report SUITE SIPD_RESULT KAMAILIO_RESULT: prints and records the comparison line.
bench_report() {
	local suite=$1 s s_cpu s_bound k k_cpu k_bound note="" ratio line
	read -r s s_cpu s_bound <<<"$2"
	read -r k k_cpu k_bound <<<"$3"
	[ "$s_bound" = 1 ] && note="$note; sipd SIPp-bound"
	[ "$k_bound" = 1 ] && note="$note; kamailio SIPp-bound"
	[ -n "${KAMAILIO_MAXBUFFER:-}" ] && note="$note; kamailio maxbuffer=$KAMAILIO_MAXBUFFER"
	ratio=$(awk -v a="$s" -v b="$k" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }')
	line="$suite: sipd $s/s, kamailio $k/s, ratio $ratio; CPU per call sipd ${s_cpu}us, kamailio ${k_cpu}us"
	line="$line; SIPp instances $BENCH_SIPP_INSTANCES, workers $BENCH_WORKERS$note"
	bench_result "$line"
}
