# shellcheck shell=bash disable=SC2034  # (variables here are for the scripts that source it)
# Shared helpers for the integration tests. Every test script sources this file:
#
#   . "$(dirname "$0")/lib.sh"
#   ts_ns_setup                                  # namespace + tap0 (host side 10.0.0.1/24)
#   ts_start_app "$TS_BIN/tapstack-echo-server" --pcap "$TS_TMP/run.pcap"
#   ts_ns_exec ping -c 3 10.0.0.2 || ts_fail "ping got no answer"
#   ts_stop_app                                  # SIGTERM; fails the test unless it exits 0
#   ts_pass
#
# Network safety: everything happens inside a namespace made for this run (a unique name), the
# host side is 10.0.0.1 and the stack 10.0.0.2, both inside it. Send traffic to nothing else.
# A trap on EXIT/INT/TERM kills only the processes started here (by PID) and deletes the namespace.
#
# Exit codes: 0 pass, 1 fail, 77 skip (tests/run-integration.sh counts them).
# Environment: TS_BUILD (build directory, default build), TS_SAN=1 when the binaries are the
# sanitizer build (slower: tests may pick smaller sizes, and must not measure memory growth).

set -uo pipefail

TS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TS_BUILD=${TS_BUILD:-build}
[[ $TS_BUILD == /* ]] || TS_BUILD=$TS_ROOT/$TS_BUILD
TS_BIN=$TS_BUILD/bin
TS_SAN=${TS_SAN:-0}
[[ $TS_BUILD == */san ]] && TS_SAN=1
TS_TEST=$(basename "$0" .sh)
TS_NS=
TS_TAP=tap0
TS_HOST_IP=10.0.0.1
TS_STACK_IP=10.0.0.2
TS_STACK_MAC=02:00:00:00:00:02
TS_PIDS=()
TS_APP_PID=
TS_APP_LOG=
TS_TMP=$(mktemp -d "/tmp/ts-${TS_TEST}.XXXXXX")
chmod 755 "$TS_TMP" # tcpdump -r drops root privileges before reading

ts_log() { echo "[$TS_TEST] $*" >&2; }

ts_cleanup() {
    local pid
    for pid in "${TS_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    TS_PIDS=()
    if [[ -n $TS_NS ]]; then
        ip netns del "$TS_NS" 2>/dev/null
        TS_NS=
    fi
    [[ -n ${TS_TMP:-} && -d $TS_TMP ]] && rm -rf "$TS_TMP"
}
trap 'ts_cleanup' EXIT
trap 'ts_log "interrupted"; exit 1' INT TERM

# Print the logs of the apps this test started (on failure).
ts_dump_logs() {
    local f
    for f in "$TS_TMP"/app-*.log; do
        [[ -e $f ]] || continue
        echo "---- $(basename "$f") ----" >&2
        tail -n 60 "$f" >&2
    done
}

ts_pass() {
    echo "PASS: $TS_TEST${1:+: $1}"
    exit 0
}
ts_fail() {
    echo "FAIL: $TS_TEST: $*"
    ts_dump_logs
    exit 1
}
ts_skip() {
    echo "SKIP: $TS_TEST: $*"
    exit 77
}

# Run a command inside the test's namespace.
ts_ns_exec() { ip netns exec "$TS_NS" "$@"; }

# ts_check "what should hold" CMD...: fail the test with that text unless CMD succeeds.
ts_check() {
    local what=$1
    shift
    "$@" || ts_fail "$what (command: $*)"
}

# Create the namespace and the tap in it (host side $TS_HOST_IP/24, up).
ts_ns_setup() {
    [[ $(id -u) -eq 0 ]] || ts_skip "need root for network namespaces and taps"
    [[ -e /dev/net/tun ]] || ts_skip "no /dev/net/tun"
    command -v ip >/dev/null || ts_skip "no iproute2"
    local short=${TS_TEST#test_}
    TS_NS="ts-${short:0:20}-$$-$RANDOM"
    "$TS_ROOT/tools/tap-setup" --netns "$TS_NS" --name "$TS_TAP" --host-ip "$TS_HOST_IP/24" >/dev/null ||
        ts_fail "tools/tap-setup could not create the namespace and tap"
}

# Is the stack answering ping from the host side?
ts_stack_answers() { ts_ns_exec ping -c 1 -W 1 -q "$TS_STACK_IP" >/dev/null 2>&1; }

# ts_start_app CMD ARGS...: start a tapstack app inside the namespace in the background, with its
# output in $TS_TMP/app-N.log; wait until the stack answers ping (10 s at most). Sets TS_APP_PID
# and TS_APP_LOG. Fails the test if the app dies or never answers.
ts_start_app() {
    local n=${#TS_PIDS[@]}
    TS_APP_LOG=$TS_TMP/app-$n.log
    ip netns exec "$TS_NS" "$@" >"$TS_APP_LOG" 2>&1 &
    TS_APP_PID=$!
    TS_PIDS+=("$TS_APP_PID")
    for _ in $(seq 40); do
        kill -0 "$TS_APP_PID" 2>/dev/null || ts_fail "$(basename "$1") exited at start-up"
        ts_stack_answers && return 0
        sleep 0.25
    done
    ts_fail "$(basename "$1") did not answer ping within 10 s"
}

# ts_wait_log PATTERN [SECONDS]: wait until the current app's log has a line matching PATTERN.
ts_wait_log() {
    local pat=$1 secs=${2:-10}
    for _ in $(seq $((secs * 10))); do
        grep -qE -- "$pat" "$TS_APP_LOG" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ts_stop_app [PID]: SIGTERM the app (default: the last started) and wait for it; fails the test
# unless it exits 0 within 10 s (a sanitizer report makes the exit status non-zero).
ts_stop_app() {
    local pid=${1:-$TS_APP_PID} rc
    kill -TERM "$pid" 2>/dev/null || ts_fail "app $pid was not running when asked to stop"
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && ts_fail "app $pid did not exit within 10 s of SIGTERM"
    wait "$pid"
    rc=$?
    local keep=()
    for p in "${TS_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    TS_PIDS=("${keep[@]}")
    [[ $rc -eq 0 ]] || ts_fail "app $pid exited with status $rc after SIGTERM"
}

# Resident memory of a process in KiB.
ts_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# The python3 that has scapy (Debian's python3-scapy; a pyenv python may shadow it).
ts_scapy_python() {
    local py
    for py in /usr/bin/python3 python3; do
        "$py" -c 'import scapy.all' >/dev/null 2>&1 && { echo "$py"; return 0; }
    done
    return 1
}
