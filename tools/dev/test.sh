#!/usr/bin/env bash
# Quick start, command 2: set up, build everything with -Dwerror=true, and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/setup.sh
ninja -C build
status=0
meson test -C build --no-rebuild --print-errorlogs --num-processes 2 || status=$?
python3 tools/dev/summarize_tests.py build/meson-logs/testlog.json
exit "$status"
