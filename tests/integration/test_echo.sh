#!/usr/bin/env bash
# tapstack-echo-server with the host's nc (TCP: a 50 MB file round-tripped byte-identically, with
# a clean close; UDP: datagrams echoed; discard swallowing a file), then tapstack-echo-client
# against a socat echo and an nc listener on the host side, data both ways.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"

ts_need_bin tapstack-echo-server tapstack-echo-client tapstack-httpd
ts_ns_setup
S=$TS_STACK_IP

ts_start_app "$TS_BIN/tapstack-echo-server" --tap "$TS_TAP" --port 7 --discard-port 9
ts_wait_log "TCP and UDP echo on" || ts_fail "the echo server never said it was listening"

# TCP echo of a file, byte-identical; nc -N half-closes at the end of its input and exits when
# the server's FIN arrives, so its exit status 0 also says the close was clean.
head -c "$TS_MID" /dev/urandom >"$TS_TMP/in.bin"
want=$(ts_sha "$TS_TMP/in.bin")
ts_ns_exec timeout 120 nc -N "$S" 7 <"$TS_TMP/in.bin" >"$TS_TMP/out.bin" ||
    ts_fail "nc to the TCP echo failed or timed out (status $?)"
got=$(ts_sha "$TS_TMP/out.bin")
[[ $got == "$want" ]] ||
    ts_fail "echo of $TS_MID bytes differs: got $(stat -c %s "$TS_TMP/out.bin") bytes, sha $got"

# Several clients at once.
pids=()
for i in 1 2 3 4 5 6 7 8; do
    head -c 200000 /dev/urandom >"$TS_TMP/c$i.bin"
    ts_ns_exec timeout 60 nc -N "$S" 7 <"$TS_TMP/c$i.bin" >"$TS_TMP/c$i.out" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || ts_fail "a concurrent nc client exited with status $?"; done
for i in 1 2 3 4 5 6 7 8; do
    cmp -s "$TS_TMP/c$i.bin" "$TS_TMP/c$i.out" || ts_fail "concurrent echo client $i got different data"
done

# UDP echo (RFC 862): each datagram comes back.
out=$(printf 'hello over udp\n' | ts_ns_exec timeout 5 nc -u -w 1 "$S" 7)
[[ $out == "hello over udp" ]] || ts_fail "UDP echo answered '$out'"
out=$(ts_ns_exec timeout 5 socat -T 1 - "UDP:$S:7" <<<"second datagram")
[[ $out == "second datagram" ]] || ts_fail "UDP echo (socat) answered '$out'"

# Discard (RFC 863): the data vanishes, the connection closes cleanly, nothing comes back.
head -c 1000000 /dev/urandom >"$TS_TMP/d.bin"
n=$(ts_ns_exec timeout 30 nc -N "$S" 9 <"$TS_TMP/d.bin" | wc -c)
[[ $n == 0 ]] || ts_fail "discard sent back $n bytes"

ts_app_alive || ts_fail "the echo server died"
ts_stop_app

# tapstack-echo-client -> an echo server on the host: the file goes out and comes back.
ts_host_echo 7100 "$TS_TMP/cl.res"
ts_wait_port 7100 || ts_fail "the host echo did not start listening"
head -c 5000000 /dev/urandom >"$TS_TMP/cl.bin"
ts_ns_exec timeout 120 "$TS_BIN/tapstack-echo-client" --tap "$TS_TAP" "$TS_HOST_IP" 7100 \
    <"$TS_TMP/cl.bin" >"$TS_TMP/cl.out" 2>"$TS_TMP/app-client1.log" ||
    ts_fail "echo-client to socat exited with status $?"
cmp -s "$TS_TMP/cl.bin" "$TS_TMP/cl.out" ||
    ts_fail "echo-client got back $(stat -c %s "$TS_TMP/cl.out") different bytes"
[[ $(cat "$TS_TMP/cl.res") == "5000000 $(ts_sha "$TS_TMP/cl.bin")" ]] ||
    ts_fail "the host echo received '$(cat "$TS_TMP/cl.res")'"

# tapstack-echo-client <-> nc -l: different data each way; nc -N closes its side after its input.
head -c 300000 /dev/urandom >"$TS_TMP/host.bin"
head -c 700000 /dev/urandom >"$TS_TMP/stack.bin"
ts_bg timeout 60 nc -N -l -s "$TS_HOST_IP" -p 7200 <"$TS_TMP/host.bin" >"$TS_TMP/host.got"
nc_pid=$TS_BG_PID
ts_wait_port 7200 || ts_fail "nc -l did not start listening"
ts_ns_exec timeout 60 "$TS_BIN/tapstack-echo-client" --tap "$TS_TAP" "$TS_HOST_IP" 7200 \
    <"$TS_TMP/stack.bin" >"$TS_TMP/stack.got" 2>"$TS_TMP/app-client2.log" ||
    ts_fail "echo-client to nc -l exited with status $?"
wait "$nc_pid" || ts_fail "nc -l exited with status $?"
cmp -s "$TS_TMP/host.bin" "$TS_TMP/stack.got" || ts_fail "the client did not get the host's bytes"
cmp -s "$TS_TMP/stack.bin" "$TS_TMP/host.got" || ts_fail "the host did not get the client's bytes"

# Round-trip measurement: small and large round trips (the client sends and reads at once, so a
# round trip larger than the socket buffers cannot deadlock), each echo checked by the client.
ts_host_echo 7400 "$TS_TMP/rt.res"
ts_wait_port 7400 || ts_fail "the host echo did not start listening"
out=$(ts_ns_exec timeout 60 "$TS_BIN/tapstack-echo-client" --tap "$TS_TAP" --count 200 \
    --size 100 "$TS_HOST_IP" 7400 2>"$TS_TMP/app-client4.log") ||
    ts_fail "echo-client --count 200 exited with status $?"
grep -qE "^tcp: 200 round trips of 100 bytes, 0 lost; latency min [0-9.]+ avg [0-9.]+ max [0-9.]+ p99 [0-9.]+ ms$" <<<"$out" ||
    ts_fail "echo-client --count printed '$out'"
[[ $(cat "$TS_TMP/rt.res") == "20000 "* ]] || ts_fail "the host echo saw '$(cat "$TS_TMP/rt.res")'"
ts_host_echo 7401 "$TS_TMP/rt2.res"
ts_wait_port 7401 || ts_fail "the host echo did not start listening"
ts_ns_exec timeout 60 "$TS_BIN/tapstack-echo-client" --tap "$TS_TAP" --count 3 --size 4000000 \
    "$TS_HOST_IP" 7401 >/dev/null 2>"$TS_TMP/app-client5.log" ||
    ts_fail "echo-client --count 3 --size 4000000 exited with status $?"
[[ $(cat "$TS_TMP/rt2.res") == "12000000 "* ]] || ts_fail "the host echo saw '$(cat "$TS_TMP/rt2.res")'"

# UDP client against a socat UDP echo.
# One peer, no fork (a forked UDP child would outlive the cleanup); -T: ends when idle.
ts_bg socat -T 10 UDP-LISTEN:7300,bind=$TS_HOST_IP,reuseaddr PIPE
ts_wait_port 7300 udp || ts_fail "socat did not bind UDP port 7300"
# --timeout 3000: a stack that has just come up may need an ARP retry (1 s, RFC 1122 2.3.2.1)
# before its first datagram leaves, when the host's tap did not carry the first reply yet.
out=$(printf 'one\ntwo\nthree\n' | ts_ns_exec timeout 30 "$TS_BIN/tapstack-echo-client" \
    --tap "$TS_TAP" --udp --timeout 3000 "$TS_HOST_IP" 7300 2>"$TS_TMP/app-client3.log") ||
    ts_fail "UDP echo-client exited with status $?"
[[ $out == $'one\ntwo\nthree' ]] || ts_fail "UDP echo-client printed '$out'"

ts_pass "$TS_MID-byte nc echo, 8 concurrent clients, UDP echo, discard, echo-client both ways (TCP, UDP, round trips)"
