#!/usr/bin/env python3
"""Checks the layering of README.md's "Layout" on the source tree (suite `api`, test `layers`).

Each library folder may include files only of the folders listed before it; sqlite3.h is included
only under schema/; no library file (public headers included) is over 400 lines; a public header
includes only public headers and other libraries' (never a file of this tree by a quoted path); no library file holds a test hook (the fault
points of core/fault_points.hpp are the one sanctioned seam). Prints one line per violation and
exits 1 if there is any.
"""
import pathlib
import re
import sys

ORDER = ["core", "schema", "journal", "queue", "replay", "sinks", "peers"]
MAX_LINES = 400
INCLUDE = re.compile(r'^\s*#\s*include\s+([<"])([^>"]+)[>"]', re.M)


def main(root: pathlib.Path) -> int:
    problems = []
    for rank, folder in enumerate(ORDER):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".cpp", ".hpp", ".h"):
                continue
            rel = path.relative_to(root)
            text = path.read_text(encoding="utf-8")
            lines = text.count("\n")
            if lines > MAX_LINES:
                problems.append(f"{rel}: {lines} lines (at most {MAX_LINES})")
            for kind, target in INCLUDE.findall(text):
                if target == "sqlite3.h" and folder != "schema":
                    problems.append(f"{rel}: includes sqlite3.h (only schema/ may)")
                if kind != '"':
                    continue
                head = target.split("/", 1)[0]
                if head in ORDER and ORDER.index(head) > rank:
                    problems.append(f"{rel}: includes {target}, a folder listed after {folder}/")
                if head == "tests" or head == "bench":
                    problems.append(f"{rel}: includes {target} from {head}/")
            if re.search(r"HUGO_PLANT|getenv\(\"HUGO_TEST", text):
                problems.append(f"{rel}: holds a test hook")
    for path in sorted((root / "include" / "hugo").glob("*.hpp")):
        rel = path.relative_to(root)
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_LINES:
            problems.append(f"{rel}: {text.count(chr(10))} lines (at most {MAX_LINES})")
        for kind, target in INCLUDE.findall(text):
            if kind == '"' or target == "sqlite3.h":
                problems.append(f"{rel}: a public header includes {target}, which is not public")
    for line in problems:
        print(line)
    print(f"layers: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
