// QueueRoutes: the paths of docs/WORKERS.md mapped onto TaskQueue calls, and the long polls that
// park instead of holding a server thread.
#include "peers/queue_routes.hpp"
#include "peers/queue_wire.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include "core/json_out.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <functional>
#include <optional>
#include <vector>

namespace hugo::peers {
namespace queue_routes_parts {

HttpResponse json_reply(int status, std::string body) {
  HttpResponse res;
  res.status = status;
  res.body = std::move(body);
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

HttpResponse refused(const Error& error) {
  HttpResponse res = json_reply(status_for(error), error_body(error));
  if (res.status == 429 || res.status == 503) res.headers.emplace_back("Retry-After", "1");
  return res;
}

HttpResponse ok_json(std::string body) { return json_reply(200, std::move(body)); }

template <class T, class Encode>
HttpResponse reply(const Result<T>& result, Encode&& encode) {
  if (!result.ok()) return refused(result.error());
  std::string body;
  encode(*result, body);
  return ok_json(std::move(body));
}

HttpResponse reply_status(const Status& status, std::string_view done) {
  if (!status.ok()) return refused(status.error());
  return ok_json("{\"" + std::string(done) + "\":true}");
}

// A reply that waits for the journal to change (or a scheduled task to fall due): `attempt` runs
// on a server thread after every change and at the deadline (`last` true), and returns the
// response, or nullopt to wait on.
class RetryOnChange final : public DeferredReply {
 public:
  using Attempt = std::function<std::optional<HttpResponse>(bool last)>;
  RetryOnChange(const Journal& journal, std::shared_ptr<TaskQueue> queue, bool leasing, SteadyClock::time_point deadline,
                Attempt attempt, std::atomic<std::int64_t>& waiting)
      : journal_(journal), queue_(std::move(queue)), leasing_(leasing), deadline_(deadline),
        attempt_(std::move(attempt)), seen_(journal.durable_seq()), waiting_(waiting) {
    waiting_.fetch_add(1);
  }
  ~RetryOnChange() override { waiting_.fetch_sub(1); }
  RetryOnChange(const RetryOnChange&) = delete;
  RetryOnChange& operator=(const RetryOnChange&) = delete;

  bool ready(SteadyClock::time_point now, SteadyClock::time_point& wake_by) override {
    if (now >= deadline_ || journal_.durable_seq() != seen_) return true;
    wake_by = std::min(wake_by, deadline_);
    if (!leasing_) return false;
    const auto until = queue_->time_until_leasable();
    if (!until) return false;
    if (*until <= Duration::zero()) return true;
    wake_by = std::min(wake_by, now + std::chrono::duration_cast<SteadyClock::duration>(*until));
    return false;
  }

  std::optional<HttpResponse> take() override {
    seen_ = journal_.durable_seq();
    return attempt_(SteadyClock::now() >= deadline_);
  }

 private:
  const Journal& journal_;
  std::shared_ptr<TaskQueue> queue_;
  bool leasing_;
  SteadyClock::time_point deadline_;
  Attempt attempt_;
  std::int64_t seen_;
  std::atomic<std::int64_t>& waiting_;  // the routes' count of parked calls (GET /metrics)
};

// Runs `attempt` now; if it asks to wait and `wait` allows, parks it (see RetryOnChange).
HttpResponse now_or_later(const ReplicationServerOptions& options, std::atomic<std::int64_t>& waiting,
                          std::shared_ptr<TaskQueue> queue, bool leasing, std::chrono::milliseconds wait,
                          RetryOnChange::Attempt attempt) {
  const bool can_wait = wait.count() > 0 && options.live != nullptr;
  if (auto now = attempt(!can_wait)) return std::move(*now);
  const auto deadline = SteadyClock::now() + std::min(wait, options.max_long_poll);
  HttpResponse res;
  res.deferred = std::make_shared<RetryOnChange>(*options.live, std::move(queue), leasing, deadline, std::move(attempt),
                                                 waiting);
  return res;
}

std::vector<std::string_view> split_path(std::string_view rest) {
  std::vector<std::string_view> parts;
  while (parts.size() <= 5) {
    const std::size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return parts;
}

Result<std::int64_t> task_id_of(std::string_view text) {
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0) {
    return Error::validation("'" + std::string(text.substr(0, 40)) + "' is not a task id");
  }
  return id;
}

HttpResponse queue_status(const TaskQueue& queue) {
  std::string body;
  json::JsonOut w(body);
  const BackpressureSignal signal = queue.backpressure();
  w.raw("{\"queue\":").string(queue.name());
  w.raw(",\"pending\":").integer(static_cast<std::int64_t>(queue.pending_count()));
  w.raw(",\"leased\":").integer(static_cast<std::int64_t>(queue.active_lease_count()));
  w.raw(",\"deadLetters\":").integer(static_cast<std::int64_t>(queue.dead_letter_count()));
  w.raw(",\"backpressure\":{\"active\":").raw(signal.active ? "true" : "false");
  w.raw(",\"pending\":").integer(signal.pending);
  w.raw(",\"highWatermark\":").integer(signal.high_watermark);
  w.raw(",\"lowWatermark\":").integer(signal.low_watermark).raw("}}");
  return ok_json(std::move(body));
}

HttpResponse enqueue(const ReplicationServerOptions& options, std::atomic<std::int64_t>& waiting,
                     const std::shared_ptr<TaskQueue>& queue, const HttpRequest& req) {
  auto request = decode_enqueue_request(req.body());
  if (!request.ok()) return refused(request.error());
  const std::string key = req.header("Idempotency-Key");
  if (!key.empty() && request->batch) {
    return refused(Error::validation("an Idempotency-Key names one task: send a batch without it, or one task"));
  }
  auto shared = std::make_shared<EnqueueRequest>(std::move(request).value());
  return now_or_later(options, waiting, queue, false, shared->wait,
                      [queue, shared, key](bool last) -> std::optional<HttpResponse> {
    auto full = [last](const Error& e) { return !last && e.code() == errc::queue_full; };
    std::string body;
    if (!key.empty()) {
      auto result = queue->enqueue_keyed(key, shared->payloads.front(), shared->options, Wait::none());
      if (!result.ok() && full(result.error())) return std::nullopt;
      if (!result.ok()) return refused(result.error());
      encode_keyed_enqueue(*result, body);
      return json_reply(result->duplicate ? 200 : 201, std::move(body));
    }
    if (!shared->batch) {
      auto id = queue->enqueue_with(shared->payloads.front(), shared->options, Wait::none());
      if (!id.ok() && full(id.error())) return std::nullopt;
      if (!id.ok()) return refused(id.error());
      encode_keyed_enqueue({*id, false}, body);
      return json_reply(201, std::move(body));
    }
    auto ids = queue->enqueue_batch_with(shared->payloads, shared->options, Wait::none());
    if (!ids.ok() && full(ids.error())) return std::nullopt;
    if (!ids.ok()) return refused(ids.error());
    encode_task_ids(*ids, body);
    return json_reply(201, std::move(body));
  });
}

HttpResponse lease(const ReplicationServerOptions& options, std::atomic<std::int64_t>& waiting,
                   const std::shared_ptr<TaskQueue>& queue, const HttpRequest& req) {
  auto request = decode_lease_request(req.body());
  if (!request.ok()) return refused(request.error());
  const LeaseRequest r = *request;
  return now_or_later(options, waiting, queue, true, r.wait, [queue, r](bool last) -> std::optional<HttpResponse> {
    auto leases = queue->lease_batch(r.owner, r.max, Wait::none());
    if (!leases.ok() && leases.error().code() == errc::queue_timeout) {
      if (!last) return std::nullopt;
      return ok_json("{\"leases\":[]}");  // the poll ended with nothing to lease: ask again
    }
    return reply(leases, [](const std::vector<Lease>& l, std::string& out) { encode_leases(l, out); });
  });
}

// One result of a batch that is not all-or-nothing: the value's JSON, or {"error":{...}}.
template <class T, class Encode>
void append_result(const Result<T>& result, Encode&& encode, std::string& out) {
  if (result.ok()) {
    encode(*result, out);
  } else {
    std::string e = error_body(result.error());
    e.pop_back();  // its newline
    out += e;
  }
}

HttpResponse lease_batch_call(TaskQueue& queue, std::string_view verb, const HttpRequest& req) {
  if (verb == "complete") {
    auto tokens = decode_token_list(req.body());
    if (!tokens.ok()) return refused(tokens.error());
    return reply_status(queue.complete_batch(*tokens), "completed");
  }
  std::string body = "{\"results\":[";
  if (verb == "heartbeat") {
    auto tokens = decode_token_list(req.body());
    if (!tokens.ok()) return refused(tokens.error());
    for (std::size_t i = 0; i < tokens->size(); ++i) {
      if (i > 0) body += ',';
      append_result(queue.heartbeat((*tokens)[i]), encode_heartbeat, body);
    }
  } else {
    auto failures = decode_fail_batch(req.body());
    if (!failures.ok()) return refused(failures.error());
    for (std::size_t i = 0; i < failures->size(); ++i) {
      FailRequest& f = (*failures)[i];
      if (i > 0) body += ',';
      auto outcome = f.retry_after ? queue.fail_and_retry_after(f.token, std::move(f.error), *f.retry_after)
                                   : queue.fail(f.token, std::move(f.error), f.requeue);
      append_result(outcome, [](FailOutcome o, std::string& out) {
        encode_outcome(fail_outcome_name(o), out);
      }, body);
    }
  }
  body += "]}";
  return ok_json(std::move(body));
}

HttpResponse lease_call(TaskQueue& queue, std::string_view token_text, std::string_view verb, const HttpRequest& req) {
  auto token = parse_token(token_text);
  if (!token.ok()) return refused(token.error());
  if (verb == "heartbeat") return reply(queue.heartbeat(*token), encode_heartbeat);
  if (verb == "complete") return reply_status(queue.complete(*token), "completed");
  auto request = decode_fail_request(req.body());
  if (!request.ok()) return refused(request.error());
  auto outcome = request->retry_after
                     ? queue.fail_and_retry_after(*token, std::move(request->error), *request->retry_after)
                     : queue.fail(*token, std::move(request->error), request->requeue);
  return reply(outcome, [](FailOutcome o, std::string& out) {
    encode_outcome(fail_outcome_name(o), out);
  });
}

bool is_lease_verb(std::string_view verb) { return verb == "heartbeat" || verb == "complete" || verb == "fail"; }

}  // namespace queue_routes_parts
using namespace queue_routes_parts;

int status_for(const Error& error) {
  const std::string& code = error.code();
  if (code == errc::validation || code.rfind("codec.", 0) == 0) return 400;
  if (code == errc::queue_unknown) return 404;
  if (code == errc::lease_inactive) return 409;
  if (code == errc::queue_full || code == errc::queue_timeout) return 429;
  if (code == errc::disposed || code == errc::journal_busy || code == errc::journal_closed) return 503;
  return 500;
}

HttpResponse QueueRoutes::handle(const HttpRequest& req, bool may_write) const {
  const std::string_view method = req.method();
  const bool post = method == "POST";
  if (!post && method != "GET" && method != "HEAD") {
    HttpResponse res = refused(Error::validation(std::string(method) + " is not served here; use GET or POST"));
    res.status = 405;
    res.headers.emplace_back("Allow", "GET, HEAD, POST");
    return res;
  }
  if (post && !may_write) {
    HttpResponse res = refused(Error::replication_unauthorized(
        "writes to a queue need the server's write token (Authorization: Bearer <--write-token>); a read token "
        "only reads"));
    res.status = 403;
    return res;
  }
  const std::string_view path = req.path();
  if (path == "/v1/queues") {
    std::string body;
    json::JsonOut w(body);
    body += "{\"queues\":[";
    for (std::size_t i = 0; i < options_.queues.size(); ++i) w.raw(i > 0 ? "," : "").string(options_.queues[i]->name());
    body += "]}";
    return ok_json(std::move(body));
  }
  const auto parts = split_path(path.substr(std::string_view("/v1/queues/").size()));
  const auto it = std::find_if(options_.queues.begin(), options_.queues.end(),
                               [&](const auto& q) { return q->name() == parts[0]; });
  if (it == options_.queues.end()) {
    return refused(Error::queue_unknown("this server serves no queue '" + std::string(parts[0]) +
                                        "' (GET /v1/queues lists the ones it does)")
                       .with("queue", std::string(parts[0])));
  }
  const std::shared_ptr<TaskQueue>& queue = *it;
  const std::size_t n = parts.size();
  const std::string_view a = n > 1 ? parts[1] : "";
  const std::string_view b = n > 2 ? parts[2] : "";
  const std::string_view c = n > 3 ? parts[3] : "";
  if (!post) {
    if (n == 1) return queue_status(*queue);
    if (n == 2 && a == "dead-letters") {
      std::string body;
      encode_dead_letters(queue->dead_letters(), body);
      return ok_json(std::move(body));
    }
  } else {
    if (n == 2 && a == "tasks") return enqueue(options_, waiting_, queue, req);
    if (n == 2 && a == "leases") return lease(options_, waiting_, queue, req);
    if (n == 3 && a == "leases" && is_lease_verb(b)) return lease_batch_call(*queue, b, req);
    if (n == 4 && a == "leases" && is_lease_verb(c)) return lease_call(*queue, b, c, req);
    if (n == 2 && a == "drain") {
      return reply(queue->drain(), [](const std::vector<PendingItem>& items, std::string& out) {
        encode_pending_items(items, out);
      });
    }
    if (n == 2 && a == "restore") {
      auto items = decode_pending_items(req.body());
      if (!items.ok()) return refused(items.error());
      const auto count = items->size();
      auto status = queue->restore(std::move(items).value());
      if (!status.ok()) return refused(status.error());
      return ok_json("{\"restored\":" + std::to_string(count) + "}");
    }
    if (n == 4 && a == "tasks" && c == "cancel") {
      auto id = task_id_of(b);
      if (!id.ok()) return refused(id.error());
      auto reason = decode_cancel_request(req.body());
      if (!reason.ok()) return refused(reason.error());
      return reply(queue->cancel(*id, std::move(reason).value()), [](CancelOutcome o, std::string& out) {
        encode_outcome(cancel_outcome_name(o), out);
      });
    }
    if (n == 4 && a == "dead-letters" && c == "requeue") {
      auto id = task_id_of(b);
      if (!id.ok()) return refused(id.error());
      return reply_status(queue->requeue_dead_letter(*id), "requeued");
    }
  }
  HttpResponse res = refused(Error::validation("no route " + std::string(method) + " " + std::string(path) +
                                               " (docs/WORKERS.md lists the queue API)")
                                 .with("path", std::string(path)));
  res.status = 404;
  return res;
}

}  // namespace hugo::peers
