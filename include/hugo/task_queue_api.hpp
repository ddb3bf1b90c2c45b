// hugo::TaskQueueApi: the operations a worker or a producer uses, implemented in process by
// hugo::TaskQueue (include/hugo/task_queue.hpp) and over HTTP by hugo::RemoteTaskQueue
// (include/hugo/remote_queue.hpp), so that code written against it switches between the two by
// changing one constructor. Also the value types both take and return.
//
// The contracts are TaskQueue's (its header documents each call). A remote call adds transport
// errors: replication.unavailable when the server cannot be reached or the reply was lost
// (docs/WORKERS.md says which calls the client retries by itself), replication.unauthorized for a
// missing or wrong token.
#pragma once

#include <hugo/error.hpp>
#include <hugo/event.hpp>
#include <hugo/export.hpp>
#include <hugo/time.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace hugo {

// How long a call may block (enqueue on a full queue, lease on an empty one).
struct Wait {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::stop_token stop;

  static Wait none() { return Wait{std::chrono::steady_clock::time_point::min(), {}}; }
  static Wait forever(std::stop_token stop = {}) { return Wait{std::chrono::steady_clock::time_point::max(), std::move(stop)}; }
  static Wait for_duration(std::chrono::steady_clock::duration d, std::stop_token stop = {}) {
    return Wait{std::chrono::steady_clock::now() + d, std::move(stop)};
  }
};

// A pending task as drain() hands it out and restore() takes it back.
struct PendingItem {
  std::int64_t task_id = 0;  // as drain() handed it out; 0 in restore(): a new task
  std::string payload;
  PayloadFormat payload_format = PayloadFormat::Bytes;
  std::int32_t attempt = 1;
  Timestamp enqueued_at{};
  std::optional<Error> last_error;
  std::optional<OwnershipToken> last_token;
  // Not leasable before this time: drain() sets it for a task that was not yet leasable (a
  // scheduled or delayed task), and restore() keeps it if it is still in the future.
  std::optional<Timestamp> available_at;
  std::int32_t priority = 0;  // the task's; restore() keeps it
};

// A task that left the queue for good. Also the dead-letter handler's context.
struct DeadLetter {
  std::int64_t task_id = 0;
  std::int64_t seq = 0;  // its DeadLettered row
  std::string payload;
  PayloadFormat payload_format = PayloadFormat::Bytes;
  std::int32_t attempt = 1;
  Timestamp enqueued_at{};
  Timestamp dead_lettered_at{};
  Error error{"", ""};
  std::optional<OwnershipToken> last_token;
};

// A granted lease: what a worker needs to do the task and to prove ownership afterwards.
struct Lease {
  OwnershipToken token;
  std::string queue;
  std::string owner;
  std::string payload;
  PayloadFormat payload_format = PayloadFormat::Bytes;
  std::int32_t attempt = 1;  // 1-based
  Timestamp enqueued_at{};   // original enqueue time, kept across retries
  Timestamp granted_at{};
  Timestamp expires_at{};
  std::optional<Error> last_error;  // the previous attempt's error
  std::int64_t task_id() const { return token.task_id; }
};

struct HeartbeatResult {
  enum class Outcome { Extended, Throttled };
  // Throttled: within heartbeat_interval of the last effective heartbeat; nothing was extended or
  // journaled (Hugo returned a silent success here; docs/QUEUE.md).
  Outcome outcome = Outcome::Extended;
  Timestamp expires_at{};
};

enum class FailOutcome { Requeued, DeadLettered };

// What enqueue_keyed() did: enqueued a new task, or found the task holding the key.
struct KeyedEnqueue {
  std::int64_t task_id = 0;
  bool duplicate = false;  // true: nothing was enqueued; task_id names the task holding the key
};

// What cancel() found: a pending task (scheduled or not) or a leased one, whose lease it fenced.
enum class CancelOutcome { WasPending, WasLeased };

// Who asked for an enqueue: OmniRelay's dispatcher records the caller's peer id on Enqueue
// events. Journaled in the Enqueued row's owner column (docs/FORMAT.md), so the event's
// owner_peer_id carries it to every source, sink, follower and export.
struct EnqueueOrigin {
  // The calling peer, or a request id that identifies the call: at most 1024 bytes, no NUL.
  // Unset (or empty) records nothing.
  std::optional<std::string> peer_id;
};

// How to enqueue: what the plain enqueue() arguments say, and when the task becomes leasable
// (docs/QUEUE.md, "Scheduled tasks"). A batch gives every task the same options.
struct EnqueueOptions {
  PayloadFormat format = PayloadFormat::Bytes;
  EnqueueOrigin origin;
  // Not leasable before this time, by the queue's clock (before year 10000). The task is pending
  // (it counts against capacity and backpressure, drain() hands it out) but lease() passes it
  // over until then.
  std::optional<Timestamp> not_before;
  // Or: not leasable before the row's own time + delay (0 to 1000 years; zero: at once). Setting
  // both not_before and a delay is error.validation.
  Duration delay = Duration::zero();
  // Higher is leased first; FIFO among equal priorities (docs/QUEUE.md, "Priorities"). Any int32.
  std::int32_t priority = 0;
};

// The queue's operations (TaskQueue documents each one). Implementations are thread-safe.
class HUGO_API TaskQueueApi {
 public:
  virtual ~TaskQueueApi() = default;

  virtual const std::string& name() const = 0;

  virtual Result<std::int64_t> enqueue(std::string payload, Wait wait = {},
                                       PayloadFormat format = PayloadFormat::Bytes, EnqueueOrigin origin = {}) = 0;
  virtual Result<std::int64_t> enqueue_with(std::string payload, const EnqueueOptions& options, Wait wait = {}) = 0;
  virtual Result<KeyedEnqueue> enqueue_keyed(std::string key, std::string payload,
                                             const EnqueueOptions& options = {}, Wait wait = {}) = 0;
  virtual Result<std::vector<std::int64_t>> enqueue_batch(std::vector<std::string> payloads, Wait wait = {},
                                                          PayloadFormat format = PayloadFormat::Bytes,
                                                          EnqueueOrigin origin = {}) = 0;
  virtual Result<std::vector<std::int64_t>> enqueue_batch_with(std::vector<std::string> payloads,
                                                               const EnqueueOptions& options, Wait wait = {}) = 0;

  virtual Result<Lease> lease(std::string owner, Wait wait = {}) = 0;
  virtual Result<std::vector<Lease>> lease_batch(std::string owner, std::size_t max_count, Wait wait = {}) = 0;
  virtual Result<HeartbeatResult> heartbeat(const OwnershipToken& token) = 0;
  virtual Status complete(const OwnershipToken& token) = 0;
  virtual Status complete_batch(const std::vector<OwnershipToken>& tokens) = 0;
  virtual Result<FailOutcome> fail(const OwnershipToken& token, Error error, bool requeue = true) = 0;
  virtual Result<FailOutcome> fail_and_retry_after(const OwnershipToken& token, Error error,
                                                   Duration retry_after) = 0;

  virtual Result<CancelOutcome> cancel(std::int64_t task_id, std::string reason = {}) = 0;
  virtual Result<std::vector<PendingItem>> drain() = 0;
  virtual Status restore(std::vector<PendingItem> items) = 0;
  virtual Status requeue_dead_letter(std::int64_t task_id) = 0;
};

}  // namespace hugo
