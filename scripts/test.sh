#!/usr/bin/env bash
# Quick start, command 2: set up, build everything with -Dwerror=true and run the whole suite;
# then the same suite under ASan+UBSan and under TSan, and each fuzz target for about a minute.
# Every stage runs even if an earlier one failed; the exit status is non-zero if any failed, and
# the last line is the total 'tests: N passed, N failed'. Stage times are printed at the end.
#
#   stage   dir         what
#   normal  build/      g++, -Dwerror=true -Dplanted_bugs=true, every default suite and chaos-planted
#                       (first: its failures show fast)
#   asan    build-asan/ g++, -Db_sanitize=address,undefined, -fno-sanitize-recover=all
#   tsan    build-tsan/ g++, -Db_sanitize=thread
#   fuzz    build-fuzz/ clang++-14, libFuzzer + ASan + UBSan, suite `fuzz` (60 s per target)
#
# HUGO_TEST_STAGES="normal asan" runs a subset. Sanitizer reports are also written to
# <dir>/sanitizer-reports/, so that a report from a child process whose exit status a test does
# not look at still fails the stage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

stages=${HUGO_TEST_STAGES:-normal asan tsan fuzz}
status=0
logs=()
timings=()

# Sanitizer builds: only what the suites need, at -O1 with line tables only (-g1: reports keep
# file:line, and the build is about a quarter faster than with full debug info). `--unity off`
# is the default for the rest of the tree; the library, the CLI and the test suites' executables
# are unity builds in every stage by their own meson override_options.
# They leave out the fault-points copy of the library that chaos-planted needs (docs/TESTING.md).
sanitizer_options=(-Dwerror=true -Dbench=false -Dexamples=false -Dplanted_bugs=false
  -Dbuildtype=plain -Doptimization=1 -Ddebug=false --unity off)

configure() {  # configure DIR [meson options...]: set up once, reconfigure when options change
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

# Fails if a sanitizer wrote a report file (see *_OPTIONS log_path below).
check_reports() {
  local dir=$1
  if compgen -G "$dir/sanitizer-reports/*" >/dev/null; then
    echo "test: sanitizer reports in $dir/sanitizer-reports:"
    head -c 20000 "$dir"/sanitizer-reports/*
    return 1
  fi
}

# tests/install/check_install.sh builds a program against the installed library with plain
# `c++`; a sanitized library needs its runtime linked into the program, so the sanitizer stages
# put first on PATH a `c++` that adds the stage's -fsanitize flags. Prints that PATH.
sanitizer_path() {  # sanitizer_path DIR FLAGS
  mkdir -p "$1/sanitizer-cxx"
  printf '#!/bin/sh\nexec %s %s "$@"\n' "$(command -v c++)" "$2" >"$1/sanitizer-cxx/c++"
  chmod +x "$1/sanitizer-cxx/c++"
  echo "$PWD/$1/sanitizer-cxx:$PATH"
}

# run_stage NAME DIR BUILD_CMD TEST_CMD: times the build and the tests separately.
run_stage() {
  local name=$1 dir=$2 build_cmd=$3 test_cmd=$4 t0 t1 t2 stage_status=0
  echo "=== stage $name ($dir) ==="
  t0=$(date +%s)
  if ! eval "$build_cmd"; then
    echo "test: stage $name did not build"
    status=1
    timings+=("$name: build FAILED after $(($(date +%s) - t0)) s")
    logs+=("$dir=$dir/meson-logs/no-build")
    return
  fi
  t1=$(date +%s)
  rm -rf "$dir/sanitizer-reports" "$dir/meson-logs/testlog.json"
  mkdir -p "$dir/sanitizer-reports"
  eval "$test_cmd" || stage_status=$?
  check_reports "$dir" || stage_status=1
  t2=$(date +%s)
  [ "$stage_status" -eq 0 ] || status=1
  timings+=("$name: build $((t1 - t0)) s, tests $((t2 - t1)) s$([ "$stage_status" -eq 0 ] || echo ', FAILED')")
  logs+=("$dir=$dir/meson-logs/testlog.json")
}

meson_test="meson test --no-rebuild --print-errorlogs --num-processes 2"
for stage in $stages; do
  case $stage in
    normal)
      # The fault-points copy of the library, so that chaos-planted proves the harness can fail.
      configure build -Dwerror=true -Dplanted_bugs=true
      run_stage normal build "ninja -C build" "$meson_test -C build"
      ;;
    asan)
      configure build-asan "${sanitizer_options[@]}" -Db_sanitize=address,undefined \
        "-Dcpp_args=-g1 -fno-sanitize-recover=all"
      # Fewer SIGKILL rounds under the sanitizers' slowdown; every test still runs.
      ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:log_path=$PWD/build-asan/sanitizer-reports/asan" \
      UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$PWD/build-asan/sanitizer-reports/ubsan" \
      HUGO_CRASH_KILLS=${HUGO_CRASH_KILLS:-20} HUGO_CHAOS_KILLS=${HUGO_CHAOS_KILLS:-50} HUGO_TEST_TIME_FACTOR=5 \
      HUGO_POWERLOSS_CUTS=${HUGO_POWERLOSS_CUTS:-100} \
        run_stage asan build-asan "ninja -C build-asan" \
        "PATH=$(sanitizer_path build-asan -fsanitize=address,undefined) $meson_test -C build-asan"
      ;;
    tsan)
      configure build-tsan "${sanitizer_options[@]}" -Db_sanitize=thread -Dcpp_args=-g1
      # TSan maps its shadow at fixed addresses; with more ASLR bits than it supports
      # (vm.mmap_rnd_bits > 28 on newer kernels) it dies at start, so run without ASLR there.
      norandom=""
      if [ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)" -gt 28 ]; then norandom="setarch $(uname -m) -R"; fi
      # scripts/tsan.supp: only calls made from inside the uninstrumented libcpp-httplib.
      TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp:log_path=$PWD/build-tsan/sanitizer-reports/tsan" \
      HUGO_CRASH_KILLS=${HUGO_CRASH_KILLS:-10} HUGO_CHAOS_KILLS=${HUGO_CHAOS_KILLS:-30} HUGO_TEST_TIME_FACTOR=10 \
      HUGO_POWERLOSS_CUTS=${HUGO_POWERLOSS_CUTS:-50} \
        run_stage tsan build-tsan "ninja -C build-tsan" \
        "PATH=$(sanitizer_path build-tsan -fsanitize=thread) $norandom $meson_test -C build-tsan"
      ;;
    fuzz)
      if [ ! -f build-fuzz/build.ninja ]; then
        CXX=clang++-14 meson setup build-fuzz -Dwerror=true -Dfuzz=true -Dbench=false -Dexamples=false \
          -Dplanted_bugs=false >/dev/null
      fi
      # Only the fuzz targets are built here, not the rest of the tree.
      fuzz_exes=$(meson introspect --targets build-fuzz | python3 -c 'import json, os, sys
print(" ".join(os.path.relpath(f, "build-fuzz") for t in json.load(sys.stdin) if t["name"].startswith("fuzz-")
               for f in t["filename"]))')
      run_stage fuzz build-fuzz "ninja -C build-fuzz $fuzz_exes" \
        "$meson_test -C build-fuzz --suite fuzz"
      ;;
    *)
      echo "test: unknown stage '$stage' (stages: normal asan tsan fuzz)"
      status=1
      ;;
  esac
done

echo "=== stage times ==="
printf '%s\n' "${timings[@]}"
python3 scripts/summarize_tests.py "${logs[@]}"
exit "$status"
