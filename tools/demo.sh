#!/usr/bin/env bash
# `make demo`: a tour of the eleven TCP states, each made to happen in front of you.
#
#   tools/demo.sh [--step N[,N...]] [--watch]
#                 (make demo STEP=4: one step, 1..7; STEP=2,3: those; make demo WATCH=1: --watch)
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
# --watch: the tour in a browser too. One namespace for the whole tour, a bridge in it with the
# host's end (10.0.0.1) and two taps (tapstack at 10.0.0.2, step 6's second stack at 10.0.0.3);
# every stack serves the live TCP page (tapstack-sock --viz-port 8080), so one tab on
# http://10.0.0.2:8080/tcp follows the tour: each step's new stack is noticed by the page, which
# starts afresh. It prints the command that opens a browser inside the namespace, and each step
# waits for Enter at its end (its stack still up, its ladders on the page); the pauses are
# doubled, and step 6 runs in real time between two stacks (not on a virtual clock).
#
# For the tests: TOUR_BUILD (build directory with the binaries, default build), TOUR_NO_BUILD=1
# (use them as they are: no deps, no make), TOUR_LOGS=DIR (keep each step's logs in DIR/stepN),
# TOUR_PACE (multiplies the pauses; 0 = none), TOUR_WATCH_HOLD=SECONDS (--watch: hold each step's
# stack that long at its end instead of waiting for Enter).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

steps=(1 2 3 4 5 6 7)
watch=
viz_port=8080
while [[ $# -gt 0 ]]; do
    case $1 in
    --step)
        [[ ${2:-} =~ ^[1-7](,[1-7])*$ ]] ||
            { echo "demo: --step takes step numbers 1..7: one (make demo STEP=4) or several (STEP=2,3)" >&2; exit 2; }
        IFS=, read -r -a steps <<<"$2"
        shift 2
        ;;
    --watch) watch=1; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
    *) echo "demo: unknown argument '$1' (usage: tools/demo.sh [--step N[,N...]] [--watch])" >&2; exit 2 ;;
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
tap_b=tstour$$-b # watch mode: step 6's stack B
ns=
logs=${TOUR_LOGS:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ts-tour.XXXXXX")
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

# --watch: one namespace for the whole tour, so that the browser inside it stays; a bridge with
# the host's end, and the taps of both stacks on it (as make run's).
watch_setup() {
    ns=ts-tour-$$-watch
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" link add "tsbr$$" type bridge
    ip -n "$ns" addr add 10.0.0.1/24 dev "tsbr$$"
    ip -n "$ns" link set "tsbr$$" up
    local t
    for t in "$tap" "$tap_b"; do
        ip -n "$ns" tuntap add dev "$t" mode tap
        ip -n "$ns" link set "$t" master "tsbr$$"
        ip -n "$ns" link set "$t" up
    done
    mkdir -p "$tmp/watch"
    # The browser runs as the user who ran sudo (as root, Chromium needs --no-sandbox), with a
    # profile of its own: a Chromium already open outside the namespace would otherwise take the
    # address and look for it on the host's network.
    local who=${SUDO_USER:-$(id -un)} profile=$tmp/browser browser as_user=
    mkdir -p "$profile"
    chown "$who" "$profile" 2>/dev/null || true
    [[ $who == root ]] || as_user="sudo -u $who "
    browser="${as_user}chromium --user-data-dir=$profile"
    [[ $who == root ]] && browser="chromium --no-sandbox --user-data-dir=$profile"
    cat <<EOF

${B}Watch it in a browser${N}: every stack of the tour serves the live TCP page (the state diagram
with its connections as tokens, the transitions, each connection's segment ladder) on port
$viz_port: ${B}http://10.0.0.2:$viz_port/tcp${N}, inside the namespace $ns. Open it from another
terminal with a browser started inside the namespace:

  sudo ip netns exec $ns $browser http://10.0.0.2:$viz_port/tcp

(or look with curl: sudo ip netns exec $ns curl http://10.0.0.2:$viz_port/api/connections).
One tab follows the whole tour: each step runs a new stack at the same address, and the page
notices it and starts afresh. Each step waits for Enter at its end, its stack still up, so you can
look at its connections and ladders. Close the browser when the tour ends: while it runs, the
namespace lives on. The browser's own connections to port $viz_port are hidden on the page (untick
"hide this page's own connections" to see them) and left out of what the terminal shows.
EOF
    command -v chromium >/dev/null ||
        printf '(Chromium is not installed here: sudo apt-get install chromium. Or Firefox, the same way:\n  sudo ip netns exec %s %sfirefox --no-remote --profile %s http://10.0.0.2:%s/tcp)\n' \
            "$ns" "$as_user" "$profile" "$viz_port"
}

# run_step N: tools/tour/tour.sh N inside namespace $ns.
run_step() {
    local n=$1 dir=$tmp/step$1 rc=0
    mkdir -p "$dir"
    local env=(TOUR_TAP="$tap" TOUR_BIN="$build/bin" TOUR_STEP_DIR="$dir" TOUR_PACE="$pace")
    [[ -n $watch ]] && env+=(TOUR_VIZ_PORT="$viz_port" TOUR_TAP_B="$tap_b" TOUR_WATCH_DIR="$tmp/watch")
    env "${env[@]}" ip netns exec "$ns" bash tools/tour/tour.sh "$n" || rc=$?
    return "$rc"
}

pace=${TOUR_PACE:-1}
if [[ -n $watch ]]; then
    pace=${TOUR_PACE:-2}
    watch_setup
    rc=0
    run_step 0 || rc=$?
    [[ $rc -eq 0 ]] || { echo "demo: the page's first stack failed (exit status $rc)" >&2; exit "$rc"; }
fi

start=$SECONDS
for n in "${steps[@]}"; do
    dir=$tmp/step$n
    if [[ -z $watch ]]; then
        ns=ts-tour-$$-$n
        tools/tap-setup --netns "$ns" --name "$tap" --host-ip 10.0.0.1/24 >/dev/null
    fi
    printf '\n(step %s runs in namespace %s, tapstack on tap %s: look from another terminal with\n' \
        "$n" "$ns" "$tap"
    printf ' sudo ip netns exec %s ss -tan, or sudo build/bin/tapstack-stat --tap %s)\n' "$ns" "$tap"
    rc=0
    run_step "$n" || rc=$?
    if [[ -z $watch ]]; then
        ip netns del "$ns"
        ns=
    fi
    if [[ -n $logs ]]; then
        mkdir -p "$logs"
        rm -rf "${logs:?}/step$n"
        cp -r "$dir" "$logs/step$n"
    fi
    [[ $rc -eq 0 ]] || { echo "demo: step $n failed (exit status $rc)" >&2; exit "$rc"; }
done
if [[ -n $watch ]]; then
    printf '\n%sdone%s: %s step(s) in %d s; the namespace is removed (close the browser).\n' \
        "$B" "$N" "${#steps[@]}" $((SECONDS - start))
    exit 0
fi
printf '\n%sdone%s: %s step(s) in %d s; the namespaces are removed.\n' "$B" "$N" "${#steps[@]}" \
    $((SECONDS - start))
printf 'To watch TCP live in a browser (the state diagram, every connection, each one'"'"'s segments):\n'
printf '  sudo make demo WATCH=1 (this tour, step by step), or sudo make run, then open\n'
printf '  http://10.0.0.2/tcp as it says.\n'
