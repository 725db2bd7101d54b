#!/usr/bin/env bash
# tapstack-httpd with the host's curl, ab and nc: pages, a 100 MB download checked against the
# pattern, a 100 MB upload (Content-Length and chunked) hashed by the server, 200 concurrent
# requests, ab with keep-alive, a refused port, the error statuses, and clients that misbehave
# (garbage, slow heads, half-open, reset mid-transfer) without taking it down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"

ts_need_bin tapstack-echo-server tapstack-echo-client tapstack-httpd
ts_ns_setup
S=$TS_STACK_IP
U=http://$S
curl_() { ts_ns_exec curl -sS --max-time 120 "$@"; }
status() { ts_ns_exec curl -s -o /dev/null --max-time 20 -w '%{http_code}' "$@"; }

ts_start_app "$TS_BIN/tapstack-httpd" --tap "$TS_TAP"
ts_wait_log "listening on $S:80" || ts_fail "httpd never said it was listening"
grep -q "curl http://$S/" "$TS_APP_LOG" || ts_fail "the start-up line does not say how to reach it"

# GET /: the live connection table, with the connection fetching it and what its state means.
page=$(curl_ "$U/") || ts_fail "curl / failed"
grep -q "<table>" <<<"$page" || ts_fail "/ has no connection table"
grep -q "LISTEN" <<<"$page" || ts_fail "/ does not list the listener"
grep -qE "ESTABLISHED.*$TS_HOST_IP:[0-9]+" <<<"$page" || ts_fail "/ does not show our connection"
grep -q "<dt>ESTABLISHED" <<<"$page" || ts_fail "/ does not explain the states it shows"

# GET /stats: counters as text.
stats=$(curl_ -D "$TS_TMP/stats.h" "$U/stats") || ts_fail "curl /stats failed"
grep -qiE "^content-type: text/plain" "$TS_TMP/stats.h" || ts_fail "/stats is not text/plain"
grep -qE "^tcp_rx +[1-9]" <<<"$stats" || ts_fail "/stats has no tcp_rx counter: $(head -3 <<<"$stats")"

# Keep-alive: two requests, one connection; HEAD has the length but no body.
n=$(curl_ -o /dev/null -o /dev/null -w '%{num_connects} ' "$U/bytes/10" "$U/bytes/20")
[[ $n == "1 0 " ]] || ts_fail "keep-alive: connects per request were '$n'"
hdr=$(curl_ -I "$U/bytes/12345")
grep -qi "^content-length: 12345" <<<"$hdr" || ts_fail "HEAD /bytes/12345 has no Content-Length 12345"

# Connection: close is honoured: the server closes after the answer (nc exits on its FIN).
out=$(printf 'HEAD /bytes/5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    ts_ns_exec timeout 10 nc "$S" 80) || ts_fail "server did not close after Connection: close"
grep -q "^Connection: close" <<<"$out" || ts_fail "no Connection: close in the answer"

# Pipelining (RFC 9112 9.3.2): two requests in one write get two answers, in order.
out=$(printf 'GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    ts_ns_exec timeout 10 nc "$S" 80 | tr -d '\0\1\2' | grep '^HTTP/1.1')
[[ $out == $'HTTP/1.1 200 OK\r\nHTTP/1.1 404 Not Found\r' ]] ||
    ts_fail "pipelined requests answered: $(cat -A <<<"$out")"

# 100 MB download compared with the pattern.
got=$(curl_ "$U/bytes/$TS_BIG" | sha256sum | cut -d' ' -f1)
want=$(ts_pattern_sha256 "$TS_BIG")
[[ $got == "$want" ]] || ts_fail "/bytes/$TS_BIG: sha $got, pattern $want"

# 100 MB upload: the server's length and SHA-256 match the file's; chunked too.
head -c "$TS_BIG" /dev/urandom >"$TS_TMP/up.bin"
want=$(ts_sha "$TS_TMP/up.bin")
out=$(curl_ --data-binary "@$TS_TMP/up.bin" "$U/upload") || ts_fail "POST /upload failed"
grep -qx "length: $TS_BIG" <<<"$out" || ts_fail "upload length: $out"
grep -qx "sha256: $want" <<<"$out" || ts_fail "upload hash: $out (want $want)"
head -c 3000000 "$TS_TMP/up.bin" >"$TS_TMP/up3.bin"
out=$(curl_ -H 'Transfer-Encoding: chunked' --data-binary "@$TS_TMP/up3.bin" "$U/upload") ||
    ts_fail "chunked POST /upload failed"
grep -qx "sha256: $(ts_sha "$TS_TMP/up3.bin")" <<<"$out" || ts_fail "chunked upload hash: $out"

# 200 concurrent requests, all answered 200 with the right length.
codes=$(seq 1 200 | ts_ns_exec xargs -P 200 -I{} curl -s -o /dev/null --max-time 60 \
    -w '%{http_code} %{size_download} {}\n' "$U/bytes/{}")
ok=$(awk '$1 == 200 && $2 == $3' <<<"$codes" | wc -l)
[[ $ok == 200 ]] || ts_fail "only $ok of 200 concurrent requests answered: $(grep -v '^200' <<<"$codes" | head -3)"

# ab: 2000 requests, 50 at a time, keep-alive.
ab=$(ts_ns_exec timeout 120 ab -q -n 2000 -c 50 -k "$U/bytes/100" 2>&1) || ts_fail "ab failed: $ab"
grep -qE "^Complete requests: +2000" <<<"$ab" || ts_fail "ab: $(grep -E 'Complete|Failed' <<<"$ab")"
grep -qE "^Failed requests: +0" <<<"$ab" || ts_fail "ab: $(grep -E 'Failed' <<<"$ab")"
grep -qE "^Keep-Alive requests: +2000" <<<"$ab" || ts_fail "ab: keep-alive not used for all"

# A closed port is refused at once: curl exit 7 (couldn't connect), not 28 (timeout).
ts_ns_exec curl -s -o /dev/null --connect-timeout 10 "http://$S:81/"
rc=$?
[[ $rc == 7 ]] || ts_fail "curl to a closed port exited $rc, want 7 (connection refused)"

# Error statuses.
[[ $(status "$U/nope") == 404 ]] || ts_fail "unknown path is not 404"
[[ $(status -X POST "$U/stats") == 405 ]] || ts_fail "POST /stats is not 405"
[[ $(status "$U/bytes/abc") == 400 ]] || ts_fail "/bytes/abc is not 400"
big=$(head -c 9000 /dev/zero | tr '\0' a)
[[ $(status -H "X-Big: $big" "$U/") == 431 ]] || ts_fail "a 9 KB header is not 431"
out=$(printf 'GET / HTTP/1.1\r\nHost : x\r\n\r\n' | ts_ns_exec timeout 10 nc "$S" 80 | head -1)
[[ $out == "HTTP/1.1 400 Bad Request"* ]] || ts_fail "malformed header got '$out'"
out=$(printf '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' | ts_ns_exec timeout 10 nc "$S" 80 | head -1)
[[ $out == "HTTP/1.1 400 Bad Request"* ]] || ts_fail "binary garbage got '$out'"

# Misbehaving clients: slow heads that never finish, half-open connections, garbage, and
# downloads reset mid-transfer. The server must keep answering others and stay up.
bad=()
for i in $(seq 10); do
    (printf 'GET / HTTP/1.1\r\nHo'; sleep 6) | ts_ns_exec timeout 6 nc "$S" 80 >/dev/null 2>&1 &
    bad+=($!)
    sleep 6 | ts_ns_exec timeout 6 nc "$S" 80 >/dev/null 2>&1 &
    bad+=($!)
    head -c 20000 /dev/urandom | ts_ns_exec timeout 10 nc "$S" 80 >/dev/null 2>&1 &
    bad+=($!)
    printf 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc' |
        ts_ns_exec timeout 10 nc -N "$S" 80 >/dev/null 2>&1 &
    bad+=($!)
    ts_ns_exec curl -s -o /dev/null --max-time 0.5 "$U/bytes/1000000000" &
    bad+=($!)
done
sleep 1
[[ $(status "$U/bytes/1000") == 200 ]] || ts_fail "not answering while bad clients are connected"
got=$(curl_ "$U/bytes/1000000" | sha256sum | cut -d' ' -f1)
[[ $got == "$(ts_pattern_sha256 1000000)" ]] || ts_fail "wrong data while bad clients are connected"
for p in "${bad[@]}"; do wait "$p" 2>/dev/null; done # all end within 6 s (timeout)
ts_app_alive || ts_fail "httpd died"
[[ $(status "$U/") == 200 ]] || ts_fail "not answering after the bad clients left"

ts_stop_app
ts_pass "/, /stats, keep-alive, HEAD, $TS_BIG-byte download and upload, chunked, 200 concurrent, ab, refused port, 400/404/405/431, bad clients"
