# shellcheck shell=bash
# Step 1: a server starts. CLOSE -> LISTEN on tapstack; the host sees it answer ping and learns its
# MAC address (ARP).
step_1() {
    heading "1. A server starts: CLOSE -> LISTEN"
    para "tapstack comes up on the tap as 10.0.0.2. Before any TCP, the host can ping it, and in
doing so learns its Ethernet address (ARP):"
    start_stack
    host ping -c 2 -i 0.3 10.0.0.2
    host ip neigh show 10.0.0.2
    para "Now a program on tapstack opens a listening socket on port 80 (socket, bind, listen):"
    sock "listen 80"
    wait_trace 'CLOSE -> LISTEN \(app listen\)'
    show listen -l
    explain CLOSE
    explain LISTEN
    note "The host has no socket yet: its ss shows nothing. (ss shows listeners with -l or -a, as
netstat does; tapstack-stat -l lists only listeners.)"
    pause 1.5
    stop_stack
}
