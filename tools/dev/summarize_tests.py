#!/usr/bin/env python3
"""Prints one closing line for a meson test log: 'tests: N passed, N failed[, N skipped]'."""
import json
import sys

passed = failed = skipped = 0
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.strip()
    if not line:
        continue
    result = json.loads(line).get("result", "")
    if result in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif result == "SKIP":
        skipped += 1
    else:
        failed += 1
tail = f", {skipped} skipped" if skipped else ""
print(f"tests: {passed} passed, {failed} failed{tail}")
