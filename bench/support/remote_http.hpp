// Benchmark support for bench/remote: raw HTTP/1.1 over loopback TCP, without any client library,
// so that what the server holds is exactly what a client sent and nothing reads on its behalf:
// the descriptor limit raised for a thousand sockets, a blocking GET (/healthz, /metrics) with its
// latency, and idle long polls (one POST each, never read) and whether any was answered or closed.
#pragma once

#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace hugo_bench {

// Raises this process's RLIMIT_NOFILE soft limit to its hard limit; returns the soft limit now.
inline rlim_t raise_fd_limit(std::string_view program) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) fail(program, std::string("getrlimit: ") + std::strerror(errno));
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) fail(program, std::string("setrlimit: ") + std::strerror(errno));
  }
  return limit.rlim_cur;
}

// A TCP connection to 127.0.0.1:port, non-blocking, connected (waits up to 5 s); -1 with `why`
// set on failure.
inline int connect_loopback(int port, std::string& why) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    why = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      why = std::string("connect: ") + std::strerror(errno);
      ::close(fd);
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    int error = 0;
    socklen_t len = sizeof error;
    if (::poll(&p, 1, 5000) != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
      why = std::string("connect: ") + (error != 0 ? std::strerror(error) : "no answer in 5 s");
      ::close(fd);
      return -1;
    }
  }
  return fd;
}

// Sends all of `data` on a non-blocking socket (waits up to 5 s for room); false on failure.
inline bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 5000) != 1) return false;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

struct HttpReply {
  int status = 0;      // 0: no reply (see error)
  std::string body;    // after the headers
  std::string error;
  double micros = 0;   // connect to the last byte
};

// GET `path` on a fresh connection with "Connection: close", read to the end (5 s per wait).
inline HttpReply http_get(int port, std::string_view path) {
  HttpReply reply;
  const auto start = SteadyClock::now();
  const int fd = connect_loopback(port, reply.error);
  if (fd < 0) return reply;
  const std::string request =
      "GET " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  std::string text;
  if (!send_all(fd, request)) {
    reply.error = "send failed";
  } else {
    char buffer[8192];
    while (true) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        text.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0) {
        break;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        pollfd p{fd, POLLIN, 0};
        if (errno != EINTR && ::poll(&p, 1, 5000) != 1) {
          reply.error = "no reply in 5 s";
          break;
        }
      } else {
        reply.error = std::string("recv: ") + std::strerror(errno);
        break;
      }
    }
  }
  ::close(fd);
  reply.micros = micros_between(start, SteadyClock::now());
  if (text.size() >= 12 && text.compare(0, 5, "HTTP/") == 0) reply.status = std::atoi(text.c_str() + 9);
  if (const std::size_t end = text.find("\r\n\r\n"); end != std::string::npos) reply.body = text.substr(end + 4);
  if (reply.status == 0 && reply.error.empty()) reply.error = "not an HTTP reply";
  return reply;
}

// The value of the Prometheus sample `name` in a /metrics body; -1 if missing.
inline double metric_value(std::string_view body, std::string_view name) {
  const std::string needle = "\n" + std::string(name) + " ";
  const std::size_t at = body.find(needle);
  if (at == std::string_view::npos) return -1;
  return std::strtod(std::string(body.substr(at + needle.size(), 32)).c_str(), nullptr);
}

// `count` connections, each sending one POST /v1/queues/{queue}/leases that waits `wait_ms` and
// then never reading: what an idle fleet of workers parks on a server. Fails the program if one
// cannot be opened or sent.
inline std::vector<int> open_idle_long_polls(std::string_view program, int port, std::string_view queue,
                                             std::string_view token, int count, int wait_ms) {
  std::vector<int> fds;
  fds.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    std::string why;
    const int fd = connect_loopback(port, why);
    if (fd < 0) fail(program, "long poll " + std::to_string(i) + ": " + why);
    fds.push_back(fd);
    const std::string body =
        "{\"owner\":\"idle-" + std::to_string(i) + "\",\"max\":1,\"waitMs\":" + std::to_string(wait_ms) + "}";
    const std::string request = "POST /v1/queues/" + std::string(queue) +
                                "/leases HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + std::string(token) +
                                "\r\nContent-Type: application/json\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
    if (!send_all(fd, request)) fail(program, "long poll " + std::to_string(i) + ": send failed");
  }
  return fds;
}

// How many of `fds` the server answered or closed (readable, hung up or in error) by now.
inline int count_answered(const std::vector<int>& fds) {
  std::vector<pollfd> polls;
  polls.reserve(fds.size());
  for (const int fd : fds) polls.push_back({fd, POLLIN, 0});
  if (::poll(polls.data(), polls.size(), 0) < 0) return -1;
  int answered = 0;
  for (const pollfd& p : polls) answered += p.revents != 0 ? 1 : 0;
  return answered;
}

inline void close_all(std::vector<int>& fds) {
  for (const int fd : fds) ::close(fd);
  fds.clear();
}

}  // namespace hugo_bench
