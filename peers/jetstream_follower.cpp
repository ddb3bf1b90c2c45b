// JetStreamFollower (include/hugo/jetstream.hpp, docs/SCALE-OUT.md): reads a stream in order
// through the libnats adapter and hands each message to a StreamApplier, which checks it and
// applies it into the replica.
#include <hugo/error_codes.hpp>
#include <hugo/jetstream.hpp>

#include "peers/follow_loop.hpp"
#include "peers/jetstream_follower_check.hpp"
#include "peers/replica.hpp"
#include "sinks/nats_client.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>

namespace hugo {
namespace {

// How long one read waits for a message while following: bounds how late stop() is noticed, and
// how often an idle follower asks whether its stream was purged.
constexpr std::chrono::milliseconds kFollowWait{200};

}  // namespace

struct JetStreamFollower::Impl {
  JetStreamFollowerOptions options;
  std::unique_ptr<replica::Store> store;
  std::optional<peers::StreamApplier> applier;
  std::unique_ptr<nats::Connection> connection;
  std::atomic<bool> stopping{false};
  std::mutex wake_mutex;
  std::condition_variable wake;
  mutable std::mutex position_mutex;
  ReplicaPosition published;
  std::uint64_t published_stream_seq = 0;
  peers::AppliedCallback on_applied;

  void publish() {
    std::lock_guard lock(position_mutex);
    published = store->position();
    published_stream_seq = applier->committed_stream_seq();
  }
  void committed() {
    publish();
    on_applied(store->position());
  }
  // The stream's state, checked against the replica's position (a missing stream is diverged for
  // a replica that applied from it, unavailable for a fresh one: its publisher may not have begun).
  Result<nats::StreamState> state();
  // One reading pass from the replica's position. Without `follow` it ends at the stream's last
  // message as the pass began; with it, at stop() or the first error.
  Status pass(bool follow);
  void drop_connection() { connection.reset(); }
};

Result<nats::StreamState> JetStreamFollower::Impl::state() {
  if (!connection) {
    HUGO_ASSIGN_OR_RETURN(connection, nats::Connection::connect(options.nats, "hugo-journal follow"));
  }
  HUGO_ASSIGN_OR_RETURN(auto info, connection->stream_info(options.stream));
  if (!info) {
    const std::uint64_t applied = applier->committed_stream_seq();
    Error missing = applied == 0
                        ? Error::replication_unavailable("stream " + options.stream + " does not exist on " +
                                                         options.nats.url + " (has its publisher started?)")
                        : replica::diverged("stream " + options.stream + " does not exist on " + options.nats.url +
                                                " but the replica applied it up to stream seq " +
                                                std::to_string(applied) + " (was it deleted?)",
                                            store->position());
    return missing.with("stream", options.stream).with("url", options.nats.url);
  }
  if (info->subjects.size() != 1) {
    return replica::diverged("stream " + options.stream + " has " + std::to_string(info->subjects.size()) +
                                 " subjects; a journal's stream has exactly one",
                             store->position())
        .with("stream", options.stream);
  }
  HUGO_TRY(applier->check_state(*info));
  return *std::move(info);
}

Status JetStreamFollower::Impl::pass(bool follow) {
  applier->discard();
  HUGO_ASSIGN_OR_RETURN(nats::StreamState info, state());
  const std::uint64_t end = info.last_seq;
  if (!follow && applier->next_stream_seq() > end) return ok_status();
  HUGO_ASSIGN_OR_RETURN(auto reader, connection->read(options.stream, info.subjects.front(), applier->next_stream_seq()));
  using Batch = nats::Connection::Reader::Batch;
  const auto apply = [&](Batch batch) {
    if (!follow) {  // a catch-up ends at the stream's last message as it began
      const auto past = std::find_if(batch.begin(), batch.end(), [end](const auto* m) { return m->sequence() > end; });
      batch = batch.first(static_cast<std::size_t>(past - batch.begin()));
    }
    return applier->accept_run(batch);
  };
  while (!stopping.load()) {
    const auto wait = follow ? kFollowWait : options.nats.timeout;
    HUGO_ASSIGN_OR_RETURN(const std::size_t read, reader->visit(options.max_batch, wait, apply));
    if (read == 0) {
      if (!follow) {
        return Error::replication_unavailable("stream " + options.stream + " sent nothing for " +
                                              std::to_string(wait.count()) + " ms while the replica needs stream seq " +
                                              std::to_string(applier->next_stream_seq()) + " of " + std::to_string(end))
            .with("stream", options.stream);
      }
      // Idle: was the stream purged or deleted meanwhile?
      if (auto now = state(); !now.ok()) return now.error();
      continue;
    }
    HUGO_TRY(applier->commit());
    if (!follow && applier->next_stream_seq() > end) return ok_status();
  }
  return ok_status();
}

JetStreamFollower::JetStreamFollower(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JetStreamFollower::~JetStreamFollower() { stop(); }

Result<std::unique_ptr<JetStreamFollower>> JetStreamFollower::open(JetStreamFollowerOptions options) {
  if (options.stream.empty() || options.max_batch == 0 || options.backoff_min.count() <= 0 ||
      options.backoff_max < options.backoff_min) {
    return Error::validation(
        "stream follower options: a stream name, max_batch >= 1 and 0 < backoff_min <= backoff_max are required");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const std::string replica = impl->options.replica.string();
  HUGO_ASSIGN_OR_RETURN(impl->store, replica::Store::open(impl->options.replica, impl->options.busy_timeout));
  HUGO_TRY(peers::StreamApplier::check_replica(*impl->store, impl->options.stream, replica));
  Impl* self = impl.get();
  impl->applier.emplace(*impl->store, impl->options.stream, replica, impl->options.max_batch,
                        [self] { self->committed(); });
  impl->publish();
  return std::unique_ptr<JetStreamFollower>(new JetStreamFollower(std::move(impl)));
}

Result<std::int64_t> JetStreamFollower::catch_up() {
  Status status = impl_->pass(false);
  if (!status.ok()) {
    impl_->applier->discard();
    if (status.error().code() == errc::replication_unavailable) impl_->drop_connection();
    return status.error();
  }
  return impl_->store->position().seq;
}

Status JetStreamFollower::run() {
  Impl& m = *impl_;
  // A pass ends on stop() or an error: what it queued is dropped, and the next pass reconnects.
  return peers::run_with_backoff(
      m.stopping, m.wake_mutex, m.wake, m.options.backoff_min, m.options.backoff_max,
      [&m] {
        Status status = m.pass(true);
        m.applier->discard();
        m.drop_connection();
        return status;
      },
      [&m] { return m.store->position().seq; });
}

void JetStreamFollower::stop() {
  if (!impl_) return;
  std::lock_guard lock(impl_->wake_mutex);
  impl_->stopping.store(true);
  impl_->wake.notify_all();
}

ReplicaPosition JetStreamFollower::position() const {
  std::lock_guard lock(impl_->position_mutex);
  return impl_->published;
}

std::uint64_t JetStreamFollower::stream_seq() const {
  std::lock_guard lock(impl_->position_mutex);
  return impl_->published_stream_seq;
}

void JetStreamFollower::on_applied(std::function<void(const ReplicaPosition&)> callback) {
  impl_->on_applied.set(std::move(callback));
}

}  // namespace hugo
