// JournalImporter: rebuilds a journal file from events, keeping seqs and the journal id. The file
// is built beside its target and renamed into place by finish() (schema/staged_file.hpp); until
// then its application id is 0, so every reader refuses the temp as not a journal.
#include <hugo/error_codes.hpp>
#include <hugo/journal_admin.hpp>

#include "journal/queue_guard.hpp"
#include "journal/lease_guids.hpp"
#include "journal/rows.hpp"
#include "schema/sqlite.hpp"
#include "schema/staged_file.hpp"
#include "journal/task_sequence_ids.hpp"
#include "schema/schema.hpp"

#include <utility>

#include <unordered_map>

namespace hugo {
namespace {

constexpr std::size_t kRowsPerTransaction = 20000;

// The input, not the call, is wrong: codec.invalid, like an undecodable line (docs/ERRORS.md).
Error invalid_import(std::int64_t seq, std::string_view field, std::string why) {
  return Error::codec_invalid("cannot import event " + std::to_string(seq) + ": " + why)
      .with("seq", std::to_string(seq))
      .with("field", std::string(field));
}

// codec.invalid: the input is well-formed, but the event cannot follow the ones before it.
Error invalid_transition(const Event& e, const std::string& rule) {
  return Error::codec_invalid("cannot import event " + std::to_string(e.seq) + ": " + std::string(to_string(e.kind)) + " of task " +
                   std::to_string(e.task_id) + " in queue '" + e.queue + "' is not a valid transition: " + rule +
                   " (fix the input, or import with skip-invalid to leave such events out)")
      .with("seq", std::to_string(e.seq))
      .with("task", std::to_string(e.task_id))
      .with("kind", std::string(to_string(e.kind)))
      .with("rule", rule);
}

}  // namespace

struct JournalImporter::Impl {
  staged::StagedFile file;  // declared before db: the connection closes first
  sql::Db db;
  std::optional<rows::Meta> meta;
  std::optional<rows::EventInserter> inserter;
  std::vector<Event> pending;
  ImportOptions options;
  detail::QueueGuard history;  // every queue's fold so far, to check each event's transition
  std::vector<SkippedRow> skipped;
  std::int64_t last_seq = 0;
  std::int64_t imported = 0;
  bool finished = false;
  // Foreign lease GUIDs (docs/MIGRATION.md, "Hugo lease ids"): those of the rows not yet flushed
  // here, the flushed ones in the lease_guids table.
  std::optional<lease_guids::Lookup> guids;
  std::unordered_map<std::string, std::int64_t> unflushed_guids;
  // Hugo task ids (docs/MIGRATION.md, "Hugo task ids"); set up by start().
  std::optional<task_sequence_ids::ImportMap> task_ids;

  // The first event fixes the journal id and the time base.
  Status start(const Event& first) {
    HUGO_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::begin(db, true));
    HUGO_TRY(schema::migrate(db));
    HUGO_TRY(db.exec("PRAGMA application_id = 0"));  // not a journal to anyone until finish()
    HUGO_TRY(rows::init_meta(db, first.occurred_at, first.journal_id.value_or(std::string())));
    HUGO_TRY(rows::record_durability(db, "fsync"));
    HUGO_TRY(txn.commit());
    task_ids.emplace(db);
    // `meta` is set last: add() starts again while it is unset.
    HUGO_ASSIGN_OR_RETURN(rows::Meta loaded, rows::load_meta(db, schema::kCurrentVersion));
    HUGO_ASSIGN_OR_RETURN(auto created, rows::EventInserter::create(db, loaded));
    inserter.emplace(std::move(created));
    meta = std::move(loaded);
    return ok_status();
  }

  Status flush() {
    if (pending.empty()) return ok_status();
    HUGO_TRY(inserter->insert_all(pending, [this]() -> Status {
      for (const auto& [guid, lease] : unflushed_guids) HUGO_TRY(guids->add(lease, guid));
      return task_ids->flush();
    }));
    imported += static_cast<std::int64_t>(pending.size());
    pending.clear();
    unflushed_guids.clear();
    return ok_status();
  }

  // An event that is not a valid transition: refused, or left out under skip_invalid.
  Status refuse_or_skip(const Event& e, std::string rule) {
    if (!options.skip_invalid) return invalid_transition(e, rule);
    skipped.push_back(SkippedRow{e.seq, e.task_id, e.kind, std::move(rule)});
    last_seq = e.seq;
    return ok_status();
  }

  // Gives a token that carries a foreign GUID the journal lease id that GUID maps to: the seq of
  // the first row naming it (its LeaseGranted row in a whole stream), so that it names one lease.
  Status map_lease_guid(Event& e) {
    if (!e.lease_guid || !e.token) return ok_status();
    const std::string& guid = *e.lease_guid;
    if (!guids) {
      HUGO_TRY(lease_guids::create(db));
      guids.emplace(db);
    }
    std::optional<std::int64_t> lease;
    if (auto it = unflushed_guids.find(guid); it != unflushed_guids.end()) {
      lease = it->second;
    } else {
      HUGO_ASSIGN_OR_RETURN(lease, guids->lease_of(guid));
    }
    if (lease && e.kind == EventKind::LeaseGranted) {
      return Error::validation("cannot import event " + std::to_string(e.seq) + ": lease GUID " +
                                                      guid + " was granted before, at seq " + std::to_string(*lease) +
                                                      " (a GUID names one lease)")
          .with("seq", std::to_string(e.seq))
          .with("lease_guid", guid);
    }
    if (!lease) {
      lease = e.seq;
      unflushed_guids.emplace(guid, e.seq);
    }
    e.token->lease_id = *lease;
    e.lease_guid.reset();
    return ok_status();
  }

};

JournalImporter::JournalImporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JournalImporter::~JournalImporter() = default;

Result<std::unique_ptr<JournalImporter>> JournalImporter::create(const std::filesystem::path& journal,
                                                                 ImportOptions options) {
  std::error_code ec;
  if (std::filesystem::exists(journal, ec)) {
    return Error::validation(journal.string() + " already exists; import only rebuilds into a new file (pick another path)")
        .with("path", journal.string());
  }
  auto impl = std::make_unique<Impl>();
  HUGO_ASSIGN_OR_RETURN(impl->file, staged::StagedFile::begin(journal, "import"));
  HUGO_ASSIGN_OR_RETURN(impl->db,
                        sql::Db::open(impl->file.temp(), sql::OpenMode::ReadWriteCreate, options.busy_timeout));
  impl->options = options;
  HUGO_TRY(impl->db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"));
  return std::unique_ptr<JournalImporter>(new JournalImporter(std::move(impl)));
}

Status JournalImporter::add(const Event& input) {
  Impl& m = *impl_;
  if (m.finished) return Error::validation("add() after finish()");
  if (input.seq <= m.last_seq) {
    return invalid_import(input.seq, "sequenceNumber",
                          "seqs must increase, and the event before it has seq " + std::to_string(m.last_seq));
  }
  if (!m.meta) HUGO_TRY(m.start(input));
  if (input.journal_id && *input.journal_id != m.meta->journal_id) {
    return invalid_import(input.seq, "journalId",
                          "it comes from journal " + *input.journal_id + ", not " + m.meta->journal_id);
  }
  Event e = input;
  // Exports may carry payloads hydrated onto every row; only a task's first row stores one.
  if (e.kind != EventKind::Enqueued && e.kind != EventKind::Restored) e.payload.reset();
  e.source_event_id = e.seq;
  e.recorded_at = e.occurred_at;
  HUGO_ASSIGN_OR_RETURN(std::optional<std::string> unknown_task, m.task_ids->map(e));
  if (unknown_task) return m.refuse_or_skip(e, std::move(*unknown_task));
  HUGO_TRY(m.map_lease_guid(e));
  if (Status valid = rows::validate_for_append(e); !valid.ok()) {
    Error refused = invalid_import(e.seq, "event", valid.error().message());
    for (const auto& [key, value] : valid.error().metadata()) {
      if (!refused.find(key)) refused.with(key, value);
    }
    return refused;
  }
  if (auto rule = m.history.try_fold(e)) return m.refuse_or_skip(e, std::move(*rule));
  m.task_ids->keep();
  m.last_seq = e.seq;
  m.pending.push_back(std::move(e));
  if (m.pending.size() >= kRowsPerTransaction) HUGO_TRY(m.flush());
  return ok_status();
}

const std::vector<SkippedRow>& JournalImporter::skipped() const { return impl_->skipped; }

Result<std::int64_t> JournalImporter::finish() {
  Impl& m = *impl_;
  if (m.finished) return m.imported;
  if (!m.meta) {
    // An empty import still makes a valid, empty journal.
    Event none;
    none.occurred_at = Timestamp{};
    HUGO_TRY(m.start(none));
  }
  HUGO_TRY(m.flush());
  HUGO_TRY(m.db.exec("PRAGMA synchronous = FULL"));
  HUGO_TRY(m.db.exec("PRAGMA application_id = " + std::to_string(schema::kApplicationId)));
  m.inserter.reset();
  HUGO_TRY(m.file.publish(std::exchange(m.db, sql::Db())));
  m.finished = true;
  return m.imported;
}

}  // namespace hugo
