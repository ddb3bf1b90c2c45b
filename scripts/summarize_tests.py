#!/usr/bin/env python3
"""Prints the closing lines for one or more meson test logs.

    summarize_tests.py [LABEL=]build/meson-logs/testlog.json ...

One line per log when there are several ('build-asan: N passed, N failed'), then the total:
'tests: N passed, N failed[, N skipped]'. A log that does not exist (its stage did not build)
counts as one failure, so a broken stage can never look green.
"""
import json
import os
import sys


def count(path):
    passed = failed = skipped = 0
    for line in open(path, encoding="utf-8"):
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
    return passed, failed, skipped


def line(label, passed, failed, skipped):
    tail = f", {skipped} skipped" if skipped else ""
    return f"{label}: {passed} passed, {failed} failed{tail}"


totals = [0, 0, 0]
for arg in sys.argv[1:]:
    label, _, path = arg.rpartition("=")
    label = label or path
    if os.path.exists(path):
        counts = count(path)
    else:
        counts = (0, 1, 0)
        label += " (no test log: the stage did not build or run)"
    totals = [t + c for t, c in zip(totals, counts)]
    if len(sys.argv) > 2:
        print(line(label, *counts))
print(line("tests", *totals))
