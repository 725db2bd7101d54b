#!/usr/bin/env bash
# tapstack-stat against a real tapstack-httpd on a tap:
#  - with no stack: one line and how to start one; bad flags: one line, exit 2;
#  - the stack's sockets held on purpose in LISTEN, ESTABLISHED, CLOSE_WAIT, FIN_WAIT2 and
#    TIME_WAIT by host clients (stat_helper.py hold), checked in the text table (netstat's
#    layout, -a/-l/-t/-u filters, -i internals with TIME_WAIT's countdown) and in --json (parsed
#    by python3);
#  - --trace lines with causes and durations, identical to the app's own --trace lines;
#    --explain; --history with the whole path and the 2MSL wait;
#  - finding the stack: no flag with one running, --tap, several listed; the default path held
#    by a live stack in another namespace is said, and the other goes on without one;
#  - another user is refused, by the file's mode and by SO_PEERCRED;
#  - the control socket survives garbage, a never-reading client, clients leaving mid-request
#    and 100 at once while a 100 MB download goes on; its SHA-256 is checked, and its time
#    with and without the abuse is printed (not asserted);
#  - stopping the app removes its socket.
# Control sockets live in this run's own directory ($TAPSTACK_RUN_DIR), so stacks of other
# runs on this machine cannot be mistaken for this one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"

ts_need_bin tapstack-httpd tapstack-echo-server tapstack-stat
command -v setpriv >/dev/null || ts_skip "no setpriv (util-linux)"
TS_TAP="st$$"
TS_TAP=${TS_TAP:0:15}
export TAPSTACK_RUN_DIR=$TS_TMP/run
STAT=$TS_BIN/tapstack-stat
HELPER=$(dirname "$0")/stat_helper.py
S=$TS_STACK_IP
NS2=
cleanup2() {
    ts_cleanup
    [[ -n $NS2 ]] && ip netns del "$NS2" 2>/dev/null
}
trap cleanup2 EXIT

# stat ARGS...: tapstack-stat's stdout into $out, stderr into $err, exit status into $rc.
stat_() {
    out=$("$STAT" "$@" 2>"$TS_TMP/stat.err")
    rc=$?
    err=$(cat "$TS_TMP/stat.err")
}

# ---- no stack, bad flags
stat_
[[ $rc == 1 ]] || ts_fail "with no stack: exit $rc, want 1"
[[ $(wc -l <<<"$err") == 1 && $err == *"no tapstack is running"*"make run"* ]] ||
    ts_fail "with no stack it said: $err"
stat_ --bogus
[[ $rc == 2 && $(wc -l <<<"$err") == 1 && $err == *"unknown option --bogus"* ]] ||
    ts_fail "a bad flag: exit $rc, said: $err"
stat_ -x
[[ $rc == 2 && $err == *"unknown option -x"* ]] || ts_fail "-x: exit $rc, said: $err"
stat_ --explain
[[ $rc == 2 ]] || ts_fail "--explain alone: exit $rc"
stat_ --help
[[ $rc == 0 && $out == *"--trace"* && $out == *"--history"* ]] || ts_fail "--help: $rc"

# ---- the stack
ts_ns_setup
SOCK=$TAPSTACK_RUN_DIR/$TS_TAP.sock
ts_start_app "$TS_BIN/tapstack-httpd" --tap "$TS_TAP" --msl 5 --trace
HTTPD_LOG=$TS_APP_LOG
HTTPD_PID=$TS_APP_PID
ts_wait_log "listening on $S:80" || ts_fail "httpd never said it was listening"
grep -q "control socket $SOCK - try: tapstack-stat" "$HTTPD_LOG" ||
    ts_fail "the start-up lines do not name the control socket $SOCK"
[[ -S $SOCK && $(stat -c %a "$SOCK") == 600 && $(stat -c %a "$TAPSTACK_RUN_DIR") == 700 ]] ||
    ts_fail "control socket or directory modes: $(stat -c '%a %n' "$SOCK" "$TAPSTACK_RUN_DIR")"

# --trace runs from here on, before any connection (it says so on stderr once subscribed).
"$STAT" --trace >"$TS_TMP/trace.out" 2>"$TS_TMP/trace.err" &
TRACE_PID=$!
TS_PIDS+=("$TRACE_PID")
"$STAT" --trace --explain >"$TS_TMP/explain.out" 2>/dev/null &
TS_PIDS+=("$!")
for _ in $(seq 50); do
    grep -q "following the TCP state changes of $SOCK" "$TS_TMP/trace.err" && break
    sleep 0.1
done
grep -q following "$TS_TMP/trace.err" || ts_fail "--trace never started: $(cat "$TS_TMP/trace.err")"

# ---- five states held at once
ts_bg python3 "$HELPER" hold "$S" 80 "$TS_TMP/held"
HOLD_PID=$TS_BG_PID
for _ in $(seq 100); do [[ -e $TS_TMP/held ]] && break; sleep 0.1; done
[[ -e $TS_TMP/held ]] || ts_fail "the host clients never got their connections into place"
port() { awk -v n="$1" '$1 == n {print $2}' "$TS_TMP/held"; }
P_EST=$(port est) P_CW=$(port cw) P_FW2=$(port fw2) P_TW=$(port tw)
# The last steps (the host's FIN to the TIME_WAIT one) may still be on their way.
for _ in $(seq 50); do
    stat_ -a
    grep -q "$TS_HOST_IP:$P_TW .*TIME_WAIT" <<<"$out" && grep -q "$TS_HOST_IP:$P_FW2 .*FIN_WAIT2" <<<"$out" && break
    sleep 0.1
done
echo "$out" >"$TS_TMP/table.txt"
ts_log "tapstack-stat -a:"$'\n'"$out"
[[ $rc == 0 ]] || ts_fail "tapstack-stat -a: exit $rc: $err"
[[ $(sed -n 2p <<<"$out") == "Proto Recv-Q Send-Q Local Address           Foreign Address         State" ]] ||
    ts_fail "no netstat header: $(sed -n 2p <<<"$out")"
row() { grep -E "^tcp +[0-9]+ +[0-9]+ $S:80 +$TS_HOST_IP:$1 +$2\$" <<<"$out"; }
grep -qE "^tcp +0 +4096 $S:80 +0\.0\.0\.0:\* +LISTEN\$" <<<"$out" ||
    ts_fail "no LISTEN row with backlog 4096 (SOMAXCONN) as Send-Q"
row "$P_EST" ESTABLISHED >/dev/null || ts_fail "port $P_EST is not ESTABLISHED"
row "$P_CW" CLOSE_WAIT >/dev/null || ts_fail "port $P_CW is not CLOSE_WAIT"
row "$P_FW2" FIN_WAIT2 >/dev/null || ts_fail "port $P_FW2 is not FIN_WAIT2"
row "$P_TW" TIME_WAIT >/dev/null || ts_fail "port $P_TW is not TIME_WAIT"
# The CLOSE_WAIT one is an app stuck sending: bytes wait in its Send-Q.
sq=$(row "$P_CW" CLOSE_WAIT | awk '{print $3}')
[[ $sq -gt 0 ]] || ts_fail "CLOSE_WAIT row has Send-Q $sq: the 1 GB answer should be stuck there"

# Filters as netstat's: default without listeners, -l only them, -u no TCP.
stat_
grep -q LISTEN <<<"$out" && ts_fail "the default table shows listeners (netstat does not)"
grep -q "$TS_HOST_IP:$P_EST .*ESTABLISHED" <<<"$out" || ts_fail "the default table misses connections"
[[ $(sed -n 1p <<<"$out") == "Active Internet connections (w/o servers)" ]] || ts_fail "title: $(sed -n 1p <<<"$out")"
stat_ -lnt
[[ $(grep -c '^tcp' <<<"$out") == 1 && $out == *LISTEN* ]] || ts_fail "-lnt shows: $out"
stat_ -au
grep -q '^tcp' <<<"$out" && ts_fail "-u shows TCP rows"

# --full lists the same rows as a page (only a few here); --summary counts them per state.
stat_ -a
rows_a=$(grep -c '^tcp' <<<"$out")
stat_ -a --full
[[ $rc == 0 && $(grep -c '^tcp' <<<"$out") == "$rows_a" && $out != *"# more"* ]] ||
    ts_fail "--full: exit $rc, $(grep -c '^tcp' <<<"$out") rows (-a: $rows_a): $out"
stat_ --summary
[[ $rc == 0 ]] || ts_fail "--summary: exit $rc: $err"
grep -qE "^tcp entries $rows_a\$" <<<"$out" || ts_fail "--summary total is not $rows_a: $out"
grep -qE "^  LISTEN +1\$" <<<"$out" && grep -qE "^  CLOSE_WAIT +1\$" <<<"$out" &&
    grep -qE "^  FIN_WAIT2 +1\$" <<<"$out" || ts_fail "--summary states: $out"
stat_ --summary --json
python3 -c 'import json, sys; d = json.loads(sys.stdin.read()); assert d["kind"] == "summary" and d["states"]["LISTEN"] == 1' <<<"$out" ||
    ts_fail "--summary --json: $out"
stat_ --full --summary
[[ $rc == 2 ]] || ts_fail "--full --summary: exit $rc (want 2)"

# -i: internals, with TIME_WAIT's countdown (at most 2*MSL = 10 s).
stat_ -ai
grep -A2 -E "$TS_HOST_IP:$P_TW +TIME_WAIT" <<<"$out" >"$TS_TMP/tw.txt"
grep -qE "timer:\(time-wait,([0-9]|10)\.[0-9]{3}s\)" "$TS_TMP/tw.txt" ||
    ts_fail "-i: no TIME_WAIT countdown: $(cat "$TS_TMP/tw.txt")"
grep -A2 -E "$TS_HOST_IP:$P_EST +ESTABLISHED" <<<"$out" | grep -qE "rto:[0-9.]+ms srtt:[0-9.]+ms rttvar:" ||
    ts_fail "-i: no rto/srtt/rttvar for the ESTABLISHED connection"
grep -A2 -E "$TS_HOST_IP:$P_EST +ESTABLISHED" <<<"$out" | grep -qE "snd.una:[0-9]+ snd.nxt:[0-9]+ snd.wnd:[0-9]+ rcv.nxt:[0-9]+ rcv.wnd:[0-9]+ bytes_sent:[1-9]" ||
    ts_fail "-i: no sequence numbers/windows/bytes"
grep -A1 -E "LISTEN$" <<<"$out" | grep -q "accept_queue:0/4096" || ts_fail "-i: listener queues"

# --json, parsed.
stat_ -a --json
echo "$out" >"$TS_TMP/table.json"
python3 - "$TS_TMP/table.json" "$S" "$TS_HOST_IP" "$P_EST" "$P_CW" "$P_FW2" "$P_TW" <<'EOF' || ts_fail "--json does not show the states held"
import json, sys
doc = json.load(open(sys.argv[1]))
s, h = sys.argv[2], sys.argv[3]
want = dict(zip(map(int, sys.argv[4:8]), ["ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT2", "TIME_WAIT"]))
assert doc["kind"] == "sockets", doc.get("kind")
by_port = {t["rport"]: t for t in doc["tcp"] if t["raddr"] == h}
for p, st in want.items():
    t = by_port[p]
    assert t["state"] == st, (p, t["state"], st)
    assert t["local"] == s + ":80" and t["remote"] == "%s:%d" % (h, p)
lis = [t for t in doc["tcp"] if t["state"] == "LISTEN"]
assert len(lis) == 1 and lis[0]["send_q"] == 4096 and lis[0]["backlog"] == 4096, lis
tw = by_port[int(sys.argv[7])]
assert tw["timer"] == "time-wait" and 0 < tw["timer_us"] <= 10_000_000, tw
assert by_port[int(sys.argv[5])]["send_q"] > 0
for k in ("rto_us", "srtt_us", "cwnd", "snd_una", "rcv_wnd", "bytes_received", "state_age_us"):
    assert all(k in t for t in doc["tcp"]), k
assert doc["udp"] == []
EOF

# ---- trace lines: the connection that went to TIME_WAIT, as tapstack-stat --trace saw it
# live, and the same lines in the app's own --trace.
for _ in $(seq 200); do # 2*MSL = 10 s, then the 2MSL timer ends it
    grep -q "$S:80 > $TS_HOST_IP:$P_TW TIME_WAIT -> CLOSE" "$TS_TMP/trace.out" && break
    sleep 0.1
done
tw_lines=$(grep -F "$S:80 > $TS_HOST_IP:$P_TW " "$TS_TMP/trace.out")
ts_log "tapstack-stat --trace, one connection:"$'\n'"$tw_lines"
chain=$(ts_trace_chain "$TS_TMP/trace.out" "$S:80" "$TS_HOST_IP:$P_TW")
[[ $chain == "LISTEN SYN_RECV ESTABLISHED FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE" ]] ||
    ts_fail "--trace path of the TIME_WAIT connection: $chain"
for want in "LISTEN -> SYN_RECV (rcvd SYN) after " "SYN_RECV -> ESTABLISHED (rcvd ACK of SYN) after " \
    "ESTABLISHED -> FIN_WAIT1 (app " "FIN_WAIT1 -> FIN_WAIT2 (rcvd ACK of FIN) after " \
    "FIN_WAIT2 -> TIME_WAIT (rcvd FIN) after " "TIME_WAIT -> CLOSE (2MSL timer expired) after "; do
    grep -qF "$want" <<<"$tw_lines" || ts_fail "--trace has no '$want'"
done
grep -qE "^[0-9]+\.[0-9]{6} $S:80 > $TS_HOST_IP:$P_TW [A-Z_0-9]+ -> [A-Z_0-9]+ \([^)]+\) after [0-9]+\.[0-9]{3} ms$" <<<"$tw_lines" ||
    ts_fail "--trace lines are not 'TIME LOCAL > REMOTE OLD -> NEW (cause) after N.NNN ms'"
# TIME_WAIT lasted 2*MSL (the timer cannot fire early).
ms=$(sed -nE 's/.*TIME_WAIT -> CLOSE \(2MSL timer expired\) after ([0-9]+)\.[0-9]+ ms$/\1/p' <<<"$tw_lines")
[[ -n $ms && $ms -ge 10000 ]] || ts_fail "TIME_WAIT lasted $ms ms, less than 2*MSL = 10000"
# CLOSE_WAIT's cause and the others' paths so far.
grep -qF "$S:80 > $TS_HOST_IP:$P_CW ESTABLISHED -> CLOSE_WAIT (rcvd FIN) after " "$TS_TMP/trace.out" ||
    ts_fail "--trace has no CLOSE_WAIT for port $P_CW"
# The app prints the very same lines.
while IFS= read -r l; do
    grep -qxF "$l" "$HTTPD_LOG" || ts_fail "the app's --trace lacks the line: $l"
done <<<"$tw_lines"
grep -qF "    TIME_WAIT: Both FINs are exchanged" "$TS_TMP/explain.out" ||
    ts_fail "--explain gives no sentence about TIME_WAIT"

# ---- history: the ended connection with its whole path
stat_ --history
ts_log "tapstack-stat --history (last):"$'\n'"$(tail -n 8 <<<"$out")"
grep -qE "^conn [0-9]+  $S:80 > $TS_HOST_IP:$P_TW  lived [0-9.]+s, ended [0-9.]+s ago$" <<<"$out" ||
    ts_fail "--history has no header for port $P_TW"
hist=$(awk -v h="$S:80 > $TS_HOST_IP:$P_TW " 'index($0, h) {on = 1; next} /^conn / {on = 0} on' <<<"$out")
[[ $(grep -c -- ' -> ' <<<"$hist") == 6 ]] || ts_fail "--history path of $P_TW: $hist"
grep -qF "TIME_WAIT -> CLOSE (2MSL timer expired) after " <<<"$hist" || ts_fail "--history lacks the end"
stat_ --history=1 --json
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); c=d["connections"]; assert d["kind"]=="history" and len(c)==1 and c[0]["path"][-1]["to"]=="CLOSE", d' "$out" ||
    ts_fail "--history=1 --json: $out"

# The held connections are done with: the host clients go.
kill "$HOLD_PID"
wait "$HOLD_PID" 2>/dev/null

# ---- counters
stat_ -s
grep -qE "^tcp_passive_open +[1-9]" <<<"$out" || ts_fail "-s: no tcp_passive_open: $out"
stat_ -s --json
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["counters"]["tcp_passive_open"] >= 4' "$out" ||
    ts_fail "-s --json"

# ---- finding stacks
stat_ --tap "$TS_TAP" -l
[[ $rc == 0 && $out == *LISTEN* ]] || ts_fail "--tap $TS_TAP: $rc $err"
stat_ --tap nosuch
[[ $rc == 1 && $err == *"no tapstack serves tap nosuch"* ]] || ts_fail "--tap nosuch said: $err"
stat_ --control "$TS_TMP/none.sock"
[[ $rc == 1 && $err == *"does not exist"* ]] || ts_fail "--control to nothing said: $err"
# Another namespace with a tap of the same name: its default path is ours, served; it says so
# in one line and goes on without a control socket.
NS2="ts-stat2-$$-$RANDOM"
"$TS_ROOT/tools/tap-setup" --netns "$NS2" --name "$TS_TAP" --host-ip "$TS_HOST_IP/24" >/dev/null ||
    ts_fail "second namespace"
ip netns exec "$NS2" "$TS_BIN/tapstack-echo-server" --tap "$TS_TAP" >"$TS_TMP/app-ns2.log" 2>&1 &
NS2_PID=$!
TS_PIDS+=("$NS2_PID")
for _ in $(seq 50); do grep -q "without a control socket" "$TS_TMP/app-ns2.log" && break; sleep 0.1; done
grep -q "$SOCK is served by another running tapstack (pid $HTTPD_PID; .*--control PATH" "$TS_TMP/app-ns2.log" ||
    ts_fail "the second stack did not say the path is taken: $(cat "$TS_TMP/app-ns2.log")"
kill -0 "$NS2_PID" || ts_fail "the second stack stopped instead of going on"
ts_stop_app "$NS2_PID"
# With an explicit --control PATH, two stacks: a bare tapstack-stat lists them.
ip netns exec "$NS2" "$TS_BIN/tapstack-echo-server" --tap "$TS_TAP" --control "$TAPSTACK_RUN_DIR/other.sock" \
    >"$TS_TMP/app-ns2b.log" 2>&1 &
NS2_PID=$!
TS_PIDS+=("$NS2_PID")
for _ in $(seq 50); do [[ -S $TAPSTACK_RUN_DIR/other.sock ]] && break; sleep 0.1; done
stat_
[[ $rc == 1 && $err == *"2 tapstacks are running; pick one with --tap NAME or --control PATH"* &&
    $err == *"$SOCK  (tapstack-httpd, pid $HTTPD_PID, tap $TS_TAP)"* && $err == *"other.sock  (tapstack-echo-server"* ]] ||
    ts_fail "two stacks: $err"
stat_ --control "$TAPSTACK_RUN_DIR/other.sock" -l
[[ $rc == 0 && $out == *":7 "*LISTEN* ]] || ts_fail "--control other.sock: $out"
ts_stop_app "$NS2_PID"
[[ -e $TAPSTACK_RUN_DIR/other.sock ]] && ts_fail "the echo server left its control socket behind"
ip netns del "$NS2"
NS2=

# ---- another user
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
out=$(nobody "$STAT" --control "$SOCK" 2>&1)
rc=$?
[[ $rc == 1 && $out == *"permission denied"* ]] || ts_fail "nobody (file mode) got: $rc $out"
# With the modes opened up, the server itself still refuses (SO_PEERCRED).
chmod 755 "$TAPSTACK_RUN_DIR"
chmod 666 "$SOCK"
out=$(nobody "$STAT" --control "$SOCK" 2>&1)
rc=$?
chmod 700 "$TAPSTACK_RUN_DIR"
chmod 600 "$SOCK"
[[ $rc == 1 && $out == *"answered: permission denied: this stack belongs to uid 0"* ]] ||
    ts_fail "nobody (SO_PEERCRED) got: $rc $out"

# ---- abuse during a 100 MB download
want=$(ts_pattern_sha256 "$TS_BIG")
t0=$(date +%s.%N)
got=$(ts_ns_exec curl -sS --max-time 300 "http://$S/bytes/$TS_BIG" | sha256sum | cut -d' ' -f1)
t1=$(date +%s.%N)
[[ $got == "$want" ]] || ts_fail "quiet download: sha $got, want $want"
python3 "$HELPER" abuse "$SOCK" "$TS_TMP/abuse.started" "$TS_TMP/abuse.stop" >"$TS_TMP/abuse.out" 2>&1 &
ABUSE_PID=$!
TS_PIDS+=("$ABUSE_PID")
for _ in $(seq 300); do [[ -e $TS_TMP/abuse.started ]] && break; sleep 0.1; done
[[ -e $TS_TMP/abuse.started ]] || ts_fail "the abuse never got going: $(cat "$TS_TMP/abuse.out")"
t2=$(date +%s.%N)
got=$(ts_ns_exec curl -sS --max-time 300 "http://$S/bytes/$TS_BIG" 2>"$TS_TMP/curl.err" | sha256sum | cut -d' ' -f1)
t3=$(date +%s.%N)
stat_ -a # a well-behaved client is answered while it goes on
[[ $rc == 0 ]] || ts_fail "tapstack-stat during the abuse: $err"
touch "$TS_TMP/abuse.stop"
[[ $got == "$want" ]] || ts_fail "download during the abuse: sha $got: $(cat "$TS_TMP/curl.err")"
wait "$ABUSE_PID" || ts_fail "abuse: $(cat "$TS_TMP/abuse.out")"
ts_log "$(cat "$TS_TMP/abuse.out")"
ts_log "$TS_BIG-byte download: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s quiet, $(awk -v a="$t2" -v b="$t3" 'BEGIN {printf "%.2f", b - a}') s with the control socket abused"
ts_app_alive || ts_fail "httpd died"
hello=$(echo hello | socat - "UNIX-CONNECT:$SOCK")
ts_log "control socket afterwards: $(grep -E '^(clients|requests)' <<<"$hello" | tr '\n' ' ')"
grep -qE "dropped_slow [1-9]" <<<"$hello" || ts_fail "the never-reading client was not dropped: $hello"
stat_ -a
[[ $rc == 0 && $out == *LISTEN* ]] || ts_fail "tapstack-stat after the abuse: $err"

# ---- the end
kill "$TRACE_PID"
ts_stop_app "$HTTPD_PID"
[[ -e $SOCK ]] && ts_fail "httpd left its control socket behind"
ts_pass "LISTEN/ESTABLISHED/CLOSE_WAIT/FIN_WAIT2/TIME_WAIT in text and JSON, --trace/--explain/--history, discovery, another user refused, abuse during a $TS_BIG-byte download"
