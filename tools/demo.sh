#!/usr/bin/env bash
# The short demo (`make demo`): build, make a network namespace with a tap in it, start
# tapstack-echo-server on the tap, ping it from the host side (small and 8000-byte echoes), show
# the ARP entry the host learnt, echo a line with nc, then fetch a page from tapstack-httpd with
# curl, printing the --trace lines (every TCP state change and its cause) of those connections,
# and remove everything again, also on failure or Ctrl-C.
# Nothing outside the namespace is touched: the host side is 10.0.0.1, the stack 10.0.0.2.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

tools/deps.sh demo
if [[ $(id -u) -ne 0 ]]; then
    echo "demo: it creates a network namespace and a tap, which needs root: sudo make demo" >&2
    exit 1
fi
make -j2 --no-print-directory build/bin/tapstack-echo-server build/bin/tapstack-httpd

ns=ts-demo-$$
tmp=$(mktemp -d /tmp/ts-demo.XXXXXX)
pid=
cleanup() {
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
    printf '$ %s\n' "$*"
    "$@"
}

say "a network namespace $ns with tap0 in it; the host side is 10.0.0.1/24"
run tools/tap-setup --netns "$ns" --name tap0 --host-ip 10.0.0.1/24

# start_app NAME ARGS...: run build/bin/NAME in the namespace, log in $tmp/server.log; wait until
# the stack answers ping; print what it said on start-up.
start_app() {
    local app=$1
    shift
    printf '$ ip netns exec %s build/bin/%s %s &\n' "$ns" "$app" "$*"
    ip netns exec "$ns" "build/bin/$app" "$@" >"$tmp/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 40); do
        kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log"; echo "demo: $app exited" >&2; exit 1; }
        ip netns exec "$ns" ping -c 1 -W 1 -q 10.0.0.2 >/dev/null 2>&1 && break
        sleep 0.25
    done
    cat "$tmp/server.log"
    shown=$(wc -l <"$tmp/server.log")
}
# new_log_lines: what the app printed since last time (its --trace lines).
new_log_lines() {
    local n
    n=$(wc -l <"$tmp/server.log")
    tail -n +$((shown + 1)) "$tmp/server.log" | head -n $((n - shown))
    shown=$n
}
stop_app() {
    kill -TERM "$pid"
    wait "$pid" || true
    pid=
    new_log_lines
}

say "tapstack-echo-server on tap0 as 10.0.0.2, tracing every TCP state change"
start_app tapstack-echo-server --tap tap0 --trace --stats

say "ping from the host side"
run ip netns exec "$ns" ping -c 3 -i 0.3 10.0.0.2

say "a large ping: 8000 bytes, fragmented by the host and reassembled by tapstack, and back"
run ip netns exec "$ns" ping -c 2 -i 0.3 -s 8000 10.0.0.2

say "the host's ARP entry for the stack (its MAC is 02:00:00:00:00:02)"
run ip netns exec "$ns" ip neigh show dev tap0

say "a line through TCP echo with the host's nc (-N: half-close at the end of input)"
printf '$ echo "hello, tapstack" | ip netns exec %s nc -N 10.0.0.2 7\n' "$ns"
echo "hello, tapstack" | ip netns exec "$ns" nc -N -w 5 10.0.0.2 7
sleep 0.3
say "the server's --trace lines of that connection: the host opened it, so the server side goes"
echo "LISTEN -> SYN_RECV -> ESTABLISHED; the host closed first, so CLOSE_WAIT -> LAST_ACK -> CLOSE"
new_log_lines

say "stopping the echo server (SIGTERM); its counters (drops, each with its reason)"
stop_app

say "tapstack-httpd on the same tap, tracing"
start_app tapstack-httpd --tap tap0 --trace
say "a page from it with the host's curl (the live connection table, first lines)"
printf '$ ip netns exec %s curl -s http://10.0.0.2/ | sed "s/<[^>]*>/ /g"\n' "$ns"
ip netns exec "$ns" curl -s -m 10 http://10.0.0.2/ | sed -e 's/<[^>]*>/ /g' -e 's/  */ /g' | grep -v '^ *$' | head -n 8
sleep 0.3
say "the httpd's --trace lines of that connection"
new_log_lines
stop_app

say "done: the namespace is removed on exit"
