#!/usr/bin/env bash
# The sample cluster: an owner with a worker load and two followers on loopback; the owner is
# SIGKILLed while it holds a lease; follower 1 is promoted and a new owner on it finishes the work;
# follower 2 follows the new owner. Then it checks what failover promises (docs/PEERS.md):
#   - both replicas are identical prefixes of the new owner's journal, and so is the dead owner's;
#   - every journal passes `hugo-journal verify`;
#   - the interrupted task's audit trail reads LeaseGranted -> LeaseExpired -> Requeued ->
#     LeaseGranted (attempt + 1) -> Completed, the expiry written by the new owner.
# Prints "failover: ok" and exits 0, or says which check failed and exits 1.
#
#   examples/cluster/run.sh [HUGO_JOURNAL_BIN [CLUSTER_NODE_BIN]]
# The binaries default to $HUGO_JOURNAL_BIN / $CLUSTER_NODE_BIN, else build/tools/hugo-journal
# and build/examples/cluster-node. Everything runs in a fresh mktemp folder, removed on success
# (kept, and named, on failure). LEASE_MS (default 2000) sets the lease duration.
set -euo pipefail

hj=$(realpath "${1:-${HUGO_JOURNAL_BIN:-build/tools/hugo-journal}}")
node=$(realpath "${2:-${CLUSTER_NODE_BIN:-build/examples/cluster-node}}")
lease_ms=${LEASE_MS:-2000}
work=$(mktemp -d -t hugo-cluster.XXXXXX)
owner_a=$work/owner-a.journal  # the first owner's journal
replica1=$work/replica1.journal  # follower 1's replica; promoted, it is the new owner's journal
replica2=$work/replica2.journal
children=()
ok=0

cleanup() {
  local pid
  for pid in "${children[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${children[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((ok)); then rm -rf "$work"; else echo "failover: files kept in $work" >&2; fi
}
trap cleanup EXIT

fail() {
  echo "failover: FAILED: $*" >&2
  local log
  for log in "$work"/*.err; do
    [[ -s $log ]] && sed "s|^|  $(basename "$log"): |" "$log" >&2
  done
  exit 1
}
step() { echo "== $*"; }

# Starts COMMAND with its stdout on a pipe read by expect_line; sets piped_pid, piped_fd.
start_piped() {  # NAME COMMAND...
  local name=$1
  shift
  exec {piped_fd}< <(exec "$@" 2>"$work/$name.err")
  piped_pid=$!
  children+=("$piped_pid")
}

# Echoes the node's lines until one starts with PREFIX (left in $line); fails on EOF or silence.
expect_line() {
  local fd=$1 prefix=$2
  while IFS= read -r -t 20 -u "$fd" line; do
    echo "   | $line"
    [[ $line == "$prefix"* ]] && return 0
  done
  fail "a node exited or fell silent before printing '$prefix'"
}

start_follower() {  # NAME URL REPLICA; sets follower_pid
  "$hj" follow "$2" --into "$3" 2>"$work/$1.err" &
  follower_pid=$!
  children+=("$follower_pid")
}

reap() {  # PID: waits for it and forgets it (so cleanup never signals a reused pid); sets reaped_rc
  reaped_rc=0
  wait "$1" 2>/dev/null || reaped_rc=$?
  local -a alive=()
  local pid
  for pid in "${children[@]}"; do [[ $pid == "$1" ]] || alive+=("$pid"); done
  children=("${alive[@]}")
}

stop_gracefully() {  # NAME PID: SIGTERM, and the process must exit 0
  kill -TERM "$2"
  reap "$2"
  ((reaped_rc == 0)) || fail "$1 exited with $reaped_rc after SIGTERM"
}

last_seq() {  # JOURNAL -> lastSeq from `info --json`, or nothing if it cannot be read yet
  "$hj" info --json "$1" 2>/dev/null | grep -o '"lastSeq":[0-9]*' | cut -d: -f2 || true
}

wait_for_seq() {  # JOURNAL SEQ NAME: polls until JOURNAL's last seq is SEQ (15 s at most)
  local seq="" deadline=$((SECONDS + 15))
  while ((SECONDS < deadline)); do
    seq=$(last_seq "$1")
    [[ $seq == "$2" ]] && return 0
    [[ -n $seq ]] && ((seq > $2)) && fail "$3 is at seq $seq, past the owner's last seq $2"
    sleep 0.05
  done
  fail "$3 did not reach seq $2 within 15 s (it is at ${seq:-nothing})"
}

field() {  # LINE WORD: the word that follows WORD in LINE
  local -a words
  read -r -a words <<<"$1"
  local i
  for ((i = 0; i + 1 < ${#words[@]}; i++)); do
    [[ ${words[i]} == "$2" ]] && { echo "${words[i + 1]}"; return 0; }
  done
  fail "no '$2' in '$1'"
}

export_range() {  # JOURNAL OUT [--to SEQ]
  "$hj" export "${@:3}" "$1" >"$2" || fail "export of $(basename "$1") failed"
}

same_file() {  # A B WHAT
  cmp -s "$1" "$2" || fail "$3: $(basename "$1") and $(basename "$2") differ: $(diff "$1" "$2" | head -4)"
}

step "1. owner A: a journal served on loopback, 40 tasks, 3 workers, lease ${lease_ms} ms"
start_piped owner-a "$node" owner "$owner_a" --tasks 40 --hold-after 24 --workers 3 --lease-ms "$lease_ms"
owner_a_pid=$piped_pid
owner_a_fd=$piped_fd
expect_line "$owner_a_fd" "serving "
url_a=$(field "$line" on)

step "2. followers 1 and 2 follow $url_a"
start_follower follower1 "$url_a" "$replica1"
follower1_pid=$follower_pid
start_follower follower2 "$url_a" "$replica2"
follower2_pid=$follower_pid

step "3. the workers run until one of them holds a lease"
expect_line "$owner_a_fd" "leased "
task=$(field "$line" leased)
attempt=$(field "$line" attempt)
lease_seq=$(field "$line" lease)
expires=$(field "$line" expires)
owner_last=$(last_seq "$owner_a")
[[ $owner_last == "$lease_seq" ]] || fail "owner A's last seq is $owner_last, not its LeaseGranted $lease_seq"
wait_for_seq "$replica1" "$lease_seq" "replica 1"
wait_for_seq "$replica2" "$lease_seq" "replica 2"
echo "   both replicas hold seq $lease_seq: the LeaseGranted of task $task (attempt $attempt)"

step "4. SIGKILL owner A while it holds the lease on task $task"
left_ms=$(($(date -d "$expires" +%s%3N) - $(date +%s%3N)))
kill -KILL "$owner_a_pid"
reap "$owner_a_pid"
((reaped_rc == 128 + 9)) || fail "owner A exited with $reaped_rc before the SIGKILL"
exec {owner_a_fd}<&-
((left_ms > 0)) || fail "owner A was killed ${left_ms#-} ms after its lease expired: raise LEASE_MS"
echo "   killed with $left_ms ms of the lease left"

step "5. stop follower 1 and promote its replica"
stop_gracefully "follower 1" "$follower1_pid"
[[ $(last_seq "$replica1") == "$lease_seq" ]] || fail "replica 1 moved after its owner died"
export_range "$replica1" "$work/replica1-at-failover.ndjson"
export_range "$owner_a" "$work/owner-a.ndjson"
same_file "$work/owner-a.ndjson" "$work/replica1-at-failover.ndjson" "replica 1 lost or changed events of owner A"
promoted=$("$hj" promote --json "$replica1") || fail "promote failed"
echo "   | $promoted"
[[ $promoted == *'"epoch":2'* && $promoted == *"\"lastSeq\":$lease_seq"* ]] ||
  fail "promotion should start epoch 2 after seq $lease_seq"

step "6. owner B: a node on the promoted replica serves it and finishes the work"
start_piped owner-b "$node" resume "$replica1" --workers 3 --lease-ms "$lease_ms"
owner_b_pid=$piped_pid
owner_b_fd=$piped_fd
expect_line "$owner_b_fd" "serving "
url_b=$(field "$line" on)
expect_line "$owner_b_fd" "rebuilt "
expect_line "$owner_b_fd" "  task $task held by node-a-worker-1 (attempt $attempt)"

step "7. follower 2 is pointed at owner B ($url_b)"
stop_gracefully "follower 2 (of owner A)" "$follower2_pid"
start_follower follower2b "$url_b" "$replica2"
follower2_pid=$follower_pid

expect_line "$owner_b_fd" "finished: "
[[ $line == *" 0 pending, 0 leased, 0 dead" ]] || fail "owner B left work behind: $line"
final=$(last_seq "$replica1")
wait_for_seq "$replica2" "$final" "replica 2"
echo "   replica 2 caught up with owner B at seq $final"

step "8. stop follower 2 and owner B"
stop_gracefully "follower 2 (of owner B)" "$follower2_pid"
kill -TERM "$owner_b_pid"
expect_line "$owner_b_fd" "stopped"
reap "$owner_b_pid"
((reaped_rc == 0)) || fail "owner B exited with $reaped_rc after SIGTERM"

step "9. the replicas are identical prefixes of owner B's journal"
export_range "$replica1" "$work/owner-b.ndjson"
export_range "$replica1" "$work/owner-b-to-failover.ndjson" --to "$lease_seq"
export_range "$replica2" "$work/replica2.ndjson"
same_file "$work/replica1-at-failover.ndjson" "$work/owner-b-to-failover.ndjson" "replica 1 (seqs 1-$lease_seq)"
same_file "$work/replica2.ndjson" "$work/owner-b.ndjson" "replica 2 (seqs 1-$final)"
echo "   replica 1 = owner B's seqs 1-$lease_seq = owner A's journal; replica 2 = owner B's seqs 1-$final"
for journal in "$owner_a" "$replica1" "$replica2"; do
  "$hj" verify "$journal" >"$work/verify.out" || fail "verify $(basename "$journal"): $(cat "$work/verify.out")"
done
echo "   hugo-journal verify passes on owner A's journal, owner B's journal and replica 2"

step "10. owner A's journal, served again, is refused as a stale owner"
start_piped stale-server "$hj" serve "$owner_a" --listen 127.0.0.1:0
stale_pid=$piped_pid
expect_line "$piped_fd" "serving "
url_stale=$(field "$line" on)
rc=0
"$hj" follow --once "$url_stale" --into "$replica2" 2>"$work/stale-follow.err" || rc=$?
((rc == 6)) && grep -q "replication.diverged" "$work/stale-follow.err" ||
  fail "following the old owner A into replica 2 should fail with replication.diverged (exit 6), got exit $rc"
sed 's/^/   | /' "$work/stale-follow.err"
rm "$work/stale-follow.err"
stop_gracefully "the server of owner A's journal" "$stale_pid"
export_range "$replica2" "$work/replica2-after-stale.ndjson"
same_file "$work/replica2.ndjson" "$work/replica2-after-stale.ndjson" "the refused follow changed replica 2"

step "11. the audit trail of task $task, from replica 2"
"$hj" history "$replica2" "$task" >"$work/history.tsv" || fail "history of task $task failed"
"$hj" history "$replica1" "$task" | cmp -s - "$work/history.tsv" || fail "replica 2's history of task $task differs"
awk -F'\t' 'NR > 1 { printf "   seq %-4s %-13s attempt %s  %-16s %s\n", $1, $4, $6, $7, $10 }' "$work/history.tsv"
# From the held LeaseGranted on: kind, attempt and owner of each row (TSV columns 1, 4, 6, 7).
trail=$(awk -F'\t' -v from="$lease_seq" 'NR > 1 && $1 >= from { printf "%s%s:%s", sep, $4, $6; sep = " " }' "$work/history.tsv")
next=$((attempt + 1))
expected="LeaseGranted:$attempt LeaseExpired:$attempt Requeued:$next LeaseGranted:$next Completed:$next"
[[ $trail == "$expected" ]] || fail "task $task's trail is '$trail', expected '$expected'"
expired_seq=$(awk -F'\t' '$4 == "LeaseExpired" { print $1 }' "$work/history.tsv")
((expired_seq > lease_seq)) || fail "the expiry (seq $expired_seq) should come after the failover (seq $lease_seq)"
owners=$(awk -F'\t' -v from="$lease_seq" 'NR > 1 && $1 >= from && $4 == "LeaseGranted" { print $7 }' "$work/history.tsv" | paste -sd' ')
[[ $owners == node-a-* && $owners == *' node-b-'* ]] || fail "leases should go to node A then node B, not '$owners'"
echo "   $expected (owners: $owners)"

ok=1
echo "failover: ok"
