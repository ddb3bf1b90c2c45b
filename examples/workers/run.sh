#!/usr/bin/env bash
# The curl worker of docs/WORKERS.md, run as the docs show it: `hugo-journal serve --queue`, tasks
# enqueued with curl (one twice under an Idempotency-Key), then examples/workers/curl-worker.sh
# until the queue is empty. Checks that every task ran once, the one that failed was retried, the
# queue ends empty, and that the script in the docs is this script.
#
#   examples/workers/run.sh HUGO_JOURNAL
set -euo pipefail
cli=$1
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2> /dev/null; rm -rf "$dir"' EXIT

# The docs hold this script verbatim, between the lines of its code block.
docs="$here/../../docs/WORKERS.md"
awk '/^<!-- curl-worker.sh begins -->/{f=1; next} /^<!-- curl-worker.sh ends -->/{f=0} f' "$docs" \
  | sed '1d;$d' > "$dir/from-docs.sh"
diff -u "$here/curl-worker.sh" "$dir/from-docs.sh"

export HUGO_TOKEN=example-write-token
"$cli" serve "$dir/jobs.journal" --listen 127.0.0.1:0 --queue emails --write-token "$HUGO_TOKEN" \
  --durability process > "$dir/serve.out" &
server=$!
for _ in $(seq 1 100); do grep -q "serving" "$dir/serve.out" 2> /dev/null && break; sleep 0.05; done
url=$(sed -n 's/.* on //p' "$dir/serve.out")
api="$url/v1/queues/emails"
auth="Authorization: Bearer $HUGO_TOKEN"

for who in ann bob cid fail-once; do
  curl -sS -f -X POST -H "$auth" -H 'Content-Type: application/json' -d "{\"payload\":\"$who\"}" "$api/tasks" > /dev/null
done
for _ in 1 2; do  # a retried enqueue: the key finds the first task
  curl -sS -f -X POST -H "$auth" -H 'Idempotency-Key: welcome-dee' -H 'Content-Type: application/json' \
    -d '{"payload":"dee"}' "$api/tasks" > /dev/null
done

# The command: records the payload; "fail-once" fails its first attempt.
cat > "$dir/handle.sh" << HANDLER
#!/bin/sh
lease=\$(cat)
who=\$(printf '%s' "\$lease" | sed -n 's/.*"payload":"\([^"]*\)".*/\1/p')
attempt=\$(printf '%s' "\$lease" | sed -n 's/.*"attempt":\([0-9]*\).*/\1/p')
echo "\$who \$attempt" >> "$dir/handled.txt"
[ "\$who" = fail-once ] && [ "\$attempt" = 1 ] && exit 7
exit 0
HANDLER
chmod +x "$dir/handle.sh"
ONCE=1 sh "$here/curl-worker.sh" "$url" emails "$dir/handle.sh"

expected=$'ann 1\nbob 1\ncid 1\ndee 1\nfail-once 1\nfail-once 2'
actual=$(sort "$dir/handled.txt")
if [ "$actual" != "$expected" ]; then
  echo "workers-curl: handled tasks differ:"; echo "$actual"; exit 1
fi
status=$(curl -sS -f "$api" -H "$auth")
case "$status" in
  *'"pending":0,"leased":0,"deadLetters":0'*) ;;
  *) echo "workers-curl: the queue is not empty: $status"; exit 1 ;;
esac
echo "workers-curl: ok"
