// The journal's -wal and its index, the -shm, checked as files. SQLite's own WAL recovery
// silently keeps the longest valid prefix of a damaged WAL, and a process that keeps using a
// deleted -shm no longer shares its index with anyone who opens the journal afterwards; these
// checks turn both into errors (docs/ERRORS.md: journal.wal_truncated, journal.shm_missing).
#pragma once

#include <hugo/error.hpp>

#include "schema/file_identity.hpp"

#include <filesystem>
#include <optional>
#include <string_view>

namespace hugo::wal_files {

std::filesystem::path wal_of(const std::filesystem::path& journal);
std::filesystem::path shm_of(const std::filesystem::path& journal);

// Before SQLite opens the journal: journal.wal_truncated if its -wal was cut, that is, it is
// shorter than its own 32-byte header (or the header is not a WAL header), or it ends before the
// last commit that its -shm indexes for the same WAL generation (metadata path, reason `header`
// or `frames_missing`, wal_bytes, wal_frames, indexed_frames). Reads only; changes no byte. A cut
// that leaves no -shm to compare with, or falls after the last indexed commit, looks exactly like
// a crash during a commit and passes (SQLite recovers the longest whole prefix). While a live
// writer keeps changing the index the check cannot be made consistently and passes.
Status check_wal_not_truncated(const std::filesystem::path& journal);

// The -shm beside `journal` now, or nullopt if there is none. The writer checks it before every
// batch: the name is built as a string, since a std::filesystem::path would parse it again.
inline std::optional<FileIdentity> shm_identity(const std::filesystem::path& journal) {
  return FileIdentity::of((journal.native() + "-shm").c_str());
}

// journal.shm_missing if the -shm that this process's connections opened (`opened`) was removed
// or replaced: from then on, a process that opens the journal builds a new index from the WAL
// that this process's connections do not share. One stat(). `who` names the caller in the
// message ("writer" or "reader").
Status check_shm_unchanged(const std::filesystem::path& journal, const FileIdentity& opened,
                           std::string_view journal_id, std::string_view who);

}  // namespace hugo::wal_files
