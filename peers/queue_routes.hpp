// The queue API over HTTP (docs/WORKERS.md): /v1/queues/... on ReplicationServer's listener.
// Every write answers only once its rows are durable (the TaskQueue call returned). A lease or
// enqueue that has to wait is a DeferredReply: its connection is suspended, not held by a thread,
// and it is retried when the journal commits or a scheduled task falls due.
#pragma once

#include <hugo/error.hpp>
#include <hugo/peers.hpp>

#include "peers/http_daemon.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace hugo::peers {

// The HTTP status of a refused queue call: 400 validation, 404 queue.unknown, 409 a stale lease,
// 429 no room, 503 a closed queue or a busy journal, 500 anything else.
int status_for(const Error& error);

class QueueRoutes {
 public:
  // `options` outlives the routes (it is the server's).
  explicit QueueRoutes(const ReplicationServerOptions& options) : options_(options) {}

  // True for the paths these routes own (/v1/queues and below).
  static bool owns(std::string_view path) { return path == "/v1/queues" || path.rfind("/v1/queues/", 0) == 0; }
  // Answers an authorized request; `may_write` says whether it carried the write token.
  HttpResponse handle(const HttpRequest& req, bool may_write) const;
  // Calls parked while they wait (long polls, enqueues waiting for room): /metrics shows it.
  std::int64_t waiting() const { return waiting_.load(); }

 private:
  const ReplicationServerOptions& options_;
  mutable std::atomic<std::int64_t> waiting_{0};
};

}  // namespace hugo::peers
