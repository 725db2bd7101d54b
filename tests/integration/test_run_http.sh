#!/usr/bin/env bash
# Unmodified HTTP programs over tapstack (tapstack-run): curl and wget download 100 MB from a
# kernel HTTP server on the host side, curl uploads 100 MB to one, python3's urllib downloads,
# and python3 -m http.server serves 100 MB over tapstack to the host's curl. Every transfer is
# checked by SHA-256 at both ends.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"
. "$(dirname "$0")/run_lib.sh"

ts_need_cmd curl wget python3
ts_ns_setup
N=$TS_BIG
mkdir -p "$TS_TMP/www"
sha=$(ts_random_file "$TS_TMP/www/big.bin" "$N")
ts_bg python3 -m http.server 8000 --bind "$TS_HOST_IP" --directory "$TS_TMP/www" >/dev/null 2>&1
ts_wait_port 8000 || ts_fail "the host's http.server did not start"
U=http://$TS_HOST_IP:8000/big.bin

DONE=
if ts_san_unfit curl; then
    ts_log "sanitizer build: curl and wget hang with libasan preloaded (without tapstack too): skipped here"
else
    t0=$SECONDS
    ts_run_fg 300 curl -sS -o "$TS_TMP/curl.bin" "$U" 2>"$TS_TMP/app-curl.log" ||
        ts_fail "curl through tapstack failed"
    [[ $(ts_sha "$TS_TMP/curl.bin") == "$sha" ]] || ts_fail "curl: SHA-256 differs"
    ts_log "curl: $N bytes in $((SECONDS - t0)) s"
    rm -f "$TS_TMP/curl.bin"

    ts_run_fg 300 wget -q -O "$TS_TMP/wget.bin" "$U" 2>"$TS_TMP/app-wget.log" ||
        ts_fail "wget through tapstack failed"
    [[ $(ts_sha "$TS_TMP/wget.bin") == "$sha" ]] || ts_fail "wget: SHA-256 differs"
    rm -f "$TS_TMP/wget.bin"
    DONE="curl, wget, "
fi

ts_run_fg 300 python3 -c 'import sys, hashlib, urllib.request
h = hashlib.sha256()
with urllib.request.urlopen(sys.argv[1]) as r:
    while True:
        b = r.read(1 << 20)
        if not b:
            break
        h.update(b)
print(h.hexdigest())' "$U" >"$TS_TMP/urllib.out" 2>"$TS_TMP/app-urllib.log" ||
    ts_fail "python3 urllib through tapstack failed"
[[ $(cat "$TS_TMP/urllib.out") == "$sha" ]] || ts_fail "urllib: SHA-256 differs"

# Upload: curl sends the file in a POST; the host side hashes what it receives.
if ! ts_san_unfit curl; then
    ts_host_upload 8001 "$TS_TMP/up.result"
    ts_wait_port 8001 || ts_fail "the upload server did not start"
    ts_run_fg 300 curl -sS -o /dev/null --data-binary @"$TS_TMP/www/big.bin" \
        "http://$TS_HOST_IP:8001/upload" 2>"$TS_TMP/app-upload.log" || ts_fail "curl upload failed"
    for _ in $(seq 50); do [[ -s $TS_TMP/up.result ]] && break; sleep 0.1; done
    [[ $(cat "$TS_TMP/up.result") == "$N $sha" ]] ||
        ts_fail "upload: the host got '$(cat "$TS_TMP/up.result")', want '$N $sha'"
    DONE+="curl up, "
fi

# The other way round: python3 -m http.server over tapstack, the host's curl fetching.
ts_run_bg "$TS_TMP/app-pyserver.log" python3 -m http.server 8080 --directory "$TS_TMP/www"
py=$TS_BG_PID
ts_wait_stack_port 8080 || ts_fail "http.server over tapstack does not accept connections"
ts_ns_exec curl -sS --max-time 300 -o "$TS_TMP/py.bin" "http://$TS_STACK_IP:8080/big.bin" ||
    ts_fail "the host's curl from http.server over tapstack failed"
[[ $(ts_sha "$TS_TMP/py.bin") == "$sha" ]] || ts_fail "http.server over tapstack: SHA-256 differs"
grep -q '"GET /big.bin HTTP/1.1" 200' "$TS_TMP/app-pyserver.log" || ts_fail "http.server did not log the request"
ts_end "$py"

ts_pass "${DONE}urllib: $N bytes each way as named; http.server over tapstack to the host's curl: SHA-256 equal"
