// The stable error codes. Each is persisted in logs, JSON and scripts: never rename one.
// Where Hugo defines a code, the exact Hugo string is kept so that migration is mechanical.
// docs/ERRORS.md says when each is returned and what an operator should do.
#pragma once

#include <string_view>

namespace hugo::errc {

// --- Journal storage -----------------------------------------------------------------------
inline constexpr std::string_view journal_locked = "journal.locked";          // another live writer holds it
inline constexpr std::string_view journal_schema_newer = "journal.schema_newer";  // written by a newer version
inline constexpr std::string_view journal_corrupt = "journal.corrupt";        // not a journal / damaged
inline constexpr std::string_view journal_full = "journal.full";              // disk or page cap full
inline constexpr std::string_view journal_io = "journal.io";                  // I/O error; journal poisoned
inline constexpr std::string_view journal_not_found = "journal.not_found";    // read-only open of a missing file
inline constexpr std::string_view journal_read_only = "journal.read_only";    // write attempted on a read-only file
inline constexpr std::string_view journal_closed = "journal.closed";          // append after close()
inline constexpr std::string_view journal_busy = "journal.busy";              // lock wait timed out
inline constexpr std::string_view journal_replaced = "journal.replaced";      // the file now holds another history
inline constexpr std::string_view journal_wal_truncated = "journal.wal_truncated";  // the -wal lost indexed commits
inline constexpr std::string_view journal_shm_missing = "journal.shm_missing";  // the open -shm was deleted
inline constexpr std::string_view journal_seq_exhausted = "journal.seq_exhausted";  // no seq left below 2^63

// --- Queue -----------------------------------------------------------------------------------
inline constexpr std::string_view queue_full = "queue.full";        // enqueue(_batch) with Wait::none, no room
inline constexpr std::string_view queue_timeout = "queue.timeout";  // a Wait deadline passed

// --- Codec ---------------------------------------------------------------------------------
inline constexpr std::string_view codec_malformed = "codec.malformed";        // not parseable JSON
inline constexpr std::string_view codec_invalid = "codec.invalid";            // JSON, but not a valid event

// --- Peers (docs/PEERS.md) -------------------------------------------------------------------
inline constexpr std::string_view journal_replica = "journal.replica";  // writable open of a replica; promote it first
inline constexpr std::string_view replication_diverged = "replication.diverged";  // owner's history differs from the replica's
inline constexpr std::string_view replication_unauthorized = "replication.unauthorized";  // missing/wrong token
inline constexpr std::string_view replication_stream_malformed = "replication.stream_malformed";  // bad line in a stream
inline constexpr std::string_view replication_unavailable = "replication.unavailable";  // cannot reach the owner
inline constexpr std::string_view replication_token_required = "replication.token_required";  // non-loopback listen without a token
inline constexpr std::string_view replication_bind = "replication.bind";  // cannot listen on the address

// --- Hugo's codes (exact strings) ----------------------------------------------------------
inline constexpr std::string_view validation = "error.validation";
inline constexpr std::string_view canceled = "error.canceled";
inline constexpr std::string_view exception = "error.exception";
inline constexpr std::string_view unspecified = "error.unspecified";
inline constexpr std::string_view lease_expired = "error.taskqueue.lease_expired";
inline constexpr std::string_view lease_inactive = "error.taskqueue.lease_inactive";
inline constexpr std::string_view disposed = "error.taskqueue.disposed";
inline constexpr std::string_view dead_lettered = "error.taskqueue.deadlettered";
inline constexpr std::string_view abandoned = "error.taskqueue.abandoned";
inline constexpr std::string_view deterministic_replay = "error.deterministic.replay";
// hugo-journal's: a capture found a claim whose outcome was never recorded (the process died while
// the effect ran, or another process is running it) and the policy is IndeterminatePolicy::Fail.
inline constexpr std::string_view deterministic_indeterminate = "error.deterministic.indeterminate";
inline constexpr std::string_view version_conflict = "error.version.conflict";

}  // namespace hugo::errc
