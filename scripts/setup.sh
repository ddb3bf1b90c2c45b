#!/usr/bin/env bash
# Installs the Debian packages hugo-journal needs (only the missing ones), then configures the
# meson build directory `build/`. Idempotent: a second run installs nothing and reconfigures
# only when needed. Works as root on a fresh Debian 12; uses sudo otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ pkg-config cmake python3 meson ninja-build
  libsqlite3-dev libcereal-dev doctest-dev libhowardhinnant-date-dev libcli11-dev libcpp-httplib-dev libmicrohttpd-dev
  # the fuzz targets: clang 14 and its compiler-rt (libFuzzer, ASan, UBSan runtimes)
  clang-14 libclang-rt-14-dev
  # bench/peers: the servers it starts and their client libraries (without them it skips that peer)
  redis-server libhiredis-dev postgresql libpq-dev
  # NATS JetStream: the client library (sinks/nats_client.cpp) and the server tests and examples start
  nats-server libnats-dev
  # the queue API's shell worker (examples/workers, docs/WORKERS.md) speaks HTTP with curl alone
  curl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f build/build.ninja ]; then
  meson configure build -Dwerror=true >/dev/null
else
  meson setup build -Dwerror=true >/dev/null
fi
echo "setup: ok"
