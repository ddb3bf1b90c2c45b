// HttpFollower: the cpp-httplib adapter on the following side (docs/PEERS.md). Lines are parsed
// and checked as they arrive; a batch of events commits to the replica, with the replica's new
// position, when the owner marks the batch's end with a heartbeat (or max_batch is reached).
#include <hugo/error_codes.hpp>
#include <hugo/peers.hpp>

#include "peers/follow_loop.hpp"
#include "peers/replica.hpp"
#include "peers/stream.hpp"
#include "peers/timeouts.hpp"

#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <mutex>

namespace hugo {
namespace {

Error unavailable(const std::string& url, std::string why) {
  return Error::replication_unavailable("cannot follow " + url + ": " + why)
      .with("url", url);
}

std::int64_t header_int(const httplib::Response& res, const char* name, bool& ok) {
  const std::string text = res.get_header_value(name);
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) ok = false;
  return value;
}

}  // namespace

struct HttpFollower::Impl {
  FollowerOptions options;
  std::unique_ptr<replica::Store> store;
  std::atomic<bool> stopping{false};
  std::mutex client_mutex;
  httplib::Client* active = nullptr;
  std::condition_variable wake;
  mutable std::mutex position_mutex;
  ReplicaPosition published;
  peers::AppliedCallback on_applied;

  // One GET /v1/events from the replica's position. Ok when the response ended cleanly.
  Status request(bool follow);
  Status check_owner(const httplib::Response& res);
  Status commit(std::vector<Event>& pending, std::uint64_t hash);
  void publish() {
    std::lock_guard lock(position_mutex);
    published = store->position();
  }
};

Status HttpFollower::Impl::check_owner(const httplib::Response& res) {
  if (res.status == 401 || res.status == 403) {
    return Error::replication_unauthorized("the owner at " + options.url + " refused the token (pass the server's --token)")
        .with("url", options.url)
        .with("status", std::to_string(res.status));
  }
  if (res.status != 200) return unavailable(options.url, "HTTP status " + std::to_string(res.status));
  replica::OwnerIdentity owner;
  bool ok = true;
  owner.journal_id = res.get_header_value("X-Hugo-Journal-Id");
  owner.epoch = header_int(res, "X-Hugo-Epoch", ok);
  owner.epoch_history = res.get_header_value("X-Hugo-Epoch-History");
  owner.last_seq = header_int(res, "X-Hugo-Last-Seq", ok);
  const std::int64_t after = header_int(res, "X-Hugo-After", ok);
  const std::string after_hash = res.get_header_value("X-Hugo-After-Hash");
  if (!ok || owner.journal_id.empty() || after_hash.size() != 16) {
    return Error::replication_stream_malformed("the response from " + options.url + " lacks the X-Hugo-* headers (is it a hugo-journal server?)")
        .with("url", options.url);
  }
  const ReplicaPosition& position = store->position();
  HUGO_TRY(replica::check_lineage(position, owner, options.replica.string()));
  if (after != position.seq) {
    return Error::replication_stream_malformed("the owner answered from seq " + std::to_string(after) + ", not " + std::to_string(position.seq));
  }
  if (after_hash != format_hash(position.hash) && owner.epoch == position.epoch) {
    // Same journal, same epoch, other events up to the replica's seq: the owner lost its last
    // commits and issued their seqs again (docs/REPLICATION.md, "When the journal lost commits").
    return replica::owner_lost_commits(position, options.replica.string(), owner.last_seq, "rewritten")
        .with("owner_hash", after_hash);
  }
  if (after_hash != format_hash(position.hash)) {
    return replica::diverged("the owner's events up to seq " + std::to_string(position.seq) +
                                 " differ from the replica's (hash " + after_hash + " vs " +
                                 format_hash(position.hash) + "); was the owner's file reset or rewritten?",
                             position);
  }
  if (store->fresh() || owner.epoch != position.epoch || owner.epoch_history != position.epoch_history) {
    HUGO_TRY(store->adopt(owner));
    publish();
  }
  return ok_status();
}

Status HttpFollower::Impl::commit(std::vector<Event>& pending, std::uint64_t hash) {
  if (pending.empty()) return ok_status();
  HUGO_TRY(store->apply(pending, hash));
  pending.clear();
  publish();
  on_applied(store->position());
  return ok_status();
}

Status HttpFollower::Impl::request(bool follow) {
  httplib::Client client(options.url);
  if (!client.is_valid()) {
    return Error::validation("not an http:// URL: " + options.url).with("url", options.url);
  }
  const auto connect = peers::split_timeout(options.connect_timeout);
  const auto idle = peers::split_timeout(options.idle_timeout);
  client.set_connection_timeout(connect.seconds, connect.micros);
  client.set_read_timeout(idle.seconds, idle.micros);
  client.set_tcp_nodelay(true);
  httplib::Headers headers = {{"Accept", "application/x-ndjson"}};
  if (!options.token.empty()) headers.emplace("Authorization", "Bearer " + options.token);
  {
    std::lock_guard lock(client_mutex);
    if (stopping.load()) return ok_status();
    active = &client;
  }
  struct Unregister {
    Impl* self;
    ~Unregister() {
      std::lock_guard lock(self->client_mutex);
      self->active = nullptr;
    }
  } unregister{this};

  Status failure = ok_status();
  peers::LineSplitter splitter(options.max_line_bytes);
  std::vector<Event> pending;
  std::uint64_t hash = store->position().hash;
  std::int64_t last_seq = store->position().seq;
  bool saw_end = false;  // a non-follow response ends with a heartbeat

  auto on_line = [&](std::string_view line) -> Status {
    HUGO_ASSIGN_OR_RETURN(peers::StreamLine parsed, peers::parse_stream_line(line));
    if (parsed.kind == peers::StreamLine::Kind::Heartbeat) {
      HUGO_TRY(commit(pending, hash));
      const auto& hb = parsed.heartbeat;
      if (hb.seq != store->position().seq) {
        return peers::malformed_stream("a heartbeat at seq " + std::to_string(hb.seq) + " while the replica is at " +
                                           std::to_string(store->position().seq),
                                       line);
      }
      if (hb.hash != format_hash(hash)) {
        return replica::diverged("the owner's hash at seq " + std::to_string(hb.seq) + " is " + hb.hash +
                                     ", the replica's is " + format_hash(hash),
                                 store->position());
      }
      saw_end = !follow && hb.last_seq <= hb.seq;
      return ok_status();
    }
    Event& e = parsed.event;
    if (e.seq <= last_seq) {
      return peers::malformed_stream("seq " + std::to_string(e.seq) + " after " + std::to_string(last_seq) +
                                         " (seqs must increase)",
                                     line);
    }
    if (e.journal_id && *e.journal_id != store->position().journal_id) {
      return replica::diverged("an event of journal " + *e.journal_id + " in the stream", store->position());
    }
    if (Status valid = rows::validate_for_append(e); !valid.ok()) {
      return peers::malformed_stream("event " + std::to_string(e.seq) + " is invalid: " + valid.error().message(), line);
    }
    hash = chain_hash(hash, line);
    last_seq = e.seq;
    pending.push_back(std::move(e));
    if (pending.size() >= options.max_batch) HUGO_TRY(commit(pending, hash));
    return ok_status();
  };

  const std::string path =
      "/v1/events?after=" + std::to_string(store->position().seq) + (follow ? "&follow=1" : "");
  auto result = client.Get(
      path, headers,
      [&](const httplib::Response& res) {
        failure = check_owner(res);
        return failure.ok();
      },
      [&](const char* data, std::size_t size) {
        if (stopping.load()) return false;
        failure = splitter.feed(std::string_view(data, size), on_line);
        return failure.ok();
      });
  if (!failure.ok()) return failure;  // nothing of an unfinished batch was committed
  if (stopping.load()) return ok_status();
  if (!result) return unavailable(options.url, "the request failed: " + httplib::to_string(result.error()) + " error");
  if (result->status != 200) return check_owner(*result);
  if (splitter.partial_bytes() > 0) {
    return peers::malformed_stream("the stream ended in the middle of a line (" +
                                       std::to_string(splitter.partial_bytes()) + " bytes)",
                                   {});
  }
  if (!pending.empty()) {
    return peers::malformed_stream("the stream ended without the heartbeat that closes a batch", {});
  }
  if (!follow && !saw_end) return unavailable(options.url, "the response ended early");
  return ok_status();
}

HttpFollower::HttpFollower(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpFollower::~HttpFollower() { stop(); }

Result<std::unique_ptr<HttpFollower>> HttpFollower::open(FollowerOptions options) {
  if (options.max_batch == 0 || options.max_line_bytes == 0 || options.backoff_min.count() <= 0 ||
      options.backoff_max < options.backoff_min) {
    return Error::validation("follower options: max_batch and max_line_bytes must be >= 1, 0 < backoff_min <= backoff_max");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  HUGO_ASSIGN_OR_RETURN(impl->store, replica::Store::open(impl->options.replica, impl->options.busy_timeout));
  impl->publish();
  return std::unique_ptr<HttpFollower>(new HttpFollower(std::move(impl)));
}

Result<std::int64_t> HttpFollower::catch_up() {
  HUGO_TRY(impl_->request(false));
  return impl_->store->position().seq;
}

Status HttpFollower::run() {
  Impl& m = *impl_;
  return peers::run_with_backoff(
      m.stopping, m.client_mutex, m.wake, m.options.backoff_min, m.options.backoff_max,
      [&m] { return m.request(true); }, [&m] { return m.store->position().seq; });
}

void HttpFollower::stop() {
  if (!impl_) return;
  std::lock_guard lock(impl_->client_mutex);
  impl_->stopping.store(true);
  if (impl_->active) impl_->active->stop();
  impl_->wake.notify_all();
}

ReplicaPosition HttpFollower::position() const {
  std::lock_guard lock(impl_->position_mutex);
  return impl_->published;
}

void HttpFollower::on_applied(std::function<void(const ReplicaPosition&)> callback) {
  impl_->on_applied.set(std::move(callback));
}

}  // namespace hugo
