// Deterministic gates and workflows: the pinned version of a change id picks a code path, and the
// path's result is captured under "{changeId}::v{version}" (docs/DETERMINISTIC.md, "Deterministic
// gate and workflows"). Typed: results are captured through <hugo/effect_capture.hpp> (cereal).
//
// Thread-safety: a DeterministicGate is thread-safe; a Workflow builder is used by one thread.
#pragma once

#include <hugo/effect_capture.hpp>
#include <hugo/effects.hpp>
#include <hugo/error.hpp>
#include <hugo/export.hpp>
#include <hugo/time.hpp>
#include <hugo/version_gate.hpp>

#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace hugo {

template <class T>
class Workflow;

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
    return detail::EffectCapture<T>::run(store, DeterministicGate::effect_id(change_id_, d.version),
                                         effect_type_tag<T>(), run, &unrecorded);
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
