// JournalReader: a read-only connection for other threads and processes. It never takes the
// writer lock and never writes, so it is safe beside a live writer.
#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

#include "journal/rows.hpp"
#include "journal/sqlite.hpp"
#include "schema/schema.hpp"

#include <system_error>

namespace hugo {

struct JournalReader::Impl {
  sql::Db db;
  std::optional<rows::EventSelector> selector;
  std::optional<sql::Stmt> data_version;
  std::optional<sql::Stmt> payload_of;
  std::int64_t last_data_version = -1;
};

JournalReader::JournalReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JournalReader::~JournalReader() = default;

Result<std::unique_ptr<JournalReader>> JournalReader::open(const std::filesystem::path& path) {
  HUGO_TRY(rows::check_journal_file(path));
  auto impl = std::make_unique<Impl>();
  HUGO_ASSIGN_OR_RETURN(impl->db, sql::Db::open(path, sql::OpenMode::ReadOnly, std::chrono::milliseconds(5000)));
  HUGO_ASSIGN_OR_RETURN(int version, schema::check_readable(impl->db));
  HUGO_ASSIGN_OR_RETURN(rows::Meta meta, rows::load_meta(impl->db, version));
  HUGO_ASSIGN_OR_RETURN(auto selector, rows::EventSelector::create(impl->db, std::move(meta)));
  impl->selector.emplace(std::move(selector));
  HUGO_ASSIGN_OR_RETURN(auto data_version, impl->db.prepare("PRAGMA data_version"));
  impl->data_version.emplace(std::move(data_version));
  HUGO_ASSIGN_OR_RETURN(auto payload_of, impl->db.prepare("SELECT payload, flags FROM events WHERE seq = ?1"));
  impl->payload_of.emplace(std::move(payload_of));
  return std::unique_ptr<JournalReader>(new JournalReader(std::move(impl)));
}

Result<std::vector<Event>> JournalReader::read(std::int64_t after, std::size_t max) {
  return impl_->selector->read(after, max);
}

Result<std::int64_t> JournalReader::last_seq() { return rows::last_issued_seq(impl_->db); }

Result<JournalInfo> JournalReader::info() { return impl_->selector->info(); }

Result<bool> JournalReader::changed() {
  sql::Stmt& stmt = *impl_->data_version;
  HUGO_ASSIGN_OR_RETURN(bool row, stmt.step());
  const std::int64_t version = row ? stmt.column_int(0) : 0;
  stmt.reset();
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

const std::string& JournalReader::journal_id() const { return impl_->selector->meta().journal_id; }

}  // namespace hugo
