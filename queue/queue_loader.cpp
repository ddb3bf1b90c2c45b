#include "queue/queue_loader.hpp"

#include "schema/file_probe.hpp"
#include "journal/rows.hpp"
#include "schema/sqlite.hpp"
#include "schema/schema.hpp"

#include <hugo/event_json.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hugo::detail {
namespace {

constexpr std::int64_t kBatch = 65536;  // rows per read transaction
constexpr std::size_t kChunk = 4096;    // rows handed from the scanning thread to the fold at once
constexpr std::size_t kChunksAhead = 4;

// What the scanning thread copies out of one row: its integer columns and, for an Enqueued row
// with flag 0x800, its idempotency key (column 11 of the scan, NULL on every other row).
struct ScannedRow {
  rows::RawHeader header;
  std::optional<std::string> key;
};

// A chunk of scanned rows (the fold decodes them), or the scan's Error; an empty chunk ends the scan.
using Chunk = Result<std::vector<ScannedRow>>;

// Scans the queue's rows on its own thread, at most kChunksAhead chunks ahead of the fold, so
// that SQLite's stepping and the row decoding overlap with QueueState::apply (docs/BENCHMARKS.md,
// recovery). The connection belongs to the scanning thread until the destructor has joined it.
class RowScanner {
 public:
  RowScanner(sql::Stmt& scan, std::int64_t queue_id) : scan_(scan), queue_id_(queue_id), thread_([this] { run(); }) {}
  ~RowScanner() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  RowScanner(const RowScanner&) = delete;
  RowScanner& operator=(const RowScanner&) = delete;

  // Returns a folded chunk's buffer for reuse, so that the scan allocates its chunks once
  // (memory stays flat however long the history) and nothing is freed across threads.
  void give_back(std::vector<ScannedRow> spent) {
    spent.clear();
    std::lock_guard lock(mutex_);
    spare_.push_back(std::move(spent));
  }

  // The next chunk in seq order; empty once every row was handed over.
  Chunk next() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !ready_.empty(); });
    Chunk chunk = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    changed_.notify_all();
    return chunk;
  }

 private:
  // An empty buffer with room for a chunk: a returned one if there is one.
  std::vector<ScannedRow> fresh_chunk() {
    std::vector<ScannedRow> chunk;
    {
      std::lock_guard lock(mutex_);
      if (!spare_.empty()) {
        chunk = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    chunk.reserve(kChunk);
    return chunk;
  }

  // False once the consumer has gone away.
  bool hand_over(Chunk chunk) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return stopped_ || ready_.size() < kChunksAhead; });
    if (stopped_) return false;
    ready_.push_back(std::move(chunk));
    lock.unlock();
    changed_.notify_all();
    return true;
  }

  void run() {
    std::int64_t after = 0;
    std::vector<ScannedRow> chunk = fresh_chunk();
    while (true) {
      scan_.bind(1, after).bind(2, queue_id_).bind(3, kBatch);
      std::int64_t rows_read = 0;
      while (true) {
        auto row = scan_.step();
        if (!row.ok()) {
          scan_.reset();
          hand_over(std::move(row).error());
          return;
        }
        if (!*row) break;
        ScannedRow& scanned = chunk.emplace_back();
        scanned.header = rows::RawHeader::read(scan_);
        if (!scan_.is_null(11)) scanned.key.emplace(scan_.column_text(11));
        after = scanned.header.columns[0];  // seq
        ++rows_read;
        if (chunk.size() == kChunk) {
          if (!hand_over(std::exchange(chunk, fresh_chunk()))) {
            scan_.reset();
            return;
          }
        }
      }
      scan_.reset();  // one short read transaction per batch
      if (rows_read < kBatch) break;
    }
    if (!chunk.empty() && !hand_over(std::move(chunk))) return;
    hand_over(std::vector<ScannedRow>{});
  }

  sql::Stmt& scan_;
  const std::int64_t queue_id_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Chunk> ready_;
  std::vector<std::vector<ScannedRow>> spare_;
  bool stopped_ = false;
  std::thread thread_;  // last: started once every other member exists
};

}  // namespace

SkippedRow skipped_row(const RowFacts& row, const Error& refusal) {
  const std::string* rule = refusal.find("rule");
  return SkippedRow{row.seq, row.task, row.kind, rule ? *rule : refusal.message()};
}

Status load_queue(const std::filesystem::path& path, const std::string& queue, QueueState& state, RecoveryMode mode,
                  std::vector<SkippedRow>* skipped, std::chrono::milliseconds busy_timeout) {
  HUGO_ASSIGN_OR_RETURN(sql::Db db, file_probe::open_read_only(path, busy_timeout));
  HUGO_ASSIGN_OR_RETURN(int version, schema::check_readable(db));
  HUGO_ASSIGN_OR_RETURN(rows::Meta meta, rows::load_meta(db, version));

  std::unordered_map<std::int64_t, std::string> names;
  std::int64_t queue_id = 0;
  {
    HUGO_ASSIGN_OR_RETURN(sql::Stmt all, db.prepare("SELECT id, name FROM names"));
    while (true) {
      HUGO_ASSIGN_OR_RETURN(bool row, all.step());
      if (!row) break;
      names.emplace(all.column_int(0), std::string(all.column_text(1)));
      if (all.column_text(1) == queue) queue_id = all.column_int(0);
    }
  }
  if (queue_id == 0) return ok_status();  // the queue has never been written

  // Only the integer columns, and the keys of keyed Enqueued rows: whether a row has a payload or
  // an error is left to hydration, which reads those columns for the live tasks alone.
  HUGO_ASSIGN_OR_RETURN(sql::Stmt scan, db.prepare("SELECT " + std::string(rows::header_columns(meta.schema_version)) +
                                                   ", CASE WHEN flags & 2048 THEN error END"  // rows::kTaskKey
                                                   " FROM events WHERE seq > ?1 AND queue = ?2 "
                                                   "ORDER BY seq LIMIT ?3"));
  {
    RowScanner scanner(scan, queue_id);
    while (true) {
      HUGO_ASSIGN_OR_RETURN(std::vector<ScannedRow> chunk, scanner.next());
      if (chunk.empty()) break;
      for (const ScannedRow& raw : chunk) {
        HUGO_ASSIGN_OR_RETURN(rows::RowHeader header, rows::decode_header(raw.header, meta.time_base_us));
        RowFacts facts = facts_of(header);
        std::string key;
        if (header.has_key) {
          HUGO_ASSIGN_OR_RETURN(key, rows::stored_task_key(raw.key, header.seq));
          facts.key = &key;
        }
        if (header.owner_id != 0) {
          auto it = names.find(header.owner_id);
          if (it == names.end()) return rows::corrupt_row(header.seq, "unknown owner name id");
          facts.owner = &it->second;
        }
        facts.has_payload = true;  // hydration reads NULL as no payload
        facts.has_error = true;    // and NULL as no error
        facts.error_unknown = true;
        if (Status applied = state.apply(facts); !applied.ok()) {
          if (mode == RecoveryMode::Strict || !skipped) return applied;
          skipped->push_back(skipped_row(facts, applied.error()));  // the state is unchanged
        }
      }
      scanner.give_back(std::move(chunk));
    }
  }  // the scanner's thread is joined: the connection is this thread's again

  HUGO_ASSIGN_OR_RETURN(sql::Stmt payload_of, db.prepare("SELECT payload FROM events WHERE seq = ?1"));
  HUGO_ASSIGN_OR_RETURN(sql::Stmt error_of, db.prepare("SELECT error FROM events WHERE seq = ?1"));
  for (TaskState* t : state.needing_hydration()) {
    if (t->payload_seq != 0) {
      payload_of.bind(1, t->payload_seq);
      HUGO_ASSIGN_OR_RETURN(bool row, payload_of.step());
      if (!row) return rows::corrupt_row(t->payload_seq, "the payload row vanished during recovery");
      t->payload = std::string(payload_of.column_blob(0));  // NULL: no payload, ""
      payload_of.reset();
      t->payload_seq = 0;
    }
    // The task's error: the one in error_seq's row; if that row has none, the one in the
    // fallback row (a Requeued row without an error keeps the error before it); else none.
    for (std::int64_t seq : {t->error_seq, t->error_fallback_seq}) {
      if (seq == 0) break;
      error_of.bind(1, seq);
      HUGO_ASSIGN_OR_RETURN(bool row, error_of.step());
      if (!row) return rows::corrupt_row(seq, "the error row vanished during recovery");
      const bool has_error = !error_of.is_null(0);
      Status decoded = has_error ? decode_error_json(error_of.column_text(0), t->last_error) : ok_status();
      error_of.reset();
      if (!decoded.ok()) return rows::corrupt_row(seq, "error column: " + decoded.error().message());
      if (has_error) break;
      t->last_error.reset();
    }
    t->error_seq = 0;
    t->error_fallback_seq = 0;
  }
  return ok_status();
}

}  // namespace hugo::detail
