// The HTTP adapter's own sockets (peers/http_daemon.cpp): the listening socket, the 503
// written to a connection refused by a limit, and the table of open connections that applies the
// limits of docs/PEERS.md ("Bounds") and the header deadline. Plain POSIX; no libmicrohttpd.
#pragma once

#include <hugo/error.hpp>

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace hugo::peers {

// "127.0.0.1", "::1": the numeric address of a peer.
std::string address_of(const sockaddr_storage& addr);
// replication.bind for host:port, saying why.
Error bind_error(const std::string& host, int port, const std::string& why);
// A non-blocking listening socket on host:port; `bound` receives the port (the one picked for
// port 0). Errors: replication.bind.
Result<int> listen_on(const std::string& host, int port, int& bound);
// Writes an HTTP 503 with `json_body` (and Retry-After: 1) to a fresh connection, then closes it.
void refuse_connection(int fd, const std::string& json_body);

// Open connections per client address and in all, and each one's header deadline. Thread-safe.
// A connection is a handle (void*) from started() until closed(); its socket stays open meanwhile.
class ConnectionTable {
 public:
  using Clock = std::chrono::steady_clock;
  ConnectionTable(std::size_t max_connections, std::size_t max_per_address, std::chrono::milliseconds header_timeout);
  ~ConnectionTable();

  // Counts a freshly accepted socket, or returns why it is refused ("" when admitted).
  std::string admit(int fd, const std::string& address);
  void dropped(int fd);      // an admitted socket the server closed before starting it
  void* started(int fd);     // the server took an admitted socket: its handle (nullptr if unknown)
  void closed(void* handle);
  void request_began(void* handle);  // its headers are complete: the deadline stops
  void request_ended(void* handle);  // a kept-alive connection's next request gets a new deadline
  // Shuts down the sockets past their header deadline (the server then sees their end and closes
  // them); lowers `wake_by` to the next deadline.
  void cut_late(Clock::time_point now, Clock::time_point& wake_by);

 private:
  struct Conn;
  void forget(Conn* conn);  // under mutex_

  const std::size_t max_connections_;
  const std::size_t max_per_address_;
  const std::chrono::milliseconds header_timeout_;
  std::mutex mutex_;
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  std::unordered_map<int, Conn*> admitted_;  // by fd, until started
  std::unordered_map<std::string, std::size_t> per_address_;
};

}  // namespace hugo::peers
