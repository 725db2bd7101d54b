#!/usr/bin/env bash
# `make run`: tapstack-httpd and tapstack-echo-server up in a network namespace until Ctrl-C.
#
# One stack per tap, so the two servers are two tapstack stacks, each on a tap of its own, both
# taps joined by a bridge in the namespace, which carries the host's end: one Ethernet segment
# 10.0.0.0/24 with the host at 10.0.0.1, tapstack-httpd at 10.0.0.2 and tapstack-echo-server at
# 10.0.0.3, like two small machines on a LAN. Both print every TCP state change (--trace) here.
# To run an app on a tap of your own without root instead, see the README ("Running tapstack on
# your own machine without root").
#
# It installs what it needs first (tools/deps.sh run), builds only the two servers (and
# tapstack-stat), needs root for the namespace, and removes everything on Ctrl-C.
# RUN_NO_BUILD=1 skips deps and make; RUN_BUILD names the build directory (default build).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [[ -z ${RUN_NO_BUILD:-} ]]; then
    tools/deps.sh run
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "run: it makes a network namespace with taps in it, which needs root: sudo make run" >&2
    echo "run: (or, without root, an app on a tap of your own: see the README)" >&2
    exit 1
fi
if [[ -z ${RUN_NO_BUILD:-} ]]; then
    echo "run: building what it runs (make run-bins)"
    make -j2 --no-print-directory run-bins >/dev/null
fi
bin=${RUN_BUILD:-build}/bin
[[ $bin == /* ]] || bin=$root/$bin

ns=ts-run-$$
br=tsbr$$
tap_h=tsh$$ # httpd's tap
tap_e=tse$$ # echo server's tap
pids=()
profile= # the browser's profile directory (below)
cleanup() {
    set +e # every step below must run, whatever the one before returned
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || continue
        for _ in $(seq 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    ip netns del "$ns" 2>/dev/null
    [[ -n $profile ]] && rm -rf "$profile"
}
trap cleanup EXIT
trap 'echo; echo "run: stopping; the namespace $ns is removed"; exit 0' INT TERM

# The namespace, a bridge with the host's address, and one tap per server on it.
ip netns add "$ns"
ipn() { ip -n "$ns" "$@"; }
ipn link set lo up
ipn link add "$br" type bridge
ipn addr add 10.0.0.1/24 dev "$br"
ipn link set "$br" up
for t in "$tap_h" "$tap_e"; do
    ipn tuntap add dev "$t" mode tap
    ipn link set "$t" master "$br"
    ipn link set "$t" up
done

# start NAME TAP ARGS...: a server in the namespace; its messages go to the terminal, prefixed.
start() {
    local name=$1 tap=$2
    shift 2
    ip netns exec "$ns" "$bin/$name" --tap "$tap" --trace "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
    pids+=($!)
}
start tapstack-httpd "$tap_h" --ip 10.0.0.2/24 --mac 02:00:00:00:00:02
start tapstack-echo-server "$tap_e" --ip 10.0.0.3/24 --mac 02:00:00:00:00:03
for a in 10.0.0.2 10.0.0.3; do
    for _ in $(seq 50); do
        ip netns exec "$ns" ping -c 1 -W 1 -q "$a" >/dev/null 2>&1 && break
        sleep 0.2
    done
done
for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null || { echo "run: a server did not start (its message is above)" >&2; exit 1; }
done

stat_line="  (tapstack-stat is not built in this tree)"
if [[ -x $bin/tapstack-stat ]]; then
    stat_line="  sudo $bin/tapstack-stat --tap $tap_h        # httpd's sockets (-i internals, -s counters, --trace live)
  sudo $bin/tapstack-stat --tap $tap_e        # the echo server's"
fi
# The browser runs as the user who ran sudo (as root, Chromium needs --no-sandbox), with a
# profile of its own: a Chromium already open outside the namespace would otherwise be handed the
# address and look for it on the host's network, where 10.0.0.2 is not.
who=${SUDO_USER:-$(id -un)}
profile=$(mktemp -d /tmp/ts-run-browser.XXXXXX)
chown "$who" "$profile" 2>/dev/null || true
browser="sudo -u $who chromium --user-data-dir=$profile"
[[ $who == root ]] && browser="chromium --no-sandbox --user-data-dir=$profile"
cat <<EOF

tapstack is up in the network namespace $ns (the host's end: 10.0.0.1 on bridge $br):
  tapstack-httpd        10.0.0.2, port 80       (tap $tap_h)
  tapstack-echo-server  10.0.0.3, TCP/UDP port 7 (tap $tap_e)

Reach them from another terminal, inside the namespace:
  sudo ip netns exec $ns curl http://10.0.0.2/            # the page shows the live connection table
  sudo ip netns exec $ns curl http://10.0.0.2/stats
  sudo ip netns exec $ns nc 10.0.0.3 7                    # type lines; they come back
  sudo ip netns exec $ns ping 10.0.0.3
  sudo ip netns exec $ns bash                             # a shell in there (exit to leave)
Watch TCP live in a browser: http://10.0.0.2/tcp (the state diagram with every connection moving
through it, and each connection's segments). 10.0.0.2 exists only inside the namespace, so start
the browser in there (and close it when you stop this: while it runs, the namespace lives on):
  sudo ip netns exec $ns $browser http://10.0.0.2/tcp
Watch them:
$stat_line
Their TCP state changes appear below as they happen. Ctrl-C stops both and removes the namespace.

EOF
# Until Ctrl-C, or until a server stops on its own.
while :; do
    for p in "${pids[@]}"; do
        kill -0 "$p" 2>/dev/null || { echo "run: a server stopped" >&2; exit 1; }
    done
    sleep 1
done
