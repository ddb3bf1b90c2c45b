#!/usr/bin/env bash
# The demo leaves its journals for the newcomer's next step: run it in a scratch folder, then run
# the three CLI commands it prints and check what each shows. A second run replaces the folder;
# a folder the demo did not make is refused and left as it was.
#   check_demo.sh HUGO_DEMO HUGO_JOURNAL
set -euo pipefail
demo="$(realpath "$1")"
cli="$(realpath "$2")"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
fail() { echo "check_demo: $*"; exit 1; }

for run in 1 2; do
  "$demo" >"out$run.txt" 2>&1 || { cat "out$run.txt"; fail "run $run of the demo failed"; }
  grep -q '^demo: ok$' "out$run.txt" || fail "run $run did not end with 'demo: ok'"
done
grep -q "kept in $scratch/hugo-demo " out2.txt || fail "the demo does not name its folder $scratch/hugo-demo"
for f in part1.journal part2.journal part3.journal sinks.db effects.db; do
  [ -f "hugo-demo/$f" ] || fail "hugo-demo/$f was not kept"
done

# The commands: the indented lines after "Worth running next:" that do not start a description.
mapfile -t commands < <(sed -n '/^Worth running next:$/,$p' out2.txt | grep -E '^  [^ ]')
[ "${#commands[@]}" -eq 3 ] || fail "expected 3 commands after 'Worth running next:', got ${#commands[@]}"
for command in "${commands[@]}"; do
  read -r -a words <<<"$command"
  [ "$(realpath "${words[0]}")" = "$cli" ] || fail "'$command' does not run the built CLI $cli"
done
interrupted="$(sed -n 's/^   | holding lease on task \([0-9]*\) .*/\1/p' out2.txt)"
[ -n "$interrupted" ] || fail "the demo did not say which task was interrupted"

eval "${commands[0]}" >history.txt || fail "'${commands[0]}' failed"
# The CLI's tables are tab-separated off a terminal: seq at queue kind task ... The killed
# worker's lease expired, and the task was then completed.
awk -F'\t' 'NR > 1 {print $4}' history.txt | grep -qx LeaseExpired \
  && [ "$(awk -F'\t' 'END {print $4}' history.txt)" = Completed ] \
  || { cat history.txt; fail "the history of task $interrupted is not the interrupted lease's trail"; }
awk -F'\t' -v task="$interrupted" 'NR > 1 && $5 != task {exit 1}' history.txt || fail "'${commands[0]}' is not about task $interrupted"

eval "${commands[1]}" >checkpoints.txt || fail "'${commands[1]}' failed"
for stream in projection notifier; do
  awk -F'\t' -v s="$stream" '$1 == s && $4 == "0" {found = 1} END {exit !found}' checkpoints.txt \
    || { cat checkpoints.txt; fail "no caught-up checkpoint of the $stream sink"; }
done

eval "${commands[2]}" >effects.txt || fail "'${commands[2]}' failed"
[ "$(awk -F'\t' '$3 == "done"' effects.txt | wc -l)" -eq 8 ] || { cat effects.txt; fail "expected 8 recorded notifications"; }

# A folder the demo did not make is never replaced.
mkdir mine
echo "keep me" >mine/notes.txt
if HUGO_DEMO_DIR="$scratch/mine" "$demo" >out3.txt 2>&1; then fail "the demo replaced a folder it did not make"; fi
[ "$(cat mine/notes.txt)" = "keep me" ] || fail "the demo touched a folder it did not make"
grep -q "did not make" out3.txt || fail "the refusal does not say why"
echo "check_demo: ok (task $interrupted)"
