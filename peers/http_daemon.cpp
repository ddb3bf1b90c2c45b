// HttpDaemon: the libmicrohttpd adapter (see http_daemon.hpp for the contract).
//
// Threads: the acceptor owns the listening socket and applies the connection limits before a
// connection reaches libmicrohttpd (MHD_add_connection); MHD's event-driven pool threads parse
// requests and run the handler and stream callbacks; the watcher enforces the header deadline and
// resumes parked streams. `mutex` guards the parked list; it is never held while a handler, a
// stream's next() or a libmicrohttpd function runs. The ConnectionTable has its own lock.
#include "peers/http_daemon.hpp"
#include "peers/listener.hpp"

#include <hugo/error_codes.hpp>

#include <microhttpd.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

namespace hugo::peers {
// This file's helpers. Named, not anonymous: HttpDaemon::Impl holds some of their types, which g++
// rejects from an anonymous namespace in the library's unity units (meson.build).
namespace http_daemon_parts {


struct Body {
  HttpDaemon::Impl* daemon;
  MHD_Connection* connection;
  std::shared_ptr<StreamSource> source;
  std::string buffer;
  std::size_t offset = 0;
  bool ended = false;
};

class MhdRequest final : public HttpRequest {
 public:
  MhdRequest(MHD_Connection* c, const char* method, const char* path) : c_(c), method_(method), path_(path) {}
  std::string_view method() const override { return method_; }
  std::string_view path() const override { return path_; }
  std::string header(const char* name) const override { return value(MHD_HEADER_KIND, name); }
  std::string query(const char* name) const override { return value(MHD_GET_ARGUMENT_KIND, name); }
  bool has_query(const char* name) const override {
    return MHD_lookup_connection_value_n(c_, MHD_GET_ARGUMENT_KIND, name, std::strlen(name), nullptr, nullptr) ==
           MHD_YES;
  }

 private:
  std::string value(MHD_ValueKind kind, const char* name) const {
    const char* v = MHD_lookup_connection_value(c_, kind, name);
    return v ? std::string(v) : std::string();
  }
  MHD_Connection* c_;
  const char* method_;
  const char* path_;
};

}  // namespace http_daemon_parts
using namespace http_daemon_parts;

struct HttpDaemon::Impl {
  HttpDaemonOptions options;
  int listen_fd = -1;
  int wake[2] = {-1, -1};
  int port = 0;
  MHD_Daemon* mhd = nullptr;
  std::thread acceptor;
  std::thread watcher;
  std::mutex mutex;
  std::condition_variable watcher_wake;
  bool stopping = false;
  bool stopped = false;
  std::unique_ptr<ConnectionTable> table;
  std::vector<Body*> parked;

  void accept_loop();
  void admit(int fd, const sockaddr_storage& addr, socklen_t len);
  void refuse(int fd, const std::string& message);
  void watch_loop();
  void* conn_of(MHD_Connection* c);
  bool park(Body& body);
  void resume_parked(std::unique_lock<std::mutex>& lock);  // under mutex; unlocks meanwhile
  MHD_Result answer(MHD_Connection* c, HttpResponse& res);
};

void* HttpDaemon::Impl::conn_of(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info ? info->socket_context : nullptr;
}

void HttpDaemon::Impl::accept_loop() {
  pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake[0], POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    while (true) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        admit(fd, addr, len);
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) (void)::poll(&fds[1], 1, 10);  // out of fds: back off
      break;
    }
  }
}

void HttpDaemon::Impl::admit(int fd, const sockaddr_storage& addr, socklen_t len) {
  const std::string refusal = table->admit(fd, address_of(addr));
  if (!refusal.empty()) return refuse(fd, refusal);
  int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (MHD_add_connection(mhd, fd, reinterpret_cast<const sockaddr*>(&addr), len) != MHD_YES) {
    table->dropped(fd);  // libmicrohttpd closed the socket
  }
}

void HttpDaemon::Impl::refuse(int fd, const std::string& message) {
  refuse_connection(fd, options.error_body(message));
  if (options.on_refused) options.on_refused();
}

bool HttpDaemon::Impl::park(Body& body) {
  // libmicrohttpd is never called under `mutex` (its own locks are taken inside).
  MHD_suspend_connection(body.connection);
  {
    std::lock_guard lock(mutex);
    if (!stopping) {
      parked.push_back(&body);
      watcher_wake.notify_one();
      return true;
    }
  }
  MHD_resume_connection(body.connection);  // stop() has resumed the others already
  return false;
}

void HttpDaemon::Impl::resume_parked(std::unique_lock<std::mutex>& lock) {
  std::vector<Body*> all;
  all.swap(parked);
  lock.unlock();
  for (Body* body : all) MHD_resume_connection(body->connection);
  lock.lock();
}

void HttpDaemon::Impl::watch_loop() {
  constexpr auto kTick = std::chrono::milliseconds(100);
  std::vector<Body*> asking;
  std::vector<Body*> waiting;
  std::unique_lock lock(mutex);
  while (!stopping) {
    const auto now = SteadyClock::now();
    auto wake_by = now + kTick;
    table->cut_late(now, wake_by);
    asking.swap(parked);
    lock.unlock();
    // Parked streams are asked outside the lock (ready() may read their journal); their
    // connections are suspended, so nothing else touches them meanwhile.
    const std::int64_t mark = asking.empty() ? 0 : options.change_mark();
    for (Body* body : asking) {
      bool ready = true;
      try {
        ready = body->source->ready(now, wake_by);
      } catch (...) {
      }
      if (ready) {
        MHD_resume_connection(body->connection);
      } else {
        waiting.push_back(body);
      }
    }
    asking.clear();
    if (!waiting.empty()) {
      options.wait_for_change(mark, wake_by);
      lock.lock();
      parked.insert(parked.end(), waiting.begin(), waiting.end());
      waiting.clear();
      continue;
    }
    lock.lock();
    watcher_wake.wait_until(lock, wake_by, [this] { return stopping || !parked.empty(); });
  }
  resume_parked(lock);  // the ones put back after stop() looked
}

namespace http_daemon_parts {

ssize_t read_body(void* cls, std::uint64_t, char* buf, std::size_t max) {
  Body& b = *static_cast<Body*>(cls);
  while (b.offset == b.buffer.size()) {
    if (b.ended) return MHD_CONTENT_READER_END_OF_STREAM;
    b.buffer.clear();
    b.offset = 0;
    StreamSource::Next next = StreamSource::Next::Fail;
    try {
      next = b.source->next(b.buffer);
    } catch (...) {
    }
    switch (next) {
      case StreamSource::Next::Data:
        break;
      case StreamSource::Next::End:
        b.ended = true;
        break;
      case StreamSource::Next::Fail:
        return MHD_CONTENT_READER_END_WITH_ERROR;
      case StreamSource::Next::Wait:
        return b.daemon->park(b) ? 0 : MHD_CONTENT_READER_END_WITH_ERROR;
    }
  }
  const std::size_t n = std::min(max, b.buffer.size() - b.offset);
  std::memcpy(buf, b.buffer.data() + b.offset, n);
  b.offset += n;
  return static_cast<ssize_t>(n);
}

void free_body(void* cls) { delete static_cast<Body*>(cls); }

void on_connection(void* cls, MHD_Connection* c, void** socket_context, MHD_ConnectionNotificationCode code) {
  auto& d = *static_cast<HttpDaemon::Impl*>(cls);
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info != nullptr) *socket_context = d.table->started(info->connect_fd);
  } else if (*socket_context != nullptr) {
    d.table->closed(*socket_context);
    *socket_context = nullptr;
  }
}

void on_completed(void* cls, MHD_Connection* c, void** request_context, MHD_RequestTerminationCode) {
  auto& d = *static_cast<HttpDaemon::Impl*>(cls);
  *request_context = nullptr;
  if (void* conn = d.conn_of(c); conn != nullptr) d.table->request_ended(conn);
}

MHD_Result on_request(void* cls, MHD_Connection* c, const char* path, const char* method, const char*, const char*,
                      std::size_t* upload_size, void** request_context) {
  auto& d = *static_cast<HttpDaemon::Impl*>(cls);
  if (*request_context != nullptr) {  // a body of a request that was already answered: dropped
    *upload_size = 0;
    return MHD_YES;
  }
  *request_context = &d;
  if (void* conn = d.conn_of(c); conn != nullptr) d.table->request_began(conn);
  HttpResponse res;
  try {
    res = d.options.handler(MhdRequest(c, method, path));
  } catch (...) {  // nothing may unwind into libmicrohttpd's C frames
    res = HttpResponse{};
    res.status = 500;
    try {
      res.body = d.options.error_body("the server failed to answer " + std::string(path) + "; retry later");
    } catch (...) {
      return MHD_NO;  // not even the error body could be built: libmicrohttpd closes the connection
    }
  }
  try {
    return d.answer(c, res);
  } catch (...) {
    return MHD_NO;  // libmicrohttpd closes the connection
  }
}

}  // namespace http_daemon_parts
using namespace http_daemon_parts;

MHD_Result HttpDaemon::Impl::answer(MHD_Connection* c, HttpResponse& res) {
  MHD_Response* response = nullptr;
  if (res.stream) {
    auto* body = new Body{this, c, std::move(res.stream), {}, 0, false};
    response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, &read_body, body, &free_body);
    if (response == nullptr) delete body;
  } else {
    response = MHD_create_response_from_buffer(res.body.size(), res.body.data(), MHD_RESPMEM_MUST_COPY);
  }
  if (response == nullptr) return MHD_NO;
  (void)MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, res.content_type.c_str());
  for (const auto& [name, value] : res.headers) (void)MHD_add_response_header(response, name.c_str(), value.c_str());
  const MHD_Result queued = MHD_queue_response(c, static_cast<unsigned>(res.status), response);
  MHD_destroy_response(response);
  return queued;
}

HttpDaemon::HttpDaemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpDaemon::~HttpDaemon() { stop(); }

Result<std::unique_ptr<HttpDaemon>> HttpDaemon::start(HttpDaemonOptions options) {
  if (options.header_timeout.count() <= 0 || options.io_timeout.count() <= 0 || options.max_connections == 0 ||
      options.max_per_address == 0 || options.threads == 0) {
    return Error::validation("server options: header_timeout and io_timeout must be positive, max_connections and "
                 "max_connections_per_address at least 1");
  }
  auto impl = std::make_unique<Impl>();
  Impl& d = *impl;
  d.options = std::move(options);
  d.table = std::make_unique<ConnectionTable>(d.options.max_connections, d.options.max_per_address,
                                              d.options.header_timeout);
  HUGO_ASSIGN_OR_RETURN(d.listen_fd, listen_on(d.options.host, d.options.port, d.port));
  if (::pipe2(d.wake, O_CLOEXEC) != 0) {
    ::close(d.listen_fd);
    return bind_error(d.options.host, d.options.port, std::strerror(errno));
  }
  const auto io_seconds = static_cast<unsigned>((d.options.io_timeout.count() + 999) / 1000);
  // Our limits bind first; libmicrohttpd's own cap (split among its threads) only stops a runaway.
  const auto mhd_limit = static_cast<unsigned>(d.options.max_connections * d.options.threads + 64);
  d.mhd = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME, 0,
      nullptr, nullptr, &on_request, &d, MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned>(d.options.threads),
      MHD_OPTION_CONNECTION_TIMEOUT, io_seconds, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
      MHD_OPTION_NOTIFY_CONNECTION, &on_connection, &d, MHD_OPTION_NOTIFY_COMPLETED, &on_completed, &d,
      MHD_OPTION_END);
  if (d.mhd == nullptr) {
    ::close(d.listen_fd);
    ::close(d.wake[0]);
    ::close(d.wake[1]);
    return bind_error(d.options.host, d.options.port, "the HTTP server did not start");
  }
  d.acceptor = std::thread([&d] { d.accept_loop(); });
  d.watcher = std::thread([&d] { d.watch_loop(); });
  return std::unique_ptr<HttpDaemon>(new HttpDaemon(std::move(impl)));
}

int HttpDaemon::port() const { return impl_->port; }

void HttpDaemon::stop() {
  if (!impl_) return;
  Impl& d = *impl_;
  {
    std::unique_lock lock(d.mutex);
    if (d.stopped) return;
    d.stopped = true;
    d.stopping = true;  // no stream parks from now on
    d.resume_parked(lock);
  }
  d.watcher_wake.notify_all();
  (void)!::write(d.wake[1], "x", 1);
  if (d.acceptor.joinable()) d.acceptor.join();
  if (d.watcher.joinable()) d.watcher.join();  // it resumes what it was asking
  MHD_stop_daemon(d.mhd);  // closes every connection; each stream's source is released
  ::close(d.listen_fd);
  ::close(d.wake[0]);
  ::close(d.wake[1]);
}

}  // namespace hugo::peers
