// The stable error codes, and a factory for each. Each code is persisted in logs, JSON and scripts:
// never rename one. Where Hugo defines a code, the exact Hugo string is kept so that migration is
// mechanical. docs/ERRORS.md says when each is returned and what an operator should do.
//
//   errc::journal_locked                  the code, a std::string_view constant
//   Error::journal_locked(message, meta)  an Error with that code (hugo/error.hpp)
#pragma once

#include <string_view>

// X(name, "code"): every code once. Add a code here and both its constant and its factory exist.
#define HUGO_ERROR_CODES(X) \
  /* --- Journal storage */ \
  X(journal_locked, "journal.locked")  /* another live writer holds it */ \
  X(journal_schema_newer, "journal.schema_newer")  /* written by a newer version */ \
  X(journal_corrupt, "journal.corrupt")  /* not a journal / damaged */ \
  X(journal_full, "journal.full")  /* disk or page cap full */ \
  X(journal_io, "journal.io")  /* I/O error; journal poisoned */ \
  X(journal_not_found, "journal.not_found")  /* read-only open of a missing file */ \
  X(journal_read_only, "journal.read_only")  /* write attempted on a read-only file */ \
  X(journal_closed, "journal.closed")  /* append after close() */ \
  X(journal_busy, "journal.busy")  /* lock wait timed out */ \
  X(journal_replaced, "journal.replaced")  /* the file now holds another history */ \
  X(journal_wal_truncated, "journal.wal_truncated")  /* the -wal lost indexed commits */ \
  X(journal_shm_missing, "journal.shm_missing")  /* the open -shm was deleted */ \
  X(journal_seq_exhausted, "journal.seq_exhausted")  /* no seq left below 2^63 */ \
  /* --- Queue */ \
  X(queue_full, "queue.full")  /* enqueue(_batch) with Wait::none, no room */ \
  X(queue_timeout, "queue.timeout")  /* a Wait deadline passed */ \
  X(queue_unknown, "queue.unknown")  /* no queue of that name on the server */ \
  /* --- Codec */ \
  X(codec_malformed, "codec.malformed")  /* not parseable JSON */ \
  X(codec_invalid, "codec.invalid")  /* JSON, but not a valid event */ \
  /* --- Peers (docs/PEERS.md) */ \
  X(journal_replica, "journal.replica")  /* writable open of a replica; promote it first */ \
  X(replication_diverged, "replication.diverged")  /* owner's history differs from the replica's */ \
  X(replication_unauthorized, "replication.unauthorized")  /* missing/wrong token */ \
  X(replication_stream_malformed, "replication.stream_malformed")  /* bad line in a stream */ \
  X(replication_unavailable, "replication.unavailable")  /* cannot reach the owner */ \
  X(replication_token_required, "replication.token_required")  /* non-loopback listen without a token */ \
  X(replication_bind, "replication.bind")  /* cannot listen on the address */ \
  X(replication_checkpoint_ahead, "replication.checkpoint_ahead")  /* a consumer applied seqs the journal lost */ \
  X(replication_fenced, "replication.fenced")  /* another publisher keeps writing into the stream */ \
  X(replication_message_too_large, "replication.message_too_large")  /* an event over the server's max_payload */ \
  /* --- Hugo's codes (exact strings) */ \
  X(validation, "error.validation") \
  X(canceled, "error.canceled") \
  X(exception, "error.exception") \
  X(unspecified, "error.unspecified") \
  X(lease_expired, "error.taskqueue.lease_expired") \
  X(lease_inactive, "error.taskqueue.lease_inactive") \
  X(disposed, "error.taskqueue.disposed") \
  X(dead_lettered, "error.taskqueue.deadlettered") \
  X(abandoned, "error.taskqueue.abandoned") \
  X(deterministic_replay, "error.deterministic.replay") \
  /* hugo-journal's: a capture found a claim whose outcome was never recorded (the process died while */ \
  /* the effect ran, or another process is running it) and the policy is IndeterminatePolicy::Fail. */ \
  X(deterministic_indeterminate, "error.deterministic.indeterminate") \
  X(version_conflict, "error.version.conflict") \
  /* hugo-journal's: a feature this build was compiled without (JetStream without libnats) */ \
  X(unsupported, "error.unsupported")

namespace hugo::errc {

#define HUGO_ERRC_CONSTANT(name, text) inline constexpr std::string_view name = text;
HUGO_ERROR_CODES(HUGO_ERRC_CONSTANT)
#undef HUGO_ERRC_CONSTANT

}  // namespace hugo::errc
