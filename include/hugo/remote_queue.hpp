// hugo::RemoteTaskQueue: a TaskQueue on another process, through the queue API of
// `hugo-journal serve --queue NAME` (docs/WORKERS.md). It implements TaskQueueApi, so a worker
// written against that interface moves between an in-process queue and a remote one by changing
// the constructor.
//
// Every call returns once the server answered, and the server answers a write only once its rows
// are durable. Errors are the server's TaskQueue errors with their codes (a stale token is
// error.taskqueue.lease_inactive, an unknown queue queue.unknown), plus:
//   - replication.unavailable: the server cannot be reached, or the reply was lost. Calls that
//     are safe to repeat are retried first (up to `retries` times): any call whose connection
//     failed before it was sent; lease, heartbeat and reads after a lost reply; enqueue_keyed always
//     (its key makes a retry find the task it enqueued instead of a duplicate). A plain enqueue,
//     complete, fail, cancel, drain or restore whose reply was lost is not repeated: the error
//     says the call may have taken effect. Use enqueue_keyed for enqueues that must be retried.
//   - replication.unauthorized: a missing or wrong token (writes need the server's write token).
//
// Waits: a lease (or an enqueue on a full queue) waits on the server in long polls of at most
// `long_poll`, asked again until the Wait's deadline; its stop token is checked between polls.
//
// Thread-safe: each call takes a kept-alive connection from a small pool (one per concurrent call).
#pragma once

#include <hugo/error.hpp>
#include <hugo/export.hpp>
#include <hugo/task_queue_api.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hugo {

struct RemoteTaskQueueOptions {
  std::string url;    // the server, "http://127.0.0.1:7070"
  std::string queue;  // the queue's name on it
  std::string token;  // sent as "Authorization: Bearer <token>" when non-empty
  std::chrono::milliseconds connect_timeout{2000};
  // The longest one request may take beyond its long poll (a commit at durability Fsync, a slow
  // network), after which the reply counts as lost.
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds long_poll{5000};  // the server caps it too (max_long_poll)
  std::size_t retries = 3;
  std::chrono::milliseconds retry_backoff{100};  // doubled after each retry
};

// What GET /v1/queues/{queue} says of the queue now.
struct RemoteQueueCounts {
  std::int64_t pending = 0;
  std::int64_t leased = 0;
  std::int64_t dead_letters = 0;
  bool backpressure = false;
};

class HUGO_API RemoteTaskQueue final : public TaskQueueApi {
 public:
  // Checks the options (error.validation for a URL that is not http://HOST:PORT, an empty queue
  // name or a zero timeout). Does not connect: the first call does.
  static Result<std::unique_ptr<RemoteTaskQueue>> open(RemoteTaskQueueOptions options);
  ~RemoteTaskQueue() override;
  RemoteTaskQueue(const RemoteTaskQueue&) = delete;
  RemoteTaskQueue& operator=(const RemoteTaskQueue&) = delete;

  const std::string& name() const override;

  Result<std::int64_t> enqueue(std::string payload, Wait wait = {}, PayloadFormat format = PayloadFormat::Bytes,
                               EnqueueOrigin origin = {}) override;
  Result<std::int64_t> enqueue_with(std::string payload, const EnqueueOptions& options, Wait wait = {}) override;
  Result<KeyedEnqueue> enqueue_keyed(std::string key, std::string payload, const EnqueueOptions& options = {},
                                     Wait wait = {}) override;
  Result<std::vector<std::int64_t>> enqueue_batch(std::vector<std::string> payloads, Wait wait = {},
                                                  PayloadFormat format = PayloadFormat::Bytes,
                                                  EnqueueOrigin origin = {}) override;
  Result<std::vector<std::int64_t>> enqueue_batch_with(std::vector<std::string> payloads,
                                                       const EnqueueOptions& options, Wait wait = {}) override;

  Result<Lease> lease(std::string owner, Wait wait = {}) override;
  Result<std::vector<Lease>> lease_batch(std::string owner, std::size_t max_count, Wait wait = {}) override;
  Result<HeartbeatResult> heartbeat(const OwnershipToken& token) override;
  Status complete(const OwnershipToken& token) override;
  Status complete_batch(const std::vector<OwnershipToken>& tokens) override;
  Result<FailOutcome> fail(const OwnershipToken& token, Error error, bool requeue = true) override;
  Result<FailOutcome> fail_and_retry_after(const OwnershipToken& token, Error error, Duration retry_after) override;

  Result<CancelOutcome> cancel(std::int64_t task_id, std::string reason = {}) override;
  Result<std::vector<PendingItem>> drain() override;
  Status restore(std::vector<PendingItem> items) override;
  Status requeue_dead_letter(std::int64_t task_id) override;

  Result<RemoteQueueCounts> counts();

  struct Impl;

 private:
  explicit RemoteTaskQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hugo
