// VersionGate::require (docs/DETERMINISTIC.md, "Version gates"): one immutable 'hugo.version' marker per change id,
// written by insert-if-absent; a lost race adopts the winner's marker.
#include <hugo/version_gate.hpp>

#include <string>

namespace hugo {

namespace {

Error gate_error(std::string_view code, std::string message, std::string_view change_id) {
  return Error(std::string(code), std::move(message)).with("changeId", std::string(change_id));
}

// Applies the existing-marker rules to `record` (docs/DETERMINISTIC.md, "Version gates").
Result<VersionDecision> from_marker(const EffectRecord& record, int min_version, int max_version) {
  if (record.kind != kVersionKind) {
    return gate_error(errc::deterministic_replay,
                      "Record '" + record.effect_id + "' has kind '" + record.kind + "', not '" +
                          std::string(kVersionKind) + "': a change id must not reuse an effect's id.",
                      record.effect_id)
        .with("kind", record.kind);
  }
  const int v = record.version;
  if (v < min_version || v > max_version) {
    return gate_error(errc::version_conflict,
                      "Recorded version " + std::to_string(v) + " falls outside supported range " +
                          std::to_string(min_version) + ".." + std::to_string(max_version) + ".",
                      record.effect_id)
        .with("persistedVersion", std::to_string(v))
        .with("minVersion", std::to_string(min_version))
        .with("maxVersion", std::to_string(max_version));
  }
  return VersionDecision{v, false, record.recorded_at.value_or(record.claimed_at)};
}

}  // namespace

Result<VersionDecision> VersionGate::require(std::string_view change_id, int min_version, int max_version,
                                             InitialVersion initial) {
  if (!store_) return gate_error(errc::validation, "A version gate needs an effect store.", change_id);
  if (detail::is_blank(change_id)) return gate_error(errc::validation, "A change id must not be blank.", change_id);
  if (min_version > max_version) {
    return gate_error(errc::validation,
                      "Minimum supported version " + std::to_string(min_version) + " exceeds maximum " +
                          std::to_string(max_version) + ".",
                      change_id)
        .with("minVersion", std::to_string(min_version))
        .with("maxVersion", std::to_string(max_version));
  }
  HUGO_ASSIGN_OR_RETURN(std::optional<EffectRecord> existing, store_->find(change_id));
  if (existing) return from_marker(*existing, min_version, max_version);

  int version = max_version;
  if (initial) {
    try {
      version = initial(VersionContext{std::string(change_id), min_version, max_version});
    } catch (const std::exception& e) {
      return detail::error_from_exception(e, change_id).with("changeId", std::string(change_id));
    } catch (...) {
      return detail::error_from_unknown_exception(change_id).with("changeId", std::string(change_id));
    }
  }
  if (version < min_version || version > max_version) {
    return gate_error(errc::version_conflict,
                      "Initial version " + std::to_string(version) + " is outside the supported range " +
                          std::to_string(min_version) + ".." + std::to_string(max_version) + ".",
                      change_id)
        .with("initialVersion", std::to_string(version))
        .with("minVersion", std::to_string(min_version))
        .with("maxVersion", std::to_string(max_version));
  }
  const Timestamp now = store_->clock().now();
  HUGO_ASSIGN_OR_RETURN(bool inserted, store_->insert_version_marker(change_id, version, now));
  if (inserted) return VersionDecision{version, true, now};
  HUGO_ASSIGN_OR_RETURN(existing, store_->find(change_id));
  if (!existing) {
    return gate_error(errc::version_conflict, "Concurrent version gate update prevented recording a decision.",
                      change_id);
  }
  return from_marker(*existing, min_version, max_version);
}

}  // namespace hugo
