#!/usr/bin/env bash
# Quick start, command 1: set up, build, and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ninja -C build examples/hugo-demo >/dev/null
exec build/examples/hugo-demo "$@"
