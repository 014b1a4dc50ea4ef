#!/bin/bash
# calls_tls: stateful calls over TLS, sipd (tls module) vs Kamailio (tls module), over one TLS connection
# each side (SIPp -t t1) and one per call (-t tn). Debian's SIPp is built without OpenSSL, so stunnel
# turns SIPp's TCP into TLS on both sides:
#   SIPp UAC (tcp) -> stunnel client -> TLS -> server -> TLS -> stunnel server -> SIPp UAS (tcp)
# stunnel takes CPU of its own on the same cores: the calls/s are a floor, CPU per call (of the server
# process only) is the figure to compare. Needs stunnel4 (scripts/setup.sh test_packages).
set -u
. "$(dirname "$0")/../lib.sh"
. "$BENCH_DIR/calls_lib.sh"

command -v stunnel4 >/dev/null || { echo "calls_tls: stunnel4 is missing (apt-get install stunnel4)"; exit 1; }
bench_build sipd sipctl parser udp tcp tls sanity maxfwd tm || exit 1
BENCH_RATES_T1=${BENCH_RATES_T1:-"250 500 1000 2000 3000 4000"}
BENCH_RATES_TN=${BENCH_RATES_TN:-"25 50 100 150 200 300"}
servers=${BENCH_SERVERS:-sipd kamailio}

pki="$BENCH_TMP/pki"
mkdir -p "$pki"
(cd "$pki" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout key.pem -out cert.pem) >/dev/null 2>&1 ||
	{ bench_log "openssl could not make the certificate"; exit 1; }

# stunnel_start NAME SECTION_TEXT: a foreground stunnel4 with one service.
stunnel_start() {
	local conf="$BENCH_TMP/stunnel-$1.conf"
	printf 'foreground = yes\npid =\nsyslog = no\ndebug = 3\noutput = %s\n\n[%s]\n%s\n' \
		"$BENCH_TMP/stunnel-$1.log" "$1" "$2" >"$conf"
	stunnel4 "$conf" >/dev/null 2>&1 &
	BENCH_PIDS+=($!)
	sleep 0.3
}

# A SIPp UAS over TCP behind a TLS front; sets UAS_TLS_PORT.
tls_uas() {
	calls_start_uas tcp
	UAS_TLS_PORT=$(bench_free_port)
	stunnel_start "uas$UAS_TLS_PORT" "accept = 127.0.0.1:$UAS_TLS_PORT
connect = 127.0.0.1:$UAS_PORT
cert = $pki/cert.pem
key = $pki/key.pem"
}

# A TCP port SIPp's UAC connects to, carried over TLS to the server's port; sets FRONT_PORT.
tls_front() {
	FRONT_PORT=$(bench_free_port)
	stunnel_start "uac$FRONT_PORT" "client = yes
accept = 127.0.0.1:$FRONT_PORT
connect = 127.0.0.1:$1
verifyChain = no"
}

export BENCH_PROBE_PROTO=tcp
declare -A result
for srv in $servers; do
	tls_uas
	port=$(bench_free_port)
	if [ "$srv" = sipd ]; then
		dir="$BENCH_TMP/sipd-$port"
		mkdir -p "$dir"
		cat >"$dir/modules.conf" <<CONF
core = { listen = [ "tls:127.0.0.1:$port" ]; workers = $BENCH_WORKERS; routing = "routing.cfg";
	 database = "$dir/sipd.db"; log_level = "warn"; control_socket = "$dir/sipd.ctl"; };
modules = ( { name = "parser"; }, { name = "udp"; }, { name = "tcp"; max_connections_per_ip = 65536; },
	{ name = "tls"; certificate = "$pki/cert.pem"; private_key = "$pki/key.pem"; verify_server = false; },
	{ name = "sanity"; }, { name = "maxfwd"; }, { name = "tm"; } );
CONF
		cat >"$dir/routing.cfg" <<CONF
request_route {
	sanity();
	maxfwd(70);
	if (has_to_tag()) { loose_route(); relay(); exit; }
	if (\$rm == "OPTIONS" && \$rU == "") { t_reply(200, "OK"); exit; }
	if (\$rm == "CANCEL") { t_reply(481, "Call/Transaction Does Not Exist"); exit; }
	\$ru = "sip:\$rU@127.0.0.1:$UAS_TLS_PORT;transport=tls";
	record_route();
	relay();
}
CONF
		"$BENCH_BUILD/core/sipd" -D -f "$dir/modules.conf" -M "$BENCH_BUILD/modules" -S "$dir/sipd.ctl" \
			--db "$dir/sipd.db" >"$dir/sipd.log" 2>&1 &
		pid=$!
	else
		dir="$BENCH_TMP/kamailio-$port"
		mkdir -p "$dir"
		printf '[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\nprivate_key = %s\ncertificate = %s\n\n[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n' \
			"$pki/key.pem" "$pki/cert.pem" >"$dir/tls.cfg"
		sed -e "s/UASPORT/$UAS_TLS_PORT/" -e "s#TLSCFG#$dir/tls.cfg#" "$BENCH_DIR/kamailio/calls_tls.cfg" \
			>"$dir/kamailio.cfg"
		args=(-l "tls:127.0.0.1:$port")
		[ -n "${KAMAILIO_MAXBUFFER:-}" ] && args+=(-A "MAXBUFFER=$KAMAILIO_MAXBUFFER")
		kamailio -f "$dir/kamailio.cfg" -DD -E -n "$BENCH_WORKERS" -Y "$dir" -P "$dir/kamailio.pid" -w "$dir" \
			-L "$KAMAILIO_MODULES" -m "$KAMAILIO_SHM_MB" -M 16 "${args[@]}" >"$dir/kamailio.log" 2>&1 &
		pid=$!
	fi
	BENCH_PIDS+=("$pid")
	tls_front "$port"
	if ! bench_wait_sip 127.0.0.1 "$FRONT_PORT" tcp; then
		bench_log "$srv did not answer over TLS on $port:"
		tail -20 "$dir"/*.log >&2
		exit 1
	fi
	bench_log "$srv pid $pid: TLS on $port, SIPp enters at $FRONT_PORT, UAS behind $UAS_TLS_PORT"
	for mode in t1 tn; do
		BENCH_CALL_PROTO=tcp
		BENCH_SIPP_ARGS="-s callee -t $mode"
		[ "$mode" = tn ] && BENCH_SIPP_ARGS="$BENCH_SIPP_ARGS -max_socket 15000"
		if [ "$mode" = t1 ]; then BENCH_RATES=$BENCH_RATES_T1; else BENCH_RATES=$BENCH_RATES_TN; fi
		result[$srv-$mode]=$(bench_find_max "calls_tls_$mode" "$srv" "$FRONT_PORT" "$pid" "$BENCH_DIR/uac_call.xml")
	done
done
lines=()
for mode in t1 tn; do
	lines+=("$(bench_report "calls_tls_$mode" "${result[sipd-$mode]:-0 0 0}" "${result[kamailio-$mode]:-0 0 0}")")
	echo "${lines[-1]}"
done
echo "calls_tls: ${lines[0]#calls_tls_t1: } | tn: ${lines[1]#calls_tls_tn: } (stunnel in front of SIPp on both sides)"
