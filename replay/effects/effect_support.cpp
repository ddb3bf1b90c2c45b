// Row decoding, the process-wide capture locks, and the error builders that include/hugo/effects.hpp
// declares for the capture templates.
#include "replay/effects/effect_rows.hpp"

#include <hugo/event_json.hpp>

#include <condition_variable>
#include <cstdlib>
#include <cxxabi.h>
#include <map>
#include <mutex>
#include <thread>
#include <typeinfo>

namespace hugo {

namespace replay {

namespace {

Timestamp from_micros(std::int64_t us) { return Timestamp{Duration{us}}; }

Error corrupt_row(const std::filesystem::path& path, std::string_view effect_id, std::string detail) {
  return Error::journal_corrupt("effect store row '" + std::string(effect_id) + "' is damaged: " + std::move(detail) +
                   " (restore the effect store, or delete the row if its effect is known not to have run)")
      .with("path", path.string())
      .with("effectId", std::string(effect_id));
}

// Which (file, effect id) keys are held, and by which thread. Leaked on purpose: captures may run
// on threads that outlive static destruction.
struct LockRegistry {
  std::mutex mu;
  std::condition_variable released;
  std::map<std::string, std::thread::id, std::less<>> held;

  static LockRegistry& instance() {
    static LockRegistry* registry = new LockRegistry();
    return *registry;
  }
};

}  // namespace

Result<EffectRecord> read_effect_row(const sql::Stmt& stmt, const std::filesystem::path& path) {
  EffectRecord r;
  r.effect_id = std::string(stmt.column_text(0));
  r.kind = std::string(stmt.column_text(1));
  r.version = static_cast<int>(stmt.column_int(2));
  const std::string_view state = stmt.column_text(3);
  if (state == "pending") {
    r.state = EffectState::Pending;
  } else if (state == "done") {
    r.state = EffectState::Done;
  } else {
    return corrupt_row(path, r.effect_id, "unknown state '" + std::string(state) + "'");
  }
  if (stmt.column_type(4) != sql::ColumnType::Null) r.type_tag = std::string(stmt.column_text(4));
  if (stmt.column_type(5) != sql::ColumnType::Null) r.is_success = stmt.column_int(5) != 0;
  r.value = std::string(stmt.column_blob(6));
  if (stmt.column_type(7) != sql::ColumnType::Null) {
    std::optional<Error> error;
    Status decoded = decode_error_json(stmt.column_text(7), error);
    if (!decoded.ok()) return corrupt_row(path, r.effect_id, "its error JSON: " + decoded.error().message());
    r.error = std::move(error);
  }
  r.claimed_at = from_micros(stmt.column_int(8));
  if (stmt.column_type(9) != sql::ColumnType::Null) r.recorded_at = from_micros(stmt.column_int(9));
  if (stmt.column_type(10) != sql::ColumnType::Null) r.event_fingerprint = static_cast<std::uint64_t>(stmt.column_int(10));
  if (r.state == EffectState::Done && r.kind == kEffectKind && !r.is_success.has_value()) {
    return corrupt_row(path, r.effect_id, "a done effect without is_success");
  }
  return r;
}

bool acquire_effect_lock(const std::string& key) {
  LockRegistry& registry = LockRegistry::instance();
  std::unique_lock lock(registry.mu);
  const auto self = std::this_thread::get_id();
  while (true) {
    auto it = registry.held.find(key);
    if (it == registry.held.end()) break;
    if (it->second == self) return false;
    registry.released.wait(lock);
  }
  registry.held.emplace(key, self);
  return true;
}

void release_effect_lock(const std::string& key) noexcept {
  LockRegistry& registry = LockRegistry::instance();
  {
    std::lock_guard lock(registry.mu);
    registry.held.erase(key);
  }
  registry.released.notify_all();
}

}  // namespace replay

namespace detail {

EffectLock::~EffectLock() {
  if (held_) replay::release_effect_lock(key_);
}

Error error_from_exception(const std::exception& e, std::string_view effect_id) {
  Error error(std::string(errc::exception), e.what());
  error.with("effectId", std::string(effect_id));
  int status = 0;
  const char* mangled = typeid(e).name();
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  error.with("exceptionType", status == 0 && demangled != nullptr ? std::string(demangled) : std::string(mangled));
  std::free(demangled);
  return error;
}

Error error_from_unknown_exception(std::string_view effect_id) {
  return Error::exception("The effect threw an exception that is not a std::exception.")
      .with("effectId", std::string(effect_id));
}

Error value_codec_error(bool recording, std::string_view effect_id, std::string_view type_tag,
                        std::string_view what) {
  const std::string_view code = recording ? errc::codec_invalid : errc::deterministic_replay;
  return Error(std::string(code), "Effect '" + std::string(effect_id) + "' (type '" + std::string(type_tag) +
                                      "'): " + std::string(what) + ".")
      .with("effectId", std::string(effect_id))
      .with("typeTag", std::string(type_tag));
}

bool is_blank(std::string_view text) noexcept {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return false;
  }
  return true;
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\n\r\f\v");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\n\r\f\v");
  return std::string(text.substr(first, last - first + 1));
}

}  // namespace detail

}  // namespace hugo
