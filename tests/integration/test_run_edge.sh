#!/usr/bin/env bash
# tapstack-run with a program of our own that goes through the edge cases of an unmodified
# program on tapstack (tests/integration/prog_edge.c: poll/select/epoll over a pipe and sockets,
# dup/dup2 over a tapstack socket, close while another thread blocks in recv, fork+exec and a
# forked child refused, SIGPIPE, non-blocking connect, loopback, Linux's socket options, ioctl,
# sendmsg/recvmsg/readv/writev, sendfile/splice, UDP, AF_INET6 v4-mapped, timeouts and EINTR,
# shutdown, accept4 flags, io_uring refused, waits that use no CPU); then what tapstack-run refuses in one line (a static
# program, a set-uid one, a bad option, a missing program), and a shell whose child talks.
# In the sanitizer build prog_edge runs with the suite's ASAN_OPTIONS (leaks checked): it is ours.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"
. "$(dirname "$0")/run_lib.sh"

[[ -x $TS_BUILD/tests/prog_edge && -x $TS_BUILD/tests/prog_static ]] || ts_skip "prog_edge/prog_static not built"
ts_need_cmd socat curl
ts_ns_setup

# The host side's echo server for the checks that talk across the link.
ts_bg socat TCP-LISTEN:7777,bind=$TS_HOST_IP,fork,reuseaddr PIPE
ts_wait_port 7777 || ts_fail "socat echo server did not start"

out=$(ip netns exec "$TS_NS" timeout --kill-after=5 120 "$TS_BIN/tapstack-run" --tap "$TS_TAP" \
    --control none -- "$TS_BUILD/tests/prog_edge" "$TS_HOST_IP" 7777 2>"$TS_TMP/edge.err")
rc=$?
echo "$out" >"$TS_TMP/app-edge.log"
cat "$TS_TMP/edge.err" >>"$TS_TMP/app-edge.log"
[[ $rc == 0 ]] || ts_fail "prog_edge: $(grep -c '^FAIL' <<<"$out") checks failed (status $rc): $(grep '^FAIL' <<<"$out" | head -5)"
nok=$(grep -c '^ok ' <<<"$out")
[[ $nok -ge 22 ]] || ts_fail "prog_edge ran only $nok checks"
# The forked child that touched a tapstack socket was told why, in one line, once.
[[ $(grep -c 'a forked child cannot use it' "$TS_TMP/edge.err") == 1 ]] ||
    ts_fail "the forked child's error line is missing or repeated: $(cat "$TS_TMP/edge.err")"
grep -q 'io_uring is refused' "$TS_TMP/edge.err" || ts_fail "no line about io_uring"

# Refusals: one line, non-zero, nothing run.
refuse() { # refuse STATUS PATTERN ARGS...
    local want=$1 pat=$2
    shift 2
    local err
    err=$(ip netns exec "$TS_NS" "$TS_BIN/tapstack-run" --control none "$@" 2>&1 >/dev/null)
    local rc=$?
    [[ $rc == "$want" ]] || ts_fail "tapstack-run $*: status $rc, want $want ($err)"
    [[ $(wc -l <<<"$err") == 1 && $err == *"$pat"* ]] || ts_fail "tapstack-run $*: said '$err'"
}
refuse 1 "statically linked" -- "$TS_BUILD/tests/prog_static"
cp /bin/true "$TS_TMP/setuid-true"
chown nobody "$TS_TMP/setuid-true" && chmod 4755 "$TS_TMP/setuid-true"
refuse 1 "is set-uid" -- "$TS_TMP/setuid-true"
refuse 2 "--mtu 99: must be a number between 576 and 9000" --mtu 99 -- true
refuse 127 "no-such-program-here: command not found" -- no-such-program-here
refuse 2 "missing the program to run" --mtu 1400

# A shell (no socket of its own) whose child does the talking: the child brings the stack up.
ts_bg python3 -m http.server 8000 --bind "$TS_HOST_IP" --directory "$TS_TMP" >/dev/null 2>&1
ts_wait_port 8000 || ts_fail "http.server did not start"
echo "through a shell" >"$TS_TMP/page.txt"
fetch="import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())"
got=$(ts_run_fg 60 sh -c "python3 -c '$fetch' http://$TS_HOST_IP:8000/page.txt; echo status \$?" 2>/dev/null)
[[ $got == *"through a shell"*"status 0"* ]] || ts_fail "sh -c python3 urllib: '$got'"

ts_pass "prog_edge: $nok checks; static, set-uid, bad option, missing program refused in one line; a shell's child fetched a page"
