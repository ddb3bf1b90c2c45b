#!/usr/bin/env bash
# An order row and its notification task survive SIGKILL together (docs/QUEUE.md,
# "Transactions"): `orders-example place` is killed at 25 random moments, each run continuing
# the orders of the last, then `orders-example check` reopens the journal and finds every order
# with exactly one task, every task with its order, and every acknowledged order there.
#
#   examples/transactions/run.sh ORDERS_EXAMPLE
set -euo pipefail
example=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for round in $(seq 1 25); do
  "$example" place "$dir/shop.journal" >> "$dir/acks.log" &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 200 + 20)))"
  kill -KILL "$pid"
  wait "$pid" 2> /dev/null || true
done
"$example" check "$dir/shop.journal" "$dir/acks.log"
