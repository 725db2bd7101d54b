#!/usr/bin/env bash
# `make run` (tools/run.sh): tapstack-httpd (10.0.0.2) and tapstack-echo-server (10.0.0.3), two
# stacks on two taps bridged in a namespace, answer curl and nc from inside it, tapstack-stat
# sees each of them by its tap name, the printed instructions name that namespace and the command
# that opens the live page in a browser inside it (with a profile of its own); Ctrl-C stops both
# and removes the namespace and that profile, leaving no process.
. "$(dirname "$0")/lib.sh"

[[ $(id -u) -eq 0 ]] || ts_skip "need root for network namespaces and taps"
[[ -e /dev/net/tun ]] || ts_skip "no /dev/net/tun"
for b in tapstack-httpd tapstack-echo-server tapstack-stat; do
    [[ -x $TS_BIN/$b ]] || ts_skip "$TS_BIN/$b is not built"
done
out=$TS_TMP/app-run.log
set -m # its own process group, as a terminal's foreground job: Ctrl-C is SIGINT to all of it
RUN_NO_BUILD=1 RUN_BUILD=$TS_BUILD "$TS_ROOT/tools/run.sh" >"$out" 2>&1 &
pid=$!
set +m
TS_PIDS+=("$pid")
for _ in $(seq 150); do
    grep -q 'Ctrl-C stops both' "$out" && break
    kill -0 "$pid" 2>/dev/null || ts_fail "tools/run.sh ended at start-up"
    sleep 0.1
done
grep -q 'Ctrl-C stops both' "$out" || ts_fail "tools/run.sh did not come up within 15 s"
ns=ts-run-$(grep -o 'ts-run-[0-9]*' "$out" | head -n 1 | sed 's/ts-run-//')
grep -q "sudo ip netns exec $ns curl http://10.0.0.2/" "$out" || ts_fail "it does not say how to reach httpd"
grep -q "sudo ip netns exec $ns .*chromium.* http://10.0.0.2/tcp" "$out" ||
    ts_fail "it does not say how to watch TCP live in a browser"
# The browser gets a profile of its own (a Chromium already running outside the namespace would
# otherwise take the address), made for the user and removed at the end.
profile=$(grep -o -- '--user-data-dir=[^ ]*' "$out" | head -n 1 | cut -d= -f2)
[[ -n $profile && -d $profile ]] || ts_fail "the browser command names no profile directory that exists: '$profile'"
run_in() { ip netns exec "$ns" "$@"; }

page=$(run_in curl -s -m 10 http://10.0.0.2/) || ts_fail "curl http://10.0.0.2/ failed"
grep -q 'ESTABLISHED' <<<"$page" || ts_fail "httpd's page does not show the connection table"
live=$(run_in curl -s -m 10 http://10.0.0.2/tcp) || ts_fail "curl http://10.0.0.2/tcp failed"
grep -q 'TCP live on tapstack' <<<"$live" || ts_fail "http://10.0.0.2/tcp is not the live page"
echoed=$(echo "hello, echo" | run_in nc -N -w 5 10.0.0.3 7) || ts_fail "nc to the echo server failed"
[[ $echoed == "hello, echo" ]] || ts_fail "the echo server answered '$echoed'"
tap_h=$(grep -o 'tap tsh[0-9]*' "$out" | head -n 1 | cut -d' ' -f2)
stat=$("$TS_BIN/tapstack-stat" --tap "$tap_h" -l 2>&1) || ts_fail "tapstack-stat --tap $tap_h failed: $stat"
grep -qE '10\.0\.0\.2:80 .*LISTEN' <<<"$stat" || ts_fail "tapstack-stat does not show httpd's listener: $stat"
grep -qE '\[tapstack-httpd\] .* LISTEN -> SYN_RECV \(rcvd SYN\)' "$out" || ts_fail "httpd's trace lines are not shown"

kill -INT -- -"$pid"
for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$pid" 2>/dev/null && ts_fail "tools/run.sh did not stop within 15 s of Ctrl-C"
wait "$pid"
rc=$?
[[ $rc -eq 0 ]] || ts_fail "tools/run.sh exited with $rc after Ctrl-C"
ip netns list | grep -q "^$ns\b" && ts_fail "the namespace $ns is left behind"
[[ -e $profile ]] && ts_fail "the browser's profile directory $profile is left behind"
for p in /proc/[0-9]*; do
    if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "$tap_h\b"; then
        ts_fail "a server is left running: $({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)"
    fi
done
ts_pass
