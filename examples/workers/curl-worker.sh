#!/bin/sh
# A worker for the queue API with curl alone (docs/WORKERS.md): lease a task (a long poll of up
# to 5 s), pipe the lease's JSON to COMMAND, then complete the lease on exit 0 or fail it with the
# exit status. The write token comes from $HUGO_TOKEN. With ONCE=1 it stops after a poll that
# brought nothing.
#
#   HUGO_TOKEN=... curl-worker.sh http://127.0.0.1:7070 emails ./send-email.sh
set -u
url=$1 queue=$2
shift 2
auth="Authorization: Bearer $HUGO_TOKEN"
api="$url/v1/queues/$queue"
while :; do
  reply=$(curl -sS -f -X POST -H "$auth" -H 'Content-Type: application/json' \
    -d '{"owner":"curl-worker","waitMs":5000}' "$api/leases") || { sleep 1; continue; }
  token=$(printf '%s' "$reply" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  if [ -z "$token" ]; then
    [ "${ONCE:-0}" = 1 ] && exit 0
    continue
  fi
  if printf '%s\n' "$reply" | "$@"; then
    curl -sS -f -X POST -H "$auth" "$api/leases/$token/complete" > /dev/null
  else
    status=$?
    curl -sS -f -X POST -H "$auth" -H 'Content-Type: application/json' \
      -d "{\"error\":{\"code\":\"work.exit_status\",\"message\":\"exit $status\"}}" \
      "$api/leases/$token/fail" > /dev/null
  fi
done
