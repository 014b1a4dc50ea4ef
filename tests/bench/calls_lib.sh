# Shared by suites/calls_udp.sh and calls_tcp.sh (sourced after lib.sh): a SIPp UAS per server,
# sipd with tm and Kamailio with tm + rr relaying SIPp UAC calls to it.
# Extra knobs: BENCH_CALL_RATES (default 1000 2000 4000 6000 8000 10000), BENCH_LATENCY=0 skips the
# INVITE->180 latency (p50/p99) measured for each server at half of sipd's maximum rate (the same
# offered load) and at half of its own maximum.

# calls_start_uas PROTO: a SIPp UAS on a free port; sets UAS_PORT.
calls_start_uas() {
	local t=u1
	[ "$1" = tcp ] && t=t1
	bench_start_sipp_uas uas_call.xml "$t"
}

# calls_latency PORT RATE: "p50 p99 failed" of INVITE->180 (SIPp rtd 1) in ms over one step at RATE.
calls_latency() {
	local port=$1 rate=$2 dir="$BENCH_TMP/rtt-$1" t=u1 failed
	[ "$BENCH_CALL_PROTO" = tcp ] && t=t1
	rm -rf "$dir" && mkdir -p "$dir"
	(cd "$dir" && timeout -k 5 $((BENCH_STEP_SECONDS + 40)) sipp "127.0.0.1:$port" -sf "$BENCH_DIR/uac_call.xml" \
		-s callee -i 127.0.0.1 -p "$(bench_free_port)" -t "$t" -r "$rate" -m $((rate * BENCH_STEP_SECONDS)) \
		-buff_size "$BENCH_SIPP_BUFFER" -trace_rtt -rtt_freq 100 -trace_stat -stf stat.csv -nostdin >/dev/null 2>&1)
	# A call that never got its 180 has no sample: its count (SIPp's FailedCall) goes with the percentiles.
	failed=$(tail -1 "$dir/stat.csv" 2>/dev/null | awk -F';' '{ print $18 + 0 }')
	cat "$dir"/*_rtt.csv 2>/dev/null | awk -F';' 'FNR > 1 { print $2 }' | sort -g |
		awk -v f="${failed:-0}" 'function at(q, i) { i = int(NR * q + 0.5); if (i < 1) i = 1; return v[i] }
			{ v[NR] = $1 } END { if (NR) printf "%.2f %.2f %d\n", at(0.5), at(0.99), f; else print "n/a n/a " f }'
}

# calls_latency_log SUITE NAME PORT RATE WHY: measures calls_latency, logs it and prints "p50/p99 ms at RATE/s".
calls_latency_log() {
	local p50 p99 failed
	read -r p50 p99 failed < <(calls_latency "$3" "$4")
	bench_log "$1 $2 INVITE->180 at $4 calls/s ($5): p50 $p50 ms, p99 $p99 ms, $failed failed calls"
	echo "$p50/$p99 ms at $4/s ($failed failed)"
}

calls_suite() {
	local suite=$1 proto=$2 servers=${BENCH_SERVERS:-sipd kamailio} sipd="0 0 0" kam="0 0 0" port half=0 khalf
	local lat_sipd=n/a lat_kam_same=n/a lat_kam_own=n/a
	BENCH_CALL_PROTO=$proto
	BENCH_RATES=${BENCH_CALL_RATES:-"1000 2000 4000 6000 8000 10000"}
	if [ "$proto" = tcp ]; then
		BENCH_SIPP_ARGS="-s callee -t t1"
		BENCH_PROBE_PROTO=tcp
	else
		BENCH_SIPP_ARGS="-s callee"
	fi
	# A bench tree configured before tm existed has no target for it yet.
	if [ -f "$BENCH_BUILD/CMakeCache.txt" ] && [ ! -d "$BENCH_BUILD/modules/tm" ]; then
		cmake -S "$BENCH_ROOT" -B "$BENCH_BUILD" >"$BENCH_TMP/cmake.log" 2>&1 || return 1
	fi
	bench_build sipd sipctl parser udp tcp sanity maxfwd tm || return 1
	if [[ " $servers " == *" sipd "* ]]; then
		calls_start_uas "$proto"
		port=$(bench_free_port)
		BENCH_SIPD_LISTEN="\"$proto:127.0.0.1:{port}\"" bench_start_sipd "$port" \
			"$(bench_proxy_routing "sip:\$rU@127.0.0.1:$UAS_PORT$([ "$proto" = tcp ] && echo ';transport=tcp')")" \
			parser udp tcp sanity maxfwd tm || return 1
		sipd=$(bench_find_max "$suite" sipd "$port" "$SIPD_PID" "$BENCH_DIR/uac_call.xml")
		half=$(($(echo "$sipd" | cut -d' ' -f1) / 2))
		[ "${BENCH_LATENCY:-1}" = 1 ] && [ "$half" -gt 0 ] &&
			lat_sipd=$(calls_latency_log "$suite" sipd "$port" "$half" "half of its maximum")
	fi
	if [[ " $servers " == *" kamailio "* ]]; then
		calls_start_uas "$proto"
		port=$(bench_free_port)
		# The UAS port goes into a copy of the config (bench_start_kamailio passes only listen addresses).
		{
			[ "$proto" = tcp ] && echo '#!define UASTCP'
			sed "s/UASPORT/$UAS_PORT/" "$BENCH_DIR/kamailio/calls.cfg" | grep -v '^#!KAMAILIO'
		} >"$BENCH_TMP/calls-$port.cfg"
		sed -i '1i #!KAMAILIO' "$BENCH_TMP/calls-$port.cfg"
		bench_start_kamailio "$BENCH_TMP/calls-$port.cfg" "$port" "$proto:127.0.0.1:$port" || return 1
		kam=$(bench_find_max "$suite" kamailio "$port" "$KAMAILIO_PID" "$BENCH_DIR/uac_call.xml")
		khalf=$(($(echo "$kam" | cut -d' ' -f1) / 2))
		if [ "${BENCH_LATENCY:-1}" = 1 ]; then
			[ "$half" -gt 0 ] &&
				lat_kam_same=$(calls_latency_log "$suite" kamailio "$port" "$half" "half of sipd's maximum")
			[ "$khalf" -gt 0 ] &&
				lat_kam_own=$(calls_latency_log "$suite" kamailio "$port" "$khalf" "half of its maximum")
		fi
	fi
	echo "$suite: INVITE->180 p50/p99 at half load: sipd $lat_sipd; kamailio $lat_kam_same, $lat_kam_own"
	bench_report "$suite" "$sipd" "$kam"
}
