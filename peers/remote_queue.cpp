// RemoteTaskQueue: the queue API's client on kept-alive HttpConnections (peers/http_connection.hpp;
// see include/hugo/remote_queue.hpp for the retry and wait contract). Bodies are
// peers/queue_wire.hpp's, the server's own codec.
#include <hugo/error_codes.hpp>
#include <hugo/remote_queue.hpp>

#include "core/hex.hpp"
#include "peers/http_connection.hpp"
#include "peers/queue_wire.hpp"

#include <cctype>
#include <mutex>
#include <thread>

namespace hugo {
namespace remote_queue_parts {

// Whether a call may be sent again after its reply was lost (it was sent, maybe applied).
enum class Repeat { OnlyUnsent, Always };

// A path segment, percent-encoded (RFC 3986: unreserved characters stay as they are).
std::string escape_segment(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      out += '%';
      hex::append_byte(out, c, hex::kUpper);
    }
  }
  return out;
}

const std::string kNoBody;  // a POST without a body (a null body is a GET)

bool stop_requested(const Wait& wait) { return wait.stop.stop_possible() && wait.stop.stop_requested(); }

}  // namespace remote_queue_parts
using namespace remote_queue_parts;

struct RemoteTaskQueue::Impl {
  RemoteTaskQueueOptions options;
  peers::HttpEndpoint endpoint;
  std::string authorization;  // the header line, or ""
  std::string base;           // "/v1/queues/<escaped name>"
  std::mutex mutex;
  std::vector<std::unique_ptr<peers::HttpConnection>> idle;  // kept-alive connections not in use

  std::unique_ptr<peers::HttpConnection> take_connection();
  void give_back(std::unique_ptr<peers::HttpConnection> connection);
  // POSTs (or GETs, with body null) `path` under the queue; the reply body of a 2xx, the server's
  // error otherwise. `poll` is the long poll the server may hold the request for.
  Result<std::string> call(const std::string& path, const std::string* body, Repeat repeat,
                           std::chrono::milliseconds poll = {}, const std::string& key = {});
  Result<std::string> once(const std::string& path, const std::string* body, std::chrono::milliseconds poll,
                           const std::string& key, bool& sent, bool& transport);
  // Repeats a long-poll call until it gives a result or `wait` ends: `attempt(poll, again)` sets
  // `again` to ask again (its result is then ignored).
  template <class T, class Attempt>
  Result<T> polling(const Wait& wait, Attempt&& attempt, const char* what);
  // POSTs an enqueue, asking again while the queue is full until `wait` ends; the reply body.
  // Only a keyed enqueue is repeated after a lost reply (its key makes that safe).
  Result<std::string> post_enqueue(peers::EnqueueRequest& request, const Wait& wait, const std::string& key);
};

std::unique_ptr<peers::HttpConnection> RemoteTaskQueue::Impl::take_connection() {
  {
    std::lock_guard lock(mutex);
    if (!idle.empty()) {
      auto connection = std::move(idle.back());
      idle.pop_back();
      return connection;
    }
  }
  return std::make_unique<peers::HttpConnection>(endpoint, authorization, options.connect_timeout);
}

void RemoteTaskQueue::Impl::give_back(std::unique_ptr<peers::HttpConnection> connection) {
  std::lock_guard lock(mutex);
  if (idle.size() < 64) idle.push_back(std::move(connection));
}

Result<std::string> RemoteTaskQueue::Impl::once(const std::string& path, const std::string* body,
                                                std::chrono::milliseconds poll, const std::string& key, bool& sent,
                                                bool& transport) {
  auto connection = take_connection();
  const std::string headers = key.empty() ? std::string() : "Idempotency-Key: " + key + "\r\n";
  const std::string target = base + path;
  auto res = connection->request(body == nullptr ? "GET" : "POST", target, body, headers,
                                 options.request_timeout + poll, sent);
  give_back(std::move(connection));  // closed on a failure; reconnects on its next use
  transport = !res.ok();
  if (!res.ok()) {
    Error error = std::move(res).error();
    return Error::replication_unavailable("the queue server at " + options.url + " " +
                                          (sent ? "did not answer " : "cannot be reached for ") + target + " (" +
                                          error.message() + ")")
        .with("url", options.url)
        .with("path", target);
  }
  const int status = res->status;
  if (status >= 200 && status < 300) return std::move(res->body);
  if (auto error = peers::decode_error_body(res->body)) return std::move(*error);
  return Error::replication_unavailable("the queue server answered HTTP " + std::to_string(status) + " to " + target +
                                        " without an error body; is " + options.url + " a hugo-journal server?")
      .with("status", std::to_string(status));
}

Result<std::string> RemoteTaskQueue::Impl::call(const std::string& path, const std::string* body, Repeat repeat,
                                                std::chrono::milliseconds poll, const std::string& key) {
  auto backoff = options.retry_backoff;
  for (std::size_t attempt = 0;; ++attempt) {
    bool sent = false;
    bool transport = false;
    auto reply = once(path, body, poll, key, sent, transport);
    // A server refusing a connection beyond its limits (503 replication.unavailable) never ran the call.
    const bool busy = !reply.ok() && !transport &&
                      (reply.error().code() == errc::journal_busy || reply.error().code() == errc::replication_unavailable);
    if (reply.ok() || (!transport && !busy)) return reply;
    if (transport && sent && repeat != Repeat::Always) {
      Error error = std::move(reply).error();
      return Error::replication_unavailable(error.message() + "; the call may have taken effect on the server, so "
                                                              "it was not repeated")
          .with("url", options.url)
          .with("maybe_applied", "true");
    }
    if (attempt >= options.retries) return reply;
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
}

template <class T, class Attempt>
Result<T> RemoteTaskQueue::Impl::polling(const Wait& wait, Attempt&& attempt, const char* what) {
  using Clock = std::chrono::steady_clock;
  while (true) {
    if (stop_requested(wait)) return Error::canceled(std::string(what) + " canceled by its stop token");
    const auto now = Clock::now();
    std::chrono::milliseconds poll{0};
    if (wait.deadline > now) {
      const auto left = wait.deadline == Clock::time_point::max()
                            ? options.long_poll
                            : std::chrono::duration_cast<std::chrono::milliseconds>(wait.deadline - now);
      poll = std::min(options.long_poll, std::max(left, std::chrono::milliseconds(1)));
    }
    bool again = false;
    Result<T> result = attempt(poll, again);
    if (!again) return result;
    if (Clock::now() >= wait.deadline) return Error::queue_timeout(std::string(what) + ": the wait's deadline passed");
  }
}

Result<std::string> RemoteTaskQueue::Impl::post_enqueue(peers::EnqueueRequest& request, const Wait& wait,
                                                        const std::string& key) {
  return polling<std::string>(wait, [&](std::chrono::milliseconds poll, bool& again) -> Result<std::string> {
    request.wait = poll;
    std::string body;
    peers::encode_enqueue_request(request, body);
    auto reply = call("/tasks", &body, key.empty() ? Repeat::OnlyUnsent : Repeat::Always, poll, key);
    again = !reply.ok() && reply.error().code() == errc::queue_full && poll.count() > 0;
    return reply;
  }, "enqueue");
}

RemoteTaskQueue::RemoteTaskQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RemoteTaskQueue::~RemoteTaskQueue() = default;

Result<std::unique_ptr<RemoteTaskQueue>> RemoteTaskQueue::open(RemoteTaskQueueOptions options) {
  HUGO_ASSIGN_OR_RETURN(auto endpoint, peers::parse_http_url(options.url));
  for (const char c : options.token) {
    if (c == '\r' || c == '\n' || c == '\0') return Error::validation("the token holds a line break or a NUL");
  }
  if (options.queue.empty()) return Error::validation("name the queue (RemoteTaskQueueOptions::queue)");
  if (options.connect_timeout.count() <= 0 || options.request_timeout.count() <= 0 || options.long_poll.count() <= 0) {
    return Error::validation("connect_timeout, request_timeout and long_poll must be positive");
  }
  auto impl = std::make_unique<Impl>();
  impl->base = "/v1/queues/" + escape_segment(options.queue);
  impl->endpoint = std::move(endpoint);
  if (!options.token.empty()) impl->authorization = "Authorization: Bearer " + options.token + "\r\n";
  impl->options = std::move(options);
  return std::unique_ptr<RemoteTaskQueue>(new RemoteTaskQueue(std::move(impl)));
}

const std::string& RemoteTaskQueue::name() const { return impl_->options.queue; }

Result<std::int64_t> RemoteTaskQueue::enqueue(std::string payload, Wait wait, PayloadFormat format,
                                              EnqueueOrigin origin) {
  EnqueueOptions options;
  options.format = format;
  options.origin = std::move(origin);
  return enqueue_with(std::move(payload), options, std::move(wait));
}

Result<std::int64_t> RemoteTaskQueue::enqueue_with(std::string payload, const EnqueueOptions& options, Wait wait) {
  std::vector<std::string> one;
  one.push_back(std::move(payload));
  peers::EnqueueRequest request{std::move(one), false, options, {}};
  HUGO_ASSIGN_OR_RETURN(auto reply, impl_->post_enqueue(request, wait, {}));
  HUGO_ASSIGN_OR_RETURN(auto result, peers::decode_keyed_enqueue(reply));
  return result.task_id;
}

Result<KeyedEnqueue> RemoteTaskQueue::enqueue_keyed(std::string key, std::string payload,
                                                    const EnqueueOptions& options, Wait wait) {
  if (key.empty()) return Error::validation("an idempotency key must not be empty");
  if (key.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return Error::validation("an idempotency key sent over HTTP must not hold a line break or a NUL");
  }
  std::vector<std::string> one;
  one.push_back(std::move(payload));
  peers::EnqueueRequest request{std::move(one), false, options, {}};
  HUGO_ASSIGN_OR_RETURN(auto reply, impl_->post_enqueue(request, wait, key));
  return peers::decode_keyed_enqueue(reply);
}

Result<std::vector<std::int64_t>> RemoteTaskQueue::enqueue_batch(std::vector<std::string> payloads, Wait wait,
                                                                 PayloadFormat format, EnqueueOrigin origin) {
  EnqueueOptions options;
  options.format = format;
  options.origin = std::move(origin);
  return enqueue_batch_with(std::move(payloads), options, std::move(wait));
}

Result<std::vector<std::int64_t>> RemoteTaskQueue::enqueue_batch_with(std::vector<std::string> payloads,
                                                                      const EnqueueOptions& options, Wait wait) {
  if (payloads.empty()) return std::vector<std::int64_t>{};
  peers::EnqueueRequest request{std::move(payloads), true, options, {}};
  HUGO_ASSIGN_OR_RETURN(auto reply, impl_->post_enqueue(request, wait, {}));
  return peers::decode_task_ids(reply);
}

Result<Lease> RemoteTaskQueue::lease(std::string owner, Wait wait) {
  HUGO_ASSIGN_OR_RETURN(auto leases, lease_batch(std::move(owner), 1, std::move(wait)));
  return std::move(leases.front());
}

Result<std::vector<Lease>> RemoteTaskQueue::lease_batch(std::string owner, std::size_t max_count, Wait wait) {
  using Leases = std::vector<Lease>;
  if (max_count == 0 || max_count > peers::kMaxLeaseBatch) {
    return Error::validation("max_count must be 1 to " + std::to_string(peers::kMaxLeaseBatch));
  }
  peers::LeaseRequest request{std::move(owner), max_count, {}};
  return impl_->polling<Leases>(wait, [&](std::chrono::milliseconds poll, bool& again) -> Result<Leases> {
    request.wait = poll;
    std::string body;
    peers::encode_lease_request(request, body);
    auto reply = impl_->call("/leases", &body, Repeat::Always, poll);
    if (!reply.ok()) return Result<Leases>(std::move(reply).error());
    auto leases = peers::decode_leases(*reply);
    if (leases.ok() && leases->empty()) {
      again = poll.count() > 0;
      return Error::queue_timeout("lease: no task is leasable now");
    }
    return leases;
  }, "lease");
}

Result<HeartbeatResult> RemoteTaskQueue::heartbeat(const OwnershipToken& token) {
  HUGO_ASSIGN_OR_RETURN(auto reply,
                        impl_->call("/leases/" + escape_segment(token.to_string()) + "/heartbeat", &kNoBody, Repeat::Always));
  return peers::decode_heartbeat(reply);
}

Status RemoteTaskQueue::complete(const OwnershipToken& token) {
  HUGO_TRY(impl_->call("/leases/" + escape_segment(token.to_string()) + "/complete", &kNoBody, Repeat::OnlyUnsent));
  return ok_status();
}

Status RemoteTaskQueue::complete_batch(const std::vector<OwnershipToken>& tokens) {
  if (tokens.empty()) return ok_status();
  std::string body;
  peers::encode_token_list(tokens, body);
  HUGO_TRY(impl_->call("/leases/complete", &body, Repeat::OnlyUnsent));
  return ok_status();
}

Result<FailOutcome> RemoteTaskQueue::fail(const OwnershipToken& token, Error error, bool requeue) {
  std::string body;
  peers::encode_fail_request({token, std::move(error), requeue, std::nullopt}, false, body);
  HUGO_ASSIGN_OR_RETURN(auto reply,
                        impl_->call("/leases/" + escape_segment(token.to_string()) + "/fail", &body, Repeat::OnlyUnsent));
  return peers::decode_fail_outcome(reply);
}

Result<FailOutcome> RemoteTaskQueue::fail_and_retry_after(const OwnershipToken& token, Error error,
                                                          Duration retry_after) {
  std::string body;
  peers::encode_fail_request({token, std::move(error), true, retry_after}, false, body);
  HUGO_ASSIGN_OR_RETURN(auto reply,
                        impl_->call("/leases/" + escape_segment(token.to_string()) + "/fail", &body, Repeat::OnlyUnsent));
  return peers::decode_fail_outcome(reply);
}

Result<CancelOutcome> RemoteTaskQueue::cancel(std::int64_t task_id, std::string reason) {
  std::string body;
  peers::encode_cancel_request(reason, body);
  HUGO_ASSIGN_OR_RETURN(auto reply, impl_->call("/tasks/" + std::to_string(task_id) + "/cancel", &body, Repeat::OnlyUnsent));
  return peers::decode_cancel_outcome(reply);
}

Result<std::vector<PendingItem>> RemoteTaskQueue::drain() {
  HUGO_ASSIGN_OR_RETURN(auto reply, impl_->call("/drain", &kNoBody, Repeat::OnlyUnsent));
  return peers::decode_pending_items(reply);
}

Status RemoteTaskQueue::restore(std::vector<PendingItem> items) {
  std::string body;
  peers::encode_pending_items(items, body);
  HUGO_TRY(impl_->call("/restore", &body, Repeat::OnlyUnsent));
  return ok_status();
}

Status RemoteTaskQueue::requeue_dead_letter(std::int64_t task_id) {
  HUGO_TRY(impl_->call("/dead-letters/" + std::to_string(task_id) + "/requeue", &kNoBody, Repeat::OnlyUnsent));
  return ok_status();
}

Result<RemoteQueueCounts> RemoteTaskQueue::counts() {
  HUGO_ASSIGN_OR_RETURN(auto reply, impl_->call("", nullptr, Repeat::Always));
  return peers::decode_queue_counts(reply);
}

}  // namespace hugo
