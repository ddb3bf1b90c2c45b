#!/usr/bin/env bash
# Builds the benchmarks and runs each one once, one after the other, with its default arguments
# (docs/BENCHMARKS.md, "How to run"); the whole set takes about 6 minutes on an idle 2-CPU
# machine. Every RESULT line is appended, prefixed with the date, the commit and the machine
# (nproc, CPU model), to a new file bench/results/run-<UTC time>-<commit>.txt, which also records
# the machine in full and how long each benchmark took. Each benchmark's whole output goes to
# build/bench/<name>.log.
#
#   scripts/bench.sh [--smoke] [NAME...]
#
#   NAME     run only these benchmarks (default: all eleven: journal_append queue_cycle
#            queue_cycle_keys queue_scale recovery tail_latency cli_tail follow peers jetstream remote;
#            jetstream is skipped, with a line saying so, when the build has no libnats)
#   --smoke  each benchmark in its quickest mode (a few seconds each): proves that it builds,
#            runs and prints its RESULT lines. Its figures are noise, so the file goes to
#            build/bench/ instead of bench/results/.
#
# Run it on a machine that is otherwise idle: the figures are only worth recording then. The
# exit status is non-zero if a benchmark failed (the others still run).
set -euo pipefail
cd "$(dirname "$0")/.."

all=(journal_append queue_cycle queue_cycle_keys queue_scale recovery tail_latency cli_tail follow peers jetstream remote)

# The quickest mode of each benchmark (--smoke).
declare -A smoke_args=(
  [journal_append]="--seconds 0.05 --rounds 1"
  [queue_cycle]="--seconds 0.05 --rounds 1"
  [queue_cycle_keys]="--seconds 0.05 --rounds 1"
  [queue_scale]="--calls 10 --max-pending 10000"
  [recovery]="--tasks 1000 --rounds 1 --memory 0"
  [tail_latency]="--seconds 0.05 --rounds 1 --catchup-events 1000"
  [cli_tail]="1000"
  [follow]="--events 1000 --rounds 1 --seconds 0.05"
  [peers]="--seconds 0.05 --rounds 1"
  [jetstream]="--smoke"
  [remote]="--seconds 0.2 --rounds 1 --polls 50 --idle 1"
)

smoke=0
names=()
for arg in "$@"; do
  case $arg in
    --smoke) smoke=1 ;;
    -h | --help)
      sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "bench: unknown option '$arg' (usage: scripts/bench.sh [--smoke] [NAME...])" >&2
      exit 2
      ;;
    *)
      if [ -z "${smoke_args[$arg]+set}" ]; then
        echo "bench: no benchmark '$arg' (one of: ${all[*]})" >&2
        exit 2
      fi
      names+=("$arg")
      ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

# The build directory the project's other scripts use, with the same options.
[ -f build/build.ninja ] || meson setup build -Dwerror=true >/dev/null
# jetstream is built only with libnats (meson option nats).
if ! ninja -C build -t targets all 2>/dev/null | grep -q '^bench/jetstream:'; then
  kept=()
  for name in "${names[@]}"; do
    if [ "$name" = jetstream ]; then
      echo "bench: jetstream skipped: built without libnats (scripts/setup.sh installs libnats-dev)"
    else
      kept+=("$name")
    fi
  done
  names=("${kept[@]}")
  [ ${#names[@]} -gt 0 ] || exit 0
fi
targets=()
for name in "${names[@]}"; do targets+=("bench/$name"); done
ninja -C build "${targets[@]}" tools/hugo-journal >/dev/null

commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD 2>/dev/null || commit="$commit-dirty"
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
nproc=$(nproc)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
[ -n "$cpu" ] || cpu=$(uname -m)
if [ $smoke = 1 ]; then
  out="build/bench/smoke-$stamp-$commit.txt"
else
  out="bench/results/run-$stamp-$commit.txt"
fi

{
  echo "# scripts/bench.sh$([ $smoke = 1 ] && echo ' --smoke'): ${names[*]}"
  echo "# date=$stamp commit=$commit"
  echo "# nproc=$nproc cpu=\"$cpu\" mem_kb=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo)"
  echo "# kernel=$(uname -r) compiler=\"$(c++ --version | head -n 1)\""
  echo "# buildtype=$(meson configure build | awk '$1 == "buildtype" { print $2; exit }')" \
    "sqlite=$(pkg-config --modversion sqlite3 2>/dev/null || echo unknown)"
  echo "# loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$out"

prefix="date=$stamp commit=$commit nproc=$nproc cpu=\"$cpu\""
status=0
for name in "${names[@]}"; do
  args=()
  [ $smoke = 1 ] && read -r -a args <<<"${smoke_args[$name]}"
  log="build/bench/$name.log"
  echo "bench: $name ${args[*]}"
  start=$(date +%s%N)
  rc=0
  HUGO_CLI="$PWD/build/tools/hugo-journal" build/bench/"$name" "${args[@]}" >"$log" 2>&1 || rc=$?
  tenths=$((($(date +%s%N) - start) / 100000000))
  seconds="$((tenths / 10)).$((tenths % 10))"
  grep '^RESULT ' "$log" | sed "s|^|$prefix |" >>"$out" || true
  printf '# %s %s: %s s, exit %d\n' "$name" "${args[*]:-(default arguments)}" "$seconds" "$rc" >>"$out"
  grep '^RESULT ' "$log" | tail -n 1 || true
  printf 'bench: %s took %s s, exit %d\n' "$name" "$seconds" "$rc"
  if [ $rc != 0 ]; then
    echo "bench: $name failed; the end of $log:" >&2
    tail -n 5 "$log" >&2
    status=1
  fi
done
echo "bench: results in $out"
exit $status
