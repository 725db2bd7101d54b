#!/usr/bin/env bash
# nc (openbsd) and socat, unmodified, over tapstack (tapstack-run): nc as client and as server
# (nc -l), data both ways, 50 MB each, SHA-256 checked; socat TCP both ways and socat UDP as
# client and as server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"
. "$(dirname "$0")/run_lib.sh"

ts_need_cmd nc socat
ts_ns_setup
N=$TS_MID
sha=$(ts_random_file "$TS_TMP/data.bin" "$N")
H=$TS_HOST_IP
S=$TS_STACK_IP

check() { # check FILE WHAT
    [[ $(ts_sha "$1") == "$sha" ]] || ts_fail "$2: SHA-256 differs ($(stat -c %s "$1") of $N bytes)"
    rm -f "$1"
}

# 1. nc through tapstack connects to the host's nc -l and sends.
ts_bg nc -l "$H" 9001 >"$TS_TMP/1.bin" </dev/null
l=$TS_BG_PID
ts_wait_port 9001 || ts_fail "host nc -l 9001 did not start"
ts_run_fg 120 nc -N "$H" 9001 <"$TS_TMP/data.bin" 2>"$TS_TMP/app-1.log" || ts_fail "nc (client, sending) failed"
ts_wait_exit "$l" 30 || ts_fail "the host's nc -l did not finish"
check "$TS_TMP/1.bin" "nc client sending"

# 2. nc through tapstack connects and receives what the host's nc -l sends.
ts_bg nc -N -l "$H" 9002 <"$TS_TMP/data.bin"
ts_wait_port 9002 || ts_fail "host nc -l 9002 did not start"
ts_run_fg 120 nc -d "$H" 9002 >"$TS_TMP/2.bin" 2>"$TS_TMP/app-2.log" || ts_fail "nc (client, receiving) failed"
check "$TS_TMP/2.bin" "nc client receiving"

# 3. nc -l through tapstack receives from the host's nc.
ts_run_bg "$TS_TMP/app-3.log" nc -l 9003 </dev/null
l=$TS_BG_PID
ts_wait_stack_port 9003 || ts_fail "nc -l over tapstack does not accept"
# (ts_wait_stack_port's probe was the one connection nc -l takes: start again)
ts_wait_exit "$l" 10
ip netns exec "$TS_NS" "${TS_RUN[@]}" -- nc -l 9003 >"$TS_TMP/3.bin" 2>"$TS_TMP/app-3.log" </dev/null &
l=$!
TS_PIDS+=("$l")
sleep 1
ts_ns_exec timeout 120 nc -N "$S" 9003 <"$TS_TMP/data.bin" || ts_fail "the host's nc to nc -l over tapstack failed"
ts_wait_exit "$l" 30 || ts_fail "nc -l over tapstack did not finish (status $?)"
check "$TS_TMP/3.bin" "nc -l receiving"

# 4. nc -l through tapstack sends to the host's nc.
ip netns exec "$TS_NS" "${TS_RUN[@]}" -- nc -N -l 9004 <"$TS_TMP/data.bin" 2>"$TS_TMP/app-4.log" >/dev/null &
l=$!
TS_PIDS+=("$l")
sleep 1
ts_ns_exec timeout 120 nc -d "$S" 9004 >"$TS_TMP/4.bin" || ts_fail "the host's nc from nc -l over tapstack failed"
ts_wait_exit "$l" 30 || ts_fail "nc -l (sending) over tapstack did not finish (status $?)"
check "$TS_TMP/4.bin" "nc -l sending"

# 5. socat TCP through tapstack to the host's echo (python: socat PIPE deadlocks on large
#    transfers), data both ways at once; and the host sending to socat TCP-LISTEN over tapstack.
ts_host_echo 9005 "$TS_TMP/5.result"
ts_wait_port 9005 || ts_fail "host echo did not start"
ts_run_fg 120 socat -t 30 -b 65536 - TCP:"$H":9005 <"$TS_TMP/data.bin" >"$TS_TMP/5.bin" \
    2>"$TS_TMP/app-5.log" || ts_fail "socat TCP client failed"
for _ in $(seq 100); do [[ -s $TS_TMP/5.result ]] && break; sleep 0.1; done
[[ $(cat "$TS_TMP/5.result") == "$N $sha" ]] || ts_fail "socat TCP: the host got '$(cat "$TS_TMP/5.result")'"
check "$TS_TMP/5.bin" "socat TCP: the echo"
ip netns exec "$TS_NS" "${TS_RUN[@]}" -- socat -u TCP-LISTEN:9006,reuseaddr CREATE:"$TS_TMP/6.bin" 2>"$TS_TMP/app-6.log" &
l=$!
TS_PIDS+=("$l")
sleep 1
ts_ns_exec timeout 120 socat -u OPEN:"$TS_TMP/data.bin" TCP:"$S":9006 || ts_fail "host socat to socat over tapstack failed"
ts_wait_exit "$l" 30 || ts_fail "socat TCP-LISTEN over tapstack did not finish"
check "$TS_TMP/6.bin" "socat TCP-LISTEN"

# 6. socat UDP: a client through tapstack to the host's UDP echo, and a server through tapstack.
ts_bg socat UDP-LISTEN:9007,bind="$H" PIPE
ts_wait_port 9007 udp || ts_fail "host UDP echo did not start"
got=$(echo "datagram one" | ts_run_fg 20 socat -t 2 - UDP:"$H":9007 2>"$TS_TMP/app-7.log")
[[ $got == "datagram one" ]] || ts_fail "socat UDP client got '$got'"
ip netns exec "$TS_NS" "${TS_RUN[@]}" -- socat UDP-LISTEN:9008 PIPE 2>"$TS_TMP/app-8.log" &
TS_PIDS+=($!)
sleep 1
got=$(echo "datagram two" | ts_ns_exec timeout 10 socat -t 2 - UDP:"$S":9008)
[[ $got == "datagram two" ]] || ts_fail "socat UDP-LISTEN over tapstack echoed '$got'"

ts_pass "nc client and nc -l, both directions, $N bytes each; socat TCP both ways; socat UDP client and server"
