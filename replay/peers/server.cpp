// ReplicationServer: the cpp-httplib adapter on the serving side (docs/PEERS.md). Every stream has
// its own JournalReader, so streams never block each other or the journal's writer.
#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>
#include <hugo/peers.hpp>

#include "journal/json_out.hpp"
#include "journal/wire_json.hpp"
#include "replay/peers/hash_index.hpp"
#include "replay/peers/timeouts.hpp"

#include <httplib.h>

#include <atomic>
#include <charconv>
#include <thread>

namespace hugo {
namespace {

using SteadyClock = std::chrono::steady_clock;

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

void send_error(httplib::Response& res, int status, const Error& error) {
  std::string body = "{\"error\":";
  encode_error_json(error, body);
  body += "}\n";
  res.status = status;
  res.set_content(body, "application/json");
}

struct Counters {
  std::atomic<std::int64_t> subscribers{0};
  std::atomic<std::int64_t> streams_total{0};
  std::atomic<std::int64_t> events_sent_total{0};
  std::atomic<std::int64_t> rejected_unauthorized{0};
  std::atomic<std::int64_t> rejected_busy{0};
};

// One /v1/events response: where it stands and what it has sent.
struct Stream {
  std::unique_ptr<JournalReader> reader;
  std::int64_t position = 0;
  std::uint64_t hash = kEmptyHistoryHash;
  bool follow = false;
  bool sse = false;
  SteadyClock::time_point next_heartbeat;
  std::string buffer;
  std::string line;
};

}  // namespace

struct ReplicationServer::Impl {
  ReplicationServerOptions options;
  httplib::Server http;
  std::thread listener;
  std::atomic<bool> stopping{false};
  Counters counters;
  peers::HashIndex hashes;
  int port = 0;

  explicit Impl(ReplicationServerOptions o) : options(std::move(o)), hashes(options.journal) {}

  void install_routes();
  void serve_info(httplib::Response& res);
  void serve_events(const httplib::Request& req, httplib::Response& res);
  void serve_metrics(httplib::Response& res);
  bool authorized(const httplib::Request& req) const;
  // Writes the next piece of `stream` into `sink`; false ends the response.
  bool pump(Stream& stream, httplib::DataSink& sink);
  // Appends a heartbeat line (the stream's position and hash) to the stream's buffer.
  void write_heartbeat(Stream& stream);
  void append_heartbeat(Stream& stream, std::int64_t last_seq);
};

bool ReplicationServer::Impl::authorized(const httplib::Request& req) const {
  if (options.token.empty()) return true;
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.rfind(kBearer, 0) != 0) return false;
  return same_secret(std::string_view(header).substr(kBearer.size()), options.token);
}

void ReplicationServer::Impl::install_routes() {
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/healthz" || authorized(req)) return httplib::Server::HandlerResponse::Unhandled;
    counters.rejected_unauthorized.fetch_add(1);
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, 401, Error(std::string(errc::replication_unauthorized),
                               "missing or wrong bearer token (pass the server's --token)"));
    return httplib::Server::HandlerResponse::Handled;
  });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  http.Get("/v1/info", [this](const httplib::Request&, httplib::Response& res) { serve_info(res); });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { serve_metrics(res); });
  http.Get("/v1/events", [this](const httplib::Request& req, httplib::Response& res) { serve_events(req, res); });
}

void ReplicationServer::Impl::serve_info(httplib::Response& res) {
  auto reader = JournalReader::open(options.journal);
  if (!reader.ok()) return send_error(res, 500, reader.error());
  auto info = (*reader)->info();
  if (!info.ok()) return send_error(res, 500, info.error());
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
  res.set_content(body, "application/json");
}

void ReplicationServer::Impl::serve_metrics(httplib::Response& res) {
  std::string body;
  auto metric = [&body](const char* name, const char* type, const char* help, std::int64_t value,
                        const char* labels = "") {
    body += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    body += std::string(name) + labels + " " + std::to_string(value) + "\n";
  };
  metric("hugo_peer_subscribers", "gauge", "Open /v1/events streams.", counters.subscribers.load());
  metric("hugo_peer_streams_total", "counter", "/v1/events streams accepted.", counters.streams_total.load());
  metric("hugo_peer_events_sent_total", "counter", "Event lines sent to subscribers.",
         counters.events_sent_total.load());
  metric("hugo_peer_rejected_unauthorized_total", "counter", "Requests refused for a missing or wrong token.",
         counters.rejected_unauthorized.load());
  metric("hugo_peer_rejected_busy_total", "counter", "Streams refused because max_subscribers were open.",
         counters.rejected_busy.load());
  if (auto reader = JournalReader::open(options.journal); reader.ok()) {
    if (auto last = (*reader)->last_seq(); last.ok()) {
      metric("hugo_peer_journal_last_seq", "gauge", "Highest seq of the served journal.", *last);
    }
  }
  res.set_content(body, "text/plain; version=0.0.4");
}

void ReplicationServer::Impl::write_heartbeat(Stream& stream) {
  std::int64_t last_seq = stream.position;
  if (auto last = stream.reader->last_seq(); last.ok()) last_seq = std::max(last_seq, *last);
  append_heartbeat(stream, last_seq);
}

void ReplicationServer::Impl::append_heartbeat(Stream& stream, std::int64_t last_seq) {
  stream.line.clear();
  wire::encode_heartbeat_json({last_seq, stream.position, format_hash(stream.hash)}, stream.line);
  if (stream.sse) {
    stream.buffer += "event: heartbeat\ndata: ";
    stream.buffer += stream.line;
    stream.buffer += "\n\n";
  } else {
    stream.buffer += stream.line;
    stream.buffer += '\n';
  }
}

bool ReplicationServer::Impl::pump(Stream& stream, httplib::DataSink& sink) {
  if (stopping.load()) return false;
  stream.buffer.clear();
  auto events = stream.reader->read(stream.position, options.batch);
  if (!events.ok()) return false;  // the client reconnects and resumes from its checkpoint
  if (!events->empty()) {
    for (const Event& e : *events) {
      stream.line.clear();
      encode_event_json(e, stream.line);
      stream.hash = chain_hash(stream.hash, stream.line);
      stream.position = e.seq;
      if (stream.sse) {
        stream.buffer += "id: " + std::to_string(e.seq) + "\ndata: ";
        stream.buffer += stream.line;
        stream.buffer += "\n\n";
      } else {
        stream.buffer += stream.line;
        stream.buffer += '\n';
      }
    }
    append_heartbeat(stream, stream.position);  // marks the batch's end: the follower commits here
    counters.events_sent_total.fetch_add(static_cast<std::int64_t>(events->size()));
    stream.next_heartbeat = SteadyClock::now() + options.heartbeat;
    return sink.write(stream.buffer.data(), stream.buffer.size());
  }
  if (!stream.follow) {  // caught up: say where we stand, then end the response
    write_heartbeat(stream);
    if (!sink.write(stream.buffer.data(), stream.buffer.size())) return false;
    sink.done();
    return true;
  }
  // Following and idle: wait for a commit, or send a heartbeat when it is due.
  while (!stopping.load()) {
    const auto now = SteadyClock::now();
    if (now >= stream.next_heartbeat) {
      write_heartbeat(stream);
      stream.next_heartbeat = now + options.heartbeat;
      return sink.write(stream.buffer.data(), stream.buffer.size());
    }
    if (options.live) {
      const auto deadline = std::min(stream.next_heartbeat, now + std::chrono::milliseconds(100));
      if (options.live->wait_for_commit(stream.position, deadline) > stream.position) return true;
      // Returned early without a commit: the journal failed or closed. Poll the file instead of
      // spinning (another process may take over the writing).
      if (SteadyClock::now() < deadline) {
        auto changed = stream.reader->changed();
        if (!changed.ok()) return false;
        if (*changed) return true;
        std::this_thread::sleep_for(options.poll_interval);
      }
    } else {
      auto changed = stream.reader->changed();
      if (!changed.ok()) return false;
      if (*changed) return true;
      std::this_thread::sleep_for(options.poll_interval);
    }
    if (!sink.is_writable()) return false;
  }
  return false;
}

void ReplicationServer::Impl::serve_events(const httplib::Request& req, httplib::Response& res) {
  std::int64_t after = 0;
  if (req.has_param("after")) {
    const std::string text = req.get_param_value("after");
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), after);
    if (ec != std::errc() || end != text.data() + text.size() || after < 0) {
      return send_error(res, 400, Error(std::string(errc::validation),
                                        "after must be a seq (a non-negative integer), not '" + text + "'"));
    }
  }
  auto stream = std::make_shared<Stream>();
  stream->follow = req.get_param_value("follow") == "1" || req.get_param_value("follow") == "true";
  stream->sse = req.get_header_value("Accept").find("text/event-stream") != std::string::npos;
  auto reader = JournalReader::open(options.journal);
  if (!reader.ok()) return send_error(res, 500, reader.error());
  stream->reader = std::move(reader).value();
  auto info = stream->reader->info();
  if (!info.ok()) return send_error(res, 500, info.error());
  auto hash = hashes.hash_at(after);
  if (!hash.ok()) return send_error(res, 500, hash.error());
  if (counters.subscribers.fetch_add(1) >= static_cast<std::int64_t>(options.max_subscribers)) {
    counters.subscribers.fetch_sub(1);
    counters.rejected_busy.fetch_add(1);
    res.set_header("Retry-After", "1");
    return send_error(res, 503, Error(std::string(errc::replication_unavailable),
                                      "too many subscribers (max_subscribers = " +
                                          std::to_string(options.max_subscribers) + "); retry later"));
  }
  counters.streams_total.fetch_add(1);
  stream->position = after;
  stream->hash = *hash;
  stream->next_heartbeat = SteadyClock::now() + options.heartbeat;
  res.set_header("X-Hugo-Journal-Id", info->journal_id);
  res.set_header("X-Hugo-Epoch", std::to_string(info->epoch));
  res.set_header("X-Hugo-Epoch-History", info->epoch_history);
  res.set_header("X-Hugo-Last-Seq", std::to_string(info->last_seq));
  res.set_header("X-Hugo-After", std::to_string(after));
  res.set_header("X-Hugo-After-Hash", format_hash(*hash));
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider(
      stream->sse ? "text/event-stream" : "application/x-ndjson",
      [this, stream](std::size_t, httplib::DataSink& sink) { return pump(*stream, sink); },
      [this](bool) { counters.subscribers.fetch_sub(1); });
}

ReplicationServer::ReplicationServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ReplicationServer::~ReplicationServer() { stop(); }

Result<std::unique_ptr<ReplicationServer>> ReplicationServer::start(ReplicationServerOptions options) {
  if (!is_loopback(options.host) && options.token.empty()) {
    return Error(std::string(errc::replication_token_required),
                 "listening on " + options.host + " (not loopback) needs a token; pass --token")
        .with("host", options.host);
  }
  if (options.max_subscribers == 0 || options.batch == 0) {
    return Error(std::string(errc::validation), "max_subscribers and batch must be at least 1");
  }
  HUGO_ASSIGN_OR_RETURN(auto probe, JournalReader::open(options.journal));  // fail fast on a bad path
  probe.reset();
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl& m = *impl;
  const std::size_t threads = m.options.max_subscribers + 4;
  m.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  const auto io = peers::split_timeout(m.options.io_timeout);
  m.http.set_read_timeout(io.seconds, io.micros);
  m.http.set_write_timeout(io.seconds, io.micros);
  m.http.set_keep_alive_timeout(5);
  m.http.set_payload_max_length(64 * 1024);  // requests carry no body worth more
  m.http.set_tcp_nodelay(true);
  m.install_routes();
  m.port = m.options.port == 0 ? m.http.bind_to_any_port(m.options.host)
                               : (m.http.bind_to_port(m.options.host, m.options.port) ? m.options.port : -1);
  if (m.port <= 0) {
    return Error(std::string(errc::replication_bind),
                 "cannot listen on " + m.options.host + ":" + std::to_string(m.options.port) +
                     " (address in use, or not an address of this machine)")
        .with("host", m.options.host)
        .with("port", std::to_string(m.options.port));
  }
  m.listener = std::thread([&m] { m.http.listen_after_bind(); });
  return std::unique_ptr<ReplicationServer>(new ReplicationServer(std::move(impl)));
}

int ReplicationServer::port() const { return impl_->port; }

std::string ReplicationServer::url() const {
  const std::string& host = impl_->options.host;
  const bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(impl_->port);
}

void ReplicationServer::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  impl_->http.stop();
  if (impl_->listener.joinable()) impl_->listener.join();
}

}  // namespace hugo
