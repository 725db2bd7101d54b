# shellcheck shell=bash disable=SC2034
# Helpers for the tapstack-run tests (test_run_*). Source after lib.sh and apps_lib.sh.
#
# Every program runs inside the test's namespace as `tapstack-run ... -- PROGRAM`, with its
# stack on the namespace's tap (10.0.0.2) and --control none unless a test wants one (other
# tests may run a tap0 stack in their own namespaces, and the default control path is shared).

ts_need_bin tapstack-run tapstack-stat
[[ -r $TS_BUILD/lib/libtapstack-preload.so ]] || ts_skip "$TS_BUILD/lib/libtapstack-preload.so is not built"
# The sanitizer build's tapstack-run preloads libasan into the program too: LeakSanitizer would
# report the program's own leaks (python's, nginx's) as ours, so it is off for them (prog_edge,
# ours, runs with the suite's ASAN_OPTIONS).
TS_RUN_ENV=()
[[ $TS_SAN == 1 ]] && TS_RUN_ENV=(env ASAN_OPTIONS=detect_leaks=0:abort_on_error=1)
# ts_run_control PATH|none: the tapstack-run command line, with that control socket.
ts_run_control() { TS_RUN=("${TS_RUN_ENV[@]}" "$TS_BIN/tapstack-run" --tap "$TS_TAP" --control "$1"); }
ts_run_control none

# ts_san_unfit CMD: true in the sanitizer build for a program that hangs with libasan preloaded
# even without tapstack (curl and wget: a deadlock in setlocale at start-up); that part is
# skipped there, and runs in the normal build.
ts_san_unfit() { [[ $TS_SAN == 1 && ($1 == curl || $1 == wget) ]]; }

# ts_need_cmd CMD...: skip when a program the test runs is not installed (tools/deps.sh lists them).
ts_need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || ts_skip "$c is not installed (sudo tools/deps.sh test)"
    done
}

# ts_run_fg SECONDS CMD...: run CMD under tapstack-run in the namespace, in the foreground,
# killed after SECONDS; its status is returned.
ts_run_fg() {
    local secs=$1
    shift
    ip netns exec "$TS_NS" timeout --kill-after=5 "$secs" "${TS_RUN[@]}" -- "$@"
}

# ts_run_bg LOG CMD...: run CMD under tapstack-run in the background (stdout and stderr to LOG),
# killed by the cleanup trap. TS_BG_PID is the program's own pid (ip netns exec and tapstack-run
# both exec in place).
ts_run_bg() {
    local log=$1
    shift
    ip netns exec "$TS_NS" "${TS_RUN[@]}" -- "$@" >"$log" 2>&1 <&0 &
    TS_BG_PID=$!
    TS_PIDS+=("$TS_BG_PID")
}

# ts_wait_stack_port PORT: wait until the stack (10.0.0.2) accepts TCP connections on PORT (10 s).
ts_wait_stack_port() {
    local i
    for i in $(seq 100); do
        ts_ns_exec timeout 1 bash -c "exec 3<>/dev/tcp/$TS_STACK_IP/$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ts_end PID [SECONDS]: SIGTERM PID and wait for it (10 s, then SIGKILL); forget it.
ts_end() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq $((${2:-10} * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    local keep=() p
    for p in "${TS_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    TS_PIDS=("${keep[@]}")
}

# ts_wait_exit PID SECONDS: wait for PID to exit by itself; its status, or 124 after SECONDS.
ts_wait_exit() {
    local pid=$1 i
    for i in $(seq $(($2 * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 124
    fi
    wait "$pid"
}

# A file of N random bytes at PATH, and its SHA-256.
ts_random_file() {
    head -c "$2" /dev/urandom >"$1"
    ts_sha "$1"
}

# ts_host_upload PORT RESULT: a one-request HTTP server on the host side that reads a POST body
# (Content-Length) and writes "BYTES SHA256" of it to RESULT.
ts_host_upload() {
    ts_bg python3 -c 'import socket, sys, hashlib
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
c, _ = s.accept()
buf = b""
while b"\r\n\r\n" not in buf:
    d = c.recv(65536)
    if not d:
        sys.exit(1)
    buf += d
head, body = buf.split(b"\r\n\r\n", 1)
n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
h = hashlib.sha256(body)
got = len(body)
while got < n:
    d = c.recv(262144)
    if not d:
        break
    h.update(d)
    got += len(d)
open(sys.argv[3], "w").write("%d %s\n" % (got, h.hexdigest()))
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
c.close()' "$TS_HOST_IP" "$1" "$2"
}
