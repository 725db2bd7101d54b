#!/usr/bin/env bash
# The live TCP page (/tcp) of tapstack-httpd, in a real headless Chromium inside the test's
# namespace (tcpviz_browser.py, driven over the DevTools protocol by cdp.py): tokens appear in
# LISTEN, ESTABLISHED and TIME_WAIT as the host's nc and curl connect and close, the arrows'
# counters rise, a connection's ladder shows its SYN, SYN-ACK, ACK and FINs in order (and which
# change each caused), the page's own connections are marked and can be hidden, 300 connections
# aggregate into a count, and the page keeps up during a 400 MB download. A screenshot is kept
# in BUILD/artifacts/tcpviz.png.
# Before the browser: the endpoints answer over the tap with valid JSON, a bad query with 400,
# and the page's files come from the binary.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"

ts_need_bin tapstack-httpd
command -v curl >/dev/null || ts_skip "no curl"
command -v nc >/dev/null || ts_skip "no nc (netcat-openbsd)"
CHROMIUM=$(command -v chromium || command -v chromium-browser) ||
    ts_skip "no chromium (apt-get install chromium; tools/deps.sh test installs it)"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

ts_ns_setup
# The browser test pins curl and nc to local ports 40001-40004: the host's own ephemeral ports (the
# hundreds of connections it opens before) must not take them, or a bind fails (curl: HTTP 000).
ts_ns_exec sysctl -qw net.ipv4.ip_local_port_range="42000 60999" ||
    ts_fail "could not set the namespace's ephemeral port range"
# --msl 5: TIME_WAIT lasts 10 s, long enough to see, short enough to end within the test.
ts_start_app "$TS_BIN/tapstack-httpd" --msl 5 --control none
S=$TS_STACK_IP

# ---- the endpoints over the tap
get() { ts_ns_exec curl -s -o "$TS_TMP/body" -w '%{http_code} %{content_type}' "http://$S$1"; }
json_ok() { "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$TS_TMP/body"; }
for ep in /api/states /api/connections /api/transitions /api/ladders "/api/connections?per_state=3"; do
    r=$(get "$ep")
    [[ $r == "200 application/json" ]] || ts_fail "GET $ep: $r"
    json_ok || ts_fail "GET $ep: not JSON: $(head -c 300 "$TS_TMP/body")"
done
r=$(get "/api/transitions?since=x")
[[ $r == "400 application/json" ]] && json_ok && grep -q 'since must be a decimal number' "$TS_TMP/body" ||
    ts_fail "a bad since: $r $(cat "$TS_TMP/body")"
r=$(get "/api/segments?conn=999999")
[[ $r == "404 application/json" ]] || ts_fail "an unknown connection's ladder: $r"
r=$(get /tcp)
[[ $r == "200 text/html; charset=utf-8" ]] && grep -q '<script src="/tcp/tcp.js">' "$TS_TMP/body" ||
    ts_fail "GET /tcp: $r"
r=$(get /tcp/tcp.js)
[[ $r == "200 text/javascript; charset=utf-8" ]] || ts_fail "GET /tcp/tcp.js: $r"
# Self-contained: no address outside the page's own server (the SVG namespace is a name, not a fetch).
outside=$(grep -Eo 'https?://[^"'"'"' )]*' "$TS_TMP/body" | grep -v '^http://www.w3.org/2000/svg$')
[[ -z $outside ]] || ts_fail "tcp.js names an outside address: $outside"
r=$(get /)
grep -q 'href="/tcp"' "$TS_TMP/body" || ts_fail "/ does not link to /tcp"

# ---- the browser
artifacts=$TS_BUILD/artifacts
mkdir -p "$artifacts"
ts_ns_exec timeout 240 "$PY" "$(dirname "$0")/tcpviz_browser.py" "http://$S/tcp" "$artifacts" \
    >"$TS_TMP/browser.log" 2>&1
rc=$?
cat "$TS_TMP/browser.log" >&2
[[ $rc == 0 ]] || ts_fail "the browser test failed (exit $rc): $(grep -m1 '^FAIL' "$TS_TMP/browser.log")"
[[ -s $artifacts/tcpviz.png ]] || ts_fail "no screenshot in $artifacts"

ts_stop_app
ts_pass "tokens, counters and a ladder in headless Chromium; screenshot $artifacts/tcpviz.png"
