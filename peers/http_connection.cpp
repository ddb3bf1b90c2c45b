// HttpConnection: plain POSIX sockets (see http_connection.hpp).
#include "peers/http_connection.hpp"

#include <hugo/error_codes.hpp>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace hugo::peers {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  return {static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

// The value of header `name` (lowercase) in `head`, or "".
std::string_view header_value(std::string_view head, std::string_view name) {
  std::size_t at = head.find("\r\n");
  while (at != std::string_view::npos && at + 2 < head.size()) {
    const std::size_t start = at + 2;
    const std::size_t end = head.find("\r\n", start);
    const std::string_view line = head.substr(start, end - start);
    const std::size_t colon = line.find(':');
    if (colon == name.size() && std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
          return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
        })) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return value;
    }
    at = end;
  }
  return {};
}

}  // namespace

Result<HttpEndpoint> parse_http_url(std::string_view url) {
  auto bad = [&] {
    return Error::validation("the server's URL must be http://HOST:PORT, not '" + std::string(url.substr(0, 200)) + "'")
        .with("url", std::string(url.substr(0, 200)));
  };
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return bad();
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  HttpEndpoint endpoint;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') return bad();
    endpoint.host = std::string(rest.substr(1, close - 1));
    port = rest.substr(close + 2);
  } else {
    const std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return bad();
    endpoint.host = std::string(rest.substr(0, colon));
    port = rest.substr(colon + 1);
  }
  if (endpoint.host.find_first_of("/@ ") != std::string::npos) return bad();
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), endpoint.port);
  if (ec != std::errc() || end != port.data() + port.size() || endpoint.port < 1 || endpoint.port > 65535) return bad();
  return endpoint;
}

HttpConnection::~HttpConnection() { close(); }

void HttpConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  read_timeout_ = std::chrono::milliseconds(-1);
  buffer_.clear();
}

Error HttpConnection::failure(std::string what) const {
  return Error::replication_unavailable(std::move(what))
      .with("host", endpoint_.host)
      .with("port", std::to_string(endpoint_.port));
}

Status HttpConnection::connect() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint_.port);
  if (const int rc = ::getaddrinfo(endpoint_.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return failure("cannot resolve " + endpoint_.host + ": " + ::gai_strerror(rc));
  }
  std::string why = "no address";
  for (addrinfo* a = found; a != nullptr && fd_ < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(connect_timeout_.count())) == 1 ? 0 : -1;
      int error = rc == 0 ? 0 : ETIMEDOUT;
      socklen_t len = sizeof error;
      if (rc == 0) (void)::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
      errno = error;
      rc = error == 0 ? 0 : -1;
    }
    if (rc != 0) {
      why = std::strerror(errno);
      ::close(fd);
      continue;
    }
    (void)::fcntl(fd, F_SETFL, 0);  // blocking from now on, under SO_RCVTIMEO / SO_SNDTIMEO
    int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const timeval send_timeout = to_timeval(std::max(connect_timeout_, std::chrono::milliseconds(1000)));
    (void)::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    fd_ = fd;
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) return failure("cannot connect to " + endpoint_.host + ":" + port + ": " + why);
  return ok_status();
}

bool HttpConnection::still_open() {
  char byte = 0;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);  // nothing to read, not closed
}

Result<HttpReply> HttpConnection::request(std::string_view method, std::string_view target, const std::string* body,
                                          std::string_view extra_headers, std::chrono::milliseconds read_timeout,
                                          bool& sent) {
  sent = false;
  // A connection idle for a while may have been closed by the server: find out before sending,
  // so that a request is never written into a connection that is already gone.
  if (fd_ >= 0 && std::chrono::steady_clock::now() - last_used_ > std::chrono::milliseconds(500) && !still_open()) {
    close();
  }
  if (fd_ < 0) HUGO_TRY(connect());
  if (read_timeout != read_timeout_) {
    const timeval tv = to_timeval(read_timeout);
    (void)::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    read_timeout_ = read_timeout;
  }
  std::string message;
  message.reserve(256 + (body ? body->size() : 0));
  message.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(endpoint_.host);
  message.append("\r\n").append(authorization_).append(extra_headers);
  if (body != nullptr) {
    message.append("Content-Type: application/json\r\nContent-Length: ").append(std::to_string(body->size()));
    message.append("\r\n\r\n").append(*body);
  } else {
    message.append("\r\n");
  }
  std::size_t written = 0;
  while (written < message.size()) {
    const ssize_t n = ::send(fd_, message.data() + written, message.size() - written, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      sent = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    const std::string why = n < 0 ? std::strerror(errno) : "nothing written";
    close();
    return failure("cannot send " + std::string(target) + ": " + why);
  }
  bool keep = true;
  auto reply = read_reply(keep);
  last_used_ = std::chrono::steady_clock::now();
  if (!reply.ok() || !keep) close();
  return reply;
}

Result<HttpReply> HttpConnection::read_reply(bool& keep) {
  buffer_.clear();
  std::size_t head_end = std::string::npos;
  std::size_t need = std::string::npos;  // head + body; npos: until the end of the connection
  bool until_close = false;
  char chunk[16384];
  while (true) {
    if (head_end == std::string::npos && (head_end = buffer_.find("\r\n\r\n")) != std::string::npos) {
      const std::string_view head(buffer_.data(), head_end);
      const std::string_view length = header_value(head, "content-length");
      if (!header_value(head, "transfer-encoding").empty()) return failure("the server sent a chunked reply");
      if (!length.empty()) {
        std::size_t n = 0;
        const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), n);
        if (ec != std::errc() || n > kMaxReplyBytes) return failure("the server sent a bad Content-Length");
        need = head_end + 4 + n;
      } else {
        until_close = true;
      }
      const std::string_view connection = header_value(head, "connection");
      keep = !until_close && connection != "close" && connection != "Close";
    }
    if (need != std::string::npos && buffer_.size() >= need) break;
    if (buffer_.size() > kMaxReplyBytes) return failure("the server's reply is over " + std::to_string(kMaxReplyBytes) + " bytes");
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && until_close) break;
    const bool timed_out = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    return failure(timed_out ? std::string("the server did not answer in time")
                             : std::string("the server closed the connection before answering"));
  }
  if (buffer_.compare(0, 9, "HTTP/1.1 ") != 0 && buffer_.compare(0, 9, "HTTP/1.0 ") != 0) {
    return failure("the reply is not HTTP/1.x");
  }
  HttpReply reply;
  const auto [end, ec] = std::from_chars(buffer_.data() + 9, buffer_.data() + std::min<std::size_t>(buffer_.size(), 12),
                                         reply.status);
  if (ec != std::errc()) return failure("the reply has no status code");
  reply.body = buffer_.substr(head_end + 4, need == std::string::npos ? std::string::npos : need - head_end - 4);
  if (need != std::string::npos && buffer_.size() > need) return failure("the server sent more than one reply");
  return reply;
}

}  // namespace hugo::peers
