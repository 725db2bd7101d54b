# shellcheck shell=bash
# Helpers of the tour (`make demo`). Sourced by tools/tour/tour.sh, which runs INSIDE the network
# namespace that tools/demo.sh made for one step: every command here (ip, ss, curl, nc, bash's
# /dev/tcp) is the host's side of that namespace, 10.0.0.1; tapstack is 10.0.0.2 on tap $TOUR_TAP.
#
#   start_stack [FLAGS]      tapstack-sock on the tap, reading commands from a FIFO
#   sock CMD                 give it a command, wait for and show its one-line result
#   sock_send CMD / sock_result   the same in two halves (for accept/connect, which wait)
#   wait_trace REGEX         wait until a --trace line of tapstack matches
#   wait_host STATE          wait until the host's `ss -tan` shows a socket in STATE
#   show LABEL [STAT-FLAGS]  tapstack's new trace lines, tapstack-stat, and the host's ss, at once
#   explain STATE            one paragraph on what the state means
#
# Environment from tools/demo.sh: TOUR_TAP, TOUR_BIN (the binaries), TOUR_STEP_DIR (this step's
# logs: trace.log, out.log, ss-LABEL.txt, stat-LABEL.txt), TOUR_PACE (multiplies the pauses).
# Watch mode (make demo WATCH=1) adds TOUR_VIZ_PORT (every tapstack-sock serves the live TCP page
# on that port), TOUR_TAP_B (a second tap on the namespace's bridge, for step 6's stack B),
# TOUR_WATCH_DIR (what one step tells the next) and TOUR_WATCH_HOLD (seconds to hold at the end
# of a step instead of waiting for Enter: the tests).
#
# A step may run two stacks (step 6 in watch mode): use_stack a|b makes one of them the one the
# functions above talk to (a: tap TOUR_TAP, logs out.log and trace.log; b: TOUR_TAP_B, out-b.log
# and trace-b.log).

TOUR_PIDS=()
TOUR_CMDS=0   # commands given to tapstack-sock
TOUR_SHOWN=0  # trace lines already shown
TOUR_W=       # the FIFO's write end (tapstack-sock's stdin)
TOUR_STACK=   # tapstack-sock's PID
TOUR_MSL=1    # seconds; TIME_WAIT lasts 2*MSL
TOUR_CUR=a    # the stack the functions talk to
TOUR_CUR_TAP=$TOUR_TAP
TOUR_OUT=out.log
TOUR_TRACE=trace.log
TOUR_TITLE=   # the step's heading, the page's title in watch mode
TOUR_HELD=    # watch mode: this step has held for the viewer already
declare -A TOUR_SAVED=()

if [[ -t 1 ]]; then
    B=$'\033[1m' D=$'\033[2m' C=$'\033[36m' Y=$'\033[33m' N=$'\033[0m'
else
    B='' D='' C='' Y='' N=''
fi

tour_cleanup() {
    set +e # every step below must run, whatever the one before returned
    local pid
    [[ -n $TOUR_W ]] && exec {TOUR_W}>&- 2>/dev/null
    TOUR_W=
    local fd
    for fd in "${TOUR_SAVED[a_w]:-}" "${TOUR_SAVED[b_w]:-}"; do
        [[ -n $fd ]] && exec {fd}>&- 2>/dev/null
    done
    for pid in "${TOUR_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    TOUR_PIDS=()
}

die() {
    echo "${Y}tour: $*${N}" >&2
    if [[ -f $TOUR_STEP_DIR/$TOUR_TRACE ]]; then
        echo "tour: tapstack's messages:" >&2
        tail -n 20 "$TOUR_STEP_DIR/$TOUR_TRACE" >&2
    fi
    exit 1
}

# use_stack a|b: the stack that the functions here talk to from now on (see the top).
use_stack() {
    [[ $1 == "$TOUR_CUR" ]] && return 0
    TOUR_SAVED[${TOUR_CUR}_w]=$TOUR_W
    TOUR_SAVED[${TOUR_CUR}_stack]=$TOUR_STACK
    TOUR_SAVED[${TOUR_CUR}_cmds]=$TOUR_CMDS
    TOUR_SAVED[${TOUR_CUR}_shown]=$TOUR_SHOWN
    TOUR_W=${TOUR_SAVED[${1}_w]:-}
    TOUR_STACK=${TOUR_SAVED[${1}_stack]:-}
    TOUR_CMDS=${TOUR_SAVED[${1}_cmds]:-0}
    TOUR_SHOWN=${TOUR_SAVED[${1}_shown]:-0}
    TOUR_CUR=$1
    TOUR_WHO=" ${1^^}"
    if [[ $1 == a ]]; then
        TOUR_CUR_TAP=$TOUR_TAP TOUR_OUT=out.log TOUR_TRACE=trace.log
    else
        TOUR_CUR_TAP=$TOUR_TAP_B TOUR_OUT=out-b.log TOUR_TRACE=trace-b.log
    fi
}

# not_viewer: stdin without the watching browser's connections (watch mode: every stack serves the
# page on TOUR_VIZ_PORT, and the browser's connections to it are not the lesson's). A line that
# names a tapstack address with that port is left out, and the indented lines under it
# (tapstack-stat -i's details, --history's path).
not_viewer() {
    if [[ -z ${TOUR_VIZ_PORT:-} ]]; then
        cat
        return
    fi
    awk -v re="(^| )10[.]0[.]0[.][23]:${TOUR_VIZ_PORT}( |\$)" '/^[^ ]/ { skip = ($0 ~ re) } !skip'
}

# The stack's trace lines (its --trace output), the viewer's left out.
trace_lines() { not_viewer <"$TOUR_STEP_DIR/$TOUR_TRACE"; }
host_ss() { ss -tan 2>&1 | not_viewer; }

pause() { sleep "$(awk -v s="$1" -v p="${TOUR_PACE:-1}" 'BEGIN { printf "%.2f", s * p }')"; }

heading() {
    TOUR_TITLE="tour step $*"
    TOUR_TITLE=${TOUR_TITLE:0:120}
    printf '\n%s== %s ==%s\n' "$B" "$*" "$N"
}
TOUR_WIDTH=$( (tput cols 2>/dev/null || echo 88) | awk '{ print ($1 > 100 || $1 < 40) ? 88 : $1 - 2 }')
# A paragraph of plain words, wrapped to the terminal.
wrap() { tr '\n' ' ' | fmt -w "$TOUR_WIDTH" -g "$TOUR_WIDTH"; }
para() { printf '\n%s\n' "$(printf '%s\n' "$*" | wrap)"; }
note() { printf '\n%s%s%s\n' "$D" "$(printf '%s\n' "$*" | wrap)" "$N"; }

# explain STATE [WHO]: what the state means (RFC 9293 3.3.2, in our words).
explain() {
    local st=$1 who=${2:-} text
    case $st in
    CLOSE) text="No connection at all: the RFC calls it CLOSED and says it is fictional, the
state before a connection block exists and after it is gone. Every connection starts and ends here,
so a trace shows it only at those two moments." ;;
    LISTEN) text="A server's socket waiting for connection requests to its port, from any
address. Only a passive open (a program calling listen()) reaches it. A connecting client never
passes through LISTEN: it goes from CLOSE straight to SYN_SENT. The listener itself never becomes a
connection: each request that arrives gets a new connection block, which starts as a copy of the
listener (so its first trace line reads LISTEN -> SYN_RECV), while the listener stays in LISTEN." ;;
    SYN_SENT) text="The active opener's first state: it has sent its SYN (a connection request
that carries its initial sequence number) and waits for the answer, normally a SYN-ACK. A listening
server's connections never pass through SYN_SENT; in a simultaneous open (step 6) both sides are
active openers, and both do." ;;
    SYN_RECV) text="A SYN came in and was answered with a SYN-ACK: half the handshake is done. The
connection waits for the ACK of its own SYN, which the other side sends as soon as it gets the
SYN-ACK. Many connections stuck here mean SYNs arrive that nobody completes (a SYN flood)." ;;
    ESTABLISHED) text="Each side's SYN has been acknowledged: the connection is open and data
flows both ways. This is where a connection spends its useful life; netstat's ESTABLISHED is ss's
ESTAB." ;;
    FIN_WAIT1) text="This side's application closed first: its FIN (\"I have nothing more to
send\") is out and not yet acknowledged. It still accepts data from the peer. The ACK of its FIN
leads to FIN_WAIT2; the peer's own FIN before it, to CLOSING (step 6); both in one segment, straight
to TIME_WAIT." ;;
    FIN_WAIT2) text="The FIN is acknowledged: this direction is finished, and the connection
waits for the peer's FIN. That depends on the peer's application, not on TCP: the peer may keep
sending for as long as it likes. (A connection whose program has already closed its socket is given
60 s here, by Linux and by tapstack.)" ;;
    CLOSE_WAIT) text="The peer's FIN arrived and was acknowledged: the peer has nothing more to
send, and a read returns end of file. Now the connection waits for its own application to close;
TCP cannot leave this state by itself." ;;
    LAST_ACK) text="The peer closed first and now this application has closed too: its FIN is
out, and the connection waits for the ACK of it. When that comes, the connection is gone; the side
that closes second has no TIME_WAIT." ;;
    TIME_WAIT) text="The side that closed first, after both FINs are exchanged and acknowledged,
keeps the connection's memory for 2*MSL (twice the maximum segment lifetime): if its last ACK was
lost, the peer repeats its FIN and gets the ACK again, and stray old segments of this connection
die out before the same addresses and ports can carry a new one." ;;
    CLOSING) text="Both sides closed at the same moment: this side sent its FIN and, before that
FIN was acknowledged, received the peer's FIN. It acknowledged the peer's and waits for the ACK of
its own, then goes to TIME_WAIT. It happens only when the two FINs cross on the wire." ;;
    *) text="(no text for $st)" ;;
    esac
    echo
    printf '%s: %s%s\n' "$st" "${who:+($who) }" "$text" | wrap | sed "1s/^$st:/$C$B$st$N:/"
}

# start_stack [FLAGS...]: tapstack-sock on the tap with --trace and a short MSL, its stdin a FIFO
# that this shell holds open; wait until the stack answers ping (at 10.0.0.2, or the address of an
# --ip flag given). In watch mode it serves the live TCP page too, and a browser that watched the
# step before is given a moment to find it.
start_stack() {
    local fifo=$TOUR_STEP_DIR/sock-$TOUR_CUR.in ip=10.0.0.2 a viz=()
    for a in "$@"; do
        [[ $a =~ ^([0-9.]+)/[0-9]+$ ]] && ip=${BASH_REMATCH[1]}
    done
    [[ -n ${TOUR_VIZ_PORT:-} ]] && viz=(--viz-port "$TOUR_VIZ_PORT" --viz-title "$TOUR_TITLE")
    mkfifo "$fifo"
    : >"$TOUR_STEP_DIR/$TOUR_OUT"
    : >"$TOUR_STEP_DIR/$TOUR_TRACE"
    printf '%s$ tapstack-sock --tap %s --trace --msl %s%s%s%s\n' "$D" "$TOUR_CUR_TAP" "$TOUR_MSL" \
        "${1:+ $*}" "${viz:+ --viz-port $TOUR_VIZ_PORT}" "$N"
    "$TOUR_BIN/tapstack-sock" --tap "$TOUR_CUR_TAP" --trace --msl "$TOUR_MSL" --timeout 20 "$@" \
        "${viz[@]}" <"$fifo" >"$TOUR_STEP_DIR/$TOUR_OUT" 2>"$TOUR_STEP_DIR/$TOUR_TRACE" &
    TOUR_STACK=$!
    TOUR_PIDS+=("$TOUR_STACK")
    exec {TOUR_W}>"$fifo"
    TOUR_CMDS=0
    TOUR_SHOWN=0
    for _ in $(seq 40); do
        kill -0 "$TOUR_STACK" 2>/dev/null || die "tapstack-sock exited at start-up"
        if ping -c 1 -W 1 -q "$ip" >/dev/null 2>&1; then
            [[ $TOUR_CUR == a ]] && watch_reconnect
            return 0
        fi
        sleep 0.2
    done
    die "tapstack did not answer ping within 10 s"
}

# The browser's connections to the current stack's page (watch mode), as tapstack-stat sees them.
viewers() {
    "$TOUR_BIN/tapstack-stat" --tap "$TOUR_CUR_TAP" -t 2>/dev/null |
        awk -v p=":${TOUR_VIZ_PORT}" '$6 == "ESTABLISHED" && substr($4, length($4) - length(p) + 1) == p' | wc -l
}

# watch_reconnect: a browser watched the step before (its stack had a viewer when it stopped):
# wait until it has found this step's stack (its next poll comes over a new connection), 10 s at
# most, so that the page is live before anything happens.
watch_reconnect() {
    [[ -n ${TOUR_VIZ_PORT:-} && -f ${TOUR_WATCH_DIR:-}/watched ]] || return 0
    printf '%s(waiting for your browser to find this step'"'"'s stack: the page says "a new server")%s\n' "$D" "$N"
    for _ in $(seq 50); do
        [[ $(viewers) -gt 0 ]] && { pause 1; return 0; }
        sleep 0.2
    done
    printf '%s(it did not come within 10 s; the page catches up when it does)%s\n' "$D" "$N"
}

# watch_end [TEXT]: the step is over; in watch mode its stack stays up (and the page shows its
# connections and ladders) until the viewer presses Enter (TEXT says so), or for TOUR_WATCH_HOLD
# seconds. Whether a browser was watching is noted for the next step (watch_reconnect).
# shellcheck disable=SC2120 # TEXT is optional
watch_end() {
    [[ -n ${TOUR_VIZ_PORT:-} && -z $TOUR_HELD ]] || return 0
    TOUR_HELD=1
    local text=${1:-"This step's stack is still up: the page shows its connections and their ladders
(click a token, or choose one under \"Ladder\"). Press Enter to go on."}
    echo
    if [[ -n ${TOUR_WATCH_HOLD:-} ]]; then
        printf '%s(watch: holding this step'"'"'s stack for %s s)%s\n' "$D" "$TOUR_WATCH_HOLD" "$N"
        sleep "$TOUR_WATCH_HOLD"
    elif [[ -t 0 ]]; then
        printf '%s%s%s ' "$B" "$text" "$N"
        read -r _ || true
    else
        pause 5
    fi
    if [[ $(viewers) -gt 0 ]]; then touch "$TOUR_WATCH_DIR/watched"; else rm -f "$TOUR_WATCH_DIR/watched"; fi
}

# stop_stack: end of stdin (quit); wait for it to exit. (In watch mode, after watch_end.)
stop_stack() {
    # shellcheck disable=SC2119 # the default text
    watch_end
    exec {TOUR_W}>&-
    TOUR_W=
    TOUR_SAVED[${TOUR_CUR}_w]=
    for _ in $(seq 100); do
        kill -0 "$TOUR_STACK" 2>/dev/null || break
        sleep 0.1
    done
    wait "$TOUR_STACK" || die "tapstack-sock exited with status $?"
}

sock_send() {
    printf '  %stapstack-sock%s>%s %s\n' "$C" "${TOUR_WHO:-}" "$N" "$1"
    printf '%s\n' "$1" >&"$TOUR_W"
    TOUR_CMDS=$((TOUR_CMDS + 1))
}
# sock_result: wait for the result line of the last command given; print it; sets SOCK_RESULT.
sock_result() {
    local n
    for _ in $(seq 300); do
        n=$(wc -l <"$TOUR_STEP_DIR/$TOUR_OUT")
        [[ $n -ge $TOUR_CMDS ]] && break
        kill -0 "$TOUR_STACK" 2>/dev/null || die "tapstack-sock is gone"
        sleep 0.1
    done
    [[ $n -ge $TOUR_CMDS ]] || die "no answer from tapstack-sock to command $TOUR_CMDS"
    SOCK_RESULT=$(sed -n "${TOUR_CMDS}p" "$TOUR_STEP_DIR/$TOUR_OUT")
    printf '  %s%s%s\n' "$D" "$SOCK_RESULT" "$N"
}
sock() {
    sock_send "$1"
    sock_result
}

# host CMD...: run a host command, showing it.
host() {
    printf '  %shost$%s %s\n' "$C" "$N" "$*"
    "$@" 2>&1 | sed 's/^/    /'
}

# wait_trace REGEX [SECONDS]: until a trace line matches (an extended regular expression).
wait_trace() {
    local secs=${2:-10}
    for _ in $(seq $((secs * 20))); do
        trace_lines | grep -qE -- "$1" && return 0
        sleep 0.05
    done
    die "tapstack's trace never showed: $1"
}

# wait_host STATE [SECONDS]: until the host's ss shows a TCP socket in STATE (ss spelling:
# SYN-SENT, FIN-WAIT-1, ...). The ss output that showed it is kept (host-STATE.txt) and is what the
# next `show` prints for the host: a state that lasts a moment is shown as it was caught.
wait_host() {
    local secs=${2:-10} f=$TOUR_STEP_DIR/host-$1.txt
    for _ in $(seq $((secs * 50))); do
        host_ss >"$f"
        if grep -q "^$1 " "$f"; then
            TOUR_HOST_SNAP=$f
            return 0
        fi
        sleep 0.02
    done
    die "the host's ss never showed a socket in $1"
}

# new_trace: tapstack's trace lines not shown yet, indented.
new_trace() {
    local n lines
    lines=$(trace_lines | grep -E ' -> ' || true)
    n=$(printf '%s' "$lines" | grep -c . || true)
    if [[ $n -gt $TOUR_SHOWN ]]; then
        printf '  %stapstack%s --trace%s\n' "$B" "${TOUR_WHO:-}" "$N"
        printf '%s\n' "$lines" | tail -n +$((TOUR_SHOWN + 1)) | head -n $((n - TOUR_SHOWN)) |
            sed 's/^/    /'
    fi
    TOUR_SHOWN=$n
}

# show LABEL [tapstack-stat flags]: the same moment on both sides. New trace lines first; then
# tapstack-stat (the stack's own table) and the host's ss -tan (the kernel's view of its end).
# Both outputs are kept in the step's log directory (stat-LABEL.txt, ss-LABEL.txt).
show() {
    local label=$1 ss_out stat_out
    shift
    local flags=("${@:--a}")
    # Both sides first, printing after: the moment is the same for both.
    if [[ -n ${TOUR_HOST_SNAP:-} ]]; then
        ss_out=$(cat "$TOUR_HOST_SNAP")
        TOUR_HOST_SNAP=
    else
        ss_out=$(host_ss)
    fi
    if [[ -x $TOUR_BIN/tapstack-stat ]]; then
        stat_out=$("$TOUR_BIN/tapstack-stat" --tap "$TOUR_CUR_TAP" "${flags[@]}" 2>&1 | not_viewer)
    else
        stat_out="(tapstack-stat is not built: the trace above is tapstack's side)"
    fi
    printf '%s\n' "$ss_out" >"$TOUR_STEP_DIR/ss-$label.txt"
    printf '%s\n' "$stat_out" >"$TOUR_STEP_DIR/stat-$label.txt"
    new_trace
    printf '  %stapstack%s  $ tapstack-stat %s\n' "$B" "$N" "${flags[*]}"
    printf '%s\n' "$stat_out" | sed 's/^/    /'
    printf '  %shost%s      $ ss -tan\n' "$B" "$N"
    printf '%s\n' "$ss_out" | sed 's/^/    /'
}

# stat_counters LABEL: tapstack's TCP counters (tapstack-stat -s, the tcp_ lines), kept whole in
# stat-LABEL.txt.
stat_counters() {
    local f=$TOUR_STEP_DIR/stat-$1.txt
    [[ -x $TOUR_BIN/tapstack-stat ]] || return 0
    "$TOUR_BIN/tapstack-stat" --tap "$TOUR_CUR_TAP" -s >"$f" 2>&1
    printf '  %stapstack%s  $ tapstack-stat -s | grep ^tcp\n' "$B" "$N"
    grep '^tcp' "$f" | sed 's/^/    /'
}

# stat_history: the connections that ended, each with its path of states (tapstack-stat --history).
stat_history() {
    [[ -x $TOUR_BIN/tapstack-stat ]] || return 0
    printf '  %stapstack%s  $ tapstack-stat --history\n' "$B" "$N"
    "$TOUR_BIN/tapstack-stat" --tap "$TOUR_CUR_TAP" --history 2>&1 | not_viewer |
        tee "$TOUR_STEP_DIR/history.txt" | sed 's/^/    /'
}
