// Test support for suite jetstream: one real nats-server with JetStream on a free loopback port,
// its store in a temporary folder, configured by a file (max_payload, token), stopped by pid.
#pragma once

#include "sinks/nats_client.hpp"
#include "tests/support/temp_dir.hpp"

#include <csignal>
#include <fstream>
#include <stdexcept>
#include <string>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hugo::test {

struct JsServerOptions {
  long max_payload = 0;  // 0: the server's default
  std::string token;
};

class JsServer {
 public:
  explicit JsServer(JsServerOptions options = {}) : dir_("hugo-nats") {
    port_ = free_port();
    const std::filesystem::path config = dir_.path() / "server.conf";
    {
      std::ofstream out(config);
      out << "listen: 127.0.0.1:" << port_ << "\n";
      out << "jetstream { store_dir: \"" << (dir_.path() / "store").string() << "\" }\n";
      if (options.max_payload > 0) out << "max_payload: " << options.max_payload << "\n";
      if (!options.token.empty()) out << "authorization { token: \"" << options.token << "\" }\n";
    }
    const std::string binary = "/usr/sbin/nats-server";
    if (::access(binary.c_str(), X_OK) != 0) {
      throw std::runtime_error("nats-server is not installed (scripts/setup.sh installs it)");
    }
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      // dup2, not freopen: stdio would flush the test's own buffered output a second time.
      const int null_fd = ::open("/dev/null", O_WRONLY);
      const int log_fd = ::open((dir_.path() / "server.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (null_fd >= 0) ::dup2(null_fd, STDOUT_FILENO);
      if (log_fd >= 0) ::dup2(log_fd, STDERR_FILENO);
      ::execl(binary.c_str(), binary.c_str(), "-c", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    wait_ready(options.token);
  }
  ~JsServer() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  JsServer(const JsServer&) = delete;
  JsServer& operator=(const JsServer&) = delete;

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  NatsConnectOptions connect_options() const {
    NatsConnectOptions o;
    o.url = url();
    o.timeout = std::chrono::milliseconds(5000);
    return o;
  }

 private:
  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd);
      throw std::runtime_error("no free loopback port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  // Ready once a connection answers a JetStream API request; bounded (about 30 s of attempts,
  // each bounded by the connect timeout).
  void wait_ready(const std::string& token) {
    NatsConnectOptions o = connect_options();
    o.token = token;
    o.timeout = std::chrono::milliseconds(200);
    for (int attempt = 0; attempt < 150; ++attempt) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) throw std::runtime_error("nats-server exited at start");
      auto conn = nats::Connection::connect(o, "hugo-test-ready");
      if (conn.ok() && (*conn)->stream_info("HUGO_READY_PROBE").ok()) return;
      ::usleep(50'000);  // between connection attempts to a server still starting; not a sync point
    }
    throw std::runtime_error("nats-server did not become ready");
  }

  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace hugo::test
