# shellcheck shell=bash
# Step 2: the host's curl connects. tapstack LISTEN -> SYN_RECV -> ESTABLISHED (a new connection
# block, born from the listener); the host SYN-SENT -> ESTAB.
step_2() {
    heading "2. The host connects: SYN_SENT and SYN_RECV, then ESTABLISHED on both sides"
    para "The host's curl opens a connection to tapstack's port 80. The three-way handshake:
curl's SYN, tapstack's SYN-ACK, curl's ACK. To let you see the half-open moment, tapstack holds
back every frame it sends for 0.6 s in this step (--delay-out 600): its SYN-ACK is late."
    start_stack --delay-out 600
    sock "listen 80"
    sock_send "accept"
    printf '  %shost$%s curl http://10.0.0.2/ &\n' "$C" "$N"
    curl -s -m 15 -o "$TOUR_STEP_DIR/curl.out" http://10.0.0.2/ &
    local curl_pid=$!
    TOUR_PIDS+=("$curl_pid")
    wait_trace 'LISTEN -> SYN_RECV \(rcvd SYN\)'
    wait_host SYN-SENT
    show handshake
    explain SYN_SENT "the host's curl"
    explain SYN_RECV tapstack
    pause 1.5
    sock_result
    wait_trace 'SYN_RECV -> ESTABLISHED \(rcvd ACK of SYN\)'
    wait_host ESTAB
    para "The SYN-ACK arrived, curl answered with its ACK and sent its request:"
    sock "recv"
    show established
    explain ESTABLISHED
    pause 1.5
    note "(tapstack now answers curl and closes; closing is the subject of the next two steps)"
    sock 'send HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nhello, curl!\r\n'
    sock "close"
    wait "$curl_pid" || die "curl failed (exit status $?)"
    stop_stack
}
