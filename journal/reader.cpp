// JournalReader: a read-only connection for other threads and processes. It never takes the
// writer lock and never writes, so it is safe beside a live writer.
#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

#include "schema/file_identity.hpp"
#include "journal/lease_guids.hpp"
#include "schema/file_probe.hpp"
#include "journal/task_sequence_ids.hpp"
#include "journal/rows.hpp"
#include "schema/wal_files.hpp"
#include "schema/sqlite.hpp"
#include "schema/schema.hpp"

#include <algorithm>
#include <system_error>

#include <unistd.h>

namespace hugo {
namespace {

Error replaced(const std::filesystem::path& path, const std::string& journal_id, std::string_view reason,
               std::string what) {
  return Error::journal_replaced("the journal at " + path.string() + " " + what +
                   " since this reader opened it; it no longer holds the history this reader was reading "
                   "(reopen it, and restart consumers from the new journal's checkpoints)")
      .with("path", path.string())
      .with("journal_id", journal_id)
      .with("reason", std::string(reason));
}

// The journal id and last issued seq a connection sees.
struct Tip {
  std::string journal_id;
  std::int64_t last_seq = 0;
};

Result<Tip> tip_of(sql::Db& db, sql::Stmt& journal_id_of) {
  auto row = journal_id_of.step();
  Tip tip;
  if (row.ok() && *row) tip.journal_id = std::string(journal_id_of.column_text(0));
  journal_id_of.reset();
  if (!row.ok()) return std::move(row).error();
  HUGO_ASSIGN_OR_RETURN(tip.last_seq, rows::last_issued_seq(db));
  return tip;
}

constexpr std::string_view kJournalIdOf = "SELECT value FROM meta WHERE key = 'journal_id'";

}  // namespace

struct JournalReader::Impl {
  std::filesystem::path path;
  std::chrono::milliseconds busy_timeout{};
  sql::Db db;
  bool immutable = false;
  std::optional<rows::EventSelector> selector;
  std::optional<sql::Stmt> data_version;
  std::optional<sql::Stmt> payload_of;
  std::optional<sql::Stmt> journal_id_of;
  std::optional<lease_guids::Lookup> guids;  // prepared on first use
  std::optional<task_sequence_ids::Lookup> task_ids;  // prepared on first use
  std::int64_t last_data_version = -1;  // for changed()
  // What this reader opened and has seen of it; check_identity() compares.
  FileIdentity opened_as;
  FileIdentity seen;                  // the main file at the last check
  std::optional<FileIdentity> shm;    // the -shm this connection indexes the WAL with (none if immutable)
  std::int64_t checked_version = -1;  // data_version at the last check
  std::int64_t high_water = 0;        // highest seq read() returned

  Result<std::int64_t> data_version_now() {
    sql::Stmt& stmt = *data_version;
    HUGO_ASSIGN_OR_RETURN(bool row, stmt.step());
    const std::int64_t version = row ? stmt.column_int(0) : 0;
    stmt.reset();
    return version;
  }

  // journal.replaced if the path now names another file or nothing, or the file now holds
  // another journal (another journal id) or an older copy of this one (its last seq is below
  // what read() returned); journal.shm_missing if the -shm this connection uses was removed or
  // replaced. Costs two stat()s; the id and last seq are queried only after another
  // connection committed, and through a fresh connection only after the main file was written
  // (a checkpoint, or bytes copied over it, which this connection's page cache would not see).
  Status check_identity() {
    const std::string& id = selector->meta().journal_id;
    const auto now = FileIdentity::of(path);
    if (!now) return replaced(path, id, "removed", "was removed");
    if (!now->same_file(opened_as)) return replaced(path, id, "replaced", "was replaced by another file");
    const bool rewritten = !now->unchanged(seen);
    Status verdict = check_tip(rewritten);
    // Bytes copied over a WAL journal while this reader holds its -shm do not read back as a
    // database (the index still describes the old file): a replacement, not damage.
    if (!verdict.ok() && rewritten && verdict.error().code() == errc::journal_corrupt) {
      return replaced(path, id, "rewritten", "was overwritten in place and no longer reads as this journal")
          .with("detail", verdict.error().message());
    }
    if (!verdict.ok()) return verdict;
    seen = *now;
    return shm ? wal_files::check_shm_unchanged(path, *shm, id, "reader") : ok_status();
  }

  Status check_tip(bool rewritten) {
    const std::string& id = selector->meta().journal_id;
    HUGO_ASSIGN_OR_RETURN(std::int64_t version, data_version_now());
    if (version == checked_version && !rewritten) return ok_status();
    Result<Tip> tip = Tip{};
    if (rewritten) {
      HUGO_ASSIGN_OR_RETURN(
          sql::Db fresh, sql::Db::open(path, immutable ? sql::OpenMode::ReadOnlyImmutable : sql::OpenMode::ReadOnly,
                                       busy_timeout));
      HUGO_ASSIGN_OR_RETURN(sql::Stmt stmt, fresh.prepare(kJournalIdOf));
      tip = tip_of(fresh, stmt);
    } else {
      tip = tip_of(db, *journal_id_of);
    }
    if (!tip.ok()) return std::move(tip).error();
    if (tip->journal_id != id) {
      return replaced(path, id, "journal_id",
                      "now holds journal " + (tip->journal_id.empty() ? "<none>" : tip->journal_id))
          .with("found_journal_id", tip->journal_id);
    }
    if (tip->last_seq < high_water) {
      return replaced(path, id, "rewound",
                      "went back to seq " + std::to_string(tip->last_seq) + " after this reader read seq " +
                          std::to_string(high_water))
          .with("last_seq", std::to_string(tip->last_seq))
          .with("read_seq", std::to_string(high_water));
    }
    checked_version = version;
    return ok_status();
  }
};

JournalReader::JournalReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JournalReader::~JournalReader() = default;

Result<std::unique_ptr<JournalReader>> JournalReader::open(const std::filesystem::path& path,
                                                         std::chrono::milliseconds busy_timeout) {
  HUGO_TRY(rows::check_journal_file(path, busy_timeout));
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->busy_timeout = busy_timeout;
  const auto opened_as = FileIdentity::of(path);
  if (!opened_as) {
    return Error::journal_io("cannot stat " + path.string() + " (check the path and permissions)")
        .with("path", path.string());
  }
  impl->opened_as = impl->seen = *opened_as;
  HUGO_ASSIGN_OR_RETURN(impl->db, file_probe::open_read_only(path, busy_timeout, impl->immutable));
  if (!impl->immutable) impl->shm = wal_files::shm_identity(path);  // the first read opened it
  HUGO_ASSIGN_OR_RETURN(int version, schema::check_readable(impl->db));
  HUGO_ASSIGN_OR_RETURN(rows::Meta meta, rows::load_meta(impl->db, version));
  HUGO_ASSIGN_OR_RETURN(auto selector, rows::EventSelector::create(impl->db, std::move(meta)));
  impl->selector.emplace(std::move(selector));
  HUGO_ASSIGN_OR_RETURN(auto data_version, impl->db.prepare("PRAGMA data_version"));
  impl->data_version.emplace(std::move(data_version));
  HUGO_ASSIGN_OR_RETURN(auto payload_of, impl->db.prepare("SELECT payload, flags FROM events WHERE seq = ?1"));
  impl->payload_of.emplace(std::move(payload_of));
  HUGO_ASSIGN_OR_RETURN(auto journal_id_of, impl->db.prepare(kJournalIdOf));
  impl->journal_id_of.emplace(std::move(journal_id_of));
  return std::unique_ptr<JournalReader>(new JournalReader(std::move(impl)));
}

// The identity check follows the read, so a batch read from a file that changed under it is
// dropped, not returned.
Result<std::vector<Event>> JournalReader::read(std::int64_t after, std::size_t max) {
  auto events = impl_->selector->read(after, max);
  HUGO_TRY(impl_->check_identity());  // a replaced file explains a read error better than the error does
  if (!events.ok()) return events;
  if (!events->empty()) impl_->high_water = std::max(impl_->high_water, events->back().seq);
  return events;
}

Result<std::int64_t> JournalReader::last_seq() {
  HUGO_TRY(impl_->check_identity());
  return rows::last_issued_seq(impl_->db);
}

Result<JournalInfo> JournalReader::info() {
  HUGO_TRY(impl_->check_identity());
  return impl_->selector->info();
}

Result<bool> JournalReader::changed() {
  HUGO_TRY(impl_->check_identity());
  HUGO_ASSIGN_OR_RETURN(const std::int64_t version, impl_->data_version_now());
  const bool changed = version != impl_->last_data_version;
  impl_->last_data_version = version;
  return changed;
}

Result<std::optional<StoredPayload>> JournalReader::task_payload(std::int64_t task_id) {
  sql::Stmt& stmt = *impl_->payload_of;
  stmt.bind(1, task_id);
  auto row = stmt.step();
  std::optional<StoredPayload> payload;
  if (row.ok() && *row && !stmt.is_null(0)) {
    payload = StoredPayload{std::string(stmt.column_blob(0)),
                            (stmt.column_int(1) & rows::kPayloadJson) ? PayloadFormat::Json : PayloadFormat::Bytes};
  }
  stmt.reset();
  if (!row.ok()) return std::move(row).error();
  return payload;
}

Result<std::optional<std::string>> JournalReader::lease_guid(std::int64_t lease_id) {
  if (!impl_->guids) impl_->guids.emplace(impl_->db);
  return impl_->guids->guid_of(lease_id);
}

Result<std::optional<std::int64_t>> JournalReader::task_sequence_id(std::int64_t task_id) {
  if (!impl_->task_ids) impl_->task_ids.emplace(impl_->db);
  return impl_->task_ids->sequence_id_of(task_id);
}

const std::string& JournalReader::journal_id() const { return impl_->selector->meta().journal_id; }

}  // namespace hugo
