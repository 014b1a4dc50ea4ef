# Shared by suites/calls_udp.sh and calls_tcp.sh (sourced after lib.sh): a SIPp UAS per server,
# sipd with tm and Kamailio with tm + rr relaying SIPp UAC calls to it.
# Extra knobs: BENCH_CALL_RATES (default 1000 2000 4000 6000 8000 10000), BENCH_LATENCY=0 skips the
# p99 INVITE->180 measure at half of sipd's maximum rate.

# calls_start_uas PROTO: a SIPp UAS on a free port; sets UAS_PORT.
calls_start_uas() {
	local t=u1
	[ "$1" = tcp ] && t=t1
	bench_start_sipp_uas uas_call.xml "$t"
}

# calls_p99 PORT RATE: p99 INVITE->180 (SIPp rtd 1) in ms over one step at RATE.
calls_p99() {
	local port=$1 rate=$2 dir="$BENCH_TMP/rtt-$1" t=u1
	[ "$BENCH_CALL_PROTO" = tcp ] && t=t1
	mkdir -p "$dir"
	(cd "$dir" && timeout -k 5 $((BENCH_STEP_SECONDS + 40)) sipp "127.0.0.1:$port" -sf "$BENCH_DIR/uac_call.xml" \
		-s callee -i 127.0.0.1 -p "$(bench_free_port)" -t "$t" -r "$rate" -m $((rate * BENCH_STEP_SECONDS)) \
		-buff_size "$BENCH_SIPP_BUFFER" -trace_rtt -rtt_freq 100 -nostdin >/dev/null 2>&1)
	cat "$dir"/*_rtt.csv 2>/dev/null | awk -F';' 'FNR > 1 { print $2 }' | sort -g |
		awk '{ v[NR] = $1 } END { i = int(NR * 0.99 + 0.5); if (i < 1) i = 1; if (NR) printf "%.2f", v[i]; else print "n/a" }'
}

calls_suite() {
	local suite=$1 proto=$2 servers=${BENCH_SERVERS:-sipd kamailio} sipd="0 0 0" kam="0 0 0" port half p99=n/a
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
		if [ "${BENCH_LATENCY:-1}" = 1 ] && [ "$half" -gt 0 ]; then
			p99=$(calls_p99 "$port" "$half")
			bench_log "$suite sipd p99 INVITE->180 at $half calls/s: $p99 ms"
		fi
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
	fi
	echo "$suite: sipd p99 INVITE->180 at half its maximum rate: $p99 ms"
	bench_report "$suite" "$sipd" "$kam"
}
