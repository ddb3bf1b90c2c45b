// ReplicationServer: the routes and streams of docs/PEERS.md, over the HTTP adapter of
// peers/http_daemon.hpp (which owns the sockets and the connection limits). Every stream
// has its own JournalReader, so streams never block each other or the journal's writer.
#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>
#include <hugo/peers.hpp>
#include <hugo/task_queue.hpp>

#include "core/json_out.hpp"
#include "core/wire_json.hpp"
#include "sinks/hash_index.hpp"
#include "peers/http_daemon.hpp"
#include "peers/queue_routes.hpp"
#include "peers/queue_wire.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <thread>

namespace hugo {
// This file's helpers. Named, not anonymous: ReplicationServer::Impl holds some of their types, which g++
// rejects from an anonymous namespace in the library's unity units (meson.build).
namespace replication_server_parts {

using peers::HttpRequest;
using peers::HttpResponse;
using peers::SteadyClock;

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Compares in time that depends only on the length, so timing says nothing about the token's bytes.
bool same_secret(std::string_view given, std::string_view expected) {
  if (given.size() != expected.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ expected[i]);
  return diff == 0;
}

HttpResponse error_response(int status, const Error& error) {
  HttpResponse res;
  res.status = status;
  res.body = peers::error_body(error);
  return res;
}

HttpResponse text_response(std::string body, std::string content_type) {
  HttpResponse res;
  res.body = std::move(body);
  res.content_type = std::move(content_type);
  return res;
}

// The queue API's options: a write token, queues open on the live journal, distinct names.
Status check_queue_options(const ReplicationServerOptions& options) {
  if (options.queues.empty()) return ok_status();
  if (options.write_token.empty()) {
    return Error::replication_token_required("serving queues needs a write token, even on loopback (pass "
                                             "--write-token): anyone who can reach the port could lease or drain");
  }
  if (options.live == nullptr) {
    return Error::validation("serving queues needs the live journal they are open on (ReplicationServerOptions::live)");
  }
  if (options.max_long_poll.count() <= 0 || options.max_long_poll >= options.io_timeout) {
    return Error::validation("max_long_poll must be positive and below io_timeout (an idle connection is cut then)");
  }
  for (std::size_t i = 0; i < options.queues.size(); ++i) {
    if (!options.queues[i]) return Error::validation("a queue to serve is null");
    for (std::size_t j = 0; j < i; ++j) {
      if (options.queues[j]->name() == options.queues[i]->name()) {
        return Error::validation("queue '" + options.queues[i]->name() + "' is listed twice")
            .with("queue", options.queues[i]->name());
      }
    }
  }
  return ok_status();
}

struct Counters {
  std::atomic<std::int64_t> subscribers{0};
  std::atomic<std::int64_t> streams_total{0};
  std::atomic<std::int64_t> events_sent_total{0};
  std::atomic<std::int64_t> rejected_unauthorized{0};
  std::atomic<std::int64_t> rejected_busy{0};
  std::atomic<std::int64_t> rejected_connections{0};
};

}  // namespace replication_server_parts
using namespace replication_server_parts;

struct ReplicationServer::Impl {
  ReplicationServerOptions options;
  std::unique_ptr<peers::HttpDaemon> http;
  Counters counters;
  peers::HashIndex hashes;
  peers::QueueRoutes queue_routes;

  explicit Impl(ReplicationServerOptions o) : options(std::move(o)), hashes(options.journal), queue_routes(options) {}

  HttpResponse handle(const HttpRequest& req);
  HttpResponse serve_info();
  HttpResponse serve_events(const HttpRequest& req);
  HttpResponse serve_metrics();
  // Which token the request carries: none that this server accepts, its read token, or its
  // write token (which also reads). An open server (no tokens) reads without one.
  enum class Access { None, Read, Write };
  Access access(const HttpRequest& req) const;
};

namespace replication_server_parts {

// One /v1/events response: where it stands and what it has sent. It holds one subscriber slot
// until the response is released.
class EventStream final : public peers::StreamSource {
 public:
  EventStream(ReplicationServer::Impl& server, std::unique_ptr<JournalReader> reader, std::int64_t after,
              std::uint64_t hash, bool follow, bool sse)
      : server_(server), reader_(std::move(reader)), position_(after), hash_(hash), follow_(follow), sse_(sse),
        next_heartbeat_(SteadyClock::now() + server.options.heartbeat) {}
  ~EventStream() override { server_.counters.subscribers.fetch_sub(1); }

  Next next(std::string& out) override;
  bool ready(SteadyClock::time_point now, SteadyClock::time_point& wake_by) override;

 private:
  // Appends a heartbeat at the stream's position; false if the journal's last seq is unreadable.
  bool heartbeat(std::string& out);
  void append_heartbeat(std::string& out, std::int64_t last_seq);

  ReplicationServer::Impl& server_;
  std::unique_ptr<JournalReader> reader_;
  std::int64_t position_;
  std::uint64_t hash_;
  bool follow_;
  bool sse_;
  bool ends_with_heartbeat_ = false;  // the last line sent is a heartbeat at position_
  SteadyClock::time_point next_heartbeat_;
  std::string line_;
};

void EventStream::append_heartbeat(std::string& out, std::int64_t last_seq) {
  line_.clear();
  wire::encode_heartbeat_json({last_seq, position_, format_hash(hash_)}, line_);
  out += sse_ ? "event: heartbeat\ndata: " : "";
  out += line_;
  out += sse_ ? "\n\n" : "\n";
  ends_with_heartbeat_ = true;
}

bool EventStream::heartbeat(std::string& out) {
  // The journal's own last seq, never the stream's position: `after` may lie beyond the end.
  auto last = reader_->last_seq();
  if (!last.ok()) return false;
  append_heartbeat(out, *last);
  next_heartbeat_ = SteadyClock::now() + server_.options.heartbeat;
  return true;
}

peers::StreamSource::Next EventStream::next(std::string& out) {
  auto events = reader_->read(position_, server_.options.batch);
  if (!events.ok()) return Next::Fail;  // the client reconnects and resumes from its checkpoint
  if (!events->empty()) {
    for (const Event& e : *events) {
      line_.clear();
      encode_event_json(e, line_);
      hash_ = chain_hash(hash_, line_);
      position_ = e.seq;
      if (sse_) {
        out += "id: " + std::to_string(e.seq) + "\ndata: ";
        out += line_;
        out += "\n\n";
      } else {
        out += line_;
        out += '\n';
      }
    }
    server_.counters.events_sent_total.fetch_add(static_cast<std::int64_t>(events->size()));
    // Marks the batch's end (the follower commits there). Its lastSeq says whether more follows.
    return heartbeat(out) ? Next::Data : Next::Fail;
  }
  if (!follow_) {  // caught up: end with exactly one heartbeat at the final position
    if (!ends_with_heartbeat_ && !heartbeat(out)) return Next::Fail;
    return Next::End;
  }
  if (SteadyClock::now() >= next_heartbeat_) return heartbeat(out) ? Next::Data : Next::Fail;
  return Next::Wait;
}

bool EventStream::ready(SteadyClock::time_point now, SteadyClock::time_point& wake_by) {
  if (now >= next_heartbeat_) return true;
  wake_by = std::min(wake_by, next_heartbeat_);
  if (server_.options.live != nullptr && server_.options.live->durable_seq() > position_) return true;
  auto changed = reader_->changed();  // another process may write the journal
  return !changed.ok() || *changed;   // next() reports a failure
}

}  // namespace replication_server_parts
using namespace replication_server_parts;

ReplicationServer::Impl::Access ReplicationServer::Impl::access(const HttpRequest& req) const {
  const std::string header = req.header("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  const bool bearer = header.rfind(kBearer, 0) == 0;
  const std::string_view given = bearer ? std::string_view(header).substr(kBearer.size()) : std::string_view();
  if (bearer && !options.write_token.empty() && same_secret(given, options.write_token)) return Access::Write;
  if (options.token.empty()) return Access::Read;
  return bearer && same_secret(given, options.token) ? Access::Read : Access::None;
}

HttpResponse ReplicationServer::Impl::handle(const HttpRequest& req) {
  const std::string_view path = req.path();
  const std::string_view method = req.method();
  const bool known = path == "/healthz" || path == "/v1/info" || path == "/v1/events" || path == "/metrics";
  const Access granted = path == "/healthz" ? Access::Read : access(req);
  if (granted == Access::None) {
    counters.rejected_unauthorized.fetch_add(1);
    auto res = error_response(401, Error::replication_unauthorized("missing or wrong bearer token (pass the server's --token)"));
    res.headers.emplace_back("WWW-Authenticate", "Bearer");
    return res;
  }
  if (!options.queues.empty() && peers::QueueRoutes::owns(path)) return queue_routes.handle(req, granted == Access::Write);
  if (!known) {
    return error_response(404, Error::validation("no resource " + std::string(path) +
                                         " (this server answers /healthz, /v1/info, /v1/events and /metrics)")
                                   .with("path", std::string(path)));
  }
  if (method != "GET" && method != "HEAD") {
    auto res = error_response(405, Error::validation(std::string(method) + " " + std::string(path) + " is not served; use GET")
                                       .with("method", std::string(method)));
    res.headers.emplace_back("Allow", "GET, HEAD");
    return res;
  }
  if (path == "/healthz") return text_response("ok\n", "text/plain");
  if (path == "/v1/info") return serve_info();
  if (path == "/metrics") return serve_metrics();
  return serve_events(req);
}

HttpResponse ReplicationServer::Impl::serve_info() {
  auto reader = JournalReader::open(options.journal);
  if (!reader.ok()) return error_response(500, reader.error());
  auto info = (*reader)->info();
  if (!info.ok()) return error_response(500, info.error());
  std::string body;
  json::JsonOut w(body);
  w.raw("{\"journalId\":").string(info->journal_id);
  w.raw(",\"epoch\":").integer(info->epoch);
  w.raw(",\"epochHistory\":").string(info->epoch_history);
  w.raw(",\"role\":").string(info->role);
  w.raw(",\"lastSeq\":").integer(info->last_seq);
  w.raw(",\"firstSeq\":").integer(info->first_seq);
  w.raw(",\"schemaVersion\":").integer(info->schema_version);
  w.raw("}\n");
  return text_response(std::move(body), "application/json");
}

HttpResponse ReplicationServer::Impl::serve_metrics() {
  std::string body;
  auto metric = [&body](const char* name, const char* type, const char* help, std::int64_t value) {
    body += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    body += std::string(name) + " " + std::to_string(value) + "\n";
  };
  metric("hugo_peer_subscribers", "gauge", "Open /v1/events streams.", counters.subscribers.load());
  metric("hugo_peer_streams_total", "counter", "/v1/events streams accepted.", counters.streams_total.load());
  metric("hugo_peer_events_sent_total", "counter", "Event lines sent to subscribers.",
         counters.events_sent_total.load());
  metric("hugo_peer_rejected_unauthorized_total", "counter", "Requests refused for a missing or wrong token.",
         counters.rejected_unauthorized.load());
  metric("hugo_peer_rejected_busy_total", "counter", "Streams refused because max_subscribers were open.",
         counters.rejected_busy.load());
  metric("hugo_peer_rejected_connections_total", "counter",
         "Connections refused beyond max_connections or max_connections_per_address.",
         counters.rejected_connections.load());
  if (!options.queues.empty()) {
    metric("hugo_queue_waiting_calls", "gauge", "Queue API calls parked while they wait (long polls).",
           queue_routes.waiting());
  }
  if (auto reader = JournalReader::open(options.journal); reader.ok()) {
    if (auto last = (*reader)->last_seq(); last.ok()) {
      metric("hugo_peer_journal_last_seq", "gauge", "Highest seq of the served journal.", *last);
    }
  }
  return text_response(std::move(body), "text/plain; version=0.0.4");
}

HttpResponse ReplicationServer::Impl::serve_events(const HttpRequest& req) {
  std::int64_t after = 0;
  if (req.has_query("after")) {
    const std::string text = req.query("after");
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), after);
    if (ec != std::errc() || end != text.data() + text.size() || after < 0) {
      return error_response(400, Error::validation("after must be a seq (a non-negative integer), not '" + text + "'"));
    }
  }
  const std::string follow = req.query("follow");
  const bool sse = req.header("Accept").find("text/event-stream") != std::string::npos;
  auto reader = JournalReader::open(options.journal);
  if (!reader.ok()) return error_response(500, reader.error());
  auto info = (*reader)->info();
  if (!info.ok()) return error_response(500, info.error());
  auto hash = hashes.hash_at(after);
  if (!hash.ok()) return error_response(500, hash.error());
  if (counters.subscribers.fetch_add(1) >= static_cast<std::int64_t>(options.max_subscribers)) {
    counters.subscribers.fetch_sub(1);
    counters.rejected_busy.fetch_add(1);
    auto res = error_response(503, Error::replication_unavailable("too many subscribers (max_subscribers = " +
                                             std::to_string(options.max_subscribers) + "); retry later"));
    res.headers.emplace_back("Retry-After", "1");
    return res;
  }
  counters.streams_total.fetch_add(1);
  HttpResponse res;
  res.content_type = sse ? "text/event-stream" : "application/x-ndjson";
  res.headers = {{"X-Hugo-Journal-Id", info->journal_id},
                 {"X-Hugo-Epoch", std::to_string(info->epoch)},
                 {"X-Hugo-Epoch-History", info->epoch_history},
                 {"X-Hugo-Last-Seq", std::to_string(info->last_seq)},
                 {"X-Hugo-After", std::to_string(after)},
                 {"X-Hugo-After-Hash", format_hash(*hash)},
                 {"Cache-Control", "no-store"}};
  res.stream = std::make_shared<EventStream>(*this, std::move(reader).value(), after, *hash,
                                             follow == "1" || follow == "true", sse);
  return res;
}

ReplicationServer::ReplicationServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ReplicationServer::~ReplicationServer() { stop(); }

Result<std::unique_ptr<ReplicationServer>> ReplicationServer::start(ReplicationServerOptions options) {
  if (!is_loopback(options.host) && options.token.empty()) {
    return Error::replication_token_required("listening on " + options.host + " (not loopback) needs a token; pass --token")
        .with("host", options.host);
  }
  if (options.max_subscribers == 0 || options.batch == 0) {
    return Error::validation("max_subscribers and batch must be at least 1");
  }
  HUGO_TRY(check_queue_options(options));
  if (options.port < 0 || options.port > 65535) {
    return Error::validation("port must be 0 (any free port) to 65535, not " + std::to_string(options.port))
        .with("port", std::to_string(options.port));
  }
  HUGO_ASSIGN_OR_RETURN(auto probe, JournalReader::open(options.journal));  // fail fast on a bad path
  probe.reset();
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl& m = *impl;
  peers::HttpDaemonOptions http;
  http.host = m.options.host;
  http.port = m.options.port;
  http.header_timeout = m.options.header_timeout;
  http.io_timeout = m.options.io_timeout;
  http.max_connections = m.options.max_connections;
  http.max_per_address = m.options.max_connections_per_address;
  http.threads = m.options.threads;
  http.max_body_bytes = m.options.max_body_bytes;
  http.handler = [&m](const HttpRequest& req) { return m.handle(req); };
  // Only a queue write that carries the write token gets its body read.
  http.wants_body = [&m](const HttpRequest& req) {
    return !m.options.queues.empty() && req.method() == "POST" && peers::QueueRoutes::owns(req.path()) &&
           m.access(req) == Impl::Access::Write;
  };
  http.error_body = [](const std::string& message) {
    return peers::error_body(Error::replication_unavailable(message));
  };
  http.on_refused = [&m] { m.counters.rejected_connections.fetch_add(1); };
  http.change_mark = [&m]() -> std::int64_t { return m.options.live ? m.options.live->durable_seq() : 0; };
  http.wait_for_change = [&m](std::int64_t mark, SteadyClock::time_point deadline) {
    const auto poll = std::min(deadline, SteadyClock::now() + m.options.poll_interval);
    if (m.options.live == nullptr) return std::this_thread::sleep_until(poll);
    // Wakes on the writer's commits; if the journal failed or closed it returns at once, and the
    // streams fall back to polling the file.
    if (m.options.live->wait_for_commit(mark, deadline) <= mark && SteadyClock::now() < deadline) {
      std::this_thread::sleep_until(poll);
    }
  };
  HUGO_ASSIGN_OR_RETURN(m.http, peers::HttpDaemon::start(std::move(http)));
  return std::unique_ptr<ReplicationServer>(new ReplicationServer(std::move(impl)));
}

int ReplicationServer::port() const { return impl_->http->port(); }

std::string ReplicationServer::url() const {
  const std::string& host = impl_->options.host;
  const bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port());
}

void ReplicationServer::stop() {
  if (impl_ && impl_->http) impl_->http->stop();
}

}  // namespace hugo
