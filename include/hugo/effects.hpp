// The effect store: capture an effect's outcome once, replay it forever after, in the
// `hugo_effects` table of a sink's database. docs/DETERMINISTIC.md is the guide and documents the
// table. This header is untyped (no cereal): capture() is declared here and defined by
// <hugo/effect_capture.hpp>, which every caller of capture() includes.
//
// Contracts (docs/DETERMINISTIC.md, with the fixes of its "Differences from Hugo"):
// - An effect id is claimed by insert-if-absent (state 'pending') before the effect runs, and the
//   outcome is written over the claim (state 'done') after. A 'done' row is never overwritten.
// - Successes and failures (returned Errors, thrown exceptions as error.exception) are recorded
//   and replayed; cancellation (a thrown OperationCanceled or a returned error.canceled) is not.
// - Every capture returns the *stored* outcome, decoded from the row, so a first run and a replay
//   return identical values and identical Errors.
// - Value types are identified by stable, explicit tags (EffectTypeTag), never compiler names.
// - No exception crosses this API: effect exceptions become Errors, storage failures are the
//   journal.* codes of the SQLite adapter, cereal failures are errors too.
//
// Thread-safety: the store is thread-safe. Captures of one effect id on one database file are
// serialized within the process, so concurrent first captures in one process run the effect once.
#pragma once

#include <hugo/durability.hpp>
#include <hugo/error.hpp>
#include <hugo/export.hpp>
#include <hugo/time.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hugo {

// Thrown by an effect (or a workflow branch) to cancel it. The capture returns error.canceled and
// records nothing, so the next capture of the same id runs the effect again.
class OperationCanceled : public std::exception {
 public:
  OperationCanceled() = default;
  explicit OperationCanceled(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_ = "The operation was canceled.";
};

// Stable type tags (docs/DETERMINISTIC.md, "Type tags"). PERSISTED: a tag is stored with every
// outcome and compared on replay; never rename one. Specialize EffectTypeTag<T> for your own types
// with a name that states the schema version, or pass the tag to capture() explicitly.
template <class T>
struct EffectTypeTag;  // undefined: no tag is derived from a compiler-generated name
template <> struct EffectTypeTag<bool> { static constexpr std::string_view value = "bool"; };
template <> struct EffectTypeTag<std::int32_t> { static constexpr std::string_view value = "int32"; };
template <> struct EffectTypeTag<std::int64_t> { static constexpr std::string_view value = "int64"; };
template <> struct EffectTypeTag<std::uint64_t> { static constexpr std::string_view value = "uint64"; };
template <> struct EffectTypeTag<double> { static constexpr std::string_view value = "double"; };
template <> struct EffectTypeTag<std::string> { static constexpr std::string_view value = "string"; };
template <> struct EffectTypeTag<std::vector<std::uint8_t>> { static constexpr std::string_view value = "bytes"; };

template <class T>
concept HasEffectTypeTag = requires {
  { EffectTypeTag<T>::value } -> std::convertible_to<std::string_view>;
};

template <class T>
constexpr std::string_view effect_type_tag() {
  static_assert(HasEffectTypeTag<T>, "no stable type tag for T: specialize hugo::EffectTypeTag<T> or pass a tag");
  return EffectTypeTag<T>::value;
}

// What a capture does when it finds a claim without an outcome.
enum class IndeterminatePolicy {
  Rerun,  // take the claim over and run the effect (it may run twice; docs/DETERMINISTIC.md)
  Fail,   // return error.deterministic.indeterminate; an operator resolves it (discard_pending)
};

struct DeterministicOptions {
  std::shared_ptr<Clock> clock;  // null: SystemClock. Stamps claimed_at and recorded_at.
  IndeterminatePolicy on_indeterminate = IndeterminatePolicy::Rerun;
  std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout;  // SQLite lock wait before journal.busy
  // Only read an existing store (list, find): no file is created, the database is never switched
  // to WAL, it may live in a read-only folder, and every write fails (journal.read_only).
  bool read_only = false;
};

// PERSISTED kind strings (column `kind`).
inline constexpr std::string_view kEffectKind = "hugo.effect";
inline constexpr std::string_view kVersionKind = "hugo.version";

enum class EffectState { Pending, Done };

// One row of `hugo_effects`, decoded.
struct EffectRecord {
  std::string effect_id;
  std::string kind;  // kEffectKind or kVersionKind
  int version = 0;   // 0 for effects; the decided version for version markers
  EffectState state = EffectState::Pending;
  std::optional<std::string> type_tag;  // effects that are done (and claims: the claimer's tag)
  std::optional<bool> is_success;       // effects that are done
  std::string value;                    // cereal portable-binary bytes of a success
  std::optional<Error> error;           // a recorded failure, exactly as stored
  Timestamp claimed_at{};
  std::optional<Timestamp> recorded_at;  // set iff state == Done
  // The fingerprint of the event the effect was captured for (capture_for_event); nullopt for
  // other captures and rows written before the column (docs/FORMAT.md, "Consumer fingerprints").
  std::optional<std::uint64_t> event_fingerprint;
};

// The journal event an effect is captured for: the fingerprint is stored with the claim, and a
// later capture of the same id for another event is refused (docs/REPLICATION.md, "When the
// journal lost commits").
struct EffectEvent {
  std::string journal_id;
  std::int64_t seq = 0;
  std::uint64_t fingerprint = 0;  // event_fingerprint() (<hugo/replication.hpp>)
};

class DeterministicEffectStore;
class VersionGate;

namespace detail {

// The typed capture of values of T. Only declared here: <hugo/effect_capture.hpp> defines it, and
// a capture() compiled without that header fails here as an incomplete type.
template <class T>
struct EffectCapture;

HUGO_API Error error_from_exception(const std::exception& e, std::string_view effect_id);
HUGO_API Error error_from_unknown_exception(std::string_view effect_id);
// codec.invalid when a new value does not serialize (recorded as the outcome);
// error.deterministic.replay when a recorded value does not decode as the requested type.
HUGO_API Error value_codec_error(bool recording, std::string_view effect_id, std::string_view type_tag,
                                 std::string_view what);
HUGO_API bool is_blank(std::string_view text) noexcept;
HUGO_API std::string trim(std::string_view text);

// Holds the process-wide per-(file, effect id) capture lock; releases it on destruction.
class HUGO_API EffectLock {
 public:
  EffectLock(EffectLock&& other) noexcept : key_(std::move(other.key_)), held_(std::exchange(other.held_, false)) {}
  EffectLock& operator=(EffectLock&&) = delete;
  ~EffectLock();

 private:
  friend class hugo::DeterministicEffectStore;
  explicit EffectLock(std::string key) : key_(std::move(key)), held_(true) {}
  std::string key_;
  bool held_ = false;
};

}  // namespace detail

// Records effect outcomes in the `hugo_effects` table of a SQLite file that belongs to the sink
// (never the journal: open() refuses a journal file). Thread-safe; several stores, in one process
// or several, may share a file.
class HUGO_API DeterministicEffectStore {
 public:
  // Opens or creates `db` (WAL, synchronous=FULL) and the table. Storage errors: journal.* codes.
  static Result<std::unique_ptr<DeterministicEffectStore>> open(const std::filesystem::path& db,
                                                                DeterministicOptions options = {});
  ~DeterministicEffectStore();
  DeterministicEffectStore(const DeterministicEffectStore&) = delete;
  DeterministicEffectStore& operator=(const DeterministicEffectStore&) = delete;

  // Runs `effect` at most once per effect id (under IndeterminatePolicy::Rerun, again after a
  // claim was left pending: docs/DETERMINISTIC.md) and returns the recorded outcome. `effect()`
  // returns Result<T> or T; T needs cereal serialization and a default constructor. Blank id or
  // tag: error.validation. A recorded row of another kind or tag: error.deterministic.replay. A
  // capture nested inside a capture of the same id on the same thread: error.validation (instead
  // of a deadlock). Defined in <hugo/effect_capture.hpp>.
  template <class T, class Fn>
  Result<T> capture(std::string_view effect_id, std::string_view type_tag, Fn&& effect) {
    return detail::EffectCapture<T>::run(*this, effect_id, type_tag, effect, nullptr);
  }
  template <class T, class Fn>
    requires HasEffectTypeTag<T>
  Result<T> capture(std::string_view effect_id, Fn&& effect) {
    return detail::EffectCapture<T>::run(*this, effect_id, effect_type_tag<T>(), effect, nullptr);
  }
  // capture() of the effect of a journal event (TaskQueueDeterministicCoordinator). Besides
  // capture()'s errors: replication.checkpoint_ahead, running nothing and returning no outcome,
  // when the id was captured for an event with another fingerprint: the journal lost its last
  // commits and issued the seq again for another event.
  template <class T, class Fn>
  Result<T> capture_for_event(std::string_view effect_id, const EffectEvent& event, std::string_view type_tag,
                              Fn&& effect) {
    return detail::EffectCapture<T>::run(*this, effect_id, type_tag, effect, nullptr, &event);
  }

  // The row for `effect_id` (an effect or a version marker), or nullopt.
  Result<std::optional<EffectRecord>> find(std::string_view effect_id);
  // Every row, or only the pending claims, ordered by claimed_at then id.
  Result<std::vector<EffectRecord>> list(bool pending_only = false);
  // Deletes a pending claim (after an operator checked the side effect), so the next capture runs
  // the effect. Returns false if there was no pending claim; a 'done' row is never deleted.
  Result<bool> discard_pending(std::string_view effect_id);

  const std::filesystem::path& path() const noexcept;
  Clock& clock() const noexcept;

 private:
  struct Impl;
  // A claim attempt: `recorded` holds the row to replay; empty means the caller owns the claim.
  struct Claim {
    std::optional<EffectRecord> recorded;
  };

  explicit DeterministicEffectStore(std::unique_ptr<Impl> impl);

  Result<detail::EffectLock> lock_effect(std::string_view effect_id, std::string_view type_tag);
  Result<Claim> claim(std::string_view effect_id, std::string_view type_tag, const EffectEvent* event = nullptr);
  // Writes the outcome over the claim and returns the row now stored (another writer's, if it
  // recorded first).
  Result<EffectRecord> record(std::string_view effect_id, std::string_view type_tag, bool success,
                              std::string_view value, const Error* error, const EffectEvent* event = nullptr);
  // Inserts a version marker unless the id exists; true if inserted.
  Result<bool> insert_version_marker(std::string_view change_id, int version, Timestamp now);
  // error.deterministic.replay unless `record` is a done effect recorded with `type_tag`.
  static Status check_replayable(const EffectRecord& record, std::string_view type_tag);
  static Error recorded_failure(const EffectRecord& record);

  friend class VersionGate;
  template <class>
  friend struct detail::EffectCapture;

  std::unique_ptr<Impl> impl_;
};

}  // namespace hugo
