#!/usr/bin/env python3
"""Check that the files of stack/ call only down their layers (`make deps-check`).

    tools/layers-check.py [--root DIR] [BUILD]   the objects of BUILD/obj/stack (default: build)
                                                 and the sources of DIR/stack (default: this tree)
    tools/layers-check.py --nm FILE              a symbol table saved with `nm -A -P` ('-' reads
                                                 stdin); no sources, so no include check

Which file calls which is read from the object files: a global symbol a file leaves undefined
(`nm` type U) and another stack/ file defines is a call (or a use of its data) from the first to
the second. The sources are read for one more thing the objects cannot show, the headers a file
includes, since a static inline function in a higher layer's header would be an upward call too.

It prints the layers bottom-up and every call between files, then fails, with one line naming
the caller, the callee and the symbols, on a call from a lower layer to a higher one and on a
loop of files anywhere but inside TCP (output arms timers, timers call output: that loop is the
protocol's own). A stack/ file that belongs to no layer fails too: add it to LAYERS below.

With the sources it also measures every function of stack/ (signature to closing brace), prints
the longest, and fails on any of MAX_FUNCTION_LINES lines or more: a reader should see a whole
function at once.
"""

import argparse
import fnmatch
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import csource  # noqa: E402  (tools/csource.py)

# Bottom-up. A file may call files of its own layer and of the layers before it.
LAYERS = [
    ("wire", ["stack/wire/*"]),
    ("util", ["stack/addr.c", "stack/ringbuf.*", "stack/siphash.*", "stack/counters.c"]),
    ("trace", ["stack/trace.c"]),
    ("link", ["stack/link.c"]),
    ("arp", ["stack/arp.c"]),
    ("ipv4", ["stack/ipv4.c", "stack/ip_reass.c"]),
    ("icmp", ["stack/icmp.c"]),
    ("udp", ["stack/udp.c"]),
    ("tcp", ["stack/tcp*.c", "stack/tcp*.h", "stack/seq.h", "stack/tcp/*"]),
    ("conductor", ["stack/stack.c"]),
]
# Layers whose files may call each other in a loop.
LOOPS_ALLOWED = {"tcp"}
# Headers every layer may include: they declare the interfaces between the layers, not any
# layer's insides.
SHARED_HEADERS = {"stack/internal.h"}

RANK = {name: i for i, (name, _) in enumerate(LAYERS)}
# Every function of stack/ is shorter than this (lines from its signature to its closing brace).
MAX_FUNCTION_LINES = 80


def layer_of(path):
    for name, patterns in LAYERS:
        if any(fnmatch.fnmatch(path, p) for p in patterns):
            return name
    return None


def source_of(obj):
    """build/obj/stack/arp.o -> stack/arp.c (the path below obj/, or from stack/ on)."""
    path = obj.replace(os.sep, "/")
    if "/obj/" in path:
        path = path.split("/obj/", 1)[1]
    elif "stack/" in path:
        path = path[path.index("stack/"):]
    return re.sub(r"\.o$", ".c", path)


def read_nm(lines):
    """`nm -A -P` lines ("file.o: symbol TYPE [value size]") -> {source: (defined, undefined)}."""
    files = {}
    for line in lines:
        m = re.match(r"^(.*?\.o):\s+(\S+)\s+([A-Za-z?])\b", line)
        if not m:
            continue
        src, sym, kind = source_of(m.group(1)), m.group(2), m.group(3)
        defined, undefined = files.setdefault(src, (set(), set()))
        if kind in "Uw":
            undefined.add(sym)
        elif kind.isupper():  # global: text, data, bss, read-only, weak (W, V)
            defined.add(sym)
    return files


def nm_of_build(root, build):
    sources = []
    for d, _, names in os.walk(os.path.join(root, "stack")):
        sources += [os.path.relpath(os.path.join(d, n), root) for n in names if n.endswith(".c")]
    objs = []
    for src in sorted(sources):
        obj = os.path.join(build, "obj", src[:-2] + ".o")
        if not os.path.exists(os.path.join(root, obj)):
            sys.exit(f"layers-check: {obj} is missing: build first (make -j2 libs BUILD={build})")
        objs.append(obj)
    out = subprocess.run(["nm", "-A", "-P"] + objs, cwd=root, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"layers-check: nm failed: {out.stderr.strip()}")
    return out.stdout.splitlines(), sorted(sources)


def includes_of(root, sources):
    """{source: [included stack/ header paths]}, for headers that live in stack/."""
    inc = {}
    for src in sources:
        with open(os.path.join(root, src), encoding="utf-8") as f:
            names = re.findall(r'^\s*#\s*include\s+"([^"]+)"', f.read(), re.M)
        found = []
        for n in names:
            for cand in (os.path.join(os.path.dirname(src), n), os.path.join("stack", n)):
                if os.path.exists(os.path.join(root, cand)):
                    found.append(os.path.normpath(cand).replace(os.sep, "/"))
                    break
        inc[src] = found
    return inc


def call_graph(files):
    """{caller: {callee: sorted symbols}} between different files."""
    owner = {}
    for src, (defined, _) in sorted(files.items()):
        for sym in defined:
            owner.setdefault(sym, src)
    edges = {src: {} for src in files}
    for src, (_, undefined) in files.items():
        for sym in undefined:
            dst = owner.get(sym)
            if dst and dst != src:
                edges[src].setdefault(dst, []).append(sym)
    for src in edges:
        for dst in edges[src]:
            edges[src][dst].sort()
    return edges


def loops(edges):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def cycle_in(comp, edges):
    """One cycle through the component's first file, as 'a -> b (sym) -> a (sym)'."""
    start, members = comp[0], set(comp)
    prev, todo = {start: None}, [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(edges.get(v, {})):
            if w not in members:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                path.reverse()
                path.append(start)
                text = path[0]
                for a, b in zip(path, path[1:]):
                    syms = edges[a][b]
                    more = f", +{len(syms) - 2} more" if len(syms) > 2 else ""
                    text += f" -> {b} ({', '.join(syms[:2])}{more})"
                return text
            if w not in prev:
                prev[w] = v
                todo.append(w)
    return " ".join(comp)


def function_lengths(root):
    """[(lines, "stack/file.c:function")] of every function in stack/, longest first."""
    out = []
    for d, _, names in os.walk(os.path.join(root, "stack")):
        for n in names:
            if n.endswith((".c", ".h")):
                path = os.path.join(d, n)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                for name, first, last in csource.functions(path):
                    out.append((last - first + 1, f"{rel}:{name}"))
    return sorted(out, key=lambda x: (-x[0], x[1]))


def check_lengths(lengths):
    """Prints the longest function; returns a failure line for each one that is too long."""
    if not lengths:
        return []
    n, where = lengths[0]
    print(f"longest function: {where}, {n} lines (limit: under {MAX_FUNCTION_LINES})")
    return [f"function too long: {w} is {k} lines (under {MAX_FUNCTION_LINES} wanted): split it "
            "into named steps" for k, w in lengths if k >= MAX_FUNCTION_LINES]


def check(files, includes, lengths=()):
    failures = []
    for src in sorted(files):
        if layer_of(src) is None:
            failures.append(f"{src} belongs to no layer: add it to LAYERS in {sys.argv[0]}")
    edges = call_graph(files)

    print("stack/ layers, bottom-up (a file calls only its own layer and the layers below):")
    for name, _ in LAYERS:
        members = [f for f in sorted(files) if layer_of(f) == name]
        print(f"  {name:<10} {' '.join(members) if members else '(no files)'}")
    print("who calls whom, top layer first:")
    ncalls, shown = 0, None
    for src in sorted(files, key=lambda f: (-RANK.get(layer_of(f), -1), f)):
        for dst, syms in sorted(edges[src].items()):
            if layer_of(src) != shown:
                shown = layer_of(src)
                print(f"  [{shown}]")
            ncalls += 1
            print(f"    {src} -> {dst}: {' '.join(syms)}")
            ls, ld = layer_of(src), layer_of(dst)
            if ls in RANK and ld in RANK and RANK[ls] < RANK[ld]:
                failures.append(
                    f"upward call: {src} ({ls}) calls {', '.join(syms)} in {dst} ({ld})")
    for src, headers in sorted(includes.items()):
        for h in headers:
            ls, lh = layer_of(src), layer_of(h)
            if h in SHARED_HEADERS or ls not in RANK or lh not in RANK:
                continue
            if RANK[ls] < RANK[lh]:
                failures.append(f"upward include: {src} ({ls}) includes {h} ({lh})")
    for comp in loops(edges):
        layers = sorted({layer_of(f) or "?" for f in comp}, key=lambda n: RANK.get(n, -1))
        if len(layers) == 1 and layers[0] in LOOPS_ALLOWED:
            continue
        where = f"inside layer {layers[0]}" if len(layers) == 1 else "across layers " + ", ".join(
            layers)
        failures.append(f"loop of files {where}: {cycle_in(comp, edges)}")
    lengths = list(lengths)
    failures += check_lengths(lengths)

    for f in failures:
        print(f"layers-check: FAIL: {f}")
    if failures:
        return 1
    longest = f", longest function {lengths[0][0]} lines" if lengths else ""
    print(f"layers-check: OK: {len(files)} files in {len(LAYERS)} layers, {ncalls} calls between "
          f"files, none upward, no loop outside TCP{longest}")
    return 0


def main(argv):
    ap = argparse.ArgumentParser(prog="tools/layers-check.py", description=__doc__.strip(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", nargs="?", default="build", help="build directory (default build)")
    ap.add_argument("--root", help="source tree (default: the one this script is in)")
    ap.add_argument("--nm", metavar="FILE", help="read `nm -A -P` output instead of objects")
    args = ap.parse_args(argv)
    if args.nm:
        f = sys.stdin if args.nm == "-" else open(args.nm, encoding="utf-8")
        return check(read_nm(f.read().splitlines()), {})
    root = args.root or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    lines, sources = nm_of_build(root, args.build)
    files = read_nm(lines)
    for src in sources:
        files.setdefault(src, (set(), set()))
    return check(files, includes_of(root, sources), function_lengths(root))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
