// hugo::Journal: the durable, append-only event journal that everything else projects from.
// Start reading here.
//
// A journal is one SQLite database in WAL mode. Every queue mutation is one row of the `events`
// table, whose `seq INTEGER PRIMARY KEY AUTOINCREMENT` is the replication sequence number: it is
// durable, strictly increasing in acceptance order, and never reused, even after rows are deleted.
// docs/FORMAT.md specifies the tables.
//
// Threading: a Journal is thread-safe. Appends of all threads are group-committed in the order they
// were accepted, one transaction per batch, on the only write connection: the caller that waits
// for its append while no commit is in progress commits the queued batches on its own thread, the
// others wait for it; a background flusher commits the appends nobody waits for (docs/FORMAT.md,
// "Group commit"). Reads use their own connection and short read transactions.
//
// Process model: one writer process at a time (enforced by a lock file, `journal.locked` with the
// holder's pid otherwise); any number of JournalReaders, in this or other processes.
#pragma once

#include <hugo/durability.hpp>
#include <hugo/error.hpp>
#include <hugo/event.hpp>
#include <hugo/export.hpp>
#include <hugo/transaction.hpp>
#include <hugo/time.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hugo {
namespace detail {
struct JournalAccess;  // the library's own appends (journal/journal_access.hpp)
struct TicketHold;     // a batch's outcome and the journal that commits it (journal/journal_impl.hpp)
}  // namespace detail

struct JournalOptions {
  Durability durability = Durability::Fsync;
  // Time for created_at; events carry their own occurred_at.
  std::shared_ptr<Clock> clock;  // null: SystemClock
  // Group commit: up to max_batch appends per transaction. 0 commits as soon as someone waits and
  // no commit is in progress; a positive window makes the committing caller wait up to that long
  // after a batch's first append for companions, adding up to that much latency to every append.
  // Appends nobody waits for commit within about max(commit_window, 1 ms) (docs/FORMAT.md, "Group
  // commit").
  std::chrono::microseconds commit_window{0};
  std::size_t max_batch = 512;
  // WAL checkpoints (docs/FORMAT.md, "Durability and the WAL"): in the background once the WAL
  // holds wal_checkpoint_bytes (0: default_wal_checkpoint_bytes(durability)), blocking past
  // wal_limit_bytes; background_checkpoints = false runs every one inside a commit.
  std::uint64_t wal_checkpoint_bytes = 0;
  std::uint64_t wal_limit_bytes = 64u << 20;
  bool background_checkpoints = true;
  // How many of the latest committed events the writer keeps in memory for read_recent(), so
  // that sources attached to this journal in this process get new events without reading them
  // back through SQLite (0: keep none). Memory is also capped at 16 MiB of payloads and names.
  std::size_t recent_events = 4096;
  // Caps the database size in pages (0: no cap). Reaching it fails appends with journal.full.
  std::uint64_t max_pages = 0;
  // How long a connection waits for SQLite locks (checkpoints, readers) before journal.busy.
  std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout;
};

// Where an append stands: its seq is known at once; it is durable once its batch commits. Made by
// the journal; copies share the state. A failed batch resolves every ticket in it with the same
// Error (journal.full, journal.io, journal.replaced if the file was replaced or removed under the
// writer, ...); a refused append (seq 0) is resolved at once with its error.
class AppendTicket {
 public:
  std::int64_t seq = 0;   // the (first) seq; 0 if the append was refused
  std::size_t count = 1;  // a group's events got seqs seq .. seq + count - 1

  AppendTicket() = default;
  HUGO_API AppendTicket(std::int64_t seq, std::size_t count, std::shared_ptr<const detail::TicketHold> hold) noexcept;

  // Blocks until the batch is durable; returns seq (the first) or the batch's Error
  // (error.validation on a default-constructed ticket). If no commit is in progress, commits the
  // batches queued up to this one on the calling thread; otherwise waits for the caller committing.
  HUGO_API Result<std::int64_t> wait() const;
  // False for a default-constructed ticket.
  bool valid() const noexcept { return hold_ != nullptr; }
  // Names the batch (one transaction) the append went into: equal for the appends committed
  // together, as long as one of their tickets is alive. Null for a default-constructed ticket.
  HUGO_API const void* batch_id() const noexcept;

 private:
  friend struct detail::JournalAccess;
  std::shared_ptr<const detail::TicketHold> hold_;
};

// A payload as stored on a task's first row.
struct StoredPayload {
  std::string bytes;
  PayloadFormat format = PayloadFormat::Bytes;
};

// Summary facts about a journal, as shown by `hugo-journal info`.
struct JournalInfo {
  std::string journal_id;
  int schema_version = 0;
  std::int64_t first_seq = 0;  // 0 when empty
  std::int64_t last_seq = 0;   // highest seq ever issued (survives deletion of the tail)
  std::int64_t row_count = 0;
  std::string durability;  // of the last writer: "fsync" or "process" ("" if never opened for writing)
  std::string created_at;  // ISO-8601
  // Peers (docs/PEERS.md): "owner" or "replica", and the history's epoch ("1:0,2:5120").
  std::string role = "owner";
  std::int64_t epoch = 1;
  std::string epoch_history = "1:0";
};

class HUGO_API Journal {
 public:
  // Creates or opens the journal at `path` for writing. Errors: journal.locked (metadata pid),
  // journal.schema_newer, journal.corrupt, journal.io, journal.read_only, error.validation.
  static Result<std::unique_ptr<Journal>> open(const std::filesystem::path& path,
                                               JournalOptions options = {});
  ~Journal();  // close()
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Accepts `event` for the next batch and assigns its seq (strictly increasing in acceptance
  // order). The journal fills: seq, source_event_id (= seq), recorded_at (= occurred_at),
  // journal_id; task_id (= seq) for an Enqueued event with task_id 0; token->lease_id (= seq) for
  // a LeaseGranted event whose token has lease_id 0. Events that fail validation, or arrive after
  // a failure or close(), get a ticket with seq 0 that resolves to the error.
  AppendTicket append_async(Event event);

  // Appends several events atomically: they get consecutive seqs and commit in one transaction,
  // so a crash keeps all of them or none. Validation failure of any refuses all (no seq used).
  // Fills seq etc. in `events` as append_async does, so the caller sees the assigned values; a
  // refused group (ticket seq 0) leaves `events` exactly as they were passed.
  // Queue rows (append, append_async too): an event other than a plain Enqueued must be a valid
  // transition of its queue after every row before it, else error.validation names the rule
  // (docs/QUEUE.md, "Raw appends"); a queue open as a TaskQueue here takes only Enqueued rows.
  AppendTicket append_group_async(std::vector<Event>& events);

  // append_async + wait: returns the seq once its batch is durable at the configured Durability.
  Result<std::int64_t> append(Event event);

  // Blocks until every append accepted so far is durable; returns the journal's failure, if any.
  Status flush();

  // Runs `body` inside one write transaction of the journal's database and commits its writes
  // (Tx::execute) with the rows of the queue operations it gave the Tx, all or nothing; returns
  // once they are durable (hugo/transaction.hpp; docs/QUEUE.md, "Transactions"). Everything
  // appended before the call is committed first. A body that returns an error, or throws (then
  // error.exception), rolls everything back and that error is returned; so is a queue operation
  // that cannot be carried out at commit. error.validation from inside a body (no nesting).
  Result<TxOutcome> transaction(const std::function<Status(Tx&)>& body);

  // Flushes, stops the writer, checkpoints the WAL and releases the writer lock. Idempotent and
  // thread-safe: concurrent callers wait for the one closing, and every call returns once the
  // journal is closed (the first one's result; later ones return the journal's failure, if any).
  Status close();

  // Events with seq > after, ascending, at most `max` of them, from committed rows only. Each
  // call is one short read transaction.
  Result<std::vector<Event>> read(std::int64_t after, std::size_t max) const;

  // The same events read() would return for (after, max), served from the writer's memory of
  // its latest commits (JournalOptions::recent_events) with no SQLite read: equal field for field
  // to the rows read back. An empty vector if nothing after `after` is committed yet; nullopt if
  // memory no longer holds seq after + 1 (read() it instead), or the journal is closed or failed.
  std::optional<std::vector<Event>> read_recent(std::int64_t after, std::size_t max) const;

  // Blocks until durable_seq() > after, the deadline passes, or the journal fails/closes.
  // Returns durable_seq() at that moment. Wakes on commit; never polls.
  std::int64_t wait_for_commit(std::int64_t after,
                               std::chrono::steady_clock::time_point deadline) const;

  const std::string& journal_id() const;
  const std::filesystem::path& path() const;
  Durability durability() const;
  std::int64_t last_accepted_seq() const;  // highest seq handed out (may not be durable yet)
  std::int64_t durable_seq() const;        // highest seq known committed
  Status health() const;                   // the poisoning error, if a commit ever failed
  Result<JournalInfo> info() const;

  struct Impl;

 private:
  friend struct detail::JournalAccess;
  explicit Journal(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // tickets share it: waiting on one commits through it
};

// Read-only access to a journal, safe while another process writes it. Not thread-safe: use one
// reader per thread.
class HUGO_API JournalReader {
 public:
  // Errors: journal.not_found, journal.corrupt, journal.schema_newer, journal.io.
  // read(), last_seq(), info() and changed() fail with journal.replaced once the path names
  // another file, or the file holds another journal or an older copy of this one.
  // `busy_timeout`: how long its connections wait for another connection's lock (journal.busy).
  static Result<std::unique_ptr<JournalReader>> open(const std::filesystem::path& path,
                                                     std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout);
  ~JournalReader();
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  Result<std::vector<Event>> read(std::int64_t after, std::size_t max);
  Result<std::int64_t> last_seq();
  Result<JournalInfo> info();
  // True if another connection committed since the previous call (PRAGMA data_version).
  Result<bool> changed();
  // The payload a task was enqueued with: the payload of row `task_id` (its Enqueued row, or the
  // Restored row that started it). nullopt if that row is gone (compacted) or has none.
  Result<std::optional<StoredPayload>> task_payload(std::int64_t task_id);
  // The foreign GUID (Hugo's lease id) that `import` mapped to lease `lease_id`, in canonical form;
  // nullopt for a lease hugo-journal granted (docs/MIGRATION.md, "Hugo lease ids").
  Result<std::optional<std::string>> lease_guid(std::int64_t lease_id);
  // Hugo's task id (`taskSequenceId`) that `import` mapped to task `task_id`; nullopt for a task
  // whose id is its own (docs/MIGRATION.md, "Hugo task ids").
  Result<std::optional<std::int64_t>> task_sequence_id(std::int64_t task_id);
  const std::string& journal_id() const;

  struct Impl;

 private:
  explicit JournalReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hugo
