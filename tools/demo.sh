#!/usr/bin/env bash
# The short demo (`make demo`): build, make a network namespace with a tap in it, start
# tapstack-echo-server on the tap, ping it from the host side (small and 8000-byte echoes), show
# the ARP entry the host learnt, and remove everything again, also on failure or Ctrl-C.
# Nothing outside the namespace is touched: the host side is 10.0.0.1, the stack 10.0.0.2.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

tools/deps.sh demo
if [[ $(id -u) -ne 0 ]]; then
    echo "demo: it creates a network namespace and a tap, which needs root: sudo make demo" >&2
    exit 1
fi
make -j2 --no-print-directory build/bin/tapstack-echo-server

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

say "tapstack-echo-server on tap0 as 10.0.0.2 (log in $tmp/server.log)"
ip netns exec "$ns" build/bin/tapstack-echo-server --tap tap0 --stats >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 40); do
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log"; echo "demo: the server exited" >&2; exit 1; }
    ip netns exec "$ns" ping -c 1 -W 1 -q 10.0.0.2 >/dev/null 2>&1 && break
    sleep 0.25
done
cat "$tmp/server.log"
shown=$(wc -l <"$tmp/server.log")

say "ping from the host side"
run ip netns exec "$ns" ping -c 3 -i 0.3 10.0.0.2

say "a large ping: 8000 bytes, fragmented by the host and reassembled by tapstack, and back"
run ip netns exec "$ns" ping -c 2 -i 0.3 -s 8000 10.0.0.2

say "the host's ARP entry for the stack (its MAC is 02:00:00:00:00:02)"
run ip netns exec "$ns" ip neigh show dev tap0

say "stopping the server (SIGTERM); its counters"
kill -TERM "$pid"
wait "$pid" || true
pid=
tail -n +$((shown + 1)) "$tmp/server.log"

say "done: the namespace is removed on exit"
