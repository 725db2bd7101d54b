#!/usr/bin/env bash
# nginx, unmodified, over tapstack (tapstack-run), as one process (master_process off; daemon
# off): a 100 MB static file to the host's curl (SHA-256 checked, sendfile on), ab with and
# without keep-alive (every request answered), a listener on [::]:80 next to 0.0.0.0:80 as in
# Debian's default site, and tapstack-stat showing nginx's listener and a connection from inside
# nginx's process (--control); then wrk and ab run through tapstack-run against a kernel nginx
# on the host side.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"
. "$(dirname "$0")/run_lib.sh"

ts_need_cmd nginx ab wrk curl
ts_ns_setup
N=$TS_BIG
mkdir -p "$TS_TMP/www" "$TS_TMP/ng"
sha=$(ts_random_file "$TS_TMP/www/big.bin" "$N")
echo "hello from nginx" >"$TS_TMP/www/index.html"

# nginx_conf FILE LISTEN...: a one-process nginx serving $TS_TMP/www.
nginx_conf() {
    local f=$1 l
    shift
    {
        echo "daemon off; master_process off; worker_processes 1;"
        echo "error_log $TS_TMP/ng/$(basename "$f").err info; pid $TS_TMP/ng/$(basename "$f").pid;"
        echo "events { worker_connections 1024; }"
        echo "http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;"
        for t in client_body proxy fastcgi uwsgi scgi; do echo " ${t}_temp_path $TS_TMP/ng/$t;"; done
        echo " server {"
        for l in "$@"; do echo "  listen $l;"; done
        echo "  root $TS_TMP/www; } }"
    } >"$f"
}

nginx_conf "$TS_TMP/ng/stack.conf" 80 "[::]:80"
CTL=$TS_TMP/ctl.sock
ts_run_control "$CTL"
ts_run_bg "$TS_TMP/app-nginx.log" nginx -c "$TS_TMP/ng/stack.conf"
ng=$TS_BG_PID
ts_wait_stack_port 80 || ts_fail "nginx over tapstack does not accept connections"

ts_ns_exec curl -sS --max-time 300 -o "$TS_TMP/got.bin" "http://$TS_STACK_IP/big.bin" ||
    ts_fail "curl of nginx's 100 MB file failed"
[[ $(ts_sha "$TS_TMP/got.bin") == "$sha" ]] || ts_fail "nginx's file: SHA-256 differs"
rm -f "$TS_TMP/got.bin"

ab_check() { # ab_check WHAT ARGS...: every request answered
    local what=$1 out
    shift
    out=$(ts_ns_exec ab -q -s 30 "$@" 2>&1) || ts_fail "$what failed: $(tail -3 <<<"$out")"
    grep -qE "^Failed requests: +0$" <<<"$out" || ts_fail "$what: $(grep -E 'Failed|Complete' <<<"$out")"
    grep -qE "^Non-2xx responses" <<<"$out" && ts_fail "$what: non-2xx responses"
    ts_log "$what: $(grep 'Requests per second' <<<"$out")"
}
ab_check "ab -n 2000 -c 20" -n 2000 -c 20 "http://$TS_STACK_IP/index.html"
ab_check "ab -k -n 20000 -c 20" -k -n 20000 -c 20 "http://$TS_STACK_IP/index.html"

# tapstack-stat sees nginx's sockets, served from inside nginx's own process: the listener and
# a download held open by a slow client.
ts_bg curl -s --limit-rate 1M -o /dev/null "http://$TS_STACK_IP/big.bin"
slow=$TS_BG_PID
for _ in $(seq 50); do
    st=$("$TS_BIN/tapstack-stat" -a --control "$CTL" 2>&1)
    grep -qE "$TS_STACK_IP:80 +$TS_HOST_IP:[0-9]+ +ESTABLISHED" <<<"$st" && break
    sleep 0.1
done
echo "$st" >"$TS_TMP/stat.txt"
grep -qE "^tcp +[0-9]+ +[0-9]+ 0\.0\.0\.0:80 +0\.0\.0\.0:\* +LISTEN$" <<<"$st" ||
    ts_fail "tapstack-stat shows no LISTEN on 0.0.0.0:80: $st"
grep -qE "$TS_STACK_IP:80 +$TS_HOST_IP:[0-9]+ +ESTABLISHED" <<<"$st" ||
    ts_fail "tapstack-stat shows no ESTABLISHED download: $st"
hello=$(echo hello | ts_ns_exec socat -t 2 - UNIX-CONNECT:"$CTL" 2>&1)
grep -q "nginx" <<<"$hello" || ts_fail "the control socket does not name nginx: $hello"
ts_end "$slow"

ts_end "$ng" 15
grep -q "exiting" "$TS_TMP/ng/stack.conf.err" || ts_fail "nginx did not exit on SIGTERM"

# wrk and ab through tapstack-run against nginx on the host side (the kernel's TCP).
nginx_conf "$TS_TMP/ng/host.conf" "$TS_HOST_IP:8081"
ts_bg nginx -c "$TS_TMP/ng/host.conf"
ts_wait_port 8081 || ts_fail "the host's nginx did not start"
ts_run_control none
out=$(ts_run_fg 60 wrk -t 2 -c 20 -d 3s "http://$TS_HOST_IP:8081/index.html" 2>&1) ||
    ts_fail "wrk through tapstack failed: $out"
grep -qE "^Requests/sec: +[0-9]" <<<"$out" || ts_fail "wrk printed no rate: $out"
grep -q "Socket errors" <<<"$out" && ts_fail "wrk saw socket errors: $(grep 'Socket errors' <<<"$out")"
grep -q "Non-2xx" <<<"$out" && ts_fail "wrk saw non-2xx answers"
ts_log "wrk through tapstack: $(grep Requests/sec <<<"$out")"
out=$(ts_run_fg 60 ab -q -k -n 5000 -c 20 "http://$TS_HOST_IP:8081/index.html" 2>&1) ||
    ts_fail "ab through tapstack failed: $(tail -3 <<<"$out")"
grep -qE "^Failed requests: +0$" <<<"$out" || ts_fail "ab through tapstack: failed requests"

ts_pass "nginx over tapstack: $N bytes SHA-256 equal, ab with and without keep-alive, tapstack-stat; wrk and ab through tapstack"
