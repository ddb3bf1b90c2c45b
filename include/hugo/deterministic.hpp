// Deterministic primitives: capture an effect's outcome once, replay it forever after; pin a
// version decision per change id; pick a code path by that version. docs/DETERMINISTIC.md is the
// guide and documents the `hugo_effects` table.
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
// Thread-safety: the store and both gates are thread-safe; a Workflow builder is used by one
// thread. Captures of one effect id on one database file are serialized within the process, so
// concurrent first captures in one process run the effect once.
#pragma once

#include <hugo/durability.hpp>
#include <hugo/error.hpp>
#include <hugo/error_codes.hpp>
#include <hugo/export.hpp>
#include <hugo/time.hpp>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
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

// Stable type tags (docs/DETERMINISTIC.md, "Type tags"). PERSISTED: a tag is stored with every outcome and compared on replay;
// never rename one. Specialize EffectTypeTag<T> for your own types with a name that states the
// schema version (`static constexpr std::string_view value = "orders.receipt.v1";`), or pass the
// tag to capture() explicitly.
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
};

class DeterministicEffectStore;
template <class T>
class Workflow;

namespace detail {

template <class T> struct IsResult : std::false_type {};
template <class T> struct IsResult<Result<T>> : std::true_type {};

// Calls fn(args...), which returns Result<T> or something convertible to T, as a Result<T>.
template <class T, class Fn, class... Args>
Result<T> invoke_as_result(Fn& fn, Args&&... args) {
  using R = std::remove_cvref_t<std::invoke_result_t<Fn&, Args...>>;
  if constexpr (IsResult<R>::value) {
    static_assert(std::is_same_v<R, Result<T>>, "the effect returns a Result of another type");
    return std::invoke(fn, std::forward<Args>(args)...);
  } else {
    static_assert(std::is_convertible_v<R, T>, "the effect must return T or Result<T>");
    return Result<T>(T(std::invoke(fn, std::forward<Args>(args)...)));
  }
}

HUGO_API Error error_from_exception(const std::exception& e, std::string_view effect_id);
HUGO_API Error error_from_unknown_exception(std::string_view effect_id);
// codec.invalid when a new value does not serialize (recorded as the outcome);
// error.deterministic.replay when a recorded value does not decode as the requested type.
HUGO_API Error value_codec_error(bool recording, std::string_view effect_id, std::string_view type_tag,
                                 std::string_view what);

template <class T>
Result<std::string> encode_value(const T& value, std::string_view effect_id, std::string_view type_tag) {
  try {
    std::ostringstream out(std::ios::binary);
    {
      cereal::PortableBinaryOutputArchive archive(out);
      archive(value);
    }
    return out.str();
  } catch (const std::exception& e) {
    return value_codec_error(true, effect_id, type_tag, std::string("cannot serialize the value: ") + e.what());
  }
}

template <class T>
Result<T> decode_value(const std::string& bytes, std::string_view effect_id, std::string_view type_tag) {
  try {
    std::istringstream in(bytes, std::ios::binary);
    T value{};
    {
      cereal::PortableBinaryInputArchive archive(in);
      archive(value);
    }
    if (in.peek() != std::char_traits<char>::eof()) {
      return value_codec_error(false, effect_id, type_tag, "the recorded value has trailing bytes");
    }
    return value;
  } catch (const std::exception& e) {
    return value_codec_error(false, effect_id, type_tag, std::string("the recorded value does not decode: ") + e.what());
  }
}

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
  // claim was left pending: docs/DETERMINISTIC.md) and returns the recorded outcome. `effect()` returns Result<T> or T; T needs cereal serialization
  // and a default constructor. Blank id or tag: error.validation. A recorded row of another kind
  // or tag: error.deterministic.replay. A capture nested inside a capture of the same id on the
  // same thread: error.validation (instead of a deadlock).
  template <class T, class Fn>
  Result<T> capture(std::string_view effect_id, std::string_view type_tag, Fn&& effect) {
    return capture_impl<T>(effect_id, type_tag, effect, nullptr);
  }
  template <class T, class Fn>
    requires HasEffectTypeTag<T>
  Result<T> capture(std::string_view effect_id, Fn&& effect) {
    return capture_impl<T>(effect_id, effect_type_tag<T>(), effect, nullptr);
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
  Result<Claim> claim(std::string_view effect_id, std::string_view type_tag);
  // Writes the outcome over the claim and returns the row now stored (another writer's, if it
  // recorded first).
  Result<EffectRecord> record(std::string_view effect_id, std::string_view type_tag, bool success,
                              std::string_view value, const Error* error);
  // Inserts a version marker unless the id exists; true if inserted.
  Result<bool> insert_version_marker(std::string_view change_id, int version, Timestamp now);
  // error.deterministic.replay unless `record` is a done effect recorded with `type_tag`.
  static Status check_replayable(const EffectRecord& record, std::string_view type_tag);
  static Error recorded_failure(const EffectRecord& record);

  template <class T>
  static Result<T> replay(const EffectRecord& record, std::string_view type_tag) {
    HUGO_TRY(check_replayable(record, type_tag));
    if (!record.is_success.value_or(false)) return recorded_failure(record);
    return detail::decode_value<T>(record.value, record.effect_id, type_tag);
  }

  // `unrecorded`, when given, is an out-channel: an effect that sets it is treated like a
  // cancellation (claim deleted, the error returned, nothing recorded).
  template <class T, class Fn>
  Result<T> capture_impl(std::string_view effect_id, std::string_view type_tag, Fn& effect,
                         std::optional<Error>* unrecorded) {
    static_assert(std::is_default_constructible_v<T> && !std::is_reference_v<T>,
                  "a captured type must be default-constructible (cereal loads into a value)");
    HUGO_ASSIGN_OR_RETURN(detail::EffectLock lock, lock_effect(effect_id, type_tag));
    HUGO_ASSIGN_OR_RETURN(Claim claimed, claim(effect_id, type_tag));
    if (claimed.recorded) return replay<T>(*claimed.recorded, type_tag);

    std::optional<Result<T>> outcome;
    try {
      outcome.emplace(detail::invoke_as_result<T>(effect));
    } catch (const OperationCanceled& e) {
      outcome.emplace(Error::canceled(e.what()).with("effectId", std::string(effect_id)));
    } catch (const std::exception& e) {
      outcome.emplace(detail::error_from_exception(e, effect_id));
    } catch (...) {
      outcome.emplace(detail::error_from_unknown_exception(effect_id));
    }
    const bool skip = (unrecorded != nullptr && unrecorded->has_value()) ||
                      (!outcome->ok() && outcome->error().code() == errc::canceled);
    if (skip) {
      Error error = (unrecorded != nullptr && unrecorded->has_value()) ? **unrecorded : outcome->error();
      HUGO_TRY(discard_pending(effect_id));
      return error;
    }
    std::string bytes;
    if (outcome->ok()) {
      auto encoded = detail::encode_value(outcome->value(), effect_id, type_tag);
      if (encoded.ok()) {
        bytes = std::move(encoded).value();
      } else {
        outcome.emplace(std::move(encoded).error());
      }
    }
    HUGO_ASSIGN_OR_RETURN(EffectRecord stored,
                          record(effect_id, type_tag, outcome->ok(), bytes, outcome->ok() ? nullptr : &outcome->error()));
    return replay<T>(stored, type_tag);
  }

  friend class VersionGate;
  template <class>
  friend class Workflow;

  std::unique_ptr<Impl> impl_;
};

// What an initial-version provider sees.
struct VersionContext {
  std::string change_id;
  int min_version = 0;
  int max_version = 0;
};

struct VersionDecision {
  int version = 0;
  bool is_new = false;     // this call recorded the marker
  Timestamp recorded_at{};  // when the marker was recorded
  friend bool operator==(const VersionDecision&, const VersionDecision&) = default;
};

using InitialVersion = std::function<int(const VersionContext&)>;

// Pins one version per change id, the first time it is asked, in a 'hugo.version' row of the
// store. Markers are never overwritten. Thread-safe.
class HUGO_API VersionGate {
 public:
  static constexpr int kDefaultVersion = -1;

  explicit VersionGate(std::shared_ptr<DeterministicEffectStore> store) : store_(std::move(store)) {}

  // docs/DETERMINISTIC.md, "Version gates". Returns the recorded version if it lies in [min, max] (else
  // error.version.conflict); otherwise records `initial(ctx)` (default: max) if it lies in
  // [min, max]. Blank id, min > max: error.validation. A row of another kind:
  // error.deterministic.replay. A throwing provider: error.exception with changeId.
  Result<VersionDecision> require(std::string_view change_id, int min_version, int max_version,
                                  InitialVersion initial = {});

  DeterministicEffectStore& store() const noexcept { return *store_; }

 private:
  std::shared_ptr<DeterministicEffectStore> store_;
};

// Passed to a workflow branch: the decision, and captures nested under the branch's effect id.
class HUGO_API WorkflowContext {
 public:
  const VersionDecision& decision() const noexcept { return decision_; }
  const std::string& change_id() const noexcept { return change_id_; }
  int version() const noexcept { return decision_.version; }
  bool is_new() const noexcept { return decision_.is_new; }
  Timestamp recorded_at() const noexcept { return decision_.recorded_at; }

  // "{changeId}::v{version}::{trimmed step}"; a blank step is error.validation.
  Result<std::string> effect_id(std::string_view step) const;

  template <class U, class Fn>
  Result<U> capture(std::string_view step, std::string_view type_tag, Fn&& effect) {
    HUGO_ASSIGN_OR_RETURN(std::string id, effect_id(step));
    return store_->capture<U>(id, type_tag, std::forward<Fn>(effect));
  }
  template <class U, class Fn>
    requires HasEffectTypeTag<U>
  Result<U> capture(std::string_view step, Fn&& effect) {
    return capture<U>(step, effect_type_tag<U>(), std::forward<Fn>(effect));
  }

 private:
  template <class>
  friend class Workflow;
  WorkflowContext(DeterministicEffectStore& store, VersionDecision decision, std::string change_id)
      : store_(&store), decision_(decision), change_id_(std::move(change_id)) {}
  DeterministicEffectStore* store_;
  VersionDecision decision_;
  std::string change_id_;
};

namespace detail {
HUGO_API Error workflow_argument_error(std::string message, std::string_view change_id, int min_version,
                                       int max_version);
HUGO_API Error workflow_no_branch_error(std::string_view change_id, int version, int min_version, int max_version);
HUGO_API bool is_blank(std::string_view text) noexcept;
HUGO_API std::string trim(std::string_view text);
}  // namespace detail

// A VersionGate and an effect store on one database: the version decides the code path, and the
// chosen path's result is captured under "{changeId}::v{version}". Result types need a tag
// (EffectTypeTag<T>). Thread-safe.
class DeterministicGate {
 public:
  explicit DeterministicGate(std::shared_ptr<DeterministicEffectStore> store)
      : store_(store), versions_(std::move(store)) {}

  VersionGate& versions() noexcept { return versions_; }
  DeterministicEffectStore& effects() const noexcept { return *store_; }
  static std::string effect_id(std::string_view change_id, int version) {
    return std::string(change_id) + "::v" + std::to_string(version);
  }

  // Runs `upgraded` if the pinned version is >= max, else `legacy`; replays after the first run.
  template <class T, class Upgraded, class Legacy>
    requires HasEffectTypeTag<T> && std::invocable<Upgraded&> && std::invocable<Legacy&>
  Result<T> execute(std::string_view change_id, int min_version, int max_version, Upgraded&& upgraded,
                    Legacy&& legacy, InitialVersion initial = {}) {
    HUGO_ASSIGN_OR_RETURN(VersionDecision d, versions_.require(change_id, min_version, max_version, std::move(initial)));
    return store_->capture<T>(effect_id(change_id, d.version), [&]() -> Result<T> {
      return d.version >= max_version ? detail::invoke_as_result<T>(upgraded) : detail::invoke_as_result<T>(legacy);
    });
  }

  // The general form: `on_execute(decision)` runs inside the captured effect.
  template <class T, class OnExecute>
    requires HasEffectTypeTag<T> && std::invocable<OnExecute&, const VersionDecision&>
  Result<T> execute(std::string_view change_id, int min_version, int max_version, OnExecute&& on_execute,
                    InitialVersion initial = {}) {
    HUGO_ASSIGN_OR_RETURN(VersionDecision d, versions_.require(change_id, min_version, max_version, std::move(initial)));
    return store_->capture<T>(effect_id(change_id, d.version),
                              [&]() -> Result<T> { return detail::invoke_as_result<T>(on_execute, std::as_const(d)); });
  }

  // A branch-per-version builder; see Workflow.
  template <class T>
    requires HasEffectTypeTag<T>
  Workflow<T> workflow(std::string_view change_id, int min_version, int max_version, InitialVersion initial = {}) {
    return Workflow<T>(*this, change_id, min_version, max_version, std::move(initial));
  }

 private:
  std::shared_ptr<DeterministicEffectStore> store_;
  VersionGate versions_;
};

// Builder: register branches, then execute(). Argument errors never throw: the first one is kept
// and execute() returns it (error.validation). execute() pins the version, then runs the first
// matching branch in registration order, else the fallback, inside the effect
// "{changeId}::v{version}". "No branch" (error.version.conflict) and cancellation are returned but
// not recorded, so a later build that adds the branch runs it. Branches take
// WorkflowContext& (or nothing) and return Result<T> or T.
template <class T>
class Workflow {
 public:
  using Branch = std::function<Result<T>(WorkflowContext&)>;
  using Predicate = std::function<bool(const VersionDecision&)>;

  template <class Fn>
  Workflow& for_version(int version, Fn&& fn) {
    if (version < min_ || version > max_) {
      fail("Version " + std::to_string(version) + " is outside the workflow's range " + range() + ".");
    }
    return add([version](const VersionDecision& d) { return d.version == version; }, std::forward<Fn>(fn));
  }
  template <class Fn>
  Workflow& for_range(int first, int last, Fn&& fn) {
    if (first < min_ || last > max_ || last < first) {
      fail("Range " + std::to_string(first) + ".." + std::to_string(last) + " is not within the workflow's range " +
           range() + ".");
    }
    return add([first, last](const VersionDecision& d) { return d.version >= first && d.version <= last; },
               std::forward<Fn>(fn));
  }
  template <class Fn>
  Workflow& when(Predicate predicate, Fn&& fn) {
    if (!predicate) fail("A workflow predicate must not be empty.");
    return add(std::move(predicate), std::forward<Fn>(fn));
  }
  template <class Fn>
  Workflow& fallback(Fn&& fn) {
    fallback_ = make_branch(std::forward<Fn>(fn));
    return *this;
  }

  Result<T> execute() {
    if (error_) return *error_;
    HUGO_ASSIGN_OR_RETURN(VersionDecision d, gate_->versions().require(change_id_, min_, max_, initial_));
    DeterministicEffectStore& store = gate_->effects();
    std::optional<Error> unrecorded;
    auto run = [&]() -> Result<T> {
      WorkflowContext ctx(store, d, change_id_);
      for (const auto& [matches, branch] : branches_) {
        if (matches(d)) return branch(ctx);
      }
      if (fallback_) return fallback_(ctx);
      unrecorded = detail::workflow_no_branch_error(change_id_, d.version, min_, max_);
      return *unrecorded;
    };
    return store.capture_impl<T>(DeterministicGate::effect_id(change_id_, d.version), effect_type_tag<T>(), run,
                                 &unrecorded);
  }

 private:
  friend class DeterministicGate;
  Workflow(DeterministicGate& gate, std::string_view change_id, int min_version, int max_version,
           InitialVersion initial)
      : gate_(&gate), change_id_(detail::trim(change_id)), min_(min_version), max_(max_version),
        initial_(std::move(initial)) {
    if (detail::is_blank(change_id_)) fail("A workflow change id must not be blank.");
    if (min_ <= 0) fail("Workflow minimum version " + std::to_string(min_) + " must be positive.");
    if (max_ < min_) {
      fail("Minimum supported version " + std::to_string(min_) + " exceeds maximum " + std::to_string(max_) + ".");
    }
  }

  template <class Fn>
  Branch make_branch(Fn&& fn) {
    return [f = std::forward<Fn>(fn)](WorkflowContext& ctx) mutable -> Result<T> {
      if constexpr (std::invocable<std::decay_t<Fn>&, WorkflowContext&>) {
        return detail::invoke_as_result<T>(f, ctx);
      } else {
        return detail::invoke_as_result<T>(f);
      }
    };
  }
  template <class Fn>
  Workflow& add(Predicate predicate, Fn&& fn) {
    branches_.emplace_back(std::move(predicate), make_branch(std::forward<Fn>(fn)));
    return *this;
  }
  void fail(std::string message) {
    if (!error_) error_ = detail::workflow_argument_error(std::move(message), change_id_, min_, max_);
  }
  std::string range() const { return std::to_string(min_) + ".." + std::to_string(max_); }

  DeterministicGate* gate_;
  std::string change_id_;
  int min_;
  int max_;
  InitialVersion initial_;
  std::vector<std::pair<Predicate, Branch>> branches_;
  Branch fallback_;
  std::optional<Error> error_;
};

}  // namespace hugo
