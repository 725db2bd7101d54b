#!/usr/bin/env bash
# TCP between tapstack and the Linux host over a real tap (issue 3):
#  - a connection opened by the host (nc -> tapstack-echo-server), data both ways, the host
#    closes first; --trace shows LISTEN -> SYN_RECV -> ESTABLISHED -> CLOSE_WAIT -> LAST_ACK -> CLOSE;
#  - a connection opened by tapstack (tapstack-echo-client -> socat on the host), tapstack closes
#    first; --trace shows SYN_SENT -> ESTABLISHED -> FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT -> CLOSE
#    (--msl 1, so TIME_WAIT lasts 2 s);
#  - no RST in either capture: both closes are clean;
#  - 100 MB each way on one connection, SHA-256 identical on both ends.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"

ts_need_bin tapstack-echo-server tapstack-echo-client tapstack-httpd
ts_ns_setup
S=$TS_STACK_IP
H=$TS_HOST_IP

# ---- host-initiated, host closes first ----
ts_start_app "$TS_BIN/tapstack-echo-server" --tap "$TS_TAP" --port 7 --trace --msl 1 \
    --pcap "$TS_TMP/server.pcap"
ts_wait_log "TCP and UDP echo on" || ts_fail "the echo server never said it was listening"
server_log=$TS_APP_LOG

msg="hello tapstack, from the host"
out=$(printf '%s\n' "$msg" | ts_ns_exec timeout 20 nc -N -p 40001 "$S" 7) ||
    ts_fail "nc to the echo server failed (status $?)"
[[ $out == "$msg" ]] || ts_fail "echo answered '$out'"
ts_wait_log "$S:7 > $H:40001 LAST_ACK -> CLOSE" 10 ||
    ts_fail "no LAST_ACK -> CLOSE in the trace of the host-initiated connection"
chain=$(ts_trace_chain "$server_log" "$S:7" "$H:40001")
[[ $chain == "LISTEN SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK CLOSE" ]] ||
    ts_fail "host-initiated connection went through '$chain'"

# Bigger data both ways on a host connection, the host closing first.
head -c 3000000 /dev/urandom >"$TS_TMP/a.bin"
ts_ns_exec timeout 60 nc -N -p 40002 "$S" 7 <"$TS_TMP/a.bin" >"$TS_TMP/a.out" ||
    ts_fail "nc with 3 MB failed (status $?)"
cmp -s "$TS_TMP/a.bin" "$TS_TMP/a.out" || ts_fail "3 MB echo differs"
ts_wait_log "$S:7 > $H:40002 LAST_ACK -> CLOSE" 10 || ts_fail "3 MB connection never closed"

ts_stop_app
rsts=$(ts_pcap_rsts "$TS_TMP/server.pcap")
[[ $rsts == 0 ]] || ts_fail "$rsts RST segments in the echo server's capture (closes must be clean)"

# ---- tapstack-initiated, tapstack closes first ----
# The host echo waits 1 s after our FIN before closing its side, so the ACK of our FIN and the
# host's FIN come separately and FIN_WAIT2 is visible.
ts_host_echo 7100 "$TS_TMP/small.res" 1
ts_wait_port 7100 || ts_fail "the host echo did not start listening"
client_log=$TS_TMP/app-client.log
out=$(printf 'hello host, from tapstack\n' | ts_ns_exec timeout 30 "$TS_BIN/tapstack-echo-client" \
    --tap "$TS_TAP" --trace --msl 1 --wait-close --pcap "$TS_TMP/client.pcap" "$H" 7100 \
    2>"$client_log") || ts_fail "echo-client exited with status $?"
[[ $out == "hello host, from tapstack" ]] || ts_fail "echo-client got '$out'"
local_ep=$(sed -nE "s/.*connected ([0-9.]+:[0-9]+) -> .*/\1/p" "$client_log")
[[ -n $local_ep ]] || ts_fail "echo-client did not say which port it used"
chain=$(ts_trace_chain "$client_log" "$local_ep" "$H:7100")
[[ $chain == *"SYN_SENT ESTABLISHED FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE" ]] ||
    ts_fail "tapstack-initiated connection went through '$chain'"
rsts=$(ts_pcap_rsts "$TS_TMP/client.pcap")
[[ $rsts == 0 ]] || ts_fail "$rsts RST segments in the client's capture"

# ---- 100 MB each way, SHA-256 on both ends ----
# The host side hashes what it receives and echoes it back; tapstack hashes the echo.
head -c "$TS_BIG" /dev/urandom >"$TS_TMP/big.bin"
want=$(ts_sha "$TS_TMP/big.bin")
ts_host_echo 7200 "$TS_TMP/big.res"
ts_wait_port 7200 || ts_fail "the host echo did not start listening"
ts_ns_exec timeout 240 "$TS_BIN/tapstack-echo-client" --tap "$TS_TAP" "$H" 7200 \
    <"$TS_TMP/big.bin" 2>"$TS_TMP/app-big.log" | sha256sum >"$TS_TMP/stack_got.sha"
rc=${PIPESTATUS[0]}
[[ $rc == 0 ]] || ts_fail "echo-client with $TS_BIG bytes exited with status $rc"
host=$(cat "$TS_TMP/big.res" 2>/dev/null)
stack_sha=$(cut -d' ' -f1 "$TS_TMP/stack_got.sha")
[[ $host == "$TS_BIG $want" ]] || ts_fail "the host received '$host', want '$TS_BIG $want'"
[[ $stack_sha == "$want" ]] || ts_fail "tapstack received different bytes (sha $stack_sha)"

ts_pass "host- and tapstack-initiated connections, traces, clean closes, $TS_BIG bytes each way"
