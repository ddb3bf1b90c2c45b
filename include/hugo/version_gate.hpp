// Version gates: pin one version per change id, the first time it is asked, in a 'hugo.version'
// row of an effect store (docs/DETERMINISTIC.md, "Version gates"). Untyped (no cereal).
#pragma once

#include <hugo/effects.hpp>
#include <hugo/error.hpp>
#include <hugo/export.hpp>
#include <hugo/time.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace hugo {

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

}  // namespace hugo
