"""The function definitions of a C file of this tree, for tools/layers-check.py (function length)
and tools/docs-check.py (does docs/ name functions that exist).

It relies on the tree's .clang-format (BreakBeforeBraces: Linux): a function's body opens with
"{" alone at column 0 and closes with "}" alone at column 0, and its signature starts at the last
line before the "{" that begins at column 0 (continuation lines are indented). Struct, enum and
initializer braces stay on their line, so they are not taken for functions.
"""

import re


def functions(path, with_brace=False):
    """[(name, first_line, last_line)] of every function defined in the file, 1-based, from the
    first line of the signature to the closing brace; with_brace: (name, first_line, brace_line,
    last_line), brace_line being the line of the opening "{"."""
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
            out.append((m.group(1), start + 1, i + 1, end + 1) if with_brace else
                       (m.group(1), start + 1, end + 1))
        i = end + 1
    return out


def signature(path, first, brace):
    """The signature of a function as one line (lines first .. brace - 1, 1-based)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    return " ".join(l.strip() for l in lines[first - 1:brace - 1])


def strip_comments(text):
    """The text with every comment blanked (newlines kept, so line numbers stay); string and
    character literals are kept as they are."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)
