// DeterministicEffectStore: the `hugo_effects` table, claims, outcomes and replay checks.
//
// Invariants:
// - A row goes absent -> 'pending' (claim) -> 'done' (outcome), or 'pending' -> absent (a
//   cancellation or discard_pending). A 'done' row is never updated or deleted.
// - Every statement is constant text with bound parameters.
// - All statements run under Impl::mu (one connection per store); no effect runs under it.
#include <hugo/effects.hpp>
#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

#include "schema/file_probe.hpp"
#include "schema/sqlite.hpp"
#include "replay/effects/effect_rows.hpp"
#include "schema/schema.hpp"

#include <mutex>
#include <utility>

namespace hugo {

// This file's helpers. Named, not anonymous: DeterministicEffectStore::Impl holds some of their types, which g++
// rejects from an anonymous namespace in the library's unity units (meson.build).
namespace effect_store_parts {

constexpr std::string_view kCreateTable = R"sql(
CREATE TABLE IF NOT EXISTS hugo_effects (
  effect_id   TEXT PRIMARY KEY NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('hugo.effect', 'hugo.version')),
  version     INTEGER NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('pending', 'done')),
  type_tag    TEXT,
  is_success  INTEGER CHECK (is_success IN (0, 1)),
  value       BLOB,
  error       TEXT,
  claimed_at  INTEGER NOT NULL,
  recorded_at INTEGER,
  event_fingerprint INTEGER,
  CHECK ((state = 'done') = (recorded_at IS NOT NULL))
) STRICT;
CREATE INDEX IF NOT EXISTS hugo_effects_pending ON hugo_effects (claimed_at) WHERE state = 'pending';
)sql";

#define HUGO_EFFECT_COLUMNS \
  "effect_id, kind, version, state, type_tag, is_success, value, error, claimed_at, recorded_at"

// The statements that read rows, for a table with the event_fingerprint column and for one
// written before it (opened read-only, so never migrated).
struct Selects {
  std::string_view one;
  std::string_view all;
  std::string_view pending;
};
#define HUGO_EFFECT_SELECTS(LAST)                                                                            \
  Selects {                                                                                                  \
    "SELECT " HUGO_EFFECT_COLUMNS ", " LAST " FROM hugo_effects WHERE effect_id = ?1",                        \
        "SELECT " HUGO_EFFECT_COLUMNS ", " LAST " FROM hugo_effects ORDER BY claimed_at, effect_id",          \
        "SELECT " HUGO_EFFECT_COLUMNS ", " LAST                                                              \
        " FROM hugo_effects WHERE state = 'pending' ORDER BY claimed_at, effect_id"                          \
  }
constexpr Selects kSelects = HUGO_EFFECT_SELECTS("event_fingerprint");
constexpr Selects kSelectsWithoutFingerprint = HUGO_EFFECT_SELECTS("NULL");
#undef HUGO_EFFECT_SELECTS

constexpr std::string_view kHasFingerprintColumn =
    "SELECT count(*) FROM pragma_table_info('hugo_effects') WHERE name = 'event_fingerprint'";
constexpr std::string_view kAddFingerprintColumn = "ALTER TABLE hugo_effects ADD COLUMN event_fingerprint INTEGER";
constexpr std::string_view kClaim =
    "INSERT INTO hugo_effects (effect_id, kind, version, state, type_tag, claimed_at, event_fingerprint) "
    "VALUES (?1, 'hugo.effect', 0, 'pending', ?2, ?3, ?4) ON CONFLICT (effect_id) DO NOTHING RETURNING effect_id";
constexpr std::string_view kTakeOver =
    "UPDATE hugo_effects SET claimed_at = ?2, type_tag = ?3, event_fingerprint = coalesce(?4, event_fingerprint) "
    "WHERE effect_id = ?1 AND state = 'pending'";
// Writes over our claim; inserts if the claim vanished (another process discarded it); leaves a
// 'done' row alone (another process recorded first, and its outcome stands).
constexpr std::string_view kRecord =
    "INSERT INTO hugo_effects (effect_id, kind, version, state, type_tag, is_success, value, error, claimed_at, "
    "recorded_at, event_fingerprint) VALUES (?1, 'hugo.effect', 0, 'done', ?2, ?3, ?4, ?5, ?6, ?6, ?7) "
    "ON CONFLICT (effect_id) DO UPDATE SET state = 'done', type_tag = excluded.type_tag, "
    "is_success = excluded.is_success, value = excluded.value, error = excluded.error, "
    "recorded_at = excluded.recorded_at WHERE hugo_effects.state = 'pending' AND hugo_effects.kind = 'hugo.effect'";
constexpr std::string_view kDiscard =
    "DELETE FROM hugo_effects WHERE effect_id = ?1 AND state = 'pending' RETURNING effect_id";
constexpr std::string_view kInsertMarker =
    "INSERT INTO hugo_effects (effect_id, kind, version, state, claimed_at, recorded_at) "
    "VALUES (?1, 'hugo.version', ?2, 'done', ?3, ?3) ON CONFLICT (effect_id) DO NOTHING RETURNING effect_id";

#undef HUGO_EFFECT_COLUMNS

std::int64_t micros(Timestamp t) { return t.time_since_epoch().count(); }

// Binds the event's fingerprint (the INTEGER with the same 64 bits), or NULL.
void bind_fingerprint(sql::Stmt& stmt, int index, const EffectEvent* event) {
  if (event != nullptr) {
    stmt.bind(index, static_cast<std::int64_t>(event->fingerprint));
  } else {
    stmt.bind_null(index);
  }
}

// replication.checkpoint_ahead: `recorded` was captured for another event than `event`.
Error captured_for_another_event(const EffectRecord& recorded, const EffectEvent& event,
                                 const std::filesystem::path& path) {
  return Error::replication_checkpoint_ahead(
             "effect '" + recorded.effect_id + "' was captured for another event at seq " + std::to_string(event.seq) +
             " of journal " + event.journal_id +
             ": the journal lost its last commits (power loss at durability Process?) and issued the seq again; "
             "the recorded outcome belongs to the lost event (rebuild the consumer from the journal, or restore "
             "the journal from a copy that holds the event)")
      .with("consumer", path.string())
      .with("effectId", recorded.effect_id)
      .with("journal_id", event.journal_id)
      .with("checkpoint_seq", std::to_string(event.seq))
      .with("reason", "rewritten");
}

Error validation(std::string message, std::string_view effect_id) {
  return Error::validation(std::move(message)).with("effectId", std::string(effect_id));
}

// Runs `body` and turns any escaping std exception into an Error (no exception crosses the API).
template <class F>
auto guarded(std::string_view what, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& e) {
    return Error::exception(std::string(what) + " failed: " + e.what());
  }
}

}  // namespace effect_store_parts
using namespace effect_store_parts;

struct DeterministicEffectStore::Impl {
  sql::Db db;
  std::mutex mu;  // guards db
  std::shared_ptr<Clock> clock;
  DeterministicOptions options;
  std::filesystem::path path;
  std::string lock_scope;  // the canonical file path: captures serialize per (file, id)
  Selects selects = kSelects;

  // Requires mu. The row for `id`, or nullopt.
  Result<std::optional<EffectRecord>> select(std::string_view id) {
    HUGO_ASSIGN_OR_RETURN(sql::Stmt stmt, db.prepare(selects.one));
    stmt.bind(1, id);
    HUGO_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) return std::optional<EffectRecord>();
    HUGO_ASSIGN_OR_RETURN(EffectRecord record, replay::read_effect_row(stmt, path));
    return std::optional<EffectRecord>(std::move(record));
  }

  // Requires mu. Runs a RETURNING statement; true if it returned a row.
  static Result<bool> returned_row(sql::Stmt& stmt) {
    HUGO_ASSIGN_OR_RETURN(bool row, stmt.step());
    stmt.reset();
    return row;
  }
};

DeterministicEffectStore::DeterministicEffectStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DeterministicEffectStore::~DeterministicEffectStore() = default;

Result<std::unique_ptr<DeterministicEffectStore>> DeterministicEffectStore::open(const std::filesystem::path& db,
                                                                                 DeterministicOptions options) {
  return guarded("opening the effect store", [&]() -> Result<std::unique_ptr<DeterministicEffectStore>> {
    auto impl = std::make_unique<Impl>();
    impl->clock = options.clock ? options.clock : SystemClock::shared();
    impl->options = std::move(options);
    impl->path = db;
    if (impl->options.read_only) {
      std::error_code missing;
      if (!std::filesystem::exists(db, missing)) {
        return Error::journal_not_found("no effect store at " + db.string() + " (check the path)")
            .with("path", db.string());
      }
      // A read-only connection (immutable in a folder this process cannot write): no -wal, -shm
      // or mode switch on the file, and the table must already be there.
      HUGO_ASSIGN_OR_RETURN(impl->db, file_probe::open_read_only(db, impl->options.busy_timeout));
      impl->path = db;
      HUGO_ASSIGN_OR_RETURN(std::int64_t has_fingerprints, impl->db.query_int(kHasFingerprintColumn));
      if (has_fingerprints == 0) impl->selects = kSelectsWithoutFingerprint;
      return std::unique_ptr<DeterministicEffectStore>(new DeterministicEffectStore(std::move(impl)));
    } else {
      HUGO_ASSIGN_OR_RETURN(impl->db, sql::Db::open(db, sql::OpenMode::ReadWriteCreate, impl->options.busy_timeout));
    }
    HUGO_ASSIGN_OR_RETURN(std::int64_t app_id, impl->db.query_int("PRAGMA application_id"));
    if (app_id == schema::kApplicationId) {
      return Error::validation("this file is a hugo journal; keep effects in the sink's own database, not in the journal")
          .with("path", db.string());
    }
    HUGO_ASSIGN_OR_RETURN(sql::Stmt mode, impl->db.prepare("PRAGMA journal_mode = WAL"));
    HUGO_ASSIGN_OR_RETURN(bool row, mode.step());
    if (!row || mode.column_text(0) != "wal") {
      return Error::journal_io("could not switch the effect store to WAL mode")
          .with("path", db.string());
    }
    mode.reset();
    HUGO_TRY(impl->db.exec("PRAGMA synchronous = FULL"));
    {
      // A table from before the event_fingerprint column gets it; its rows keep NULL.
      HUGO_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::begin(impl->db, true));
      HUGO_TRY(impl->db.exec(kCreateTable));
      HUGO_ASSIGN_OR_RETURN(std::int64_t has_fingerprints, impl->db.query_int(kHasFingerprintColumn));
      if (has_fingerprints == 0) HUGO_TRY(impl->db.exec(kAddFingerprintColumn));
      HUGO_TRY(txn.commit());
    }
    std::error_code ec;
    std::filesystem::path canonical = std::filesystem::canonical(db, ec);
    impl->lock_scope = ec ? std::filesystem::absolute(db).lexically_normal().string() : canonical.string();
    return std::unique_ptr<DeterministicEffectStore>(new DeterministicEffectStore(std::move(impl)));
  });
}

const std::filesystem::path& DeterministicEffectStore::path() const noexcept { return impl_->path; }
Clock& DeterministicEffectStore::clock() const noexcept { return *impl_->clock; }

Result<detail::EffectLock> DeterministicEffectStore::lock_effect(std::string_view effect_id,
                                                                 std::string_view type_tag) {
  if (detail::is_blank(effect_id)) return validation("An effect id must not be blank.", effect_id);
  if (detail::is_blank(type_tag)) {
    return validation("A type tag must not be blank; name the value type explicitly.", effect_id);
  }
  return guarded("locking the effect id", [&]() -> Result<detail::EffectLock> {
    std::string key = impl_->lock_scope;
    key.push_back('\0');
    key.append(effect_id);
    if (!replay::acquire_effect_lock(key)) {
      return validation("Effect '" + std::string(effect_id) +
                            "' is already being captured on this thread; a nested capture needs its own id.",
                        effect_id);
    }
    return detail::EffectLock(std::move(key));
  });
}

Result<DeterministicEffectStore::Claim> DeterministicEffectStore::claim(std::string_view effect_id,
                                                                         std::string_view type_tag,
                                                                         const EffectEvent* event) {
  return guarded("claiming the effect", [&]() -> Result<Claim> {
    std::lock_guard lock(impl_->mu);
    // A row captured for another event (pending or done) is never replayed or taken over.
    auto same_event = [&](const std::optional<EffectRecord>& row) -> Status {
      if (!row || event == nullptr || !row->event_fingerprint) return ok_status();
      if (*row->event_fingerprint == event->fingerprint) return ok_status();
      return captured_for_another_event(*row, *event, impl_->path);
    };
    // Fast path: a replay needs no write lock.
    HUGO_ASSIGN_OR_RETURN(std::optional<EffectRecord> existing, impl_->select(effect_id));
    HUGO_TRY(same_event(existing));
    if (existing && existing->state == EffectState::Done) return Claim{std::move(existing)};

    HUGO_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::begin(impl_->db, true));
    const Timestamp now = impl_->clock->now();
    HUGO_ASSIGN_OR_RETURN(sql::Stmt insert, impl_->db.prepare(kClaim));
    insert.bind(1, effect_id).bind(2, type_tag).bind(3, micros(now));
    bind_fingerprint(insert, 4, event);
    HUGO_ASSIGN_OR_RETURN(bool inserted, Impl::returned_row(insert));
    if (inserted) {
      HUGO_TRY(txn.commit());
      return Claim{};
    }
    HUGO_ASSIGN_OR_RETURN(existing, impl_->select(effect_id));
    HUGO_TRY(same_event(existing));
    if (!existing || existing->state == EffectState::Done) {
      HUGO_TRY(txn.commit());
      if (!existing) return Error::journal_io("the effect row vanished inside a write transaction");
      return Claim{std::move(existing)};
    }
    // A claim without an outcome: the claimer died, or another process is running the effect.
    if (impl_->options.on_indeterminate == IndeterminatePolicy::Fail) {
      return Error::deterministic_indeterminate("Effect '" + std::string(effect_id) + "' was claimed at " + format_iso8601(existing->claimed_at) +
                       " but no outcome was recorded, so it may or may not have run. Check its side effect, then "
                       "call discard_pending() to let the next capture run it.")
          .with("effectId", std::string(effect_id))
          .with("claimedAt", format_iso8601(existing->claimed_at));
    }
    HUGO_ASSIGN_OR_RETURN(sql::Stmt take_over, impl_->db.prepare(kTakeOver));
    take_over.bind(1, effect_id).bind(2, micros(now)).bind(3, type_tag);
    bind_fingerprint(take_over, 4, event);
    HUGO_TRY(take_over.run());
    HUGO_TRY(txn.commit());
    return Claim{};
  });
}

Result<EffectRecord> DeterministicEffectStore::record(std::string_view effect_id, std::string_view type_tag,
                                                      bool success, std::string_view value, const Error* error,
                                                      const EffectEvent* event) {
  return guarded("recording the effect outcome", [&]() -> Result<EffectRecord> {
    std::string error_json;
    if (error != nullptr) encode_error_json(*error, error_json);
    std::lock_guard lock(impl_->mu);
    HUGO_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::begin(impl_->db, true));
    HUGO_ASSIGN_OR_RETURN(sql::Stmt upsert, impl_->db.prepare(kRecord));
    upsert.bind(1, effect_id).bind(2, type_tag).bind(3, std::int64_t{success ? 1 : 0});
    if (success) {
      upsert.bind_blob(4, value).bind_null(5);
    } else {
      upsert.bind_null(4).bind(5, error_json);
    }
    bind_fingerprint(upsert, 7, event);
    HUGO_TRY(upsert.bind(6, micros(impl_->clock->now())).run());
    HUGO_ASSIGN_OR_RETURN(std::optional<EffectRecord> stored, impl_->select(effect_id));
    HUGO_TRY(txn.commit());
    if (!stored) return Error::journal_io("the recorded effect row cannot be read back");
    return std::move(*stored);
  });
}

Result<bool> DeterministicEffectStore::insert_version_marker(std::string_view change_id, int version,
                                                             Timestamp now) {
  return guarded("recording the version marker", [&]() -> Result<bool> {
    std::lock_guard lock(impl_->mu);
    HUGO_ASSIGN_OR_RETURN(sql::Stmt insert, impl_->db.prepare(kInsertMarker));
    insert.bind(1, change_id).bind(2, std::int64_t{version}).bind(3, micros(now));
    return Impl::returned_row(insert);
  });
}

Result<std::optional<EffectRecord>> DeterministicEffectStore::find(std::string_view effect_id) {
  if (detail::is_blank(effect_id)) return validation("An effect id must not be blank.", effect_id);
  return guarded("reading the effect", [&]() -> Result<std::optional<EffectRecord>> {
    std::lock_guard lock(impl_->mu);
    return impl_->select(effect_id);
  });
}

Result<std::vector<EffectRecord>> DeterministicEffectStore::list(bool pending_only) {
  return guarded("listing effects", [&]() -> Result<std::vector<EffectRecord>> {
    std::lock_guard lock(impl_->mu);
    HUGO_ASSIGN_OR_RETURN(sql::Stmt stmt, impl_->db.prepare(pending_only ? impl_->selects.pending : impl_->selects.all));
    std::vector<EffectRecord> out;
    while (true) {
      HUGO_ASSIGN_OR_RETURN(bool row, stmt.step());
      if (!row) return out;
      HUGO_ASSIGN_OR_RETURN(EffectRecord record, replay::read_effect_row(stmt, impl_->path));
      out.push_back(std::move(record));
    }
  });
}

Result<bool> DeterministicEffectStore::discard_pending(std::string_view effect_id) {
  if (detail::is_blank(effect_id)) return validation("An effect id must not be blank.", effect_id);
  return guarded("discarding the claim", [&]() -> Result<bool> {
    std::lock_guard lock(impl_->mu);
    HUGO_ASSIGN_OR_RETURN(sql::Stmt remove, impl_->db.prepare(kDiscard));
    remove.bind(1, effect_id);
    return Impl::returned_row(remove);
  });
}

Status DeterministicEffectStore::check_replayable(const EffectRecord& record, std::string_view type_tag) {
  if (record.kind != kEffectKind) {
    return Error::deterministic_replay("Record '" + record.effect_id + "' has kind '" + record.kind + "', not '" + std::string(kEffectKind) +
                     "': an effect id must not reuse a version marker's id.")
        .with("effectId", record.effect_id)
        .with("kind", record.kind);
  }
  if (record.state != EffectState::Done) {
    return Error::deterministic_replay("Effect '" + record.effect_id + "' has no recorded outcome.")
        .with("effectId", record.effect_id);
  }
  const std::string stored = record.type_tag.value_or("");
  if (stored != type_tag) {
    return Error::deterministic_replay("Effect '" + record.effect_id + "' was recorded as type '" + stored + "' but is replayed as '" +
                     std::string(type_tag) + "'.")
        .with("effectId", record.effect_id)
        .with("storedType", stored)
        .with("requestedType", std::string(type_tag));
  }
  return ok_status();
}

Error DeterministicEffectStore::recorded_failure(const EffectRecord& record) {
  if (record.error) return *record.error;
  return Error::unspecified("Effect '" + record.effect_id + "' recorded a failure without an error.")
      .with("effectId", record.effect_id);
}

}  // namespace hugo
