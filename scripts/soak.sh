#!/usr/bin/env bash
# soak.sh: a long run at a steady call + registration load (not part of test.sh). sipd (Release,
# build-bench) with the proxy modules, auth_db, registrar and session_timer; SIPp places calls
# (uac_call.xml -> uas_call.xml, session timers inserted by sipd) and authenticated registrations
# (register_auth_uac.xml) at fixed rates, while RSS, open fds, live dialogs, transactions and
# bindings are sampled. Prints the samples as CSV (also in $BENCH_OUT/soak-*.csv) and a verdict:
# growth after warm-up, failed calls/registrations and the INVITE->180 latency (p50/p99/p99.9, SIPp rtd)
# before and after the warm-up.
# Knobs (environment):
#   SOAK_SECONDS     length of the run (default 1800)
#   SOAK_CALL_RATE   calls/s (default 1500) and SOAK_REG_RATE registrations/s (default 1000): set them to
#                    half the maxima scripts/bench.sh measures on your machine (calls_udp, register_auth)
#   SOAK_SAMPLE      seconds between samples (default 10); SOAK_WARMUP seconds not judged (default 420)
#   SOAK_SESSION_EXPIRES  session_timer's session_expires (default 300), asked of the UAS
#   SOAK_UNTIMED_LIFETIME session_timer's untimed_lifetime (default: SOAK_SESSION_EXPIRES). SIPp's UAC has no
#                    timer support, so its sessions are untimed: one whose BYE is lost stays a dialog that
#                    long, and the dialog count levels off only after that
#   SOAK_USERS       users registering (default 2000)
#   SOAK_PERSIST     session_timer's persist parameter (default true: sessions written to the database)
set -u
. "$(dirname "$0")/../tests/bench/lib.sh"

SECONDS_TOTAL=${SOAK_SECONDS:-1800}
CALL_RATE=${SOAK_CALL_RATE:-1500}
REG_RATE=${SOAK_REG_RATE:-1000}
SAMPLE=${SOAK_SAMPLE:-10}
WARMUP=${SOAK_WARMUP:-420}
SESSION_EXPIRES=${SOAK_SESSION_EXPIRES:-300}
UNTIMED_LIFETIME=${SOAK_UNTIMED_LIFETIME:-$SESSION_EXPIRES}
USERS=${SOAK_USERS:-2000}
PERSIST=${SOAK_PERSIST:-true}

bench_build sipd sipctl parser udp sanity maxfwd tm auth_db registrar session_timer || exit 1

uas=$(bench_free_port)
# -trace_err: what reached the callee out of place (an ACK after its BYE, say), summed up at the end.
mkdir -p "$BENCH_TMP/uas"
(cd "$BENCH_TMP/uas" && exec sipp -sf "$BENCH_DIR/uas_call.xml" -i 127.0.0.1 -p "$uas" -buff_size "$BENCH_SIPP_BUFFER" \
	-nostdin -trace_err >"$BENCH_TMP/uas.out" 2>&1) &
BENCH_PIDS+=($!)

port=$(bench_free_port)
dir="$BENCH_TMP/sipd-$port"
mkdir -p "$dir"
cat >"$dir/modules.conf" <<EOF
core = { listen = [ "udp:127.0.0.1:$port" ]; workers = $BENCH_WORKERS; routing = "routing.cfg";
	 database = "$dir/sipd.db"; log_level = "warn"; control_socket = "$dir/sipd.ctl"; };
modules = ( { name = "parser"; }, { name = "udp"; }, { name = "sanity"; }, { name = "maxfwd"; },
	    { name = "tm"; }, { name = "auth_db"; realm = "sipd"; algorithms = [ "MD5" ]; },
	    { name = "registrar"; max_expires = 7200; },
	    { name = "session_timer"; policy = "supported"; persist = $PERSIST; session_expires = $SESSION_EXPIRES;
	      untimed_lifetime = $UNTIMED_LIFETIME; } );
EOF
# Registrations are authenticated; calls go to the SIPp UAS unauthenticated (the load is the proxy's).
cat >"$dir/routing.cfg" <<EOF
request_route {
	sanity();
	maxfwd(70);
	if (is_method("ACK")) { if (loose_route()) { relay(); } drop; }
	if (is_method("INVITE|UPDATE")) { session_timer_check(); }
	if (has_to_tag()) { loose_route(); relay(); exit; }
	if (\$rm == "REGISTER") { auth_check(); save(); exit; }
	\$ru = "sip:\$rU@127.0.0.1:$uas";
	record_route();
	relay();
}
EOF
"$BENCH_BUILD/core/sipd" -D -f "$dir/modules.conf" -M "$BENCH_BUILD/modules" -S "$dir/sipd.ctl" \
	--db "$dir/sipd.db" >"$dir/sipd.log" 2>&1 &
SIPD_PID=$!
BENCH_PIDS+=("$SIPD_PID")
bench_wait_sip 127.0.0.1 "$port" udp || { tail -20 "$dir/sipd.log" >&2; exit 1; }
ctl() { "$BENCH_BUILD/core/sipctl" -S "$dir/sipd.ctl" "$@"; }

csv="$BENCH_TMP/users.csv"
echo SEQUENTIAL >"$csv"
for ((i = 0; i < USERS; i++)); do
	ctl users add "soak$i" "pw$i" >/dev/null || exit 1
	echo "soak$i;[authentication username=soak$i password=pw$i]" >>"$csv"
done
bench_log "sipd pid $SIPD_PID on port $port, $USERS users; $CALL_RATE calls/s + $REG_RATE registrations/s for ${SECONDS_TOTAL}s"

# sipp_run NAME RATE SCENARIO ARGS...: a SIPp client for the whole run, its final stats in NAME.out.
sipp_run() {
	local name=$1 rate=$2 scenario=$3
	shift 3
	mkdir -p "$BENCH_TMP/$name"
	(cd "$BENCH_TMP/$name" && exec timeout -k 5 $((SECONDS_TOTAL + 60)) sipp "127.0.0.1:$port" -sf "$scenario" \
		-i 127.0.0.1 -p "$(bench_free_port)" -r "$rate" -m $((rate * SECONDS_TOTAL)) -l $((rate * 4 + 100)) \
		-timeout $((SECONDS_TOTAL + 30))s -buff_size "$BENCH_SIPP_BUFFER" -nostdin "$@" \
		>"$BENCH_TMP/$name.out" 2>&1) &
	BENCH_PIDS+=($!)
	eval "${name}_pid=$!"
}
# Every call's INVITE->180 time (rtd 1) goes to calls/*_rtt.csv: Date_ms;response_time_ms;rtd_no.
# Every failure's reason goes to NAME/*_errors.log (-trace_err), summed up at the end.
sipp_run calls "$CALL_RATE" "$BENCH_DIR/uac_call.xml" -s callee -trace_rtt -rtt_freq 100 -trace_err
sipp_run regs "$REG_RATE" "$BENCH_DIR/register_auth_uac.xml" -inf "$csv" -trace_err

out="$BENCH_OUT/soak-$(date -u +%Y%m%dT%H%M%SZ).csv"
echo "seconds,rss_kib,fds,dialogs,transactions,bindings" | tee "$out"
t0=$SECONDS
while kill -0 "$calls_pid" 2>/dev/null || kill -0 "$regs_pid" 2>/dev/null; do
	sleep "$SAMPLE"
	kill -0 "$SIPD_PID" 2>/dev/null || { bench_log "sipd died"; tail -20 "$dir/sipd.log" >&2; exit 1; }
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SIPD_PID/status")
	fds=$(ls "/proc/$SIPD_PID/fd" | wc -l)
	stats=$(ctl -j stats)
	read -r dialogs trans bindings < <(python3 -c '
import json, sys
s = json.loads(sys.argv[1])
print(s.get("session_timer.active", 0), s.get("tm.current", 0), s.get("registrar.bindings", 0))' "$stats")
	echo "$((SECONDS - t0)),$rss,$fds,$dialogs,$trans,$bindings" | tee -a "$out"
done
wait "$calls_pid" "$regs_pid" 2>/dev/null

# The verdict: RSS and fds after warm-up (the first sample past it against the maximum after it),
# and the generators' own failures.
failed_calls=$(grep -E "Failed call" "$BENCH_TMP/calls.out" | tail -1 | awk -F'|' '{ gsub(/ /, "", $3); print $3 }')
failed_regs=$(grep -E "Failed call" "$BENCH_TMP/regs.out" | tail -1 | awk -F'|' '{ gsub(/ /, "", $3); print $3 }')
ok_calls=$(grep -E "Successful call" "$BENCH_TMP/calls.out" | tail -1 | awk -F'|' '{ gsub(/ /, "", $3); print $3 }')
ok_regs=$(grep -E "Successful call" "$BENCH_TMP/regs.out" | tail -1 | awk -F'|' '{ gsub(/ /, "", $3); print $3 }')
python3 - "$out" "$WARMUP" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if int(r["seconds"]) >= int(sys.argv[2])]
if len(rows) < 2:
    print("soak: run shorter than the warm-up, no verdict")
    sys.exit(0)
for k in ("rss_kib", "fds", "dialogs", "transactions"):
    first, peak, last = int(rows[0][k]), max(int(r[k]) for r in rows), int(rows[-1][k])
    print(f"soak: {k}: after warm-up {first}, peak {peak}, last {last} ({(last - first) * 100 / max(first, 1):+.1f} %)")
PY
echo "soak: calls ok ${ok_calls:-?} failed ${failed_calls:-?}; registrations ok ${ok_regs:-?} failed ${failed_regs:-?}"
# What SIPp said of each failure, by kind (the Call-ID left out), most frequent first; the callee's
# ("uas") are messages it did not expect, which fail no call (SIPp's UAS ignores them).
for name in calls regs uas; do
	cat "$BENCH_TMP/$name"/*_errors.log 2>/dev/null | python3 -c '
import collections, re, sys
kinds = collections.Counter()
for line in sys.stdin:
    # An entry starts with its date and time; the message it quotes follows on lines of its own.
    if re.match(r"\d{4}-\d\d-\d\d\s", line):
        line = re.sub(r"^.*?: ", "", line, count=1)  # the time stamps
        kinds[re.sub(r"\x27[^\x27]*@[^\x27]*\x27|[0-9]+-[0-9]+@[^ ,]+", "<call-id>", line.strip())[:200]] += 1
what = "unexpected at the callee" if sys.argv[1] == "uas" else sys.argv[1] + " failure"
for kind, n in kinds.most_common(8):
    print(f"soak: {what} x{n}: {kind}")' "$name"
done
cat "$BENCH_TMP"/calls/*_rtt.csv 2>/dev/null | python3 -c '
import sys
warmup_ms = int(sys.argv[1]) * 1000
rows = [l.split(";") for l in sys.stdin if l[:1].isdigit()]
if not rows:
    print("soak: no INVITE->180 samples")
    sys.exit(0)
t0 = float(rows[0][0])
def line(name, v):
    v.sort()
    pick = lambda q: v[min(len(v) - 1, int(len(v) * q))]
    return f"soak: INVITE->180 {name}: {len(v)} calls, p50 {pick(0.5):.2f} ms, p99 {pick(0.99):.2f} ms, p99.9 {pick(0.999):.2f} ms, max {v[-1]:.2f} ms"
before = [float(r[1]) for r in rows if float(r[0]) - t0 < warmup_ms]
after = [float(r[1]) for r in rows if float(r[0]) - t0 >= warmup_ms]
for name, v in (("during warm-up", before), ("after warm-up", after)):
    if v:
        print(line(name, v))' "$WARMUP"
# Where failures come from on sipd's side: load shedding, DB jobs, retransmissions, transport errors.
ctl -j stats | python3 -c '
import json, sys
s = json.load(sys.stdin)
keys = ("registrar.overload_503", "registrar.accepted", "db.jobs", "db.batches", "db.failed_jobs",
        "tm.retransmissions", "tm.timeouts", "auth_db.stale", "auth_db.replays", "auth_db.forbidden",
        "auth_db.guard_refused", "udp.rx_errors", "udp.tx_errors")
print("soak: sipd " + ", ".join(f"{k} {s[k]}" for k in keys if k in s))'

echo "soak: samples in $out"
