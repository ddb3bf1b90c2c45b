// The queue API under network trouble: a thousand parked long polls, and replies lost after the
// server applied the call (a proxy that drops them), which only a keyed enqueue may retry.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>

#include "tests/peers/queue_api_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

namespace hugo::test {
namespace {

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// A listening socket on 127.0.0.1 and a free port; `port` receives it.
int listen_on_loopback(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 64) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

void send_all(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

// One HTTP/1.1 message (headers and a Content-Length body) from `fd`; "" at EOF.
std::string read_message(int fd) {
  std::string data;
  char buffer[4096];
  std::size_t need = std::string::npos;
  while (need == std::string::npos || data.size() < need) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) return "";
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return "";
    data.append(buffer, static_cast<std::size_t>(n));
    const auto end = data.find("\r\n\r\n");
    if (need == std::string::npos && end != std::string::npos) {
      std::size_t length = 0;
      const auto at = data.find("Content-Length: ");
      if (at != std::string::npos && at < end) length = std::stoul(data.substr(at + 16));
      need = end + 4 + length;
    }
  }
  return data;
}

// Forwards each request to the server on its own connection; the replies to the first `drops`
// requests are read from the server (the call was applied) and thrown away, and the client's
// connection is closed instead: a reply lost on the way back.
class DropProxy {
 public:
  DropProxy(int target, int drops) : target_(target), drops_(drops) {
    listen_ = listen_on_loopback(port_);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~DropProxy() {
    ::shutdown(listen_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_);
    std::lock_guard lock(mutex_);
    for (int fd : clients_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : threads_) t.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int dropped() const { return dropped_.load(); }

 private:
  void accept_loop() {
    while (true) {
      const int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::lock_guard lock(mutex_);
      clients_.push_back(fd);
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  }
  void serve(int client) {
    while (true) {
      const std::string request = read_message(client);
      if (request.empty()) break;
      const int upstream = connect_to(target_);
      send_all(upstream, request);
      const std::string reply = read_message(upstream);
      ::close(upstream);
      if (dropped_.load() < drops_) {
        dropped_.fetch_add(1);
        break;
      }
      send_all(client, reply);
    }
    ::shutdown(client, SHUT_RDWR);
  }

  int target_;
  int drops_;
  int listen_ = -1;
  int port_ = 0;
  std::atomic<int> dropped_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> clients_;
  std::vector<std::thread> threads_;
};

std::unique_ptr<RemoteTaskQueue> through(const std::string& url) {
  RemoteTaskQueueOptions o;
  o.url = url;
  o.queue = "orders";
  o.token = kWriteToken;
  o.retry_backoff = std::chrono::milliseconds(1);
  return must(RemoteTaskQueue::open(o));
}

TEST_CASE("queue_api.lost_reply: a keyed enqueue retried after a dropped connection finds its task, no duplicate") {
  QueueServer s;
  DropProxy proxy(s.server->port(), 1);
  auto remote = through(proxy.url());
  const auto keyed = must(remote->enqueue_keyed("order-9", "charge"));
  CHECK(proxy.dropped() == 1);  // the first reply was lost after the server enqueued
  CHECK(keyed.duplicate);       // the retry found the task the lost call had enqueued
  CHECK(s.queue->pending_count() == 1);
  CHECK(s.queue->snapshot().pending.front().task_id == keyed.task_id);

  SUBCASE("a plain enqueue is not repeated: the caller learns the call may have taken effect") {
    DropProxy again(s.server->port(), 1);
    auto plain = through(again.url())->enqueue("no key");
    REQUIRE_FALSE(plain.ok());
    CHECK(plain.error().code() == errc::replication_unavailable);
    REQUIRE(plain.error().find("maybe_applied") != nullptr);
    CHECK(s.queue->pending_count() == 2);  // applied once, never twice
  }
}

TEST_CASE("queue_api.unread_bodies: a write without the write token is refused before its body is read") {
  QueueServer s;
  for (const std::string& token : {std::string(), std::string(kReadToken)}) {
    CAPTURE(token);
    const int fd = connect_to(s.server->port());
    // Announces 100 MB and sends none of it: the refusal must come anyway.
    send_all(fd, "POST /v1/queues/orders/tasks HTTP/1.1\r\nHost: x\r\n" +
                     (token.empty() ? std::string() : "Authorization: Bearer " + token + "\r\n") +
                     "Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n");
    const std::string reply = read_message(fd);
    CHECK(reply.rfind(token.empty() ? "HTTP/1.1 401" : "HTTP/1.1 403", 0) == 0);
    ::close(fd);
  }
  const int fd = connect_to(s.server->port());
  send_all(fd, "POST /v1/queues/orders/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kWriteToken) +
                   "\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{");
  CHECK(read_message(fd).rfind("HTTP/1.1 413", 0) == 0);  // with the token: read up to the cap, then 413
  ::close(fd);
  CHECK(s.queue->pending_count() == 0);
}

TEST_CASE("queue_api.abandoned_poll: a long poll whose client hung up takes no task") {
  QueueServer s(4, std::chrono::seconds(10));
  const std::string body = "{\"owner\":\"gone\",\"waitMs\":10000}";
  const int fd = connect_to(s.server->port());
  send_all(fd, "POST /v1/queues/orders/leases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kWriteToken) +
                   "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\n\r\n" + body);
  // Once the server counts it among its waiting calls, the poll is parked.
  httplib::Client client(s.server->url());
  REQUIRE(eventually([&] {
    auto metrics = client.Get("/metrics", {{"Authorization", std::string("Bearer ") + kReadToken}});
    return metrics && metrics->body.find("hugo_queue_waiting_calls 1\n") != std::string::npos;
  }));
  ::close(fd);  // the client goes away while its poll waits
  // The server learns of it only when it resumes the poll; a FIN is in its socket by then.
  must(s.queue->enqueue("for the living"));
  // Given a second, the poll of the client that left would have taken the task (and held it for
  // the whole lease); it must not.
  CHECK_FALSE(eventually([&] { return s.queue->active_lease_count() > 0; }, std::chrono::seconds(1)));
  Lease lease = must(s.remote()->lease("alive", Wait::for_duration(std::chrono::seconds(5))));
  CHECK(lease.attempt == 1);
  CHECK(lease.owner == "alive");
}

TEST_CASE("queue_api.server_gone: calls to a server that is not there fail with replication.unavailable") {
  int port = 0;
  {
    QueueServer s;
    port = s.server->port();
  }
  RemoteTaskQueueOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(port);
  o.queue = "orders";
  o.retries = 2;
  o.retry_backoff = std::chrono::milliseconds(1);
  auto remote = must(RemoteTaskQueue::open(o));
  auto lease = remote->lease("w", Wait::none());
  REQUIRE_FALSE(lease.ok());
  CHECK(lease.error().code() == errc::replication_unavailable);
  CHECK(lease.error().message().find("cannot be reached") != std::string::npos);
  o.url = "ftp://x";
  auto bad = RemoteTaskQueue::open(o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == errc::validation);
}

// A one-shot server that answers every connection's first request with `reply`, then closes.
class CannedServer {
 public:
  explicit CannedServer(std::string reply) : reply_(std::move(reply)) {
    listen_ = listen_on_loopback(port_);
    thread_ = std::thread([this] {
      while (true) {
        const int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        (void)read_message(fd);
        send_all(fd, reply_);
        ::shutdown(fd, SHUT_RDWR);
        ::close(fd);
      }
    });
  }
  ~CannedServer() {
    ::shutdown(listen_, SHUT_RDWR);
    thread_.join();
    ::close(listen_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string reply_;
  int listen_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST_CASE("queue_api.hostile_server: replies that are not the queue API's are clear errors, never a crash") {
  const std::vector<std::pair<std::string, std::string>> replies = {
      {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
      {"a huge length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n{}"},
      {"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\n"},
      {"cut short", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"leases\":["},
      {"not JSON", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"},
      {"an error page", "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\n\r\nbad gateway"},
      {"a lease without a token", "HTTP/1.1 200 OK\r\nContent-Length: 28\r\n\r\n{\"leases\":[{\"payload\":\"x\"}]}"},
  };
  for (const auto& [name, reply] : replies) {
    CAPTURE(name);
    CannedServer server(reply);
    RemoteTaskQueueOptions o;
    o.url = server.url();
    o.queue = "orders";
    o.retries = 0;
    auto remote = must(RemoteTaskQueue::open(o));
    auto lease = remote->lease("w", Wait::none());
    REQUIRE_FALSE(lease.ok());
    CHECK_FALSE(lease.error().message().empty());
  }
  for (const char* url : {"http://", "http://host", "http://host:0", "http://host:70000", "https://host:1",
                          "http://a b:80", "http://[::1:80", "http://host:80/path"}) {
    CAPTURE(url);
    RemoteTaskQueueOptions o;
    o.url = url;
    o.queue = "orders";
    auto bad = RemoteTaskQueue::open(o);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code() == errc::validation);
  }
  RemoteTaskQueueOptions v6;
  v6.url = "http://[::1]:7070";
  v6.queue = "orders";
  CHECK(RemoteTaskQueue::open(v6).ok());
  v6.url = "http://127.0.0.1:7070";
  v6.token = "a\r\nX-Injected: 1";
  CHECK_FALSE(RemoteTaskQueue::open(v6).ok());
}

TEST_CASE("queue_api.thousand_polls: 1,000 parked long polls are held, /healthz answers, and each gets a task") {
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < 2200) {
    MESSAGE("skipped: needs 2,200 open files, the limit is " << files.rlim_cur);
    return;
  }
  constexpr int kPolls = 1000;
  QueueServer s(4, std::chrono::seconds(20), 1200);
  const std::string body = "{\"owner\":\"poller\",\"max\":1,\"waitMs\":20000}";
  const std::string request = "POST /v1/queues/orders/leases HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                              std::string(kWriteToken) + "\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  std::vector<int> polls;
  for (int i = 0; i < kPolls; ++i) {
    polls.push_back(connect_to(s.server->port()));
    send_all(polls.back(), request);
  }
  httplib::Client client(s.server->url());
  client.set_read_timeout(10, 0);
  auto health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  int answered = 0;
  for (int fd : polls) {
    pollfd p{fd, POLLIN, 0};
    answered += ::poll(&p, 1, 0) > 0 ? 1 : 0;
  }
  CHECK(answered == 0);  // all still parked
  for (int batch = 0; batch < 4; ++batch) {
    std::vector<std::string> payloads(kPolls / 4, "work");
    must(s.queue->enqueue_batch(std::move(payloads)));
  }
  std::set<std::int64_t> tasks;
  for (int fd : polls) {
    const std::string reply = read_message(fd);
    CHECK(reply.rfind("HTTP/1.1 200", 0) == 0);
    const auto at = reply.find("\"taskId\":");
    if (at != std::string::npos) tasks.insert(std::stoll(reply.substr(at + 9)));
    ::close(fd);
  }
  CHECK(tasks.size() == static_cast<std::size_t>(kPolls));
  CHECK(s.queue->active_lease_count() == static_cast<std::size_t>(kPolls));
}

}  // namespace
}  // namespace hugo::test
