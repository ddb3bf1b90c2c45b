// Test support: real nats-server processes with JetStream on loopback (docs/SCALE-OUT.md).
//
// NatsServer::start runs `nats-server -js -a 127.0.0.1 -p PORT -m MONITOR_PORT -sd DIR` on free
// loopback ports, with DIR in a temporary folder the object owns (its log is DIR/../server.log),
// and returns once a TCP connect to PORT succeeds and the monitoring endpoint
// /healthz?js-enabled-only=true answers 200, both bounded. NatsCluster::start(3) runs three such
// members with routes between them and returns once every member knows the JetStream meta leader.
//
// Every process is one this object forked: kill() sends SIGKILL, stop() SIGTERM, both reap it by
// pid; the destructor stops what still runs, and a test runner that dies takes its servers with it
// (PR_SET_PDEATHSIG). nats-server is found through $HUGO_NATS_SERVER, else $PATH, /usr/sbin and
// /usr/local/sbin; a missing binary throws (a test FAILURE: scripts/setup.sh installs it). Waits
// are bounded by kReadyTimeout times $HUGO_TEST_TIME_FACTOR and throw std::runtime_error with the
// tail of the server's log when they pass.
#pragma once

#include "core/rapidjson_adapter.hpp"
#include "tests/support/temp_dir.hpp"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hugo::test {

namespace nats_detail {

inline int time_factor() {
  const char* f = std::getenv("HUGO_TEST_TIME_FACTOR");
  const int n = f ? std::atoi(f) : 1;
  return n > 0 ? n : 1;
}

// How long a server may take to start, a leader to be elected, a member to shut down.
inline std::chrono::milliseconds ready_timeout() { return std::chrono::milliseconds(30000) * time_factor(); }

inline std::string nats_server_binary() {
  if (const char* path = std::getenv("HUGO_NATS_SERVER"); path && *path) {
    if (::access(path, X_OK) == 0) return path;
    throw std::runtime_error(std::string("HUGO_NATS_SERVER names ") + path + ", which is not an executable nats-server");
  }
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream in(path);
    for (std::string dir; std::getline(in, dir, ':');) dirs.push_back(dir);
  }
  for (const char* dir : {"/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"}) dirs.emplace_back(dir);
  for (const auto& dir : dirs) {
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/nats-server";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error(
      "nats-server is not installed (not on PATH, /usr/sbin or /usr/local/sbin, and HUGO_NATS_SERVER is not set): "
      "run scripts/setup.sh, which installs it");
}

// `count` distinct free loopback ports: all are bound at once, then released.
inline std::vector<int> free_ports(std::size_t count) {
  std::vector<int> fds;
  std::vector<int> ports;
  for (std::size_t i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (fd >= 0) ::close(fd);
      for (int f : fds) ::close(f);
      throw std::runtime_error("cannot find a free loopback port");
    }
    fds.push_back(fd);
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int f : fds) ::close(f);
  return ports;
}

// A connected TCP socket to 127.0.0.1:port, or -1.
inline int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// GET http://127.0.0.1:port/target (HTTP/1.0, so the server closes): {status, body}, or nullopt
// when the server cannot be reached or does not answer within 5 s.
inline std::optional<std::pair<int, std::string>> http_get(int port, const std::string& target) {
  const int fd = connect_loopback(port);
  if (fd < 0) return std::nullopt;
  const std::string request = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  std::string response;
  bool ok = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
  while (ok) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) { ok = false; break; }
    char chunk[8192];
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) ok = false;
    if (n <= 0) break;
    response.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto header_end = response.find("\r\n\r\n");
  if (!ok || response.compare(0, 5, "HTTP/") != 0 || header_end == std::string::npos) return std::nullopt;
  const auto space = response.find(' ');
  return std::make_pair(std::atoi(response.c_str() + space + 1), response.substr(header_end + 4));
}

inline std::string file_tail(const std::filesystem::path& path, std::size_t bytes = 3000) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace nats_detail

struct NatsServerOptions {
  std::string token;             // --auth TOKEN: clients must present it
  std::int64_t max_payload = 0;  // > 0: the server's max_payload in bytes (through a config file)
  // Cluster membership (NatsCluster fills these): server name, cluster name, this member's route
  // port and every member's route port (the routes).
  std::string name;
  std::string cluster_name;
  int cluster_port = 0;
  std::vector<int> route_ports;
  int port = 0;          // 0: a free one
  int monitor_port = 0;  // 0: a free one
};

class NatsServer {
 public:
  static NatsServer start(NatsServerOptions options = {}) {
    NatsServer server(std::move(options));
    server.spawn();
    server.wait_ready();
    return server;
  }

  NatsServer(NatsServer&& other) noexcept
      : options_(std::move(other.options_)), dir_(std::move(other.dir_)), argv_(std::move(other.argv_)),
        pid_(std::exchange(other.pid_, -1)) {}
  NatsServer& operator=(NatsServer&&) = delete;
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;
  ~NatsServer() {
    if (pid_ > 0) signal_and_reap(SIGTERM);
  }

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(options_.port); }
  int port() const { return options_.port; }
  int monitor_port() const { return options_.monitor_port; }
  pid_t pid() const { return pid_; }  // -1 while stopped
  bool running() const { return pid_ > 0; }
  const std::string& name() const { return options_.name; }
  std::filesystem::path store_dir() const { return dir_->path() / "store"; }
  std::filesystem::path log_path() const { return dir_->path() / "server.log"; }
  std::string log_tail() const { return nats_detail::file_tail(log_path()); }

  void kill() { signal_and_reap(SIGKILL); }  // SIGKILL: no shutdown work at all
  void stop() { signal_and_reap(SIGTERM); }  // SIGTERM: a clean shutdown (SIGKILL after the bound)
  // Starts it again (stopping it first if it runs) on the same ports with the same store.
  void restart() {
    if (pid_ > 0) stop();
    spawn();
    wait_ready();
  }

  // The monitoring endpoint's reply body to GET `target` (e.g. "/jsz?streams=true"), nullopt
  // when the server does not answer 200.
  std::optional<std::string> monitor(const std::string& target) const {
    auto reply = nats_detail::http_get(options_.monitor_port, target);
    if (!reply || reply->first != 200) return std::nullopt;
    return std::move(reply->second);
  }

 private:
  explicit NatsServer(NatsServerOptions options)
      : options_(std::move(options)), dir_(std::make_unique<TempDir>("hugo-nats")) {
    if (options_.port == 0 || options_.monitor_port == 0) {
      const auto ports = nats_detail::free_ports(2);
      if (options_.port == 0) options_.port = ports[0];
      if (options_.monitor_port == 0) options_.monitor_port = ports[1];
    }
    argv_ = {nats_detail::nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", std::to_string(options_.port),
             "-m", std::to_string(options_.monitor_port), "-sd", store_dir().string()};
    if (!options_.token.empty()) argv_.insert(argv_.end(), {"--auth", options_.token});
    if (!options_.name.empty()) argv_.insert(argv_.end(), {"-n", options_.name});
    if (options_.cluster_port > 0) {
      std::string routes;
      for (int p : options_.route_ports) {
        routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") + std::to_string(p);
      }
      argv_.insert(argv_.end(), {"--cluster_name", options_.cluster_name, "--cluster",
                                 "nats://127.0.0.1:" + std::to_string(options_.cluster_port), "--routes", routes});
    }
    if (options_.max_payload > 0) {
      const auto config = dir_->path() / "server.conf";
      std::ofstream(config) << "max_payload: " << options_.max_payload << "\n";
      argv_.insert(argv_.end(), {"-c", config.string()});
    }
  }

  void spawn() {
    std::vector<char*> args;
    for (auto& a : argv_) args.push_back(a.data());
    args.push_back(nullptr);
    const std::string log = log_path().string();
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed starting nats-server");
    if (pid_ == 0) {  // only async-signal-safe calls from here to exec
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
      }
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }

  // Polls (bounded) until the process exits on its own (a failure), or the client port accepts a
  // connection and JetStream reports itself enabled.
  void wait_ready() {
    const auto deadline = std::chrono::steady_clock::now() + nats_detail::ready_timeout();
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("nats-server exited while starting (status " + std::to_string(status) +
                                 "); its log ends:\n" + log_tail());
      }
      const int fd = nats_detail::connect_loopback(options_.port);
      if (fd >= 0) {
        ::close(fd);
        if (monitor("/healthz?js-enabled-only=true")) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("nats-server on port " + std::to_string(options_.port) +
                             " was not ready with JetStream in time; its log ends:\n" + log_tail());
  }

  // Sends `signal` and reaps the process; after SIGTERM a server still alive at the bound is killed.
  void signal_and_reap(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    const auto deadline = std::chrono::steady_clock::now() + nats_detail::ready_timeout();
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
  }

  NatsServerOptions options_;
  std::unique_ptr<TempDir> dir_;  // the store and the log; a pointer so that a moved server keeps it
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
};

// Three (or `size`) JetStream servers in one cluster on loopback, named "n0", "n1", ...
class NatsCluster {
 public:
  static NatsCluster start(std::size_t size = 3, const std::string& token = {}) {
    const auto ports = nats_detail::free_ports(3 * size);
    std::vector<int> route_ports(ports.begin() + static_cast<std::ptrdiff_t>(2 * size), ports.end());
    NatsCluster cluster;
    for (std::size_t i = 0; i < size; ++i) {
      NatsServerOptions options;
      options.token = token;
      options.name = "n" + std::to_string(i);
      options.cluster_name = "hugo-test";
      options.port = ports[2 * i];
      options.monitor_port = ports[2 * i + 1];
      options.cluster_port = route_ports[i];
      options.route_ports = route_ports;
      cluster.nodes_.push_back(NatsServer::start(std::move(options)));
    }
    for (std::size_t i = 0; i < size; ++i) cluster.wait_meta_leader(i);
    return cluster;
  }

  std::size_t size() const { return nodes_.size(); }
  NatsServer& node(std::size_t i) { return nodes_.at(i); }
  // Every member's client URL, comma-separated (a client's server list).
  std::string urls() const {
    std::string out;
    for (const auto& n : nodes_) out += (out.empty() ? "" : ",") + n.url();
    return out;
  }
  void kill(std::size_t i) { nodes_.at(i).kill(); }
  void stop(std::size_t i) { nodes_.at(i).stop(); }
  // Starts member i again on its ports and store; returns once it knows a meta leader.
  void restart(std::size_t i) {
    nodes_.at(i).restart();
    wait_meta_leader(i);
  }

  // The index of the member that leads `stream`'s replica group, as that member itself reports
  // on /jsz; nullopt when no running member claims it (yet).
  std::optional<std::size_t> stream_leader(const std::string& stream) {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (!nodes_[i].running()) continue;
      const auto body = nodes_[i].monitor("/jsz?accounts=true&streams=true");
      if (!body) continue;
      rapid::rj::Document doc;
      doc.Parse(body->c_str());
      if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("account_details")) continue;
      for (const auto& account : doc["account_details"].GetArray()) {
        if (!account.HasMember("stream_detail")) continue;
        for (const auto& s : account["stream_detail"].GetArray()) {
          if (!s.HasMember("name") || s["name"].GetString() != stream || !s.HasMember("cluster")) continue;
          const auto& c = s["cluster"];
          if (c.HasMember("leader") && c["leader"].IsString() && c["leader"].GetString() == nodes_[i].name()) {
            return i;
          }
        }
      }
    }
    return std::nullopt;
  }

  // Polls (bounded) until some running member leads `stream`; throws if none does in time.
  std::size_t wait_stream_leader(const std::string& stream) {
    const auto deadline = std::chrono::steady_clock::now() + nats_detail::ready_timeout();
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto leader = stream_leader(stream)) return *leader;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("no member of the cluster leads stream " + stream + " in time");
  }

  // The meta leader's name as member i reports it (empty: none known).
  std::string meta_leader(std::size_t i) const {
    const auto body = nodes_.at(i).monitor("/jsz");
    if (!body) return {};
    rapid::rj::Document doc;
    doc.Parse(body->c_str());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("meta_cluster")) return {};
    const auto& meta = doc["meta_cluster"];
    return meta.HasMember("leader") && meta["leader"].IsString() ? meta["leader"].GetString() : std::string();
  }

 private:
  NatsCluster() = default;

  void wait_meta_leader(std::size_t i) {
    const auto deadline = std::chrono::steady_clock::now() + nats_detail::ready_timeout();
    while (std::chrono::steady_clock::now() < deadline) {
      if (!meta_leader(i).empty()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("cluster member " + nodes_[i].name() + " knows no JetStream meta leader in time; " +
                             "its log ends:\n" + nodes_[i].log_tail());
  }

  std::vector<NatsServer> nodes_;
};

}  // namespace hugo::test
