// Benchmark support for bench/peers: Redis Streams' side of the cycle (needs hiredis).
//
// Each run starts its own redis-server, in a fresh scratch folder on a free loopback port:
//   redis-server --port N --bind 127.0.0.1 --dir <folder> --appendonly yes
//                --appendfsync always|no --save '' --daemonize no
// appendfsync always writes and fsyncs the AOF before replying (the Fsync tier); no writes it
// before replying and leaves the flush to the kernel (survives a crash of redis-server, not of the
// machine: the Process tier). One stream "jobs" with one consumer group "workers"; each thread has
// its own connection, each worker its own consumer:
//   enqueue  XADD jobs * p <payload>           (a batch: n XADDs pipelined, one round trip)
//   lease    XREADGROUP GROUP workers <worker> COUNT n BLOCK 100 STREAMS jobs >
//   complete XACK jobs workers <ids...> and XDEL jobs <ids...>, pipelined
// The server is stopped (SIGTERM, reaped) at the end of the run.
#pragma once

#include "bench/support/journal.hpp"
#include "bench/support/peer_cycle.hpp"

#include <hiredis/hiredis.h>

#include <csignal>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace hugo_bench {

inline std::string redis_server_path() {
  return find_program("redis-server", {"/usr/bin/redis-server", "/usr/local/bin/redis-server"});
}

// One blocking hiredis connection; every error throws.
class RedisConnection {
 public:
  explicit RedisConnection(int port) {
    const timeval timeout{5, 0};
    context_ = redisConnectWithTimeout("127.0.0.1", port, timeout);
    if (context_ == nullptr) throw std::runtime_error("redis: cannot allocate a connection");
    if (context_->err != 0) {
      const std::string why = context_->errstr;
      redisFree(context_);
      context_ = nullptr;
      throw std::runtime_error("redis: connect to port " + std::to_string(port) + ": " + why);
    }
  }
  ~RedisConnection() {
    if (context_) redisFree(context_);
  }
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Queues one command (arguments binary-safe), to be answered by reply().
  void append(const std::vector<std::string_view>& args) {
    argv_.clear();
    lengths_.clear();
    for (const std::string_view a : args) {
      argv_.push_back(a.data());
      lengths_.push_back(a.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv_.size()), argv_.data(), lengths_.data()) != REDIS_OK) {
      throw std::runtime_error(std::string("redis: append: ") + context_->errstr);
    }
  }
  // The reply to the oldest queued command; a Redis error reply throws.
  std::unique_ptr<redisReply, void (*)(void*)> reply(const char* what) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      throw std::runtime_error(std::string("redis: ") + what + ": " + context_->errstr);
    }
    std::unique_ptr<redisReply, void (*)(void*)> r(static_cast<redisReply*>(raw), freeReplyObject);
    if (r->type == REDIS_REPLY_ERROR) throw std::runtime_error(std::string("redis: ") + what + ": " + r->str);
    return r;
  }
  // One command, one round trip.
  std::unique_ptr<redisReply, void (*)(void*)> command(const std::vector<std::string_view>& args, const char* what) {
    append(args);
    return reply(what);
  }

 private:
  redisContext* context_ = nullptr;
  std::vector<const char*> argv_;
  std::vector<std::size_t> lengths_;
};

class RedisSession {
 public:
  RedisSession(int port, std::string consumer, std::size_t payload_bytes)
      : connection_(port), consumer_(std::move(consumer)), payload_(alphabet_payload(payload_bytes)) {}

  bool enqueue(std::size_t n, const std::stop_token&) {
    for (std::size_t i = 0; i < n; ++i) connection_.append({"XADD", "jobs", "*", "p", payload_});
    for (std::size_t i = 0; i < n; ++i) connection_.reply("XADD");
    return true;
  }
  std::size_t lease(std::size_t n, const std::stop_token&) {
    ids_.clear();
    const std::string count = std::to_string(n);
    auto r = connection_.command(
        {"XREADGROUP", "GROUP", "workers", consumer_, "COUNT", count, "BLOCK", "100", "STREAMS", "jobs", ">"},
        "XREADGROUP");
    if (r->type != REDIS_REPLY_ARRAY) return 0;  // nil: nothing within 100 ms
    // [[stream, [[id, [field, value]], ...]]]
    for (std::size_t s = 0; s < r->elements; ++s) {
      const redisReply* stream = r->element[s];
      if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2) throw std::runtime_error("redis: XREADGROUP: unexpected reply");
      const redisReply* entries = stream->element[1];
      for (std::size_t e = 0; e < entries->elements; ++e) {
        const redisReply* entry = entries->element[e];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 1 || entry->element[0]->type != REDIS_REPLY_STRING) {
          throw std::runtime_error("redis: XREADGROUP: unexpected entry");
        }
        ids_.emplace_back(entry->element[0]->str, entry->element[0]->len);
      }
    }
    return ids_.size();
  }
  void complete() {
    args_.assign({"XACK", "jobs", "workers"});
    for (const std::string& id : ids_) args_.push_back(id);
    connection_.append(args_);
    args_.assign({"XDEL", "jobs"});
    for (const std::string& id : ids_) args_.push_back(id);
    connection_.append(args_);
    auto acked = connection_.reply("XACK");
    connection_.reply("XDEL");
    if (acked->type != REDIS_REPLY_INTEGER || acked->integer != static_cast<long long>(ids_.size())) {
      throw std::runtime_error("redis: XACK acknowledged fewer entries than were leased");
    }
  }

 private:
  RedisConnection connection_;
  std::string consumer_;
  std::string payload_;
  std::vector<std::string> ids_;
  std::vector<std::string_view> args_;
};

// One run of the cycle against a fresh redis-server at appendfsync always (fsync) or no.
inline CycleResult run_redis(std::string_view program, const std::string& server_path, bool fsync, CycleSetup setup,
                             std::size_t payload_bytes) {
  PeerDir dir(program, "hugo-bench-peers-redis");
  const int port = free_loopback_port(program);
  const std::filesystem::path log = dir / "redis.log";
  const pid_t pid = spawn_process(program,
                                  {server_path, "--port", std::to_string(port), "--bind", "127.0.0.1", "--dir",
                                   dir.path().string(), "--appendonly", "yes", "--appendfsync", fsync ? "always" : "no",
                                   "--save", "", "--daemonize", "no"},
                                  RunAs{}, log, SIGTERM, true);
  const std::string what = std::string("redis appendfsync ") + (fsync ? "always" : "no");
  wait_until_ready(program, what, pid, log, [&] {
    try {
      RedisConnection probe(port);
      return probe.command({"PING"}, "PING")->type == REDIS_REPLY_STATUS;
    } catch (const std::exception&) {
      return false;
    }
  });
  try {
    RedisConnection admin(port);
    admin.command({"XGROUP", "CREATE", "jobs", "workers", "$", "MKSTREAM"}, "XGROUP CREATE");
  } catch (const std::exception& e) {
    peer_fail(program, what + ": " + e.what());
  }

  setup.bounded_by_system = false;
  setup.server = pid;
  setup.server_children = true;  // an AOF rewrite runs in a child
  const CycleResult result = run_cycle<RedisSession>(program, what, setup, [&](bool producer, int index) {
    try {
      return std::make_unique<RedisSession>(port, session_name(producer, index),
                                            payload_bytes);
    } catch (const std::exception& e) {
      peer_fail(program, what + ": " + e.what());
    }
  });
  ServerRegistry::instance().stop_server(pid);
  return result;
}

}  // namespace hugo_bench
