#!/usr/bin/env bash
# `make demo`: a tour of the eleven TCP states, each made to happen in front of you.
#
#   tools/demo.sh [--step N]          (make demo STEP=N: one step, 1..7)
#
#   1 a server starts: CLOSE -> LISTEN (and ping, the host's ARP entry)
#   2 the host's curl connects: SYN_RECV, ESTABLISHED on tapstack; SYN-SENT, ESTAB on the host
#   3 the host closes first: CLOSE_WAIT (held), LAST_ACK, CLOSE; host FIN-WAIT-1/2, TIME-WAIT
#   4 tapstack closes first: FIN_WAIT1, FIN_WAIT2 (held), TIME_WAIT (counting down); host
#     CLOSE-WAIT, LAST-ACK
#   5 tapstack connects out: SYN_SENT -> ESTABLISHED
#   6 two tapstack stacks: simultaneous open (SYN_SENT -> SYN_RECV) and close (CLOSING)
#   7 resets: a closed port refuses, a connection reset in ESTABLISHED
#
# It installs what it needs first (tools/deps.sh demo), builds only the programs it runs, and
# needs root for the network namespaces. Each step gets a namespace of its own with a tap in it
# (10.0.0.1 the host's end, 10.0.0.2 tapstack), runs tools/tour/tour.sh inside it, and removes it;
# nothing is left behind, also on failure or Ctrl-C.
#
# For the tests: TOUR_BUILD (build directory with the binaries, default build), TOUR_NO_BUILD=1
# (use them as they are: no deps, no make), TOUR_LOGS=DIR (keep each step's logs in DIR/stepN),
# TOUR_PACE (multiplies the pauses; 0 = none).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

steps=(1 2 3 4 5 6 7)
while [[ $# -gt 0 ]]; do
    case $1 in
    --step)
        [[ ${2:-} =~ ^[1-7]$ ]] || { echo "demo: --step takes a step number 1..7 (make demo STEP=4)" >&2; exit 2; }
        steps=("$2")
        shift 2
        ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
    *) echo "demo: unknown argument '$1' (usage: tools/demo.sh [--step N])" >&2; exit 2 ;;
    esac
done

build=${TOUR_BUILD:-build}
[[ $build == /* ]] || build=$root/$build

if [[ -z ${TOUR_NO_BUILD:-} ]]; then
    tools/deps.sh demo
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "demo: it makes a network namespace with a tap in it, which needs root: sudo make demo" >&2
    exit 1
fi
[[ -e /dev/net/tun ]] || { echo "demo: no /dev/net/tun: load the tun module (modprobe tun)" >&2; exit 1; }
if [[ -z ${TOUR_NO_BUILD:-} ]]; then
    echo "demo: building what it runs (make demo-bins)"
    make -j2 --no-print-directory demo-bins >/dev/null
fi

tap=tstour$$
ns=
logs=${TOUR_LOGS:-}
tmp=$(mktemp -d /tmp/ts-tour.XXXXXX)
chmod 755 "$tmp"
cleanup() {
    set +e # every step below must run, whatever the one before returned
    [[ -n $ns ]] && ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted; everything it made is removed"; exit 130' INT
trap 'exit 143' TERM

if [[ -t 1 ]]; then B=$'\033[1m' N=$'\033[0m'; else B='' N=''; fi
cat <<EOF

${B}A tour of the TCP states, on tapstack and on the host's own kernel side by side${N}

Each step runs in a network namespace of its own with a tap device in it: the host's end is
10.0.0.1 (Linux's TCP, looked at with its own \`ss -tan\`), tapstack is 10.0.0.2 (a program,
looked at with tapstack-stat and its --trace lines: every state change with its cause). tapstack
runs here with a short MSL of 1 s, so its TIME_WAIT lasts 2 s instead of 60 s. In the steps where
a state on one side lasts only microseconds, tapstack holds its frames back for 0.6 s (its fault
injector's --delay-in/--delay-out) so that you can see it; the step says so.
EOF

start=$SECONDS
for n in "${steps[@]}"; do
    ns=ts-tour-$$-$n
    dir=$tmp/step$n
    mkdir -p "$dir"
    tools/tap-setup --netns "$ns" --name "$tap" --host-ip 10.0.0.1/24 >/dev/null
    printf '\n(step %s runs in namespace %s, tapstack on tap %s: look from another terminal with\n' \
        "$n" "$ns" "$tap"
    printf ' sudo ip netns exec %s ss -tan, or sudo build/bin/tapstack-stat --tap %s)\n' "$ns" "$tap"
    rc=0
    TOUR_TAP=$tap TOUR_BIN=$build/bin TOUR_STEP_DIR=$dir TOUR_PACE=${TOUR_PACE:-1} \
        ip netns exec "$ns" bash tools/tour/tour.sh "$n" || rc=$?
    ip netns del "$ns"
    ns=
    if [[ -n $logs ]]; then
        mkdir -p "$logs"
        rm -rf "${logs:?}/step$n"
        cp -r "$dir" "$logs/step$n"
    fi
    [[ $rc -eq 0 ]] || { echo "demo: step $n failed (exit status $rc)" >&2; exit "$rc"; }
done
printf '\n%sdone%s: %s step(s) in %d s; the namespaces are removed.\n' "$B" "$N" "${#steps[@]}" \
    $((SECONDS - start))
printf 'To watch TCP live in a browser (the state diagram, every connection, each one'"'"'s segments):\n'
printf '  sudo make run, then open http://10.0.0.2/tcp as it says.\n'
