// HttpDaemon's insides, shared by http_daemon.cpp (threads, parking, start and stop) and
// http_daemon_mhd.cpp (libmicrohttpd's callbacks: requests, bodies, streams). Only these two
// files include libmicrohttpd's header.
#pragma once

#include "peers/http_daemon.hpp"
#include "peers/listener.hpp"

#include <microhttpd.h>

#include <sys/socket.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hugo::peers {
// Named, not anonymous: HttpDaemon::Impl holds some of these types, which g++ rejects from an
// anonymous namespace in the library's unity units (meson.build).
namespace http_daemon_parts {


// A connection waiting in the parked list, and what to ask before resuming it.
struct Parked {
  MHD_Connection* connection;
  Parkable* waiter;
};

// One request from its headers to its completion (libmicrohttpd's request context).
struct RequestState {
  std::string body;
  bool too_large = false;
  bool answered = false;
  std::shared_ptr<DeferredReply> deferred;  // parked until it has a response
};

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
  MhdRequest(MHD_Connection* c, const char* method, const char* path, std::string_view body)
      : c_(c), method_(method), path_(path), body_(body) {}
  std::string_view method() const override { return method_; }
  std::string_view path() const override { return path_; }
  std::string header(const char* name) const override { return value(MHD_HEADER_KIND, name); }
  std::string query(const char* name) const override { return value(MHD_GET_ARGUMENT_KIND, name); }
  bool has_query(const char* name) const override {
    return MHD_lookup_connection_value_n(c_, MHD_GET_ARGUMENT_KIND, name, std::strlen(name), nullptr, nullptr) ==
           MHD_YES;
  }
  std::string_view body() const override { return body_; }

 private:
  std::string value(MHD_ValueKind kind, const char* name) const {
    const char* v = MHD_lookup_connection_value(c_, kind, name);
    return v ? std::string(v) : std::string();
  }
  MHD_Connection* c_;
  const char* method_;
  const char* path_;
  std::string_view body_;
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
  std::vector<Parked> parked;

  void accept_loop();
  void admit(int fd, const sockaddr_storage& addr, socklen_t len);
  void refuse(int fd, const std::string& message);
  void watch_loop();
  void* conn_of(MHD_Connection* c);
  bool park(MHD_Connection* connection, Parkable* waiter);
  void resume_parked(std::unique_lock<std::mutex>& lock);  // under mutex; unlocks meanwhile
  MHD_Result answer(MHD_Connection* c, HttpResponse& res);
  // A deferred reply that could not park (the daemon is stopping): 503 with the error body.
  MHD_Result unavailable(MHD_Connection* c, RequestState& state, const char* path);
};

namespace http_daemon_parts {
// libmicrohttpd's callbacks (http_daemon_mhd.cpp); `cls` is the HttpDaemon::Impl.
MHD_Result on_request(void* cls, MHD_Connection* c, const char* path, const char* method, const char* version,
                      const char* upload_data, std::size_t* upload_size, void** request_context);
void on_connection(void* cls, MHD_Connection* c, void** socket_context, MHD_ConnectionNotificationCode code);
void on_completed(void* cls, MHD_Connection* c, void** request_context, MHD_RequestTerminationCode code);
}  // namespace http_daemon_parts

}  // namespace hugo::peers
