# shellcheck shell=bash disable=SC2034  # (variables here are for run.sh, which sources it)
# Pieces of `make bench` (tests/bench/run.sh): the two setups, starting and stopping servers by
# PID, tools, and the result table. See docs/bench.md for what each row measures.
#
# Network safety, as in tests/integration/lib.sh: every interface and address lives in a
# namespace made for this run (unique names ts-bench-*-PID-RANDOM); traffic goes only to
# addresses inside them; the EXIT/INT/TERM trap kills the processes started here (by PID) and
# deletes the namespaces, also on failure or Ctrl-C.
#
#   tapstack setup: namespace $B_TNS with tap0 (tools/tap-setup --netns); the host side is
#     10.0.0.1/24 (plus 10.0.0.11.. for the memory row), the tapstack app 10.0.0.2.
#   kernel setup: namespaces $B_KCNS (client, 10.0.0.1/24 plus the same extra addresses) and
#     $B_KSNS (server, 10.0.0.2/24) joined by a veth pair; the client runs there exactly as in
#     the tapstack setup.

set -uo pipefail

B_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B_BUILD=${B_BUILD:-build}
[[ $B_BUILD == /* ]] || B_BUILD=$B_ROOT/$B_BUILD
B_BIN=$B_BUILD/bin     # tapstack apps
B_TOOLS=$B_BUILD/bench # the bench's clients and kernel servers (tests/bench/*.c)
B_TMP=$(mktemp -d /tmp/ts-bench.XXXXXX)
chmod 755 "$B_TMP"
B_TAG=$$-$RANDOM
B_TNS="" B_KCNS="" B_KSNS=""
B_VETH_S="" B_VETH_C=""
B_PIDS=()
B_ROWS=$B_TMP/rows
: >"$B_ROWS"
B_HOST_IP=10.0.0.1
B_STACK_IP=10.0.0.2
B_EXTRA_IPS=() # more host-side addresses (memory row: past one address's ephemeral ports)

b_log() { echo "[bench] $*" >&2; }

b_cleanup() {
    local pid ns
    for pid in "${B_PIDS[@]}"; do
        b_kill "$pid"
    done
    B_PIDS=()
    for ns in "$B_TNS" "$B_KCNS" "$B_KSNS"; do
        [[ -n $ns ]] && ip netns del "$ns" 2>/dev/null
    done
    B_TNS="" B_KCNS="" B_KSNS=""
    [[ -n ${B_TMP:-} && -d $B_TMP ]] && rm -rf "$B_TMP"
}
trap 'b_cleanup' EXIT
trap 'b_log "interrupted"; exit 1' INT TERM

# b_kill PID: SIGTERM, wait up to 5 s, then SIGKILL. Only PIDs this run started.
b_kill() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

b_forget() {
    local keep=() p
    for p in "${B_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    B_PIDS=("${keep[@]}")
}

# b_need CMD PACKAGE: make CMD available, installing the Debian PACKAGE with apt-get when it is
# missing (root only). Returns 1 (the row then prints "n/a") when that is not possible.
b_need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        b_log "installing $2 for $1"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" \
            >/dev/null 2>&1 ||
            { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                    "$2" >/dev/null 2>&1; }
    fi
    command -v "$1" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$1" >/dev/null 2>&1
}

# ---- setups ----

# Settings of a client namespace, the same on both setups: ports are reused 1 s after their
# TIME_WAIT began (tcp_tw_reuse=1, RFC 6191-style with timestamps) and the ephemeral range is
# wide, so a connect/close loop at tens of thousands per second does not run out of ports.
b_client_sysctls() {
    ip netns exec "$1" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"
}

# b_extra_ips N: the host-side addresses the memory row uses (10.0.0.11 ...), one per 25 000
# connections, at least 2.
b_extra_ips() {
    local n=$1 k i
    k=$(((n + 24999) / 25000))
    ((k < 2)) && k=2
    B_EXTRA_IPS=()
    for ((i = 0; i < k; i++)); do B_EXTRA_IPS+=("10.0.0.$((11 + i))"); done
}

# b_hold_start NS N PORT HOLD_SECS OPEN_SECS: connhold's N connections to $B_STACK_IP:PORT in
# chunks of at most B_HOLD_CHUNK per process (a process cannot have more descriptors than
# RLIMIT_NOFILE's hard limit, 20000 on some machines), all over the extra host addresses.
# Sets B_HOLD_PIDS and B_HOLD_OUTS. b_hold_ready waits for every chunk's "ready" line;
# b_hold_sum KEY adds KEY over the chunks (opened, held, held_after); b_hold_wait ends them.
B_HOLD_CHUNK=$(($(ulimit -Hn 2>/dev/null || echo 65536) - 200))
((B_HOLD_CHUNK > 100000)) && B_HOLD_CHUNK=100000
B_HOLD_PIDS=() B_HOLD_OUTS=()
b_hold_start() {
    local ns=$1 n=$2 port=$3 hold=$4 open=$5 srcs k=0 c rate
    # Paced: all of them in open - 3 s (at least 1 s), shared by the processes.
    local chunks=$(((n + B_HOLD_CHUNK - 1) / B_HOLD_CHUNK)) span=$((open > 4 ? open - 3 : 1))
    rate=$(((n + span - 1) / span / chunks + 1))
    srcs=$(
        IFS=,
        echo "${B_EXTRA_IPS[*]}"
    )
    B_HOLD_PIDS=() B_HOLD_OUTS=()
    while ((n > 0)); do
        c=$((n < B_HOLD_CHUNK ? n : B_HOLD_CHUNK))
        n=$((n - c))
        B_HOLD_OUTS+=("$B_TMP/connhold.$k.out")
        : >"$B_TMP/connhold.$k.out"
        ip netns exec "$ns" "$B_TOOLS/connhold" -n "$c" --src "$srcs" --open-secs "$open" \
            --hold-secs "$hold" --rate "$rate" "$B_STACK_IP" "$port" >"$B_TMP/connhold.$k.out" 2>&1 &
        B_HOLD_PIDS+=("$!")
        B_PIDS+=("$!")
        k=$((k + 1))
    done
}
b_hold_ready() {
    local i all
    for _ in $(seq $(($1 * 10 + 100))); do
        all=1
        for i in "${!B_HOLD_OUTS[@]}"; do
            grep -q ready "${B_HOLD_OUTS[$i]}" && continue
            kill -0 "${B_HOLD_PIDS[$i]}" 2>/dev/null && all=0
        done
        ((all)) && return 0
        sleep 0.1
    done
}
b_hold_sum() {
    local f v t=0
    for f in "${B_HOLD_OUTS[@]}"; do
        v=$(b_kv "$(grep -E "(^| )$1=" "$f" | tail -n 1)" "$1")
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
b_hold_wait() {
    local p
    for p in "${B_HOLD_PIDS[@]}"; do
        wait "$p" 2>/dev/null
        b_forget "$p"
    done
}

# b_tap_wait_established SOCK N SECS: wait (at most SECS) until the tapstack app serving the
# control socket SOCK has N connections ESTABLISHED (the host's client sees a connection as up
# before the stack has it accepted when its accept queue is full: the stack holds the final
# ACK). Prints the last count.
b_tap_wait_established() {
    local n=0
    for _ in $(seq $(($3 * 4))); do
        n=$("$B_BIN/tapstack-stat" --control "$1" --summary 2>/dev/null | awk '$1 == "ESTABLISHED" { v = $2 } END { print v + 0 }')
        ((n >= $2)) && break
        sleep 0.25
    done
    echo "$n"
}

b_tap_setup() {
    B_TNS=ts-bench-tap-$B_TAG
    # txqueuelen 10000: the host's connect floods (conn, mem rows) overflow Linux's default
    # queue of 1000 frames towards the tap while the stack is busy, and every SYN dropped there
    # costs the client a 1 s retransmission.
    "$B_ROOT/tools/tap-setup" --netns "$B_TNS" --name tap0 --host-ip "$B_HOST_IP/24" \
        --txqueuelen 10000 >/dev/null ||
        return 1
    local a
    for a in "${B_EXTRA_IPS[@]}"; do ip -n "$B_TNS" addr add "$a/24" dev tap0; done
    b_client_sysctls "$B_TNS"
}

b_kernel_setup() {
    B_KCNS=ts-bench-kc-$B_TAG
    B_KSNS=ts-bench-ks-$B_TAG
    B_VETH_S=kbs${B_TAG//-/}
    B_VETH_C=kbc${B_TAG//-/}
    B_VETH_S=${B_VETH_S:0:15}
    B_VETH_C=${B_VETH_C:0:15}
    ip netns add "$B_KSNS" || return 1
    ip netns add "$B_KCNS" || return 1
    # Made inside the server's namespace and one end moved: never in the machine's own.
    ip -n "$B_KSNS" link add "$B_VETH_S" type veth peer name "$B_VETH_C" || return 1
    ip -n "$B_KSNS" link set "$B_VETH_C" netns "$B_KCNS" || return 1
    ip -n "$B_KSNS" addr add "$B_STACK_IP/24" dev "$B_VETH_S"
    ip -n "$B_KCNS" addr add "$B_HOST_IP/24" dev "$B_VETH_C"
    local a
    for a in "${B_EXTRA_IPS[@]}"; do ip -n "$B_KCNS" addr add "$a/24" dev "$B_VETH_C"; done
    local ns
    for ns in "$B_KSNS" "$B_KCNS"; do ip -n "$ns" link set lo up; done
    ip -n "$B_KSNS" link set "$B_VETH_S" up
    ip -n "$B_KCNS" link set "$B_VETH_C" up
    b_client_sysctls "$B_KCNS"
    B_OFFLOADS=""
}

# b_offloads on|off: the veth pair's offloads, both ends. off: no TSO/GSO/GRO and no checksum
# offload (tx/rx), so the kernel handles one MTU-sized frame at a time and computes checksums,
# as tapstack does on its tap; on: the veth defaults (TSO/GSO/GRO, checksums left out).
# When ethtool is missing or fails, B_OFFLOADS_FAILED says so on the table's setups line.
B_OFFLOADS_FAILED=""
b_offloads() {
    [[ ${B_OFFLOADS:-} == "$1" ]] && return 0
    local ns dev
    for ns in "$B_KSNS" "$B_KCNS"; do
        dev=$B_VETH_S
        [[ $ns == "$B_KCNS" ]] && dev=$B_VETH_C
        ip netns exec "$ns" ethtool -K "$dev" tx "$1" rx "$1" tso "$1" gso "$1" gro "$1" \
            >/dev/null 2>&1 ||
            B_OFFLOADS_FAILED="WARNING: ethtool -K failed, the veth offloads may be at their defaults in rows that say off"
    done
    B_OFFLOADS=$1
}

# b_ensure_setups: before each group and each server start, check that the namespaces still work and make them again
# if not. On a shared machine their mounts under /run/netns were once removed by something else
# mid-run (`ip netns exec` then fails with "Invalid argument"); without this every later row
# would print n/a. Counted in B_RECREATED (shown on the machine line).
B_RECREATED=0
b_ensure_setups() {
    if [[ -n $B_TNS ]] && ! ip netns exec "$B_TNS" true 2>/dev/null; then
        b_log "namespace $B_TNS stopped working (removed by something else?): making it again"
        ip netns del "$B_TNS" 2>/dev/null
        b_tap_setup || b_log "could not make $B_TNS again"
        B_RECREATED=$((B_RECREATED + 1))
    fi
    if [[ -n $B_KSNS ]] && ! { ip netns exec "$B_KSNS" true && ip netns exec "$B_KCNS" true; } 2>/dev/null; then
        b_log "namespace $B_KSNS or $B_KCNS stopped working (removed by something else?): making them again"
        local mode=${B_OFFLOADS:-off}
        ip netns del "$B_KSNS" 2>/dev/null
        ip netns del "$B_KCNS" 2>/dev/null
        b_kernel_setup || b_log "could not make the veth namespaces again"
        b_offloads "$mode"
        B_RECREATED=$((B_RECREATED + 1))
    fi
}

# ---- servers ----

# b_tap_app NAME ARGS...: start build/bin/NAME in the tapstack namespace (log $B_TMP/NAME.log)
# and wait until the stack answers ping (10 s). Sets B_APP_PID; returns 1 when it did not come up.
b_tap_app() {
    local name=$1
    shift
    b_ensure_setups
    B_APP_LOG=$B_TMP/$name.log
    ip netns exec "$B_TNS" "$B_BIN/$name" "$@" >"$B_APP_LOG" 2>&1 &
    B_APP_PID=$!
    B_PIDS+=("$B_APP_PID")
    for _ in $(seq 40); do
        kill -0 "$B_APP_PID" 2>/dev/null || break
        ip netns exec "$B_TNS" ping -c 1 -W 1 -q "$B_STACK_IP" >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    b_log "$name did not come up: $(tail -n 3 "$B_APP_LOG" | tr '\n' ' ')"
    b_stop "$B_APP_PID"
    return 1
}

# b_stop PID: stop a server started here (SIGTERM, then SIGKILL after 5 s) and forget it.
b_stop() {
    b_kill "$1"
    b_forget "$1"
}

# b_wait_port NS PORT: wait until something listens on TCP PORT in NS (5 s).
b_wait_port() {
    for _ in $(seq 50); do
        ip netns exec "$1" ss -Htln "sport = :$2" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

# b_tap_listens PORT: wait until the tapstack app accepts on TCP PORT (5 s). It answers ping from
# its loop thread a moment before its own thread listens, and the port is the stack's, not in
# the host's table (ss): ask by connecting.
b_tap_listens() {
    for _ in $(seq 50); do
        ip netns exec "$B_TNS" timeout 1 bash -c "exec 3<>/dev/tcp/$B_STACK_IP/$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# b_kernel_srv PORT ARGS...: start ksrv ARGS in the server namespace, wait for PORT. Sets
# B_SRV_PID.
b_kernel_srv() {
    local port=$1
    shift
    b_ensure_setups
    ip netns exec "$B_KSNS" "$B_TOOLS/ksrv" "$@" >"$B_TMP/ksrv.log" 2>&1 &
    B_SRV_PID=$!
    B_PIDS+=("$B_SRV_PID")
    b_wait_port "$B_KSNS" "$port" || {
        b_log "ksrv did not listen: $(tail -n 2 "$B_TMP/ksrv.log")"
        b_stop "$B_SRV_PID"
        return 1
    }
}

# b_nginx: nginx in the server namespace, one process (master_process off), no access log,
# serving $B_TMP/www (where /bytes/1024 is 1 KiB of tapstack-httpd's pattern). Sets B_SRV_PID.
b_nginx() {
    local d=$B_TMP/nginx
    b_ensure_setups
    mkdir -p "$d/www/bytes" "$d/tmp"
    python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(1024)))' \
        >"$d/www/bytes/1024"
    chmod -R a+rX "$d"
    cat >"$d/nginx.conf" <<EOF
worker_processes 1;
master_process off;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 8192; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 30s;
    keepalive_requests 100000000;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen $B_STACK_IP:80;
        root $d/www;
    }
}
EOF
    ip netns exec "$B_KSNS" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" \
        >"$d/out.log" 2>&1 &
    B_SRV_PID=$!
    B_PIDS+=("$B_SRV_PID")
    b_wait_port "$B_KSNS" 80 || {
        b_log "nginx did not listen: $(tail -n 2 "$d/error.log" "$d/out.log" 2>/dev/null | tr '\n' ' ')"
        b_stop "$B_SRV_PID"
        return 1
    }
}

# ---- measuring ----

b_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# Bytes in the kernel's slab caches that hold only sockets: "TCP" (struct tcp_sock) and
# "sock_inode_cache" (a socket's inode): allocated objects x slab object size. Freed objects
# parked in per-CPU caches count as allocated until the cache is shrunk, so each reading first
# writes 1 to /sys/kernel/slab/CACHE/shrink (it returns those to their slabs and changes nothing
# else); without SLUB's sysfs, /proc/slabinfo as it is. Machine-wide, but other programs rarely
# open thousands of sockets meanwhile; /proc/meminfo's Slab total moves by megabytes while
# compilers run, these two do not.
b_sock_slab_bytes() {
    local c n sz total=0
    for c in TCP sock_inode_cache; do
        if [[ -w /sys/kernel/slab/$c/shrink && -r /sys/kernel/slab/$c/objects ]]; then
            echo 1 >"/sys/kernel/slab/$c/shrink" 2>/dev/null
            n=$(cut -d' ' -f1 "/sys/kernel/slab/$c/objects")
            sz=$(cat "/sys/kernel/slab/$c/slab_size")
        else
            read -r n sz < <(awk -v c="$c" '$1 == c { print $2, $4 }' /proc/slabinfo 2>/dev/null)
        fi
        total=$((total + ${n:-0} * ${sz:-0}))
    done
    echo "$total"
}
# The size of one object of slab cache $1 (0 when unknown).
b_slab_objsize() { awk -v c="$1" '$1 == c { v = $4 } END { print v + 0 }' /proc/slabinfo 2>/dev/null; }

# b_nstat NS COUNTER: the absolute value of a kernel TCP/IP counter in namespace NS (nstat -a,
# without touching nstat's history file, which is shared by all namespaces). Rows take the
# difference of two readings.
b_nstat() {
    ip netns exec "$1" nstat -asz "$2" 2>/dev/null | awk -v c="$2" '$1 == c { v = $2 } END { print v + 0 }'
}

# b_kv LINE KEY: the value of key=value in LINE (the C tools print such lines).
b_kv() { sed -nE "s/.*(^| )$2=(\"[^\"]*\"|[^ ]*).*/\2/p" <<<"$1" | tr -d '"'; }

# b_counter LOG NAME: a tapstack counter from an app's --stats exit lines (0 when absent).
b_counter() { awk -v c="$2" '$1 == c { v = $2 } END { print v + 0 }' "$1" 2>/dev/null; }

b_gbit() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.2f", b * 8 / s / 1e9; else print "n/a" }'; }

# ---- the table ----

# b_row GROUP LABEL UNIT BETTER TAPSTACK KERNEL NOTE
#   BETTER: "higher" (ratio = tapstack/kernel) or "lower" (ratio = kernel/tapstack), so a ratio
#   above 1 always means tapstack did better; "-" for rows without a ratio. Values that are not
#   numbers (n/a, timeout, ...) are printed as they are, with no ratio.
b_row() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" >>"$B_ROWS"
}

# Busy share of all CPUs over 2 s, from /proc/stat (user+nice+system+irq+softirq+steal).
b_cpu_busy() {
    local a b
    a=$(head -n 1 /proc/stat)
    sleep 2
    b=$(head -n 1 /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {
        split(a, x); split(b, y); tot = 0; idle = 0
        for (i = 2; i <= 9; i++) tot += y[i] - x[i]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        printf "%.0f", (tot > 0 ? 100 * (tot - idle) / tot : 0) }'
}

b_machine_line() {
    local cpu commit dirty busy=$1 load_start=$2 load_end
    cpu=$(awk -F: '/^model name/ { sub(/^ +/, "", $2); print $2; exit }' /proc/cpuinfo)
    [[ -z $cpu ]] && cpu=$(lscpu 2>/dev/null | awk -F: '/Model name/ { sub(/^ +/, "", $2); print $2; exit }')
    commit=$(git -C "$B_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    [[ -n $(git -C "$B_ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] && dirty=+dirty
    load_end=$(cut -d' ' -f1-3 /proc/loadavg)
    local idle="yes (CPUs ${busy}% busy in the 2 s before the run)"
    ((busy >= 10)) && idle="NO: CPUs ${busy}% busy in the 2 s before the run"
    local re=""
    ((B_RECREATED > 0)) && re=" | namespaces made again $B_RECREATED time(s) mid-run (see stderr)"
    printf 'machine: %s, %s cores | Linux %s | %s | commit %s%s | idle: %s | load avg at start %s, at end %s%s%s\n' \
        "$cpu" "$(nproc)" "$(uname -r)" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$commit" "${dirty:-}" \
        "$idle" "$load_start" "$load_end" "${B_QUICK_NOTE:-}" "$re"
}

# The table: one line per row (figure, tapstack, kernel, ratio, note number), then the notes.
b_print_table() {
    awk -F'\t' '
    function ratio(b, t, k,   r) {
        # A kernel run stopped at its time cap ("> 180") gives a lower bound on the ratio.
        if (b == "lower" && t ~ /^[0-9]+([.][0-9]+)?$/ && t + 0 > 0 && k ~ /^> ?[0-9]+$/) {
            r = substr(k, index(k, ">") + 1) / t
            return sprintf(r >= 10 ? ">%.0fx" : ">%.2fx", r)
        }
        if (b == "-" || t !~ /^[0-9]+([.][0-9]+)?$/ || k !~ /^[0-9]+([.][0-9]+)?$/ || t + 0 == 0 || k + 0 == 0) return "-"
        r = (b == "lower") ? k / t : t / k
        return sprintf(r >= 10 ? "%.0fx" : r >= 0.1 ? "%.2fx" : "%.3fx", r)
    }
    { n++; lab[n] = $2 (($3 != "") ? " (" $3 ")" : ""); if ($4 == "lower") lab[n] = lab[n] " [lower is better]"
      t[n] = $5; k[n] = $6; r[n] = ratio($4, $5, $6); grp[n] = $1
      ref[n] = ""; if ($7 != "") { notes++; note[notes] = $7; ref[n] = "[" notes "]" }
      if (length(lab[n]) > w1) w1 = length(lab[n]); if (length(t[n]) > w2) w2 = length(t[n])
      if (length(k[n]) > w3) w3 = length(k[n]) }
    END {
        if (w2 < 8) w2 = 8; if (w3 < 6) w3 = 6
        fmt = "%-" w1 "s  %" w2 "s  %" w3 "s  %7s  %s\n"
        printf fmt, "figure", "tapstack", "kernel", "ratio", "note"
        line = ""; for (i = 0; i < w1 + w2 + w3 + 20; i++) line = line "-"
        print line
        for (i = 1; i <= n; i++) {
            if (i > 1 && grp[i] != grp[i - 1]) print ""
            printf fmt, lab[i], t[i], k[i], r[i], ref[i]
        }
        print ""
        for (i = 1; i <= notes; i++) printf "[%d] %s\n", i, note[i]
    }' "$B_ROWS"
}
