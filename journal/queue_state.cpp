// QueueState's queries: lookups, the leasable, expired and awaiting tasks an operation picks
// from, dead letters in their public form, and the snapshot with its order-sensitive digest. None
// changes the state (the leasable queries only move tasks between the pending indexes); the
// transitions are in queue_fold.cpp.
#include "journal/queue_state.hpp"

#include "core/hex.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

#include <algorithm>

namespace hugo::detail {
namespace {

// FNV-1a, 64-bit: a stable digest independent of the standard library's hash.
struct Digest {
  std::uint64_t h = 1469598103934665603ull;
  void bytes(std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  }
  void num(std::int64_t v) { bytes(std::to_string(v)); }
  void time(Timestamp t) { num(t.time_since_epoch().count()); }
  void error(const std::optional<Error>& e) {
    if (!e) return bytes("-");
    std::string json;
    encode_error_json(*e, json);
    bytes(json);
  }
  void token(const std::optional<OwnershipToken>& t) { bytes(t ? t->to_string() : "-"); }
  std::string hex() const { return hex::u64(h); }
};

}  // namespace

const TaskState* QueueState::task(std::int64_t id) const {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : &it->second;
}
TaskState* QueueState::task(std::int64_t id) {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : &it->second;
}
const LeaseState* QueueState::lease(std::int64_t id) const {
  auto it = leases_.find(id);
  return it == leases_.end() ? nullptr : &it->second;
}
LeaseState* QueueState::lease(std::int64_t id) {
  auto it = leases_.find(id);
  return it == leases_.end() ? nullptr : &it->second;
}

void QueueState::promote(Timestamp now) {
  if (now <= promoted_to_) return;
  promoted_to_ = now;
  while (!waiting_.empty() && waiting_.begin()->first.first <= now) {
    const std::int64_t id = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    ready_.emplace(ready_key(tasks_.at(id)), id);
  }
}

const TaskState* QueueState::first_leasable(Timestamp now) {
  promote(now);
  for (const auto& [order, id] : ready_) {
    const TaskState* t = task(id);
    if (t && t->available_at <= now) return t;  // the first, unless the clock stepped back
  }
  return nullptr;
}

std::vector<const TaskState*> QueueState::leasable(Timestamp now, std::size_t max) {
  promote(now);
  std::vector<const TaskState*> out;
  for (const auto& [order, id] : ready_) {
    if (out.size() >= max) break;
    const TaskState* t = task(id);
    if (t && t->available_at <= now) out.push_back(t);
  }
  return out;
}

std::optional<Timestamp> QueueState::next_available_after(Timestamp now) {
  promote(now);
  if (waiting_.empty()) return std::nullopt;
  return waiting_.begin()->first.first;
}

std::vector<std::int64_t> QueueState::pending_fifo() const {
  std::vector<std::pair<std::int64_t, std::int64_t>> by_order;
  by_order.reserve(ready_.size() + waiting_.size());
  for (const auto& [key, id] : ready_) by_order.emplace_back(key.second, id);
  for (const auto& [when, id] : waiting_) by_order.emplace_back(when.second, id);
  std::sort(by_order.begin(), by_order.end());
  std::vector<std::int64_t> ids;
  ids.reserve(by_order.size());
  for (const auto& entry : by_order) ids.push_back(entry.second);
  return ids;
}

std::vector<std::int64_t> QueueState::expired_leases(Timestamp now) const {
  std::vector<std::int64_t> out;
  for (const auto& [id, lease] : leases_) {
    if (now >= lease.expires_at) out.push_back(id);
  }
  return out;
}

std::vector<std::int64_t> QueueState::awaiting_requeue() const {
  std::vector<std::int64_t> out;
  for (const auto& [id, t] : tasks_) {
    if (t.phase == Phase::AwaitingRequeue) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<TaskState*> QueueState::needing_hydration() {
  std::vector<TaskState*> out;
  for (auto& [id, t] : tasks_) {
    if (t.payload_seq != 0 || t.error_seq != 0) out.push_back(&t);
  }
  return out;
}

QueueWork& queue_work() {
  static QueueWork work;
  return work;
}

DeadLetter dead_letter_of(const TaskState& t) {
  queue_work().dead_letters.fetch_add(1, std::memory_order_relaxed);
  DeadLetter d;
  d.task_id = t.task_id;
  d.seq = t.dead_seq;
  d.payload = t.payload;
  d.payload_format = t.payload_format;
  d.attempt = t.attempt;
  d.enqueued_at = t.enqueued_at;
  d.dead_lettered_at = t.dead_at;
  d.error = t.last_error.value_or(Error::unspecified("no error recorded"));
  d.last_token = t.last_token;
  return d;
}

std::vector<DeadLetter> QueueState::public_dead_letters() const {
  std::vector<DeadLetter> dead;
  dead.reserve(dead_.size());
  for (const auto& [seq, id] : dead_) dead.push_back(dead_letter_of(tasks_.at(id)));
  return dead;
}

QueueSnapshot QueueState::snapshot(const std::string& queue) const {
  queue_work().snapshots.fetch_add(1, std::memory_order_relaxed);
  QueueSnapshot s;
  s.queue = queue;
  Digest d;
  d.bytes(queue);
  for (const std::int64_t id : pending_fifo()) {
    const TaskState& t = tasks_.at(id);
    const std::int64_t order = t.pending_order;
    s.pending.push_back({t.task_id, t.attempt, t.enqueued_at, t.available_at, t.last_error, t.last_token, t.priority,
                         t.key.empty() ? std::nullopt : std::optional<std::string>(t.key)});
    d.bytes("P");
    d.num(order);
    d.num(t.task_id);
    d.num(t.attempt);
    d.time(t.enqueued_at);
    d.time(t.available_at);
    if (t.priority != 0) d.num(t.priority);  // digests of journals without priorities are unchanged
    if (!t.key.empty()) d.bytes("K" + t.key);  // nor without keys
    d.error(t.last_error);
    d.token(t.last_token);
    d.bytes(t.payload);
  }
  for (const auto& [id, l] : leases_) {
    const TaskState& t = tasks_.at(l.task_id);
    s.leased.push_back({OwnershipToken{l.task_id, l.attempt, l.lease_id}, l.owner, l.granted_at, l.expires_at,
                        l.last_heartbeat, t.enqueued_at, t.last_error,
                        t.key.empty() ? std::nullopt : std::optional<std::string>(t.key)});
    d.bytes("L");
    d.num(id);
    d.num(l.task_id);
    d.num(l.attempt);
    d.bytes(l.owner);
    d.time(l.granted_at);
    d.time(l.expires_at);
    d.time(l.last_heartbeat);
    if (!t.key.empty()) d.bytes("K" + t.key);
    d.error(t.last_error);
    d.bytes(t.payload);
  }
  s.dead = public_dead_letters();
  for (const auto& [seq, id] : dead_) {
    const TaskState& t = tasks_.at(id);
    d.bytes("D");
    d.num(seq);
    d.num(t.task_id);
    d.num(t.attempt);
    d.error(t.last_error);
    d.token(t.last_token);
    d.bytes(t.payload);
  }
  s.awaiting_requeue = awaiting_requeue();
  for (auto id : s.awaiting_requeue) d.num(id);
  s.digest = d.hex();
  return s;
}

}  // namespace hugo::detail
