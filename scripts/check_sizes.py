#!/usr/bin/env python3
"""The file-size check (the test command runs it): no source file holds more than
LIMIT lines of code, so that a file stays one concept a reader can hold.

Lines of code: not blank, not only a comment; unit tests (`tests.rs`, `*_tests.rs`,
inline `#[cfg(test)] mod` blocks) do not count, nor do integration tests and benches
(they are checked by what they test, not by length).

    scripts/check_sizes.py [LIMIT]      (default 800)
"""
import os
import re
import subprocess
import sys

LIMIT = int(sys.argv[1]) if len(sys.argv) > 1 else 800
ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
CRATES = ["gateway/src", "api/src", "ctl/src", "dpdk-sys/src", "fuzz/src"]


def code_lines(text):
    text = re.sub(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{.*", "", text, flags=re.S)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("//"))


files = subprocess.run(["git", "-C", ROOT, "ls-files", "*.rs"], capture_output=True, text=True,
                       check=True).stdout.split()
over = []
for f in files:
    name = os.path.basename(f)
    if not any(f.startswith(c + "/") for c in CRATES) or name == "tests.rs" or name.endswith("_tests.rs"):
        continue
    with open(os.path.join(ROOT, f), encoding="utf-8") as fh:
        n = code_lines(fh.read())
    if n > LIMIT:
        over.append((n, f))
if over:
    print(f"file-size check FAILED: more than {LIMIT} lines of code (split by concept):")
    for n, f in sorted(over, reverse=True):
        print(f"  {n:5} {f}")
    sys.exit(1)
print(f"file-size check: every source file under {LIMIT} lines of code")
