# shellcheck shell=bash
# Step 4: tapstack closes first. tapstack ESTABLISHED -> FIN_WAIT1 -> FIN_WAIT2 (held: the host's
# program has not closed) -> TIME_WAIT (2*MSL, counting down) -> CLOSE; the host CLOSE-WAIT ->
# LAST-ACK.
step_4() {
    heading "4. tapstack closes first: FIN_WAIT1, FIN_WAIT2, TIME_WAIT on tapstack, CLOSE_WAIT and LAST_ACK on the host"
    para "This time the host's end is a socket held open by the tour's own shell (bash's
/dev/tcp), so it closes only when told to. tapstack holds back the frames it receives for 0.6 s
in this step (--delay-in 600), so that its FIN_WAIT1 and the host's LAST-ACK can be seen."
    start_stack --delay-in 600
    sock "listen 80"
    sock_send "accept"
    printf '  %shost$%s exec {h}<>/dev/tcp/10.0.0.2/80\n' "$C" "$N"
    local h
    exec {h}<>/dev/tcp/10.0.0.2/80
    sock_result
    sock 'send hello from tapstack\n'
    local line
    read -r -t 10 -u "$h" line || die "the host's socket got nothing"
    printf '  %shost$%s read line <&$h   # %s\n' "$C" "$N" "$line"
    para "tapstack's application closes the connection: tapstack sends its FIN."
    sock "close"
    wait_trace 'ESTABLISHED -> FIN_WAIT1 \(app close\)'
    wait_host CLOSE-WAIT
    show fin-wait1
    explain FIN_WAIT1 tapstack
    explain CLOSE_WAIT "the host"
    wait_trace 'FIN_WAIT1 -> FIN_WAIT2 \(rcvd ACK of FIN\)'
    show fin-wait2
    explain FIN_WAIT2 tapstack
    para "The host's program has not closed its socket yet, so tapstack waits in FIN_WAIT2 (and
the host in CLOSE-WAIT: the mirror image of step 3)."
    pause 3
    para "Now the host's program reads the end of the stream and closes its socket:"
    read -r -t 10 -u "$h" line && die "the host's socket should be at its end, got: $line"
    printf '  %shost$%s exec {h}<&-\n' "$C" "$N"
    exec {h}<&-
    wait_host LAST-ACK
    show last-ack
    explain LAST_ACK "the host"
    wait_trace 'FIN_WAIT2 -> TIME_WAIT \(rcvd FIN\)'
    show time-wait -a -i
    explain TIME_WAIT tapstack
    pause 1
    show time-wait-later -a -i
    note "With the default MSL of 30 s, this would last a minute. tapstack-stat -i shows the
running timer and the time left."
    wait_trace 'TIME_WAIT -> CLOSE \(2MSL timer expired\)' 10
    show gone
    pause 1
    stop_stack
}
