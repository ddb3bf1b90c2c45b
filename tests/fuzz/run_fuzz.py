#!/usr/bin/env python3
"""Runs one libFuzzer target for a bounded time or number of executions and prints one line:

    fuzz <target>: <N> executions in <S> s (<R>/s), corpus <C> inputs, <K> crashes

The committed seeds (read only) are read together with a working corpus in the build directory,
where new inputs and crash artifacts are written. Exits non-zero on any crash, sanitizer report,
leak or timeout. meson.build passes each target's -dict= and -max_len= as libFuzzer flags. Usage:

    run_fuzz.py TARGET_EXE SEED_DIR WORK_DIR (--seconds S | --runs N) [libFuzzer flags...]
"""
import argparse
import os
import re
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("seeds")
    parser.add_argument("work")
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--seconds", type=int)
    budget.add_argument("--runs", type=int)
    args, extra = parser.parse_known_args()

    name = os.path.basename(args.target)
    corpus = os.path.join(args.work, "corpus")
    artifacts = os.path.join(args.work, "artifacts")
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    before = set(os.listdir(artifacts))

    command = [args.target, corpus, args.seeds, "-print_final_stats=1", "-timeout=25",
               "-artifact_prefix=" + artifacts + os.sep]
    command.append(f"-max_total_time={args.seconds}" if args.seconds else f"-runs={args.runs}")
    command += extra
    print("running:", " ".join(command), flush=True)
    start = time.monotonic()
    # libFuzzer logs to stderr; keep the head and the tail in the test log, not every pulse line.
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    elapsed = time.monotonic() - start
    lines = proc.stdout.splitlines()
    shown = lines if len(lines) <= 80 else lines[:20] + ["..."] + lines[-60:]
    print("\n".join(shown))

    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", proc.stdout, re.M))
    executions = int(stats.get("number_of_executed_units", 0))
    crashes = sorted(set(os.listdir(artifacts)) - before)
    size = len(os.listdir(corpus)) + len(os.listdir(args.seeds))
    rate = executions / elapsed if elapsed > 0 else 0.0
    print(f"fuzz {name}: {executions} executions in {elapsed:.0f} s ({rate:.0f}/s), "
          f"corpus {size} inputs, {len(crashes)} crashes")
    for crash in crashes:
        print(f"  crash input: {os.path.join(artifacts, crash)} (fix the bug, then add it to {args.seeds})")
    if proc.returncode != 0 or crashes:
        return 1  # not libFuzzer's own code: its 77 would read as "skipped" to meson
    if executions == 0:
        print("no executions were reported (libFuzzer's final stats are missing)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
