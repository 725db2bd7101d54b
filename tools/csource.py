"""The function definitions of a C file of this tree, for tools/layers-check.py (function length)
and tools/docs-check.py (does docs/ name functions that exist).

It relies on the tree's .clang-format (BreakBeforeBraces: Linux): a function's body opens with
"{" alone at column 0 and closes with "}" alone at column 0, and its signature starts at the last
line before the "{" that begins at column 0 (continuation lines are indented). Struct, enum and
initializer braces stay on their line, so they are not taken for functions.
"""

import re


def functions(path):
    """[(name, first_line, last_line)] of every function defined in the file, 1-based, from the
    first line of the signature to the closing brace."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out, i = [], 0
    while i < len(lines):
        if lines[i] != "{":
            i += 1
            continue
        start = i - 1
        while start > 0 and lines[start][:1] in (" ", "\t"):
            start -= 1
        end = i + 1
        while end < len(lines) and lines[end] != "}":
            end += 1
        signature = " ".join(l.strip() for l in lines[start:i])
        m = re.search(r"(\w+)\s*\(", signature)
        if m:
            out.append((m.group(1), start + 1, end + 1))
        i = end + 1
    return out
