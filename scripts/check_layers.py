#!/usr/bin/env python3
"""The layering check (the test command runs it): the gateway crate's top-level
modules may depend on each other only downwards, so no import cycle between them.

Edges come from every `crate::MODULE` path in a module's code (`use` lines and
inline paths, grouped `use crate::{a, b::c}` included; comments and tests skipped:
`tests.rs`, `*_tests.rs` and inline `#[cfg(test)] mod` blocks). Prints the
graph's order, or the cycles and the edges in them, and exits 1 on a cycle.

    scripts/check_layers.py [SRC]      (default: gateway/src)
"""
import os
import re
import sys

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "gateway", "src")
src = os.path.normpath(src)

modules = set()
for name in os.listdir(src):
    if name.endswith(".rs") and name not in ("lib.rs", "main.rs"):
        modules.add(name[:-3])
    elif os.path.isdir(os.path.join(src, name)) and name != "bin":
        modules.add(name)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def strip_test_modules(code):
    """Drops inline `#[cfg(test)] mod NAME { ... }` blocks: tests may build their
    fixtures from any layer (a pipeline test parses a configuration)."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", code):
        if m.start() < i:
            continue
        out.append(code[i:m.start()])
        depth, j = 1, m.end()
        while j < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
        i = j
    out.append(code[i:])
    return "".join(out)


def is_test_file(name):
    return name == "tests.rs" or name.endswith("_tests.rs")


def targets(code):
    """Top-level modules named by `crate::` paths, groups expanded."""
    found = set()
    for m in re.finditer(r"crate::(\{[^;]*?\}|\w+)", code, flags=re.S):
        item = m.group(1)
        if item.startswith("{"):
            depth, cur, parts = 0, "", []
            for ch in item[1:-1]:
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                if ch == "," and depth == 0:
                    parts.append(cur)
                    cur = ""
                else:
                    cur += ch
            parts.append(cur)
            found.update(p.strip().split("::")[0].strip() for p in parts if p.strip())
        else:
            found.add(item)
    return found


edges = {}  # (from, to) -> first file
for root, _, files in os.walk(src):
    for f in files:
        if not f.endswith(".rs") or is_test_file(f):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, src)
        top = rel.split(os.sep)[0]
        top = top[:-3] if top.endswith(".rs") else top
        if top not in modules:
            continue
        code = strip_test_modules(strip_comments(open(path, encoding="utf-8").read()))
        for t in targets(code):
            if t in modules and t != top:
                edges.setdefault((top, t), rel)

graph = {m: set() for m in modules}
for a, b in edges:
    graph[a].add(b)

# Tarjan's strongly connected components: any with more than one module is a cycle.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in sorted(graph[v]):
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
        sccs.append(comp)


for v in sorted(modules):
    if v not in index:
        visit(v)

cycles = [sorted(c) for c in sccs if len(c) > 1]
if cycles:
    print("layering check FAILED: import cycles between top-level modules of", src)
    for c in cycles:
        print("  cycle among:", ", ".join(c))
        for (a, b), where in sorted(edges.items()):
            if a in c and b in c:
                print(f"    {a} -> {b}   (e.g. {where})")
    sys.exit(1)
# Tarjan emits components callees first: that is the order from the bottom up.
print("layers (bottom up):", " < ".join(c[0] for c in sccs))
for m in (c[0] for c in sccs):
    if graph[m]:
        print(f"  {m} -> {', '.join(sorted(graph[m]))}")
