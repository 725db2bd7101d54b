#!/usr/bin/env python3
"""Check that docs/ still tells the truth about the code (`make docs-check`, also in `make test`).

    tools/docs-check.py [--root DIR]      the tree at DIR (default: the one this script is in)

Two checks, each failing with one line that names the document, the line and what is wrong:

  - Every code reference `path/file.c:function` (or .h) in docs/*.md names a file that exists and
    defines that function (tools/csource.py finds the definitions).
  - Every trace cause the code raises is in the cause table of docs/states.md (the rows under its
    heading "## Trace causes" whose first cell is a `quoted` cause), and that row names exactly
    the places (`file:function`) where it is raised; a row for a cause the code no longer raises
    fails too. A cause is a string literal passed as the `cause` parameter of a function that has
    one (ts_tcp_set_state, tcp_enter_closed, tcp_drop, ... : found from their signatures), in
    stack/; a call passing anything else than a literal or its own `cause` parameter fails, since
    its cause could not be listed.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import csource  # noqa: E402  (tools/csource.py)

REF = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_./-]*\.[ch]):([A-Za-z_]\w*)")
LITERAL = re.compile(r'^(?:"(?:[^"\\]|\\.)*"\s*)+$')
STATES_DOC = "docs/states.md"
CAUSE_HEADING = "## Trace causes"


def c_sources(root, top="stack"):
    out = []
    for d, _, names in os.walk(os.path.join(root, top)):
        out += [os.path.relpath(os.path.join(d, n), root).replace(os.sep, "/")
                for n in names if n.endswith((".c", ".h"))]
    return sorted(out)


def check_refs(root, docs):
    """Failures for references to files or functions that do not exist; and the count checked."""
    failures, n, defined = [], 0, {}
    for doc in docs:
        with open(os.path.join(root, doc), encoding="utf-8") as f:
            lines = f.read().split("\n")
        for lineno, line in enumerate(lines, 1):
            for path, fn in REF.findall(line):
                n += 1
                full = os.path.join(root, path)
                if not os.path.isfile(full):
                    failures.append(f"{doc}:{lineno}: {path}:{fn}: no file {path}")
                    continue
                if path not in defined:
                    defined[path] = {name for name, _, _ in csource.functions(full)}
                if fn not in defined[path]:
                    failures.append(f"{doc}:{lineno}: {path}:{fn}: {fn} is not defined in {path}")
    return failures, n


def split_args(text, start):
    """The arguments of the call whose "(" is at text[start], split at top-level commas."""
    depth, args, cur, i = 0, [], [], start
    while i < len(text):
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < len(text) and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            cur.append(text[i:j + 1])
            i = j + 1
            continue
        if c in "([{":
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args
        elif c == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    return args


def cause_carriers(root, sources):
    """{function: index of its `cause` parameter} for every function of stack/ that has one."""
    carriers = {}
    for src in sources:
        full = os.path.join(root, src)
        for name, first, brace, _ in csource.functions(full, with_brace=True):
            sig = csource.signature(full, first, brace)
            params = split_args(sig, sig.index("("))
            for k, p in enumerate(params):
                if re.search(r"\bchar\s*\*\s*cause$", p):
                    carriers[name] = k
    return carriers


def raised_causes(root):
    """({cause: {"file:function", ...}}, failures) for every trace cause stack/ raises."""
    sources = c_sources(root)
    carriers = cause_carriers(root, sources)
    causes, failures = {}, []
    call = re.compile(r"\b(" + "|".join(map(re.escape, sorted(carriers))) + r")\s*\(")
    for src in sources:
        if not src.endswith(".c") or not carriers:
            continue
        full = os.path.join(root, src)
        with open(full, encoding="utf-8") as f:
            text = csource.strip_comments(f.read())
        funcs = csource.functions(full, with_brace=True)
        for m in call.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            inside = [f for f in funcs if f[2] <= line <= f[3]]
            if not inside:
                continue  # a definition or declaration, not a call
            where = f"{src}:{inside[0][0]}"
            args = split_args(text, m.end() - 1)
            k = carriers[m.group(1)]
            arg = args[k] if k < len(args) else ""
            if LITERAL.match(arg):
                cause = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', arg))
                causes.setdefault(cause, set()).add(where)
            elif not (arg == "cause" and inside[0][0] in carriers):
                failures.append(f"{src}:{line}: {m.group(1)} is passed the cause `{arg}`, not a "
                                "string literal: the table in docs/states.md cannot list it")
    return causes, failures


def cause_table(root):
    """{cause: (line, {"file:function", ...})} from the rows under "## Trace causes"."""
    rows, inside = {}, False
    path = os.path.join(root, STATES_DOC)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f.read().split("\n"), 1):
            if line.startswith("## "):
                inside = line.strip() == CAUSE_HEADING
                continue
            m = re.match(r"^\|\s*`([^`]+)`\s*\|", line)
            if inside and m:
                rows[m.group(1)] = (lineno, {f"{p}:{fn}" for p, fn in REF.findall(line)})
    return rows


def check_causes(root):
    causes, failures = raised_causes(root)
    table = cause_table(root)
    if table is None:
        return failures + [f"{STATES_DOC} is missing"], 0
    if not table:
        return failures + [f"{STATES_DOC}: no cause table under \"{CAUSE_HEADING}\""], 0
    for cause, places in sorted(causes.items()):
        if cause not in table:
            failures.append(f"{STATES_DOC}: the trace cause \"{cause}\" (raised in "
                            f"{', '.join(sorted(places))}) is not in the table")
            continue
        line, named = table[cause]
        for p in sorted(places - named):
            failures.append(f"{STATES_DOC}:{line}: \"{cause}\" is raised in {p}, which the row "
                            "does not name")
        for p in sorted(named - places):
            failures.append(f"{STATES_DOC}:{line}: \"{cause}\" is not raised in {p}")
    for cause, (line, _) in sorted(table.items()):
        if cause not in causes:
            failures.append(f"{STATES_DOC}:{line}: \"{cause}\" is raised nowhere in stack/")
    return failures, len(causes)


def main(argv):
    ap = argparse.ArgumentParser(prog="tools/docs-check.py", description=__doc__.strip(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="source tree (default: the one this script is in)")
    args = ap.parse_args(argv)
    root = args.root or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    docs = sorted(os.path.join("docs", n) for n in os.listdir(os.path.join(root, "docs"))
                  if n.endswith(".md"))
    failures, nrefs = check_refs(root, docs)
    more, ncauses = check_causes(root)
    failures += more
    for f in failures:
        print(f"docs-check: FAIL: {f}")
    if failures:
        return 1
    print(f"docs-check: OK: {nrefs} code references in {len(docs)} documents, {ncauses} trace "
          f"causes in {STATES_DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
