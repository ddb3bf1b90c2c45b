#!/usr/bin/env bash
# Failover through NATS JetStream (docs/SCALE-OUT.md): a three-node nats-server cluster on loopback,
# an owner (jetstream-owner: orders through a TaskQueue) whose journal `hugo-journal publish`
# publishes into an R3 stream, and two followers that rebuild replicas from the stream. The member leading the stream and the owner are SIGKILLed; follower 1's replica
# is promoted, and the promoted journal publishes on into the same stream, which follower 2 follows
# on. Then it checks:
#   - the stream holds every event of the new owner's journal once (its last seq is that journal's);
#   - replica 2 equals the new owner's journal, whose first seqs equal the dead owner's journal;
#   - `hugo-journal verify` passes on every journal.
# Prints "jetstream: ok" and exits 0, or says which check failed and exits 1.
#
#   examples/jetstream/run.sh [HUGO_JOURNAL_BIN [OWNER_BIN [NATS_SERVER_BIN]]]
# The binaries default to $HUGO_JOURNAL_BIN / $OWNER_BIN / $NATS_SERVER_BIN, else
# build/tools/hugo-journal, build/examples/jetstream-owner and the nats-server on PATH (or /usr/sbin).
# Everything runs in a fresh mktemp folder, removed on success (kept, and named, on failure); every
# process it starts is stopped by its pid on exit.
set -euo pipefail

hj=$(realpath "${1:-${HUGO_JOURNAL_BIN:-build/tools/hugo-journal}}")
owner=$(realpath "${2:-${OWNER_BIN:-build/examples/jetstream-owner}}")
nats=${3:-${NATS_SERVER_BIN:-$(PATH=$PATH:/usr/sbin:/usr/local/sbin command -v nats-server || true)}}
[[ -x $nats ]] || { echo "jetstream: FAILED: nats-server not found (scripts/setup.sh installs it)" >&2; exit 1; }
work=$(mktemp -d -t hugo-jetstream.XXXXXX)
owner_a=$work/owner-a.journal  # the first owner's journal
replica1=$work/replica1.journal  # follower 1's replica; promoted, it is the new owner's journal
replica2=$work/replica2.journal
children=()
declare -A child_name
ok=0

cleanup() {
  local pid
  for pid in "${children[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${children[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((ok)); then rm -rf "$work"; else echo "jetstream: files kept in $work" >&2; fi
}
trap cleanup EXIT

fail() {
  echo "jetstream: FAILED: $*" >&2
  local log
  for log in "$work"/*.err; do  # the servers' logs (nats-*.err) stay in the folder
    [[ -s $log && $log != */nats-* ]] && tail -n 20 "$log" | sed "s|^|  $(basename "$log"): |" >&2
  done
  exit 1
}
step() { echo "== $*"; }

start() {  # NAME COMMAND...: runs it in the background, stdout and stderr in NAME.out/.err; sets started_pid
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  started_pid=$!
  children+=("$started_pid")
  child_name[$started_pid]=$name
}

reap() {  # PID: waits for it and forgets it (so cleanup never signals a reused pid); sets reaped_rc
  reaped_rc=0
  wait "$1" 2>/dev/null || reaped_rc=$?
  local -a rest=()
  local pid
  for pid in "${children[@]}"; do [[ $pid == "$1" ]] || rest+=("$pid"); done
  children=("${rest[@]}")
}

stop_gracefully() {  # NAME PID: SIGTERM, and the process must exit 0
  kill -TERM "$2"
  reap "$2"
  ((reaped_rc == 0)) || fail "$1 exited with $reaped_rc after SIGTERM"
}

# PID runs (an exited child stays a zombie until reaped, which kill -0 cannot tell apart).
alive() { [[ -r /proc/$1/stat ]] && [[ $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# Fails naming the first process started here that exited unasked.
check_children() {
  local pid
  for pid in "${children[@]}"; do
    alive "$pid" || fail "${child_name[$pid]} (pid $pid) exited unexpectedly"
  done
}

wait_for() {  # WHAT COMMAND...: polls COMMAND until it succeeds (30 s at most, every process alive)
  local what=$1 deadline=$((SECONDS + 30))
  shift
  until "$@"; do
    check_children
    ((SECONDS < deadline)) || fail "gave up waiting for $what"
    sleep 0.05
  done
}

has_line() { grep -q "^$2" "$work/$1.out" 2>/dev/null; }  # NAME PREFIX
wait_for_line() {  # NAME PREFIX PID: waits until NAME printed PREFIX; fails at once if PID exited
  local deadline=$((SECONDS + 30))
  until has_line "$1" "$2"; do
    alive "$3" || fail "$1 exited before printing '$2'"
    ((SECONDS < deadline)) || fail "gave up waiting for $1 to print '$2'"
    sleep 0.05
  done
}
line_of() { grep -m1 "^$2" "$work/$1.out"; }              # NAME PREFIX

# A free loopback port in $port: a random one nothing answers on and not handed out before.
taken=" "
free_port() {
  while true; do
    port=$((20000 + RANDOM % 40000))
    [[ $taken == *" $port "* ]] && continue
    (: </dev/tcp/127.0.0.1/"$port") 2>/dev/null && continue
    taken+="$port "
    return
  done
}

http_get() {  # PORT PATH: the body of GET http://127.0.0.1:PORT/PATH (bash's /dev/tcp; no curl needed)
  local fd
  exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&"$fd"
  sed '1,/^\r$/d' <&"$fd"
  exec {fd}<&-
}

last_seq() {  # JOURNAL -> lastSeq from `info --json`, or nothing if it cannot be read yet
  "$hj" info --json "$1" 2>/dev/null | grep -o '"lastSeq":[0-9]*' | cut -d: -f2 || true
}
at_seq() { [[ $(last_seq "$1") == "$2" ]]; }  # JOURNAL SEQ

# The cluster: members n0..n2, each with a client port, a route port and a monitoring port.
declare -a client_port route_port monitor_port node_pid
for i in 0 1 2; do
  free_port && client_port[i]=$port
  free_port && route_port[i]=$port
  free_port && monitor_port[i]=$port
done
routes=nats://127.0.0.1:${route_port[0]},nats://127.0.0.1:${route_port[1]},nats://127.0.0.1:${route_port[2]}
urls=nats://127.0.0.1:${client_port[0]},nats://127.0.0.1:${client_port[1]},nats://127.0.0.1:${client_port[2]}

meta_leader_known() { http_get "${monitor_port[$1]}" /jsz 2>/dev/null | grep -A3 '"meta_cluster"' | grep -q '"leader"'; }

# Node I leads the stream when its own /jsz says so (the stream's details name it as leader).
leads_stream() {
  [[ -n ${node_pid[$1]} ]] &&
    http_get "${monitor_port[$1]}" '/jsz?accounts=true&streams=true' 2>/dev/null |
    sed -n '/"stream_detail"/,$p' | grep -q "\"leader\": \"n$1\""
}
stream_leader=""
find_stream_leader() {
  local i
  for i in 0 1 2; do
    leads_stream "$i" && { stream_leader=$i; return 0; }
  done
  return 1
}
stream_last_seq() {  # the stream's last seq as member I reports it
  http_get "${monitor_port[$1]}" '/jsz?accounts=true&streams=true' 2>/dev/null |
    sed -n '/"stream_detail"/,$p' | grep -m1 -o '"last_seq": [0-9]*' | grep -o '[0-9]*$' || true
}
stream_at() { [[ $(stream_last_seq "$1") == "$2" ]]; }  # I SEQ

step "1. a three-node nats-server cluster with JetStream on loopback"
for i in 0 1 2; do
  mkdir -p "$work/n$i"
  start "nats-n$i" "$nats" -js -a 127.0.0.1 -p "${client_port[i]}" -m "${monitor_port[i]}" -sd "$work/n$i" \
    -n "n$i" --cluster_name hugo-example --cluster "nats://127.0.0.1:${route_port[i]}" --routes "$routes"
  node_pid[i]=$started_pid
done
for i in 0 1 2; do wait_for "member n$i to know the meta leader" meta_leader_known "$i"; done
echo "   members on $urls"

step "2. owner A: a journal of orders, published into an R3 stream"
start owner-a "$owner" "$owner_a" --orders 40
owner_a_pid=$started_pid
wait_for_line owner-a "owner " "$owner_a_pid"
start publisher-a "$hj" publish "$owner_a" --nats "$urls" --replicas 3
publisher_a_pid=$started_pid
wait_for_line publisher-a "publishing " "$publisher_a_pid"
stream=$(line_of publisher-a "publishing " | awk '{ for (i = 1; i < NF; i++) if ($i == "to") print $(i + 1) }')
[[ -n $stream ]] || fail "no stream name in '$(line_of publisher-a "publishing ")'"
wait_for "a member to lead stream $stream" find_stream_leader
echo "   | $(line_of publisher-a "publishing ")"
echo "   stream $stream is led by n$stream_leader"

step "3. followers 1 and 2 read the stream through the two other members"
others=()
for i in 0 1 2; do ((i == stream_leader)) || others+=("$i"); done
start follower1 "$hj" follow "nats://127.0.0.1:${client_port[${others[0]}]}/$stream" --into "$replica1"
follower1_pid=$started_pid
start follower2 "$hj" follow "nats://127.0.0.1:${client_port[${others[1]}]}/$stream" --into "$replica2"
follower2_pid=$started_pid

step "4. owner A writes its orders; the stream and the replicas catch up"
wait_for_line owner-a "wrote " "$owner_a_pid"
held=$(line_of owner-a "wrote " | cut -d' ' -f2)
wait_for "the stream to reach seq $held" stream_at "${others[0]}" "$held"
wait_for "replica 1 to reach seq $held" at_seq "$replica1" "$held"
wait_for "replica 2 to reach seq $held" at_seq "$replica2" "$held"
echo "   the stream and both replicas hold owner A's $held events"

step "5. SIGKILL the stream's leader n$stream_leader, owner A and its publisher"
for pid in "${node_pid[stream_leader]}" "$owner_a_pid" "$publisher_a_pid"; do
  kill -KILL "$pid"
  reap "$pid"
done
node_pid[stream_leader]=""
wait_for "a new leader of $stream" find_stream_leader
echo "   n$stream_leader now leads $stream"

step "6. stop follower 1 and promote its replica"
stop_gracefully "follower 1" "$follower1_pid"
"$hj" export "$owner_a" >"$work/owner-a.ndjson" || fail "export of owner A failed"
"$hj" export "$replica1" >"$work/replica1-at-failover.ndjson" || fail "export of replica 1 failed"
cmp -s "$work/owner-a.ndjson" "$work/replica1-at-failover.ndjson" || fail "replica 1 differs from owner A's journal"
promoted=$("$hj" promote --json "$replica1") || fail "promote failed"
echo "   | $promoted"
[[ $promoted == *'"epoch":2'* && $promoted == *"\"lastSeq\":$held"* ]] || fail "promotion should start epoch 2 after seq $held"

step "7. owner B on the promoted journal writes more orders; it publishes on into $stream"
start owner-b "$owner" "$replica1" --orders 20
owner_b_pid=$started_pid
wait_for_line owner-b "owner " "$owner_b_pid"
echo "   | $(line_of owner-b "owner ")"
[[ $(line_of owner-b "owner ") == *" epoch 2" ]] || fail "owner B should write epoch 2"
start publisher-b "$hj" publish "$replica1" --nats "$urls"
publisher_b_pid=$started_pid
wait_for_line publisher-b "publishing " "$publisher_b_pid"
echo "   | $(line_of publisher-b "publishing ")"
wait_for_line owner-b "wrote " "$owner_b_pid"
final=$(line_of owner-b "wrote " | cut -d' ' -f2)
((final > held)) || fail "owner B wrote nothing after seq $held"
wait_for "the stream to reach seq $final" stream_at "$stream_leader" "$final"
wait_for "replica 2 to follow on to seq $final" at_seq "$replica2" "$final"
echo "   the stream and replica 2 hold owner B's $final events (epoch 2 from seq $((held + 1)))"

step "8. stop follower 2, publisher B and owner B"
stop_gracefully "follower 2" "$follower2_pid"
stop_gracefully "publisher B" "$publisher_b_pid"
stop_gracefully "owner B" "$owner_b_pid"

step "9. the replicas hold the same events"
"$hj" export "$replica1" >"$work/owner-b.ndjson" || fail "export of owner B failed"
"$hj" export --to "$held" "$replica1" >"$work/owner-b-to-failover.ndjson" || fail "export of owner B failed"
"$hj" export "$replica2" >"$work/replica2.ndjson" || fail "export of replica 2 failed"
cmp -s "$work/owner-b.ndjson" "$work/replica2.ndjson" || fail "replica 2 differs from owner B's journal"
cmp -s "$work/owner-a.ndjson" "$work/owner-b-to-failover.ndjson" || fail "owner B's seqs 1-$held differ from owner A's"
[[ $(wc -l <"$work/owner-b.ndjson") == "$final" ]] || fail "owner B's export does not hold $final events"
for journal in "$owner_a" "$replica1" "$replica2"; do
  "$hj" verify "$journal" >"$work/verify.out" || fail "verify $(basename "$journal"): $(cat "$work/verify.out")"
done
echo "   replica 2 = owner B's journal (seqs 1-$final); its seqs 1-$held = owner A's; verify passes on all three"

ok=1
echo "jetstream: ok"
