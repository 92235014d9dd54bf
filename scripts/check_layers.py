#!/usr/bin/env python3
"""The layering check (the test command runs it): the gateway crate's modules may
depend on each other only downwards, so no import cycle between them. Checked at
every level: the top-level modules (`crate::X` paths), and the children of each
module directory (`pipeline/`, `tables/conntrack/`, ...: `super::X` and
`crate::pipeline::X` paths from inside).

Edges come from module paths in a module's code (`use` lines and inline paths,
grouped `use crate::{a, b::c}` included; comments and tests skipped: `tests.rs`,
`*_tests.rs`, `test_*.rs`, inline `#[cfg(test)] mod` blocks and `#[cfg(doc)]`
imports). Inside a directory,
a name that its `mod.rs` re-exports (`pub use child::Name`) counts as the child that
defines it; what `mod.rs` defines itself counts as `mod`, and `mod.rs`'s own
declarations and re-exports are no edges (they are the directory's front door).
Prints each level's order, or the cycles and the edges in them, and exits 1 on a
cycle.

    scripts/check_layers.py [SRC]      (default: gateway/src)
"""
import os
import re
import sys

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "gateway", "src")
src = os.path.normpath(src)


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
    return (name == "tests.rs" or name.endswith("_tests.rs")
            or name.startswith("test_"))


def strip_doc_imports(code):
    """Drops `#[cfg(doc)] use ...;` items: names imported for doc links only."""
    return re.sub(r"#\[cfg\(doc\)\]\s*use\s[^;]*;", "", code, flags=re.S)


def code_of(path):
    text = strip_comments(open(path, encoding="utf-8").read())
    return strip_doc_imports(strip_test_modules(text))


def split_group(group):
    """`{a, b::c, d::{e, f}}` -> ['a', 'b::c', 'd::{e, f}']."""
    depth, cur, parts = 0, "", []
    for ch in group[1:-1]:
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
    return [p.strip() for p in parts if p.strip()]


def heads(code, prefix):
    """First path segments after `prefix` (a regex), groups expanded."""
    found = set()
    for m in re.finditer(prefix + r"(\{[^;]*?\}|\w+)", code, flags=re.S):
        item = m.group(1)
        if item.startswith("{"):
            found.update(p.split("::")[0].strip() for p in split_group(item))
        else:
            found.add(item)
    return found


def children(directory):
    """A module directory's child modules: NAME.rs files and NAME/ directories."""
    out = set()
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if name.endswith(".rs") and name not in ("lib.rs", "main.rs", "mod.rs"):
            if not is_test_file(name):
                out.add(name[:-3])
        elif os.path.isdir(path) and name != "bin":
            out.add(name)
    return out


def files_of(directory, child):
    """The source files of child module `child` of `directory`, tests excluded, each
    with its depth below the directory (1: `child.rs` or `child/mod.rs`)."""
    path = os.path.join(directory, child)
    if os.path.isfile(path + ".rs"):
        return [(path + ".rs", 1)]
    out = []
    for root, _, files in os.walk(path):
        for f in files:
            if f.endswith(".rs") and not is_test_file(f):
                depth = os.path.relpath(root, directory).count(os.sep) + 1
                if f != "mod.rs":
                    depth += 1
                out.append((os.path.join(root, f), depth))
    return out


def reexports(mod_rs, kids):
    """Names that `mod.rs` re-exports from its children: name -> child."""
    names = {}
    if not os.path.isfile(mod_rs):
        return names
    code = strip_comments(open(mod_rs, encoding="utf-8").read())
    for m in re.finditer(r"pub(?:\([\w:]+\))?\s+use\s+(\w+)::([^;]+);", code, flags=re.S):
        child, rest = m.group(1), m.group(2).strip()
        if child not in kids:
            continue
        items = split_group(rest) if rest.startswith("{") else [rest]
        for item in items:
            item = item.split(" as ")[-1].strip()
            names[item.split("::")[-1]] = child
    return names


def tarjan(nodes, graph):
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

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sccs


def check_level(directory, crate_path):
    """Checks the children of module directory `directory` (`crate_path`: its path
    from the crate root, '' at the top). Returns (label, order or cycles, edges)."""
    kids = children(directory)
    mod_rs = os.path.join(directory, "mod.rs")
    names = reexports(mod_rs, kids)
    nodes = set(kids)
    edges = {}  # (from, to) -> first file

    def resolve(name):
        if name in kids:
            return name
        if name in names:
            return names[name]
        return None

    for kid in kids:
        for path, depth in files_of(directory, kid):
            code = code_of(path)
            found = set()
            if crate_path:
                found |= heads(code, r"crate::" + crate_path + r"::")
                found |= heads(code, r"(?<![\w:])" + r"super::" * depth)
            else:
                found |= heads(code, r"crate::")
            for name in found:
                target = resolve(name)
                if target is None and crate_path and name != "*":
                    target = "mod"  # defined in mod.rs itself
                if target and target != kid:
                    nodes.add(target)
                    edges.setdefault((kid, target), os.path.relpath(path, src))
    graph = {n: set() for n in nodes}
    for a, b in edges:
        graph[a].add(b)
    return nodes, graph, edges


failed = False
levels = [(src, "")]
for root, dirs, _ in os.walk(src):
    for d in sorted(dirs):
        if d == "bin":
            continue
        path = os.path.join(root, d)
        levels.append((path, os.path.relpath(path, src).replace(os.sep, "::")))

for directory, crate_path in levels:
    nodes, graph, edges = check_level(directory, crate_path)
    label = "crate" if not crate_path else crate_path
    sccs = tarjan(nodes, graph)
    cycles = [sorted(c) for c in sccs if len(c) > 1]
    if cycles:
        failed = True
        print(f"layering check FAILED in {label}: import cycles")
        for c in cycles:
            print("  cycle among:", ", ".join(c))
            for (a, b), where in sorted(edges.items()):
                if a in c and b in c:
                    print(f"    {a} -> {b}   (e.g. {where})")
        continue
    # Tarjan emits components callees first: that is the order from the bottom up.
    print(f"{label} (bottom up):", " < ".join(c[0] for c in sccs))
    if not crate_path:
        for m in (c[0] for c in sccs):
            if graph[m]:
                print(f"  {m} -> {', '.join(sorted(graph[m]))}")
sys.exit(1 if failed else 0)
