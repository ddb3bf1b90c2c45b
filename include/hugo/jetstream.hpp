// NATS JetStream: publish a journal into a stream exactly once, and rebuild replicas from the
// stream (docs/SCALE-OUT.md has the layout, the guarantees and their limits).
//
// Stream layout. One stream per journal: by default named "HUGO_<journal_id>" with the one subject
// "hugo.<journal_id>.events", file storage, DenyDelete and DenyPurge, no age or count limit. Message
// n of the stream is the journal's event n in seq order; its body is the event's NDJSON line (the
// bytes `hugo-journal export` and the HTTP server write, without the newline) and its headers are
//   Nats-Msg-Id                  "<journal_id>:<seq>"
//   Nats-Expected-Last-Sequence  the stream seq of the previous event (0 for the first)
//   Hugo-Journal-Id, Hugo-Seq, Hugo-Kind, Hugo-Schema-Version
//   Hugo-Prev-Seq                only at a hole of a compacted journal: the previous message's
//                                Hugo-Seq (elsewhere it is Hugo-Seq - 1)
//   Hugo-Epoch, Hugo-Epoch-History  the publishing owner's epoch (docs/PEERS.md, "Identity")
//   Hugo-Hash                    the rolling hash (peers.hpp) of the history up to this event
//
// Exactly once. A stream has one publisher: every publish names the stream seq it expects last,
// so a stale or second publisher is refused by the server (error 10071) whatever the duplicate
// window. The stream is its own checkpoint: after any crash the publisher reads the stream's last
// message and resumes after its Hugo-Seq, once the journal is known to hold that same event there.
//
// Durability. nats-server 2.9 cannot fsync every write: an acknowledged message survives a node's
// loss through replication (replicas = 3), not through the disk of one node.
#pragma once

#include <hugo/durability.hpp>
#include <hugo/error.hpp>
#include <hugo/export.hpp>
#include <hugo/metrics.hpp>
#include <hugo/peers.hpp>
#include <hugo/time.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace hugo {

class Journal;

// False when this library was built without libnats (meson -Dnats=disabled, or libnats-dev
// missing): every JetStream call then fails with error.unsupported.
HUGO_API bool jetstream_supported();

HUGO_API std::string default_stream_name(std::string_view journal_id);  // "HUGO_<journal_id>"
HUGO_API std::string stream_subject(std::string_view journal_id);       // "hugo.<journal_id>.events"

struct NatsConnectOptions {
  std::string url = "nats://127.0.0.1:4222";  // several servers of a cluster: comma-separated
  std::string token;                           // the server's authorization token, if any
  std::filesystem::path creds;                 // a NATS .creds file (user JWT and nkey), if any
  std::chrono::milliseconds timeout{5000};     // connecting, and each JetStream API request
};

struct JetStreamSinkOptions {
  NatsConnectOptions nats;
  std::filesystem::path journal;  // tailed read-only; the writer may live in another process
  // When the writer lives in this process, pass it: the publisher then wakes on its commits
  // instead of polling the file.
  const Journal* live = nullptr;
  std::string stream;       // empty: default_stream_name(journal id)
  int replicas = 1;         // used only when the stream is created (1..5)
  std::size_t window = 1024;  // publishes awaiting their acknowledgement, at most
  std::size_t batch = 2048;   // events read per journal transaction
  std::chrono::microseconds poll_interval{1000};  // cross-process change polling
  std::chrono::milliseconds backoff_min{50};      // reconnect backoff after transport failures
  std::chrono::milliseconds backoff_max{5000};
  std::shared_ptr<MetricsRegistry> metrics;  // published count, lag in seqs and ms
  std::shared_ptr<Clock> clock;              // null: SystemClock (lag in ms)
};

// Where a publisher or a stream follower stands.
struct JetStreamPosition {
  std::string stream;
  std::string journal_id;
  std::int64_t seq = 0;          // the last journal seq the stream acknowledged (0: none)
  std::uint64_t stream_seq = 0;  // that event's stream sequence
};

// Publishes a journal's events into its stream. Thread-safe for stop() and position(); run() and
// publish_available() are called from one thread at a time.
class HUGO_API JetStreamSink {
 public:
  // Connects, creates the stream if absent, and recovers the position from the stream itself.
  // Errors: error.unsupported, error.validation (options, the stream name, a stream the server
  // cannot create: too many replicas, a subject another stream takes), replication.unavailable (no
  // server), replication.unauthorized, replication.diverged (a stream of another journal, or one
  // that was purged, or whose last event is not the journal's event at that seq),
  // replication.checkpoint_ahead (the journal ends before the stream's last event: it lost
  // commits), journal.* from opening the journal.
  static Result<std::unique_ptr<JetStreamSink>> open(JetStreamSinkOptions options);
  ~JetStreamSink();
  JetStreamSink(const JetStreamSink&) = delete;
  JetStreamSink& operator=(const JetStreamSink&) = delete;

  // Publishes every event committed now and waits for all acknowledgements. Returns the last
  // acknowledged journal seq.
  Result<std::int64_t> publish_available();
  // Publishes until stop() or a fatal error, reconnecting with backoff after transport failures
  // (replication.unavailable). Returns ok after stop(), else the fatal error: those of open(),
  // replication.fenced (another publisher keeps writing this journal into the stream: it went past
  // what this one sent twice within 30 s; once is a killed predecessor's late messages, and this
  // one goes on after them), replication.message_too_large
  // (an event over the server's max_payload; the events before it are published), journal.*.
  Status run();
  void stop();  // thread-safe; run() returns promptly
  JetStreamPosition position() const;

  struct Impl;

 private:
  explicit JetStreamSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct JetStreamFollowerOptions {
  NatsConnectOptions nats;
  std::string stream;             // required: the stream to follow
  std::filesystem::path replica;  // created on first use; must be a replica of the same journal
  std::size_t max_batch = 4096;   // events applied per replica transaction
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout;  // the replica's SQLite lock wait
};

// Applies a stream's events into a replica journal (the same file format, journal id and seqs as an
// HTTP follower's replica, so promote_replica() and every CLI verb work on it). The stream position
// commits in the same transaction as the rows. A gap (a stream seq that is not the last + 1, or a
// journal seq that jumps where Hugo-Prev-Seq does not declare a hole) stops with
// replication.diverged and writes nothing of that batch.
class HUGO_API JetStreamFollower {
 public:
  static Result<std::unique_ptr<JetStreamFollower>> open(JetStreamFollowerOptions options);
  ~JetStreamFollower();
  JetStreamFollower(const JetStreamFollower&) = delete;
  JetStreamFollower& operator=(const JetStreamFollower&) = delete;

  // Applies everything the stream holds now. Returns the applied journal seq.
  Result<std::int64_t> catch_up();
  // Follows until stop() or a fatal error, reconnecting with backoff. Ok after stop().
  Status run();
  void stop();  // thread-safe
  ReplicaPosition position() const;
  std::uint64_t stream_seq() const;  // the stream seq of position().seq
  // As HttpFollower::on_applied.
  void on_applied(std::function<void(const ReplicaPosition&)> callback);

  struct Impl;

 private:
  explicit JetStreamFollower(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The stream position of a replica that JetStreamFollower keeps (what `hugo-journal info` shows),
// read without taking its lock; nullopt for a replica followed over HTTP. Errors as
// read_replica_position's.
HUGO_API Result<std::optional<JetStreamPosition>> read_stream_replica_position(
    const std::filesystem::path& replica, std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout);

// "nats://HOST:PORT/STREAM" (the CLI's follow source): the server URL and the stream name.
// error.validation for anything else.
struct NatsStreamUrl {
  std::string server;  // "nats://HOST:PORT"
  std::string stream;
};
HUGO_API Result<NatsStreamUrl> parse_nats_stream_url(std::string_view url);

}  // namespace hugo
