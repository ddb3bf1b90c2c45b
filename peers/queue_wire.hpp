// The JSON bodies of the queue API over HTTP (docs/WORKERS.md): what the server's routes
// (peers/queue_routes.cpp) read and write, and what RemoteTaskQueue (peers/remote_queue.cpp) writes
// and reads. One codec for both sides, so the two cannot drift apart.
//
// Payloads travel as "payload" (a JSON string, when the bytes are valid UTF-8) or "payloadBase64"
// (any bytes), with "format": "json" for a JSON payload (its text, in the string). Times are
// ISO 8601 UTC strings; tokens are OwnershipToken::to_string() ("12:1:<32 hex digits>").
//
// Decoders treat every body as hostile: they refuse (codec.malformed, codec.invalid,
// error.validation) a body that is not one JSON object, nests deeper than the codec's limit, holds
// a field of the wrong type or an unknown field, and never recurse on the input.
#pragma once

#include <hugo/error.hpp>
#include <hugo/remote_queue.hpp>
#include <hugo/task_queue.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hugo::peers {

// ---- requests ----------------------------------------------------------------------------------

// POST /v1/queues/{queue}/tasks: one task ("payload") or a batch ("payloads"), with the options
// every task of it gets.
struct EnqueueRequest {
  std::vector<std::string> payloads;
  bool batch = false;
  EnqueueOptions options;
  std::chrono::milliseconds wait{0};  // "waitMs": how long to wait for room
};
void encode_enqueue_request(const EnqueueRequest& request, std::string& out);
Result<EnqueueRequest> decode_enqueue_request(std::string_view body);

// POST .../leases: {"owner", "max" (1..kMaxLeaseBatch), "waitMs"}.
inline constexpr std::size_t kMaxLeaseBatch = 1024;
struct LeaseRequest {
  std::string owner;
  std::size_t max = 1;
  std::chrono::milliseconds wait{0};
};
void encode_lease_request(const LeaseRequest& request, std::string& out);
Result<LeaseRequest> decode_lease_request(std::string_view body);

// POST .../leases/{token}/fail (no "token": it is in the path) and, as items of "failures",
// POST .../leases/fail.
struct FailRequest {
  OwnershipToken token;
  Error error{"", ""};
  bool requeue = true;
  std::optional<Duration> retry_after;  // "retryAfterMs": fail_and_retry_after
};
void encode_fail_request(const FailRequest& request, bool with_token, std::string& out);
Result<FailRequest> decode_fail_request(std::string_view body);
Result<std::vector<FailRequest>> decode_fail_batch(std::string_view body);

// {"tokens":[...]}: the batch forms of complete and heartbeat.
void encode_token_list(const std::vector<OwnershipToken>& tokens, std::string& out);
Result<std::vector<OwnershipToken>> decode_token_list(std::string_view body);

// POST .../tasks/{id}/cancel: {"reason"} (optional; an empty body is no reason).
void encode_cancel_request(const std::string& reason, std::string& out);
Result<std::string> decode_cancel_request(std::string_view body);

// POST .../restore: {"items":[...]}; also the reply of POST .../drain.
void encode_pending_items(const std::vector<PendingItem>& items, std::string& out);
Result<std::vector<PendingItem>> decode_pending_items(std::string_view body);

// An OwnershipToken as a path segment; error.validation for anything else.
Result<OwnershipToken> parse_token(std::string_view text);

// ---- replies -----------------------------------------------------------------------------------

// {"leases":[...]} (an empty list: the long poll ended with nothing to lease).
void encode_leases(const std::vector<Lease>& leases, std::string& out);
Result<std::vector<Lease>> decode_leases(std::string_view body);

// {"taskId":N,"duplicate":B} or {"taskIds":[...]}.
void encode_task_ids(const std::vector<std::int64_t>& ids, std::string& out);
void encode_keyed_enqueue(const KeyedEnqueue& result, std::string& out);
Result<std::vector<std::int64_t>> decode_task_ids(std::string_view body);
Result<KeyedEnqueue> decode_keyed_enqueue(std::string_view body);

// {"outcome":"extended"|"throttled","expiresAt":T}; the batch form is
// {"results":[<that> or {"error":{...}}, ...]}.
void encode_heartbeat(const HeartbeatResult& result, std::string& out);
Result<HeartbeatResult> decode_heartbeat(std::string_view body);

// {"outcome":"requeued"|"deadLettered"} and {"outcome":"wasPending"|"wasLeased"}.
std::string_view fail_outcome_name(FailOutcome outcome);
std::string_view cancel_outcome_name(CancelOutcome outcome);
void encode_outcome(std::string_view name, std::string& out);  // {"outcome":"<name>"}
Result<FailOutcome> decode_fail_outcome(std::string_view body);
Result<CancelOutcome> decode_cancel_outcome(std::string_view body);

// GET /v1/queues/{queue}: {"queue","pending","leased","deadLetters","backpressure":{...}}.
Result<RemoteQueueCounts> decode_queue_counts(std::string_view body);

// {"deadLetters":[...]}.
void encode_dead_letters(const std::vector<DeadLetter>& dead, std::string& out);

// {"error":{...}}: the body of every refused call. decode_error_body returns the error it holds,
// or nullopt when the body is not one.
std::string error_body(const Error& error);
std::optional<Error> decode_error_body(std::string_view body);

}  // namespace hugo::peers
