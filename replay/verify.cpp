// verify_journal: the file's integrity plus every journal invariant, collected row by row.
#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>
#include <hugo/verify.hpp>

#include "schema/file_probe.hpp"
#include "core/json_util.hpp"
#include "journal/queue_state.hpp"
#include "journal/rows.hpp"
#include "schema/sqlite.hpp"
#include "schema/schema.hpp"

#include <algorithm>
#include <optional>
#include <unordered_map>

namespace hugo {
namespace {

constexpr std::int64_t kBatch = 65536;

void violation(VerifyReport& report, std::int64_t seq, const char* check, std::string message) {
  report.violations.push_back(VerifyViolation{seq, check, std::move(message)});
}

// One task id names one task forever (docs/QUEUE.md, "Restore and task identity"): a task starts
// at the row whose seq is its id (Enqueued, or Restored under a new id), in one queue; a Restored
// row that keeps an id must follow that task's Drained row in the same queue. The per-queue state
// machine cannot see this: a task that finished is gone from it, so a restore reusing the id of a
// finished task, or of another queue's task, looks like a new task there.
class TaskIdentities {
 public:
  void check(VerifyReport& report, const rows::RowHeader& row) {
    const bool starts = row.task == row.seq && (row.kind == EventKind::Enqueued || row.kind == EventKind::Restored);
    if (starts) {
      tasks_.push_back(Task{row.seq, row.queue_id, row.seq, EventKind::Enqueued});  // seqs ascend: stays sorted
      return;
    }
    Task* task = find(row.task);
    if (row.kind == EventKind::Restored) {
      const std::string id = std::to_string(row.task);
      if (!task) {
        violation(report, row.seq, "task_identity",
                  "Restored keeps task id " + id + ", which no row of this journal started; one task id names one "
                  "task, so this item needed a new id");
      } else if (task->queue != row.queue_id) {
        violation(report, row.seq, "task_identity",
                  "Restored keeps task id " + id + " in another queue than the one the task started in (seq " + id +
                      "); one task id names one task");
      } else if (task->last_kind == EventKind::Completed || task->last_kind == EventKind::Canceled) {
        violation(report, row.seq, "task_identity",
                  "Restored keeps task id " + id + ", whose task " +
                      (task->last_kind == EventKind::Completed ? "completed" : "was canceled") + " at seq " +
                      std::to_string(task->last_seq) +
                      "; one task id names one task, so this item needed a new id");
      }
    }
    if (task && task->queue == row.queue_id) {
      task->last_kind = row.kind;
      task->last_seq = row.seq;
    }
  }

 private:
  struct Task {
    std::int64_t id;
    std::int64_t queue;
    std::int64_t last_seq;
    EventKind last_kind;
  };
  Task* find(std::int64_t id) {
    auto it = std::lower_bound(tasks_.begin(), tasks_.end(), id, [](const Task& t, std::int64_t v) { return t.id < v; });
    return it != tasks_.end() && it->id == id ? &*it : nullptr;
  }
  std::vector<Task> tasks_;
};

// A finding as verify reports it: a trailing "(... `hugo-journal verify` ...)" is advice for other
// callers, and noise in verify's own report.
std::string finding(const Error& error) {
  std::string message = error.message();
  const auto open = message.rfind(" (");
  if (open != std::string::npos && message.back() == ')' &&
      message.find("hugo-journal verify", open) != std::string::npos) {
    message.erase(open);
  }
  return message;
}

// Whether "the first row with seq > after" can be read, and its seq (0: no such row).
std::optional<std::int64_t> first_after(sql::Stmt& probe, std::int64_t after) {
  probe.bind(1, after);
  auto row = probe.step();
  std::optional<std::int64_t> out;
  if (row.ok()) out = *row ? probe.column_int(0) : 0;
  probe.reset();
  return out;
}

// After a failed read past `after`: the smallest position from which the rows read again, found
// by bisection (a seek lands in the damaged page for every position inside its range and past it
// for every position above). Returns the first seq readable after the damage, 0 if none up to
// `last`, or nullopt if even the position `last` cannot be read (the damage reaches the end).
std::optional<std::int64_t> resume_after_damage(sql::Stmt& probe, std::int64_t after, std::int64_t last) {
  std::int64_t bad = after;  // first_after(bad) failed
  std::int64_t good = std::max(last, after + 1);
  std::optional<std::int64_t> found = first_after(probe, good);
  if (!found) return std::nullopt;
  while (good - bad > 1) {  // at most 64 probes
    const std::int64_t mid = bad + (good - bad) / 2;
    if (auto at = first_after(probe, mid)) {
      good = mid;
      found = at;
    } else {
      bad = mid;
    }
  }
  return found;
}

void damaged(VerifyReport& report, std::int64_t after, std::int64_t next, const Error& error) {
  if (report.damaged.empty()) report.last_good_seq = after;
  report.damaged.push_back(VerifyDamage{after, next});
  const std::string* code = error.find("sqlite_code");
  violation(report, after + 1, "integrity",
            "the rows after seq " + std::to_string(after) +
                (next > 0 ? " and before seq " + std::to_string(next) : std::string(" to the end")) +
                " cannot be read: a damaged page (" + error.code() + (code ? ", SQLite code " + *code : "") +
                "); the last good seq before them is " + std::to_string(after));
}

}  // namespace

Result<VerifyReport> verify_journal(const std::filesystem::path& journal, ProgressFn progress,
                                    std::chrono::milliseconds busy_timeout) {
  VerifyReport report;
  HUGO_TRY(rows::check_journal_file(journal, busy_timeout));
  HUGO_ASSIGN_OR_RETURN(sql::Db db, file_probe::open_read_only(journal, busy_timeout));
  HUGO_ASSIGN_OR_RETURN(int version, schema::check_readable(db));
  {
    HUGO_ASSIGN_OR_RETURN(sql::Stmt check, db.prepare("PRAGMA integrity_check"));
    while (true) {
      auto row = check.step();
      if (!row.ok()) {  // the rows are still scanned below, past any damaged page
        violation(report, 0, "integrity", finding(row.error()));
        break;
      }
      if (!*row) break;
      const std::string message(check.column_text(0));
      if (message != "ok") violation(report, 0, "integrity", message);
    }
  }
  HUGO_ASSIGN_OR_RETURN(rows::Meta meta, rows::load_meta(db, version));
  HUGO_ASSIGN_OR_RETURN(report.last_seq, rows::last_issued_seq(db));
  // count(*) reads every page: with a damaged one, the progress total is the last seq instead.
  const std::int64_t total = db.query_int("SELECT count(*) FROM events").value_or(report.last_seq);

  std::unordered_map<std::int64_t, std::string> names;
  {
    HUGO_ASSIGN_OR_RETURN(sql::Stmt all, db.prepare("SELECT id, name FROM names"));
    while (true) {
      HUGO_ASSIGN_OR_RETURN(bool row, all.step());
      if (!row) break;
      names.emplace(all.column_int(0), std::string(all.column_text(1)));
    }
  }
  std::unordered_map<std::int64_t, detail::QueueState> queues;
  TaskIdentities identities;
  HUGO_ASSIGN_OR_RETURN(sql::Stmt scan, db.prepare("SELECT " + std::string(rows::header_columns(meta.schema_version)) +
                                                   ", error, payload FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"));
  HUGO_ASSIGN_OR_RETURN(sql::Stmt probe, db.prepare("SELECT seq FROM events WHERE seq > ?1 ORDER BY seq LIMIT 1"));
  std::int64_t after = 0;
  while (true) {
    scan.bind(1, after).bind(2, kBatch);
    std::int64_t read = 0;
    bool resumed = false;
    bool ended = false;  // damage reaches past the last row
    while (true) {
      auto row = scan.step();
      if (!row.ok()) {
        scan.reset();
        const auto next = resume_after_damage(probe, after, report.last_seq);
        damaged(report, after, next.value_or(0), row.error());
        if (!next || *next == 0) {
          ended = true;
          break;
        }
        after = *next - 1;
        resumed = true;
        break;
      }
      if (!*row) break;
      ++read;
      ++report.rows;
      const std::int64_t seq = scan.column_int(0);
      if (seq <= after) violation(report, seq, "sequence", "seq does not increase");
      if (seq > report.last_seq) violation(report, seq, "sequence", "seq is above the highest seq ever issued");
      after = seq;
      auto header = rows::decode_header(scan, meta.time_base_us);
      if (!header.ok()) {
        violation(report, seq, "decode", finding(header.error()));
        continue;
      }
      auto name = [&](std::int64_t id) -> const std::string* {
        auto it = names.find(id);
        return it == names.end() ? nullptr : &it->second;
      };
      if (!name(header->queue_id)) violation(report, seq, "decode", "unknown queue name id " + std::to_string(header->queue_id));
      if (header->owner_id != 0 && !name(header->owner_id)) {
        violation(report, seq, "decode", "unknown owner name id " + std::to_string(header->owner_id));
      }
      std::optional<Error> error;
      std::optional<std::string> key;
      if (header->has_key) {
        auto decoded = rows::decode_task_key(scan, seq);
        if (decoded.ok()) key = std::move(decoded).value();
        else violation(report, seq, "decode", finding(decoded.error()));
      } else if (!scan.is_null(11)) {
        if (Status decoded = decode_error_json(scan.column_text(11), error); !decoded.ok()) {
          violation(report, seq, "decode", "error column: " + decoded.error().message());
        }
      }
      const bool has_payload = !scan.is_null(12);
      const bool starts_task = header->kind == EventKind::Enqueued || header->kind == EventKind::Restored;
      if (starts_task && !has_payload) violation(report, seq, "payload", "a row that starts a task has no payload");
      if (has_payload && !starts_task) violation(report, seq, "payload", "only Enqueued and Restored rows carry a payload");
      std::string payload;
      if (has_payload) {
        payload = std::string(scan.column_blob(12));
        if (header->row_flags & rows::kPayloadJson) {
          if (std::string why = json_payload_problem(payload); !why.empty()) {
            violation(report, seq, "payload", "the payload is flagged JSON but " + why + " (docs/FORMAT.md)");
          }
        }
      }
      identities.check(report, *header);
      detail::RowFacts facts = detail::facts_of(*header);
      facts.owner = header->owner_id ? name(header->owner_id) : nullptr;
      facts.has_payload = has_payload;
      facts.payload = has_payload ? &payload : nullptr;
      facts.has_error = error.has_value();
      facts.error = error ? &*error : nullptr;
      facts.key = key ? &*key : nullptr;
      if (Status applied = queues[header->queue_id].apply(facts); !applied.ok()) {
        violation(report, seq, "state_machine", finding(applied.error()));
      }
    }
    scan.reset();
    if (progress) progress(report.rows, total);
    if (ended || (!resumed && read < kBatch)) break;
  }
  if (report.damaged.empty()) report.last_good_seq = after;
  return report;
}

}  // namespace hugo
