// Internal to replay/: decoding `hugo_effects` rows and the process-wide capture locks.
#pragma once

#include <hugo/effects.hpp>

#include "schema/sqlite.hpp"

#include <filesystem>
#include <string>

namespace hugo::replay {

// Decodes the current row of a statement selecting, in order: effect_id, kind, version, state,
// type_tag, is_success, value, error, claimed_at, recorded_at, event_fingerprint. A row that breaks the table's
// invariants is journal.corrupt (metadata path, effectId).
Result<EffectRecord> read_effect_row(const sql::Stmt& stmt, const std::filesystem::path& path);

// Blocks until no other thread holds `key`, then holds it for this thread. Returns false at once,
// holding nothing, if this thread already holds `key` (a nested capture of the same id).
bool acquire_effect_lock(const std::string& key);
void release_effect_lock(const std::string& key) noexcept;

}  // namespace hugo::replay
