// One journal event: the row format every queue mutation is appended as, shaped like Hugo's
// TaskQueueReplicationEvent (docs/FORMAT.md) so that the JSON codec can speak Hugo's layout.
#pragma once

#include <hugo/error.hpp>
#include <hugo/export.hpp>
#include <hugo/time.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hugo {

// Event kinds. PERSISTED: these numbers are written to every journal row and to JSON.
// Append only; never renumber; if a kind is retired, leave a comment holding its number.
enum class EventKind : std::uint8_t {
  Enqueued = 0,
  LeaseGranted = 1,
  Heartbeat = 2,
  Completed = 3,
  Failed = 4,
  Requeued = 5,
  DeadLettered = 6,
  LeaseExpired = 7,
  Drained = 8,
  Restored = 9,  // hugo-journal addition: Hugo's restore emitted nothing (docs/QUEUE.md)
  // hugo-journal addition (schema version 4): the task was canceled for good, pending or leased
  // (docs/QUEUE.md, "Cancel"). Hugo has no such kind; docs/MIGRATION.md says how its readers skip it.
  Canceled = 10,
};
inline constexpr int kEventKindCount = 11;

HUGO_API std::string_view to_string(EventKind kind);
// Parses a kind name ("LeaseGranted") or its number ("1"); case-insensitive.
HUGO_API Result<EventKind> parse_event_kind(std::string_view text);
HUGO_API bool is_valid_event_kind(std::int64_t value);

// Lifecycle flags (Hugo's TaskQueueLifecycleEventMetadata). PERSISTED bit values; append only.
namespace flags {
inline constexpr std::uint32_t None = 0;
inline constexpr std::uint32_t FromDrain = 1;
inline constexpr std::uint32_t FromExpiration = 2;
inline constexpr std::uint32_t DeadLetter = 4;
inline constexpr std::uint32_t All = FromDrain | FromExpiration | DeadLetter;
}  // namespace flags

// How a payload's bytes are to be read. PERSISTED (journal row flag bit, see docs/FORMAT.md).
enum class PayloadFormat : std::uint8_t {
  Bytes = 0,  // opaque bytes; JSON writes them as a base64 string (like .NET byte[])
  Json = 1,   // UTF-8 JSON text; JSON embeds it as the `value` itself
};

// The fencing token of one lease: (task id, attempt, lease id). In hugo-journal the task id is the
// seq of the task's Enqueued row and the lease id is the seq of its LeaseGranted row, so a token
// names exactly one grant forever.
struct OwnershipToken {
  std::int64_t task_id = 0;
  std::int32_t attempt = 0;
  std::int64_t lease_id = 0;

  // Hugo's ToString layout: "{SequenceId}:{Attempt}:{LeaseId as 32 hex digits}".
  HUGO_API std::string to_string() const;
  friend bool operator==(const OwnershipToken&, const OwnershipToken&) = default;
};

// Hugo's reader parses `leaseId` as a GUID, while hugo-journal lease ids are int64 seqs. The
// encoding is reversible: the id is written as 16 big-endian hex digits in the last two GUID
// groups, with the first 16 digits zero. Lease 42 is "00000000-0000-0000-0000-00000000002a".
HUGO_API std::string lease_id_to_guid(std::int64_t lease_id);
// Accepts the canonical 36-char form or 32 hex digits; error.validation if it does not hold a
// non-negative int64 in the low 64 bits with zero high bits.
HUGO_API Result<std::int64_t> lease_id_from_guid(std::string_view guid);
// The canonical form (36 chars, lowercase, dashed) of a GUID given in that form or as 32 hex
// digits, in any case; error.validation if it is neither.
HUGO_API Result<std::string> canonical_guid(std::string_view guid);

// One event. Fields mirror Hugo's replication event; comments say how the journal fills each.
struct Event {
  std::int64_t seq = 0;              // sequenceNumber: the journal rowid (0 until appended)
  std::int64_t source_event_id = 0;  // sourceEventId: the journal sets it to seq
  std::string queue;                 // queueName (required, non-empty)
  EventKind kind = EventKind::Enqueued;
  std::optional<std::string> source_peer_id;  // sourcePeerId: not stored; set by a source
  std::optional<std::string> owner_peer_id;   // ownerPeerId: the lease owner
  Timestamp occurred_at{};                    // occurredAt
  Timestamp recorded_at{};                    // recordedAt: the journal sets it to occurred_at
  std::int64_t task_id = 0;                   // taskSequenceId: seq of the task's Enqueued row
  std::int32_t attempt = 1;                   // 1-based delivery attempt
  std::optional<std::string> payload;         // value: only Enqueued/Restored rows store it
  PayloadFormat payload_format = PayloadFormat::Bytes;
  std::optional<Error> error;
  std::optional<OwnershipToken> token;        // ownershipToken
  std::optional<Timestamp> lease_expiration;  // leaseExpiration: LeaseGranted/Heartbeat only
  std::uint32_t flags = flags::None;
  // Extension fields (not in Hugo's 15; JSON writes them only when set):
  std::optional<Timestamp> enqueued_at;   // Restored only: the task's original enqueue time
  std::optional<Timestamp> available_at;  // Enqueued, Restored, Requeued: not leasable before
  std::optional<std::string> journal_id;      // the source journal's stream id (extension field)
  // Restored only: the task id the restored item had before restore() gave it a new one (this
  // row's seq); see docs/QUEUE.md, "Restore and task identity".
  std::optional<std::int64_t> original_task_id;
  // Enqueued and Restored only: the task's priority (higher is leased first; docs/QUEUE.md,
  // "Priorities"). 0 is the default and is not written.
  std::int32_t priority = 0;
  // Enqueued only: the task's idempotency key (docs/QUEUE.md, "Idempotency keys"): 1 to 1024
  // bytes of UTF-8 without NUL. A row with a key carries no error (it is stored in that column).
  std::optional<std::string> idempotency_key;
  // The token's lease id as a foreign writer (Hugo) wrote it: a GUID that is not a hugo-journal
  // lease id. Set by the JSON decoder (token.lease_id is then 0) and by export from an imported
  // journal's mapping; never stored in a row (docs/MIGRATION.md, "Hugo lease ids").
  std::optional<std::string> lease_guid;

  friend bool operator==(const Event&, const Event&) = default;
};

}  // namespace hugo
