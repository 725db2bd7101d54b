#!/usr/bin/env bash
# Tests of tools/layers-check.py (`make deps-check`): it passes on the tree as built, and fails,
# naming caller, callee and symbol (or the function too long), on each kind of fault planted into a
# copy of the symbol table or of the sources.
#
#   tests/unit/test_layers_check.sh [BUILD]      (default build; the stack's objects must exist)
#
# Prints "ok - NAME" or "not ok - NAME" per case (tests/run-unit.sh counts them); exits non-zero
# when any failed.
set -uo pipefail

build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
check=tools/layers-check.py

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fails=0
ok() { echo "ok - $1"; }
not_ok() {
    echo "not ok - $1"
    sed 's/^/    # /' "$tmp/out" | grep -v '^    #     ' | tail -n 20
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

mapfile -t objs < <(find "$build/obj/stack" -name '*.o' | sort)
if [[ ${#objs[@]} -eq 0 ]]; then
    echo "not ok - objects of $build/obj/stack exist (build first: make -j2 libs)"
    exit 1
fi
nm -A -P "${objs[@]}" >"$tmp/nm"

"$check" "$build" >"$tmp/out" 2>&1
rc=$?
expect "the_tree_as_built_has_no_upward_call_and_no_loop" 0 \
    "$(grep '^layers-check: OK' "$tmp/out" || echo 'layers-check: OK ...')"

# An upward call: ARP (below IPv4 and TCP) calling into TCP's segment arrival.
{ cat "$tmp/nm"; echo "$build/obj/stack/arp.o: ts_tcp_input U"; } >"$tmp/nm.up"
"$check" --nm "$tmp/nm.up" >"$tmp/out" 2>&1
rc=$?
expect "a_planted_upward_call_fails_naming_caller_callee_and_symbol" 1 \
    "layers-check: FAIL: upward call: stack/arp.c (arp) calls ts_tcp_input in stack/tcp/tcp_input.c (tcp)"

# The conductor called from below: what ipv4.c once did with ts_stack_deliver.
{ cat "$tmp/nm"; echo "$build/obj/stack/ipv4.o: ts_stack_input U"; } >"$tmp/nm.cond"
"$check" --nm "$tmp/nm.cond" >"$tmp/out" 2>&1
rc=$?
expect "a_call_up_into_the_conductor_fails" 1 \
    "layers-check: FAIL: upward call: stack/ipv4.c (ipv4) calls ts_stack_input in stack/stack.c (conductor)"

# A loop inside one layer other than TCP: reassembly calling back into ipv4.c.
{ cat "$tmp/nm"; echo "$build/obj/stack/ip_reass.o: ts_ip_route U"; } >"$tmp/nm.loop"
"$check" --nm "$tmp/nm.loop" >"$tmp/out" 2>&1
rc=$?
expect "a_loop_inside_a_layer_other_than_tcp_fails" 1 \
    "layers-check: FAIL: loop of files inside layer ipv4: stack/ip_reass.c -> stack/ipv4.c (ts_ip_route) -> stack/ip_reass.c (ts_reass_input)"

# TCP's files in their folder (stack/tcp/) are the TCP layer, their own loop allowed.
"$check" --nm "$tmp/nm" >"$tmp/out" 2>&1
rc=$?
if [[ $rc -eq 0 ]] && grep -q '^  tcp  *stack/tcp/tcp.c ' "$tmp/out"; then
    ok "tcp_files_in_stack/tcp/_are_the_tcp_layer"
else
    not_ok "tcp_files_in_stack/tcp/_are_the_tcp_layer"
fi

# A new file nobody placed in a layer.
{ cat "$tmp/nm"; echo "$build/obj/stack/route.o: ts_route_lookup T 0 10"; } >"$tmp/nm.new"
"$check" --nm "$tmp/nm.new" >"$tmp/out" 2>&1
rc=$?
if [[ $rc -eq 1 ]] && grep -q '^layers-check: FAIL: stack/route.c belongs to no layer' "$tmp/out"; then
    ok "a_file_in_no_layer_fails"
else
    not_ok "a_file_in_no_layer_fails"
fi

# An upward include, which the objects cannot show (a static inline function of TCP's header
# used by UDP): a copy of the sources with the include planted, checked against the same objects.
mkdir -p "$tmp/tree"
cp -r stack "$tmp/tree/"
sed -i '0,/#include "internal.h"/s//#include "internal.h"\n#include "tcp\/tcp_internal.h"/' \
    "$tmp/tree/stack/udp.c"
absbuild=$(cd "$build" && pwd)
"$check" --root "$tmp/tree" "$absbuild" >"$tmp/out" 2>&1
rc=$?
expect "a_planted_upward_include_fails" 1 \
    "layers-check: FAIL: upward include: stack/udp.c (udp) includes stack/tcp/tcp_internal.h (tcp)"

# Function length: a function of 79 lines (signature to closing brace) passes and is reported as
# the longest; one of 80 fails, named with its file.
plant_function() { # LINES: a copy of the sources whose udp.c ends with a function that long
    rm -rf "$tmp/long" && mkdir -p "$tmp/long" && cp -r stack "$tmp/long/"
    {
        echo "int planted_long_function(int x);"
        echo "int planted_long_function(int x)"
        echo "{"
        for ((i = 0; i < $1 - 4; i++)); do echo "    x += $i;"; done
        echo "    return x;"
        echo "}"
    } >>"$tmp/long/stack/udp.c"
}
plant_function 79
"$check" --root "$tmp/long" "$absbuild" >"$tmp/out" 2>&1
rc=$?
expect "a_function_of_79_lines_passes_and_is_the_longest" 0 \
    "longest function: stack/udp.c:planted_long_function, 79 lines (limit: under 80)"
plant_function 80
"$check" --root "$tmp/long" "$absbuild" >"$tmp/out" 2>&1
rc=$?
expect "a_function_of_80_lines_fails_naming_file_and_function" 1 \
    "layers-check: FAIL: function too long: stack/udp.c:planted_long_function is 80 lines (under 80 wanted): split it into named steps"

[[ $fails -eq 0 ]]
