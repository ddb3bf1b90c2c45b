// Benchmark support for bench/jetstream: the nats-server it starts and a raw libnats connection.
//
// The server is a single node with JetStream, started by the benchmark in a scratch folder on a
// free loopback port:
//   nats-server -js -a 127.0.0.1 -p PORT -sd <folder>/store
// as a child registered with bench/support/peer_server.hpp's ServerRegistry: it is stopped by pid
// (SIGTERM, reaped; SIGKILL after 10 s) at the end, from the atexit clean-up after a failure, by
// the signal thread on SIGINT/SIGTERM/SIGHUP, and by the kernel (PR_SET_PDEATHSIG) if the
// benchmark is killed. It is ready once a raw connection's JetStream account info answers.
//
// RawNats is the ceilings' own connection: libnats directly, no hugo code in between.
#pragma once

#include "bench/support/peer_server.hpp"
#include "bench/support/report.hpp"

#include <nats/nats.h>

#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace hugo_bench {

inline std::string nats_status_text(natsStatus s) { return natsStatus_GetText(s); }

// One libnats connection and its JetStream context. Every failure ends the program, except in
// try_connect (the readiness probe).
class RawNats {
 public:
  // nullptr when the server does not answer (yet).
  static std::unique_ptr<RawNats> try_connect(const std::string& url, jsOptions* options = nullptr) {
    auto raw = std::unique_ptr<RawNats>(new RawNats());
    natsOptions* opts = nullptr;
    if (natsOptions_Create(&opts) != NATS_OK) return nullptr;
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetTimeout(opts, 2000);
    natsOptions_SetAllowReconnect(opts, false);
    const natsStatus connected = natsConnection_Connect(&raw->connection_, opts);
    natsOptions_Destroy(opts);
    if (connected != NATS_OK) return nullptr;
    if (natsConnection_JetStream(&raw->js_, raw->connection_, options) != NATS_OK) return nullptr;
    return raw;
  }
  static std::unique_ptr<RawNats> connect(std::string_view program, const std::string& url,
                                          jsOptions* options = nullptr) {
    auto raw = try_connect(url, options);
    if (!raw) peer_fail(program, "raw libnats: cannot connect to " + url);
    return raw;
  }
  ~RawNats() {
    if (js_) jsCtx_Destroy(js_);
    if (connection_) natsConnection_Destroy(connection_);
  }
  RawNats(const RawNats&) = delete;
  RawNats& operator=(const RawNats&) = delete;

  jsCtx* js() const { return js_; }
  natsConnection* connection() const { return connection_; }

  // True when JetStream answers an account info request.
  bool jetstream_ready() {
    jsAccountInfo* info = nullptr;
    const natsStatus s = js_GetAccountInfo(&info, js_, nullptr, nullptr);
    if (info) jsAccountInfo_Destroy(info);
    return s == NATS_OK;
  }

  // Creates `stream` with the one subject `subject` as the publisher creates a journal's stream
  // (file storage, one replica, DenyDelete, DenyPurge, no limits).
  void add_stream(std::string_view program, const std::string& stream, const std::string& subject) {
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    const char* subjects[] = {subject.c_str()};
    config.Name = stream.c_str();
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    config.Replicas = 1;
    config.DenyDelete = true;
    config.DenyPurge = true;
    jsStreamInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s = js_AddStream(&info, js_, &config, nullptr, &code);
    if (info) jsStreamInfo_Destroy(info);
    if (s != NATS_OK) {
      peer_fail(program, "raw libnats: js_AddStream " + stream + ": " + nats_status_text(s) + " (JetStream error " +
                             std::to_string(static_cast<int>(code)) + ")");
    }
  }

  // The stream's last sequence and message count.
  std::pair<std::uint64_t, std::uint64_t> stream_state(std::string_view program, const std::string& stream) {
    jsStreamInfo* info = nullptr;
    const natsStatus s = js_GetStreamInfo(&info, js_, stream.c_str(), nullptr, nullptr);
    if (s != NATS_OK || info == nullptr) {
      peer_fail(program, "raw libnats: js_GetStreamInfo " + stream + ": " + nats_status_text(s));
    }
    const std::pair<std::uint64_t, std::uint64_t> state{info->State.LastSeq, info->State.Msgs};
    jsStreamInfo_Destroy(info);
    return state;
  }

 private:
  RawNats() = default;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
};

inline std::string nats_server_path() {
  return find_program("nats-server", {"/usr/bin/nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"});
}

// A single-node nats-server with JetStream, for the lifetime of this object (see the top).
class BenchNatsServer {
 public:
  explicit BenchNatsServer(std::string_view program) : dir_(program, "hugo-bench-jetstream") {
    const std::string binary = nats_server_path();
    if (binary.empty()) {
      peer_fail(program, "nats-server not found on $PATH (scripts/setup.sh installs the nats-server package)");
    }
    port_ = free_loopback_port(program);
    url_ = "nats://127.0.0.1:" + std::to_string(port_);
    const std::filesystem::path log = dir_ / "nats-server.log";
    pid_ = spawn_process(program,
                         {binary, "-js", "-a", "127.0.0.1", "-p", std::to_string(port_), "-sd",
                          (dir_ / "store").string()},
                         RunAs{}, log, SIGTERM, true);
    wait_until_ready(program, "nats-server", pid_, log, [&] {
      auto probe = RawNats::try_connect(url_);
      return probe && probe->jetstream_ready();
    });
  }
  ~BenchNatsServer() { ServerRegistry::instance().stop_server(pid_); }
  BenchNatsServer(const BenchNatsServer&) = delete;
  BenchNatsServer& operator=(const BenchNatsServer&) = delete;

  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }
  // A folder for the benchmark's own files (journals, replicas), removed with the server's.
  const std::filesystem::path& folder() const { return dir_.path(); }

 private:
  PeerDir dir_;
  int port_ = 0;
  std::string url_;
  pid_t pid_ = 0;
};

}  // namespace hugo_bench
