// hugo::TypedTaskQueue<T>: a TaskQueue whose payloads are values of T, serialized with cereal's
// portable binary archive. T needs a cereal serialize() (or the cereal/types/ header for
// standard types). A payload that does not decode as T is dead-lettered with codec.invalid
// instead of being redelivered forever.
#pragma once

#include <hugo/error_codes.hpp>
#include <hugo/portable_binary.hpp>
#include <hugo/task_queue.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hugo {

template <class T>
class TypedTaskQueue {
 public:
  struct TypedLease {
    Lease lease;
    T value;
  };

  static Result<std::unique_ptr<TypedTaskQueue>> open(std::shared_ptr<Journal> journal, TaskQueueOptions options) {
    HUGO_ASSIGN_OR_RETURN(auto queue, TaskQueue::open(std::move(journal), std::move(options)));
    return std::unique_ptr<TypedTaskQueue>(new TypedTaskQueue(std::move(queue)));
  }

  // Serializes `value` and enqueues it; see TaskQueue::enqueue.
  Result<std::int64_t> enqueue(const T& value, Wait wait = {}) {
    HUGO_ASSIGN_OR_RETURN(std::string bytes, encode(value));
    return queue_->enqueue(std::move(bytes), std::move(wait));
  }

  // Serializes `value` and enqueues it with every option (a schedule, a priority); see
  // TaskQueue::enqueue_with. options.format is ignored: the payload is portable binary bytes.
  Result<std::int64_t> enqueue_with(const T& value, EnqueueOptions options, Wait wait = {}) {
    HUGO_ASSIGN_OR_RETURN(std::string bytes, encode(value));
    options.format = PayloadFormat::Bytes;
    return queue_->enqueue_with(std::move(bytes), options, std::move(wait));
  }

  // Serializes `value` and enqueues it under an idempotency key; see TaskQueue::enqueue_keyed.
  Result<KeyedEnqueue> enqueue_keyed(std::string key, const T& value, EnqueueOptions options = {}, Wait wait = {}) {
    HUGO_ASSIGN_OR_RETURN(std::string bytes, encode(value));
    options.format = PayloadFormat::Bytes;
    return queue_->enqueue_keyed(std::move(key), std::move(bytes), options, std::move(wait));
  }

  // Leases and decodes; see TaskQueue::lease.
  Result<TypedLease> lease(std::string owner, Wait wait = {}) {
    HUGO_ASSIGN_OR_RETURN(Lease lease, queue_->lease(std::move(owner), std::move(wait)));
    return decode_or_dead_letter(std::move(lease));
  }

  // Serializes every value and enqueues them as one atomic group; see TaskQueue::enqueue_batch.
  // A value that does not serialize refuses the whole batch (metadata index).
  Result<std::vector<std::int64_t>> enqueue_batch(const std::vector<T>& values, Wait wait = {}) {
    std::vector<std::string> payloads;
    payloads.reserve(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      auto bytes = encode(values[i]);
      if (!bytes.ok()) return Error(bytes.error()).with("index", std::to_string(i));
      payloads.push_back(std::move(bytes).value());
    }
    return queue_->enqueue_batch(std::move(payloads), std::move(wait));
  }

  // Leases up to max_count tasks and decodes them; see TaskQueue::lease_batch. A task whose
  // payload does not decode is dead-lettered with codec.invalid, as lease() does, and left out,
  // so fewer values than leases can come back; when none decodes, the first codec.invalid is
  // returned.
  Result<std::vector<TypedLease>> lease_batch(std::string owner, std::size_t max_count, Wait wait = {}) {
    HUGO_ASSIGN_OR_RETURN(std::vector<Lease> leases, queue_->lease_batch(std::move(owner), max_count, std::move(wait)));
    std::vector<TypedLease> out;
    out.reserve(leases.size());
    std::optional<Error> first_failure;
    for (Lease& lease : leases) {
      auto typed = decode_or_dead_letter(std::move(lease));
      if (typed.ok()) out.push_back(std::move(typed).value());
      else if (!first_failure) first_failure = typed.error();
    }
    if (out.empty() && first_failure) return *first_failure;
    return out;
  }

  Result<HeartbeatResult> heartbeat(const OwnershipToken& token) { return queue_->heartbeat(token); }
  Status complete(const OwnershipToken& token) { return queue_->complete(token); }
  Status complete_batch(const std::vector<OwnershipToken>& tokens) { return queue_->complete_batch(tokens); }
  Result<FailOutcome> fail(const OwnershipToken& token, Error error, bool requeue = true) {
    return queue_->fail(token, std::move(error), requeue);
  }
  Result<FailOutcome> fail_and_retry_after(const OwnershipToken& token, Error error, Duration retry_after) {
    return queue_->fail_and_retry_after(token, std::move(error), retry_after);
  }
  Result<CancelOutcome> cancel(std::int64_t task_id, std::string reason = {}) {
    return queue_->cancel(task_id, std::move(reason));
  }
  Result<std::size_t> sweep_expired() { return queue_->sweep_expired(); }
  Status close() { return queue_->close(); }
  std::size_t pending_count() const { return queue_->pending_count(); }
  std::size_t active_lease_count() const { return queue_->active_lease_count(); }

  // The untyped queue, for drain/restore/snapshot.
  TaskQueue& untyped() { return *queue_; }

  static Result<std::string> encode(const T& value) {
    return detail::portable_binary_encode(value, [](const detail::PortableBinaryFailure& failure) {
      return Error::codec_invalid("cannot serialize the task value: " + failure.what);
    });
  }

  static Result<T> decode(const std::string& bytes) {
    return detail::portable_binary_decode<T>(bytes, [](const detail::PortableBinaryFailure& failure) {
      return Error::codec_invalid(failure.trailing_bytes
                                      ? std::string("the task payload has trailing bytes after the value")
                                      : "the task payload does not decode: " + failure.what);
    });
  }

 private:
  explicit TypedTaskQueue(std::unique_ptr<TaskQueue> queue) : queue_(std::move(queue)) {}

  // Decodes a fresh lease's payload; one that does not decode is dead-lettered at once with
  // codec.invalid (metadata task_id), which is also returned.
  Result<TypedLease> decode_or_dead_letter(Lease lease) {
    auto value = decode(lease.payload);
    if (!value.ok()) {
      Error error = value.error();
      (void)queue_->fail(lease.token, error.with("task_id", std::to_string(lease.task_id())), false);
      return error;
    }
    return TypedLease{std::move(lease), std::move(value).value()};
  }
  std::unique_ptr<TaskQueue> queue_;
};

}  // namespace hugo
