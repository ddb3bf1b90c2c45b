// HttpDaemon: the libmicrohttpd adapter (see http_daemon.hpp for the contract).
//
// Threads: the acceptor owns the listening socket and applies the connection limits before a
// connection reaches libmicrohttpd (MHD_add_connection); MHD's event-driven pool threads parse
// requests and run the handler and stream callbacks; the watcher enforces the header deadline and
// resumes parked streams. `mutex` guards the parked list; it is never held while a handler, a
// stream's next() or a libmicrohttpd function runs. The ConnectionTable has its own lock.
#include "peers/http_daemon_impl.hpp"

#include <hugo/error_codes.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hugo::peers {

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

bool HttpDaemon::Impl::park(MHD_Connection* connection, Parkable* waiter) {
  // libmicrohttpd is never called under `mutex` (its own locks are taken inside).
  MHD_suspend_connection(connection);
  {
    std::lock_guard lock(mutex);
    if (!stopping) {
      parked.push_back({connection, waiter});
      watcher_wake.notify_one();
      return true;
    }
  }
  MHD_resume_connection(connection);  // stop() has resumed the others already
  return false;
}

void HttpDaemon::Impl::resume_parked(std::unique_lock<std::mutex>& lock) {
  std::vector<Parked> all;
  all.swap(parked);
  lock.unlock();
  for (const Parked& p : all) MHD_resume_connection(p.connection);
  lock.lock();
}

void HttpDaemon::Impl::watch_loop() {
  constexpr auto kTick = std::chrono::milliseconds(100);
  std::vector<Parked> asking;
  std::vector<Parked> waiting;
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
    for (const Parked& p : asking) {
      bool ready = true;
      try {
        ready = p.waiter->ready(now, wake_by);
      } catch (...) {
      }
      if (ready) {
        MHD_resume_connection(p.connection);
      } else {
        waiting.push_back(p);
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

HttpDaemon::HttpDaemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpDaemon::~HttpDaemon() { stop(); }

Result<std::unique_ptr<HttpDaemon>> HttpDaemon::start(HttpDaemonOptions options) {
  if (options.header_timeout.count() <= 0 || options.io_timeout.count() <= 0 || options.max_connections == 0 ||
      options.max_per_address == 0 || options.threads == 0 || options.max_body_bytes == 0) {
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
