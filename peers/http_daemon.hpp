// The HTTP server under ReplicationServer: the only code that includes libmicrohttpd's header
// (http_daemon.cpp, http_daemon_mhd.cpp, http_daemon_impl.hpp). It owns the listening socket and the limits of docs/PEERS.md ("Bounds"):
//   - a total deadline for each request's headers (not reset by a slow client's every byte);
//   - at most max_per_address open connections per client address and max_connections in all;
//     the connection beyond either gets an immediate 503 with the JSON error body, then is closed;
//   - a socket idle timeout (a client that stops reading a stream is dropped).
// Requests are parsed by event-driven threads (no thread waits on one client's headers or body), and
// a stream that has nothing to send, or a reply that is not decided yet (a long poll), is parked
// with its connection suspended, not held by a thread, until ready() says so.
#pragma once

#include <hugo/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hugo::peers {

using SteadyClock = std::chrono::steady_clock;

// What a handler sees of a request. Lookups return "" for an absent header or parameter.
class HttpRequest {
 public:
  virtual ~HttpRequest() = default;
  virtual std::string_view method() const = 0;
  virtual std::string_view path() const = 0;
  virtual std::string header(const char* name) const = 0;
  virtual std::string query(const char* name) const = 0;
  virtual bool has_query(const char* name) const = 0;
  virtual std::string_view body() const = 0;  // the whole request body (at most max_body_bytes)
};

// Something parked until it can make progress. ready() is asked by the daemon's watcher thread,
// never concurrently with the other calls of the same object.
class Parkable {
 public:
  virtual ~Parkable() = default;
  // True when the parked work has something to do. `wake_by` is lowered to when it must be asked
  // again at the latest; it is also asked after every change (see change_mark).
  virtual bool ready(SteadyClock::time_point now, SteadyClock::time_point& wake_by) = 0;
};

// A response body produced piece by piece (a /v1/events stream). Called from one thread at a time.
class StreamSource : public Parkable {
 public:
  enum class Next {
    Data,  // `out` holds the next piece
    Wait,  // nothing to send now: park the stream until ready() is true
    End,   // `out` holds the last piece (possibly empty); the response ends after it
    Fail,  // abort the response (the client sees a cut stream and reconnects)
  };
  virtual ~StreamSource() = default;
  virtual Next next(std::string& out) = 0;
  // ready(): true when next() has something to do (new commits, a due heartbeat).
};

struct HttpResponse;

// A reply decided later (a long poll). The request's connection is suspended until ready(), then
// take() runs on a server thread: the response, or nullopt to park again. If the daemon stops
// first, the client gets a 503 with the error body.
class DeferredReply : public Parkable {
 public:
  virtual std::optional<HttpResponse> take() = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;                      // used when stream is null
  std::shared_ptr<StreamSource> stream;  // chunked body
  std::shared_ptr<DeferredReply> deferred;  // set: everything above is ignored (see DeferredReply)
};

struct HttpDaemonOptions {
  std::string host;
  int port = 0;  // 0: any free port
  std::chrono::milliseconds header_timeout{5000};
  std::chrono::milliseconds io_timeout{10000};
  std::size_t max_connections = 256;
  std::size_t max_per_address = 64;
  std::size_t threads = 4;
  // A request body above this gets a 413 with the error body; the handler never sees it.
  std::size_t max_body_bytes = 1u << 20;
  std::function<HttpResponse(const HttpRequest&)> handler;  // called concurrently
  // Asked with a request's headers (its body() still empty): true to read its body (at most
  // max_body_bytes) before the handler runs. Null or false: the handler answers at once and the
  // body is never read, so only requests that need one and are authorized make the server buffer.
  std::function<bool(const HttpRequest&)> wants_body;
  // The JSON body of an error response: the 503 beyond the limits, a 500 for a failed handler.
  std::function<std::string(const std::string& message)> error_body;
  // While streams are parked: change_mark() is taken before they are asked ready(), then
  // wait_for_change(mark, deadline) blocks until something changed since the mark (a commit) or
  // the deadline.
  std::function<std::int64_t()> change_mark;
  std::function<void(std::int64_t mark, SteadyClock::time_point deadline)> wait_for_change;
  std::function<void()> on_refused;  // a connection was refused by a limit (for metrics)
};

class HttpDaemon {
 public:
  // Errors: replication.bind (cannot listen), error.validation (bad options).
  static Result<std::unique_ptr<HttpDaemon>> start(HttpDaemonOptions options);
  ~HttpDaemon();
  HttpDaemon(const HttpDaemon&) = delete;
  HttpDaemon& operator=(const HttpDaemon&) = delete;

  int port() const;
  void stop();  // idempotent; returns once no handler or stream callback runs

  struct Impl;

 private:
  explicit HttpDaemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hugo::peers
