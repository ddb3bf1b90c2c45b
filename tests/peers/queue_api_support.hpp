// Test support for the queue API over HTTP: a queue served on loopback with a write and a read
// token, clients for it, and the error code of a refused reply.
#pragma once

#include <doctest/doctest.h>

#include <hugo/peers.hpp>
#include <hugo/remote_queue.hpp>

#include "tests/peers/peers_support.hpp"

#include <httplib.h>

namespace hugo::test {

inline constexpr const char* kWriteToken = "write-secret";
inline constexpr const char* kReadToken = "read-secret";

struct QueueServer : QueueFixture {
  std::shared_ptr<TaskQueue> queue;
  std::unique_ptr<ReplicationServer> server;

  explicit QueueServer(std::size_t threads = 4, std::chrono::milliseconds long_poll = std::chrono::milliseconds(2000),
                       std::size_t max_connections = 256) {
    TaskQueueOptions o = options("orders");
    o.max_delivery_attempts = 2;
    o.capacity = 4096;
    queue = std::shared_ptr<TaskQueue>(open(std::move(o)).release());
    ReplicationServerOptions s;
    s.journal = dir / "queue.journal";
    s.live = journal.get();
    s.port = 0;
    s.queues = {queue};
    s.write_token = kWriteToken;
    s.token = kReadToken;
    s.threads = threads;
    s.max_long_poll = long_poll;
    s.io_timeout = long_poll + std::chrono::seconds(10);
    s.max_connections = max_connections;
    s.max_connections_per_address = max_connections;
    server = must(ReplicationServer::start(std::move(s)));
  }

  std::unique_ptr<RemoteTaskQueue> remote(std::string token = kWriteToken, std::string name = "orders") {
    RemoteTaskQueueOptions o;
    o.url = server->url();
    o.queue = std::move(name);
    o.token = std::move(token);
    o.long_poll = std::chrono::milliseconds(500);
    return must(RemoteTaskQueue::open(std::move(o)));
  }

  httplib::Result post(const std::string& path, const std::string& body, const std::string& token = kWriteToken) {
    httplib::Client client(server->url());
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return client.Post(path.c_str(), headers, body, "application/json");
  }

  std::size_t rows() const { return events().size(); }
};

inline std::string code_of(const std::string& body) {
  const auto at = body.find("\"code\":\"");
  if (at == std::string::npos) return "";
  const auto start = at + 8;
  return body.substr(start, body.find('"', start) - start);
}

}  // namespace hugo::test
