// hugo::TaskQueueReplicationSource: ordered, gap-free, replayable events from a journal.
//
// A source is a cursor over the durable journal, not a channel: it reads committed rows with
// seq > position() in bounded batches (one short read transaction each), so any number of
// sources read independently, a slow one never holds memory or pins the WAL (unlike Hugo's), and a
// new one can start at any position, including 0 (backfill).
//
// Waking: attach() (same process) wakes on the journal's commit notification without polling,
// and takes the events it is waiting for from the writer's memory of its latest commits
// (Journal::read_recent: the same events, no SQLite read) while it keeps up; open() (another
// process) polls PRAGMA data_version every poll_interval (default 1 ms).
//
// Each event carries the task's payload, read from the task's first row (not copied per row),
// its journal id, the configured source peer id, and the owner peer id (the row's owner, else
// the resolver's answer, else the default).
//
// Thread-safety: one consumer thread per source. register_observer() may be called from any
// thread.
#pragma once

#include <hugo/error.hpp>
#include <hugo/event.hpp>
#include <hugo/export.hpp>
#include <hugo/journal.hpp>
#include <hugo/metrics.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace hugo {

// Hugo's replication event: the 15 fields plus the source journal id (Event::journal_id).
using TaskQueueReplicationEvent = Event;

struct ReplicationSourceOptions {
  std::optional<std::string> source_peer_id;
  std::optional<std::string> default_owner_peer_id;
  // Consulted for events whose row has no owner; nullopt falls back to the default.
  std::function<std::optional<std::string>(const Event&)> owner_peer_resolver;
  std::optional<std::string> queue;  // only this queue's events (positions still advance past others)
  std::size_t batch_size = 512;      // rows per read transaction
  std::chrono::microseconds poll_interval{1000};  // open(): data_version polling period
  std::shared_ptr<MetricsRegistry> metrics;       // counts taskqueue.replication.events
  std::function<void(const Error&)> on_observer_error;
};

// Keeps an observer registered until destroyed or reset().
class HUGO_API ObserverSubscription {
 public:
  ObserverSubscription() = default;
  explicit ObserverSubscription(std::function<void()> unregister) : unregister_(std::move(unregister)) {}
  ObserverSubscription(ObserverSubscription&& other) noexcept : unregister_(std::move(other.unregister_)) {
    other.unregister_ = nullptr;
  }
  ObserverSubscription& operator=(ObserverSubscription&& other) noexcept;
  ~ObserverSubscription() { reset(); }
  void reset();  // idempotent

 private:
  std::function<void()> unregister_;
};

// What a consumer keeps, with its checkpoint, of the last event it applied, so that a resume can
// tell a journal that lost commits (docs/REPLICATION.md, "When the journal lost commits").
struct ReplicationAnchor {
  std::string consumer;      // names the consumer in errors: a sink's stream id, a replica's path
  std::int64_t seq = 0;      // the last applied seq; 0: nothing applied yet
  std::optional<std::uint64_t> fingerprint;  // event_fingerprint() of that event; nullopt: not recorded
};

// A 64-bit hash of the fields that make an event this event and no other: seq, kind, queue, task
// id, attempt, occurred_at, flags, the token's lease id, the error code, and the payload of the
// rows that store one (Enqueued, Restored). It leaves out what a source fills in (peer ids,
// journal id, the payload of later rows), so a row read back, from the writer's memory or from
// the file, from the owner or from a replica, always gives the same value. PERSISTED in sink and
// effect databases (docs/FORMAT.md, "Consumer fingerprints"): never change the formula.
HUGO_API std::uint64_t event_fingerprint(const Event& event);

// replication.checkpoint_ahead for `anchor` against a journal whose last seq is `journal_last_seq`;
// `reason` is "behind" (the journal ends before anchor.seq) or "rewritten" (another event holds it).
HUGO_API Error checkpoint_ahead(const ReplicationAnchor& anchor, const std::string& journal_id,
                                std::int64_t journal_last_seq, std::string_view reason);

class HUGO_API TaskQueueReplicationSource {
 public:
  // Same process as the writer: wakes on commit. Starts after seq `after`.
  static Result<std::unique_ptr<TaskQueueReplicationSource>> attach(std::shared_ptr<Journal> journal,
                                                                    std::int64_t after,
                                                                    ReplicationSourceOptions options = {});
  // Any process: a read-only connection, woken by data_version polling.
  static Result<std::unique_ptr<TaskQueueReplicationSource>> open(const std::filesystem::path& journal,
                                                                  std::int64_t after,
                                                                  ReplicationSourceOptions options = {});
  ~TaskQueueReplicationSource();

  // Up to `max` events after position(), in seq order. If none is committed yet, waits up to
  // `wait` for one; an empty vector means the wait passed. Observers see each event before
  // next() returns it.
  Result<std::vector<Event>> next(std::size_t max, std::chrono::steady_clock::duration wait = {});

  // Runs `handler` on every batch until `stop` is requested or the handler fails (its error is
  // returned; the position stays before the failed batch, so a rerun redelivers it).
  Status pump(const std::function<Status(const std::vector<Event>&)>& handler, std::stop_token stop,
              std::size_t max_batch = 512);

  std::int64_t position() const;  // seq of the last event returned, or the start cursor
  void seek(std::int64_t after);
  // seek(anchor.seq) once the journal is known to still hold the consumer's last event:
  // replication.checkpoint_ahead if the journal's last seq is below anchor.seq ("behind"), or if
  // its row at anchor.seq has another fingerprint than anchor.fingerprint ("rewritten"). A row
  // compacted away, or an anchor without a fingerprint, checks "behind" only. Afterwards, each
  // read that follows an idle wait first checks again that the row at position() is still the
  // event read there (docs/REPLICATION.md, "When the journal lost commits").
  Status resume(const ReplicationAnchor& anchor);
  const std::string& journal_id() const;

  // Observers are called in registration order, synchronously, once per event, when the event is
  // delivered for good: before next() returns it, or after pump()'s handler accepted its batch.
  // An event delivered again (pump's redelivery after a failed batch, seek() backwards) is not
  // observed or counted in metrics again. A failing observer (Error or exception) is reported to
  // options.on_observer_error and counted in observer_failures(); it never stops delivery.
  ObserverSubscription register_observer(std::function<Status(const Event&)> observer);
  std::uint64_t observer_failures() const;

  struct Impl;

 private:
  explicit TaskQueueReplicationSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hugo
