// One kept-alive HTTP/1.1 client connection, for RemoteTaskQueue's short JSON calls: a request is
// written with one send() (headers and body together, so the server wakes once), and the reply is
// read with plain blocking recv() calls under SO_RCVTIMEO until its Content-Length. That is two or
// three system calls per call where a general client spends about ten (bench/remote).
//
// Replies must carry Content-Length (every reply of the queue API does) or end the connection;
// chunked replies are refused. Not thread-safe: one caller at a time (RemoteTaskQueue pools them).
#pragma once

#include <hugo/error.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace hugo::peers {

// "http://HOST:PORT" (HOST a name or an address, [v6] in brackets; PORT 1..65535; nothing after
// but an optional "/"). error.validation otherwise.
struct HttpEndpoint {
  std::string host;
  int port = 0;
};
Result<HttpEndpoint> parse_http_url(std::string_view url);

struct HttpReply {
  int status = 0;
  std::string body;
};

inline constexpr std::size_t kMaxReplyBytes = 64u << 20;

class HttpConnection {
 public:
  HttpConnection(HttpEndpoint endpoint, std::string authorization, std::chrono::milliseconds connect_timeout)
      : endpoint_(std::move(endpoint)), authorization_(std::move(authorization)), connect_timeout_(connect_timeout) {}
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends `method target` with `body` (none when null) and `extra_headers` ("Name: value\r\n"
  // lines), and reads the reply within `read_timeout`. replication.unavailable when it fails;
  // `sent` then says whether the request may have reached the server (false: it certainly did
  // not, so any call may be sent again).
  Result<HttpReply> request(std::string_view method, std::string_view target, const std::string* body,
                            std::string_view extra_headers, std::chrono::milliseconds read_timeout, bool& sent);

 private:
  Status connect();
  void close();
  bool still_open();  // false if the server closed the kept-alive connection while it was idle
  Result<HttpReply> read_reply(bool& keep);
  Error failure(std::string what) const;

  HttpEndpoint endpoint_;
  std::string authorization_;
  std::chrono::milliseconds connect_timeout_;
  int fd_ = -1;
  std::chrono::milliseconds read_timeout_{-1};  // what SO_RCVTIMEO is set to
  std::chrono::steady_clock::time_point last_used_{};
  std::string buffer_;
};

}  // namespace hugo::peers
