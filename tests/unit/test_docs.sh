#!/usr/bin/env bash
# Tests of tools/docs-check.py (`make docs-check`): docs/ passes as it is, and each kind of rot
# planted into a copy of the tree (docs or code) fails with a line naming where and what.
#
#   tests/unit/test_docs.sh [BUILD]      (BUILD is not used: the check reads sources only)
#
# Prints "ok - NAME" or "not ok - NAME" per case (tests/run-unit.sh counts them); exits non-zero
# when any failed.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
check=tools/docs-check.py

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fails=0
ok() { echo "ok - $1"; }
not_ok() {
    echo "not ok - $1"
    sed 's/^/    # /' "$tmp/out" | tail -n 20
    fails=$((fails + 1))
}
# expect NAME STATUS LINE: the last run exited with STATUS (0 or 1) and printed LINE exactly.
expect() {
    local name=$1 want=$2 line=$3
    if [[ $rc -eq $want ]] && grep -qxF -- "$line" "$tmp/out"; then
        ok "$name"
    else
        echo "    # wanted exit $want and the line: $line (got exit $rc)"
        not_ok "$name"
    fi
}
# A fresh copy of what the check reads: docs/ and stack/.
copy() {
    rm -rf "$tmp/tree" && mkdir -p "$tmp/tree" && cp -r docs stack "$tmp/tree/"
}
run() {
    "$check" --root "$tmp/tree" >"$tmp/out" 2>&1
    rc=$?
}

"$check" >"$tmp/out" 2>&1
rc=$?
expect "the_docs_as_they_are_pass" 0 "$(grep '^docs-check: OK' "$tmp/out" || echo 'docs-check: OK ...')"

# A walk that names a function its file does not define (renamed, moved, or a typo).
copy
echo 'Then `stack/tcp/tcp_input.c:tcp_no_such_step` runs.' >>"$tmp/tree/docs/walkthrough.md"
line=$(wc -l <"$tmp/tree/docs/walkthrough.md")
run
expect "a_reference_to_a_function_not_in_its_file_fails" 1 \
    "docs-check: FAIL: docs/walkthrough.md:$line: stack/tcp/tcp_input.c:tcp_no_such_step: tcp_no_such_step is not defined in stack/tcp/tcp_input.c"

# ... or a file that is gone.
copy
echo 'See `stack/tcp_input.c:ts_tcp_input`.' >>"$tmp/tree/docs/states.md"
line=$(wc -l <"$tmp/tree/docs/states.md")
run
expect "a_reference_to_a_missing_file_fails" 1 \
    "docs-check: FAIL: docs/states.md:$line: stack/tcp_input.c:ts_tcp_input: no file stack/tcp_input.c"

# A new trace cause in the code that the table does not list.
copy
sed -i '0,/ts_tcp_set_state(s, c, TS_TCP_LISTEN, "app listen");/s//&\n    ts_tcp_set_state(s, c, TS_TCP_LISTEN, "planted cause");/' \
    "$tmp/tree/stack/tcp/tcp_user.c"
run
expect "a_cause_missing_from_the_table_fails" 1 \
    'docs-check: FAIL: docs/states.md: the trace cause "planted cause" (raised in stack/tcp/tcp_user.c:ts_tcp_listen) is not in the table'

# A cause raised in one more place than its row says (through another door: tcp_enter_closed).
copy
sed -i '0,/ts_tcp_set_state(s, c, TS_TCP_SYN_SENT, "app connect");/s//&\n    tcp_enter_closed(s, c, 0, "app listen");/' \
    "$tmp/tree/stack/tcp/tcp_user.c"
row=$(grep -n '^| `app listen`' "$tmp/tree/docs/states.md" | cut -d: -f1)
run
expect "a_cause_raised_where_its_row_does_not_say_fails" 1 \
    "docs-check: FAIL: docs/states.md:$row: \"app listen\" is raised in stack/tcp/tcp_user.c:ts_tcp_connect, which the row does not name"

# A row that names a place the cause is no longer raised in, and a row for a cause raised nowhere.
copy
sed -i 's/^| `app connect` | CLOSE -> SYN_SENT | `stack\/tcp\/tcp_user.c:ts_tcp_connect` |/| `app connect` | CLOSE -> SYN_SENT | `stack\/tcp\/tcp_user.c:ts_tcp_connect`, `stack\/tcp\/tcp_user.c:ts_tcp_listen` |\n| `rcvd nothing` | - | `stack\/tcp\/tcp.c:ts_tcp_set_state` |/' \
    "$tmp/tree/docs/states.md"
row=$(grep -n '^| `app connect`' "$tmp/tree/docs/states.md" | cut -d: -f1)
run
expect "a_row_naming_a_place_that_does_not_raise_it_fails" 1 \
    "docs-check: FAIL: docs/states.md:$row: \"app connect\" is not raised in stack/tcp/tcp_user.c:ts_tcp_listen"
expect "a_row_for_a_cause_raised_nowhere_fails" 1 \
    "docs-check: FAIL: docs/states.md:$((row + 1)): \"rcvd nothing\" is raised nowhere in stack/"

# A cause the check cannot read: a variable instead of a literal.
copy
sed -i '0,/ts_tcp_set_state(s, c, TS_TCP_LISTEN, "app listen");/s//const char *why = "app listen";\n    ts_tcp_set_state(s, c, TS_TCP_LISTEN, why);/' \
    "$tmp/tree/stack/tcp/tcp_user.c"
line=$(grep -n 'ts_tcp_set_state(s, c, TS_TCP_LISTEN, why);' "$tmp/tree/stack/tcp/tcp_user.c" | cut -d: -f1)
run
expect "a_cause_that_is_not_a_literal_fails" 1 \
    "docs-check: FAIL: stack/tcp/tcp_user.c:$line: ts_tcp_set_state is passed the cause \`why\`, not a string literal: the table in docs/states.md cannot list it"

[[ $fails -eq 0 ]]
