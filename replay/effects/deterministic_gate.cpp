// The non-template parts of DeterministicGate and Workflow: effect ids and their errors.
#include <hugo/workflow.hpp>

#include <string>

namespace hugo {

namespace detail {

Error workflow_argument_error(std::string message, std::string_view change_id, int min_version, int max_version) {
  return Error::validation(std::move(message))
      .with("changeId", std::string(change_id))
      .with("minVersion", std::to_string(min_version))
      .with("maxVersion", std::to_string(max_version));
}

Error workflow_no_branch_error(std::string_view change_id, int version, int min_version, int max_version) {
  return Error::version_conflict("No workflow branch was registered for version " + std::to_string(version) + ".")
      .with("changeId", std::string(change_id))
      .with("version", std::to_string(version))
      .with("minVersion", std::to_string(min_version))
      .with("maxVersion", std::to_string(max_version));
}

}  // namespace detail

Result<std::string> WorkflowContext::effect_id(std::string_view step) const {
  if (detail::is_blank(step)) {
    return Error::validation("A workflow step name must not be blank.")
        .with("changeId", change_id_)
        .with("version", std::to_string(decision_.version));
  }
  return DeterministicGate::effect_id(change_id_, decision_.version) + "::" + detail::trim(step);
}

}  // namespace hugo
