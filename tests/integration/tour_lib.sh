# shellcheck shell=bash disable=SC2034
# Helpers for the tests of the tour (`make demo`, tools/demo.sh): each test runs one step the way a
# user does, with its logs kept, and asserts what happened on tapstack (the exact chain of states
# with their causes, from its --trace lines) and on the host (the ss snapshots the step took).
# Source after lib.sh:  . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/tour_lib.sh"
#
# The demo makes and removes its own namespace per step (unique names, like lib.sh's); these tests
# check that it leaves none behind, nor any process.

# tour_step N: run step N of the demo on the binaries of $TS_BUILD (not rebuilt), with the pauses
# shortened; its output in $TS_TMP/app-tour.log (shown by ts_fail), its logs in $TS_TMP/tour/stepN ($TOUR_DIR). Fails
# the test if the step fails or leaves a namespace or a process behind.
tour_step() {
    local n=$1 pid rc
    [[ $(id -u) -eq 0 ]] || ts_skip "need root for network namespaces and taps"
    [[ -e /dev/net/tun ]] || ts_skip "no /dev/net/tun"
    local b
    for b in tapstack-sock tapstack-two-stacks tapstack-stat; do
        [[ -x $TS_BIN/$b ]] || ts_skip "$TS_BIN/$b is not built"
    done
    TOUR_DIR=$TS_TMP/tour/step$n
    TOUR_NO_BUILD=1 TOUR_BUILD=$TS_BUILD TOUR_LOGS=$TS_TMP/tour TOUR_PACE=${TOUR_PACE:-0.3} \
        timeout --kill-after=10 180 "$TS_ROOT/tools/demo.sh" --step "$n" >"$TS_TMP/app-tour.log" 2>&1 &
    pid=$!
    TS_PIDS+=("$pid")
    wait "$pid"
    rc=$?
    TOUR_PID=$(grep -o 'tstour[0-9]*' "$TS_TMP/app-tour.log" | head -n 1 | sed 's/tstour//')
    [[ $rc -eq 0 ]] || ts_fail "tools/demo.sh --step $n failed (exit status $rc)"
    tour_check_nothing_left
}

# Nothing of the demo (pid $TOUR_PID) is left: no namespace ts-tour-PID-*, no process on its tap.
tour_check_nothing_left() {
    [[ -n $TOUR_PID ]] || ts_fail "the demo's output does not name its tap (tstourPID)"
    ip netns list | grep -q "^ts-tour-$TOUR_PID-" && ts_fail "the demo left its namespace behind"
    local p
    for p in /proc/[0-9]*; do
        if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "tstour$TOUR_PID\b"; then
            ts_fail "the demo left a process behind: $({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)"
        fi
    done
    return 0
}

# tour_chain FILE LOCAL REMOTE: the state changes of one connection in --trace lines
# ("... LOCAL > REMOTE FROM -> TO (cause) ..."), as "FROM -> TO (cause) | FROM -> TO (cause) ...".
# The cause is the parenthesized text after TO (parentheses inside it are kept balanced);
# whatever follows it on the line (a duration) is left out.
tour_chain() {
    grep -F " $2 > $3 " "$1" | awk '
        {
            i = index($0, " -> "); if (!i) next
            pre = substr($0, 1, i - 1); n = split(pre, w, " "); from = w[n]
            rest = substr($0, i + 4); split(rest, v, " "); to = v[1]
            j = index(rest, "("); cause = ""
            if (j) {
                d = 0
                for (k = j; k <= length(rest); k++) {
                    ch = substr(rest, k, 1)
                    if (ch == "(") d++
                    if (ch == ")") { d--; if (d == 0) break }
                }
                cause = substr(rest, j, k - j + 1)
            }
            out = out (out == "" ? "" : " | ") from " -> " to " " cause
        }
        END { print out }'
}

# tour_expect_chain WHAT FILE LOCAL REMOTE EXPECTED: the whole chain is exactly EXPECTED.
tour_expect_chain() {
    local got
    got=$(tour_chain "$2" "$3" "$4")
    [[ $got == "$5" ]] || ts_fail "$1: expected the states
    $5
got
    ${got:-(no trace lines for $3 > $4)}"
}

# tour_expect_chain_prefix: as tour_expect_chain, but the chain only has to begin with EXPECTED.
tour_expect_chain_prefix() {
    local got
    got=$(tour_chain "$2" "$3" "$4")
    [[ $got == "$5"* ]] || ts_fail "$1: expected the states to begin with
    $5
got
    ${got:-(no trace lines for $3 > $4)}"
}

# tour_time FILE LOCAL REMOTE FROM TO: the time of that change (seconds: the line's first field
# that is a number; tapstack-two-stacks puts A or B before it).
tour_time() {
    grep -F " $2 > $3 " "$1" | grep -F " $4 -> $5 " | head -n 1 |
        awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+$/) { print $i; exit } }'
}

# tour_peer FILE LOCAL: the remote address:port of the first connection of LOCAL in the trace
# that is not a listener's line.
tour_peer() {
    grep -F " $2 > " "$1" | grep -vF " > 0.0.0.0:" | head -n 1 | sed -E "s/.* $2 > ([0-9.:]+) .*/\1/"
}

# tour_host_has FILE STATE LOCAL PEER: the ss snapshot FILE shows a socket LOCAL -> PEER in STATE.
tour_host_has() {
    awk -v st="$2" -v l="$3" -v p="$4" '$1 == st && $4 == l && $5 == p { f = 1 } END { exit !f }' "$1"
}
