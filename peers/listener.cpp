// Plain POSIX sockets for the HTTP adapter (peers/http_daemon.cpp): the listening
// socket, client addresses, and the 503 written to a connection refused by a limit.
#include "peers/listener.hpp"

#include <hugo/error_codes.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hugo::peers {
namespace {

// Reads and drops what the peer sent (bounded), so closing does not reset the connection.
void drain(int fd) {
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
}

}  // namespace

std::string address_of(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, text, sizeof text);
  } else if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, text, sizeof text);
  }
  return text;
}

Error bind_error(const std::string& host, int port, const std::string& why) {
  return Error::replication_bind("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                                                        why + " (address in use, or not an address of this machine)")
      .with("host", host)
      .with("port", std::to_string(port));
}

// A listening socket on host:port; `bound` receives the port (the one picked for port 0).
Result<int> listen_on(const std::string& host, int port, int& bound) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    return bind_error(host, port, gai_strerror(rc));
  }
  std::string why = "no address";
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    int one = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
      why = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return bind_error(host, port, why);
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  (void)::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  bound = ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(local).sin6_port
                                            : reinterpret_cast<sockaddr_in&>(local).sin_port);
  return fd;
}

void refuse_connection(int fd, const std::string& json_body) {
  const std::string text = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(json_body.size()) + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" +
                           json_body;
  drain(fd);
  (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)::shutdown(fd, SHUT_WR);
  drain(fd);
  ::close(fd);
}

struct ConnectionTable::Conn {
  std::string address;
  int fd = -1;
  bool started = false;
  bool in_request = false;
  bool cut = false;
  Clock::time_point request_started;  // accept, or the end of the previous request
};

ConnectionTable::ConnectionTable(std::size_t max_connections, std::size_t max_per_address,
                                 std::chrono::milliseconds header_timeout)
    : max_connections_(max_connections), max_per_address_(max_per_address), header_timeout_(header_timeout) {}

ConnectionTable::~ConnectionTable() = default;

void ConnectionTable::forget(Conn* conn) {
  if (auto it = per_address_.find(conn->address); it != per_address_.end() && --it->second == 0) {
    per_address_.erase(it);
  }
  conns_.erase(conn);
}

std::string ConnectionTable::admit(int fd, const std::string& address) {
  std::lock_guard lock(mutex_);
  if (auto stale = admitted_.find(fd); stale != admitted_.end()) {  // its socket was closed unstarted
    forget(stale->second);
    admitted_.erase(stale);
  }
  if (conns_.size() >= max_connections_) {
    return "too many connections (" + std::to_string(max_connections_) + " open); retry later";
  }
  if (auto from = per_address_.find(address); from != per_address_.end() && from->second >= max_per_address_) {
    return "too many connections from " + address + " (" + std::to_string(max_per_address_) +
           " per address); retry later";
  }
  auto conn = std::make_unique<Conn>();
  conn->address = address;
  conn->fd = fd;
  conn->request_started = Clock::now();
  admitted_[fd] = conn.get();
  ++per_address_[address];
  conns_.emplace(conn.get(), std::move(conn));
  return {};
}

void ConnectionTable::dropped(int fd) {
  std::lock_guard lock(mutex_);
  if (auto it = admitted_.find(fd); it != admitted_.end()) {
    forget(it->second);
    admitted_.erase(it);
  }
}

void* ConnectionTable::started(int fd) {
  std::lock_guard lock(mutex_);
  auto it = admitted_.find(fd);
  if (it == admitted_.end()) return nullptr;
  Conn* conn = it->second;
  conn->started = true;
  admitted_.erase(it);
  return conn;
}

void ConnectionTable::closed(void* handle) {
  std::lock_guard lock(mutex_);
  forget(static_cast<Conn*>(handle));
}

void ConnectionTable::request_began(void* handle) {
  std::lock_guard lock(mutex_);
  static_cast<Conn*>(handle)->in_request = true;
}

void ConnectionTable::request_ended(void* handle) {
  std::lock_guard lock(mutex_);
  auto* conn = static_cast<Conn*>(handle);
  conn->in_request = false;
  conn->request_started = Clock::now();
}

void ConnectionTable::cut_late(Clock::time_point now, Clock::time_point& wake_by) {
  std::lock_guard lock(mutex_);
  for (auto& [key, conn] : conns_) {
    if (!conn->started || conn->in_request || conn->cut) continue;
    const auto deadline = conn->request_started + header_timeout_;
    if (now >= deadline) {
      ::shutdown(conn->fd, SHUT_RDWR);  // the fd is open: the server closes it only after closed()
      conn->cut = true;
    } else {
      wake_by = std::min(wake_by, deadline);
    }
  }
}

}  // namespace hugo::peers
