// Peers over HTTP: serve a journal, follow it into a replica, refuse diverged histories, promote a
// replica after the owner dies. docs/PEERS.md has the wire format and the guarantees.
//
// Identity. A journal's history is named by (journal_id, epoch). A new journal starts at epoch 1;
// promoting a replica starts the next epoch at the replica's last seq, recorded in the epoch
// history ("1:0,2:5120" = epoch 2 began after seq 5120). A follower accepts an owner only if
//   - the journal ids are equal,
//   - the owner's epoch is not older than the replica's,
//   - when the owner is in a newer epoch, the replica holds nothing past the seq at which that
//     epoch began (else it holds events of a history the new owner never had), and
//   - the owner's rolling hash at the replica's position equals the replica's (same events).
// Anything else is replication.diverged, and the follower stops without writing; except that an
// owner of the replica's journal and epoch whose last seq is below the replica's, or whose hash at
// it differs, lost its last commits (power loss at durability Process): that is
// replication.checkpoint_ahead (docs/REPLICATION.md, "When the journal lost commits").
//
// Rolling hash. hash(0 events) = kEmptyHistoryHash; hash(n) = chain_hash(hash(n-1), line n), where
// line n is the event's NDJSON line as the server sends it (encode_event_json of the stored row,
// without the newline). Both sides compute it; the replica stores it with its checkpoint.
#pragma once

#include <hugo/durability.hpp>
#include <hugo/error.hpp>
#include <hugo/export.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hugo {

class Journal;
class TaskQueue;

inline constexpr std::uint64_t kEmptyHistoryHash = 0xcbf29ce484222325ULL;

// One step of the rolling hash (64-bit words, rotate-xor-multiply; stable across platforms).
HUGO_API std::uint64_t chain_hash(std::uint64_t previous, std::string_view line);
HUGO_API std::string format_hash(std::uint64_t hash);  // 16 lowercase hex digits

// ---- serving -----------------------------------------------------------------------------------

struct ReplicationServerOptions {
  std::filesystem::path journal;  // served read-only; the writer may live in another process
  // When the writer lives in this process, pass it: subscribers then wake on its commits
  // instead of polling the file.
  const Journal* live = nullptr;
  std::string host = "127.0.0.1";
  int port = 7070;  // 0: any free port (see ReplicationServer::port())
  // Required (non-empty) unless host is a loopback address; requests must then carry
  // "Authorization: Bearer <token>".
  std::string token;
  std::size_t max_subscribers = 32;  // concurrent /v1/events streams; more get 503
  std::chrono::milliseconds heartbeat{1000};  // idle follow streams send a heartbeat line this often
  // A connection idle this long (no byte read or written) is closed, so a client that stops
  // reading a stream is dropped. Counted in whole seconds, rounded up.
  std::chrono::milliseconds io_timeout{10000};
  std::chrono::microseconds poll_interval{1000};  // cross-process change polling while following
  std::size_t batch = 2048;  // events read per journal transaction
  // Total time a request's headers may take from the connection's accept (or the end of its
  // previous request on a kept-alive connection); a slow client's every byte does not extend it.
  // The connection is closed when it passes.
  std::chrono::milliseconds header_timeout{5000};
  // Open connections in all and per client address; the connection beyond either gets an
  // immediate 503 (replication.unavailable, Retry-After: 1) and is closed.
  std::size_t max_connections = 256;
  std::size_t max_connections_per_address = 64;
  std::size_t threads = 4;  // server threads that parse requests and run the handlers

  // ---- the queue API (docs/WORKERS.md) ----
  // Queues served under /v1/queues/{name}: open on `live` (required with queues), each name once.
  // Empty: no queue API.
  std::vector<std::shared_ptr<TaskQueue>> queues;
  // Required with `queues`, even on loopback: every write (POST) must carry
  // "Authorization: Bearer <write_token>". It also grants reads; `token` then grants reads only.
  std::string write_token;
  // The longest a lease (or an enqueue waiting for room) is held before it answers: with no lease
  // ({"leases":[]}) or queue.full; the client asks again. Below io_timeout.
  std::chrono::milliseconds max_long_poll{5000};
  // A request body above this gets 413 (a batch of payloads, base64 included).
  std::size_t max_body_bytes = 16u << 20;
};

// Serves GET /v1/info, /v1/events?after=SEQ[&follow=1] (NDJSON, or SSE with
// "Accept: text/event-stream"), /metrics and /healthz, and with queues the queue API under
// /v1/queues (docs/WORKERS.md). Thread-safe; stop() or the destructor ends
// every stream.
class HUGO_API ReplicationServer {
 public:
  // Binds and starts serving on background threads. Errors: replication.token_required (also:
  // queues without a write_token),
  // replication.bind (address in use, bad host), error.validation (a port outside 0..65535, a
  // zero limit or timeout), journal.* from opening the journal.
  static Result<std::unique_ptr<ReplicationServer>> start(ReplicationServerOptions options);
  ~ReplicationServer();
  ReplicationServer(const ReplicationServer&) = delete;
  ReplicationServer& operator=(const ReplicationServer&) = delete;

  int port() const;  // the bound port
  std::string url() const;  // "http://host:port"
  void stop();  // idempotent; returns once no handler runs

  struct Impl;

 private:
  explicit ReplicationServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---- following ---------------------------------------------------------------------------------

struct FollowerOptions {
  std::string url;                // "http://127.0.0.1:7070"
  std::filesystem::path replica;  // created on first use; must be a replica of the same journal
  std::string token;              // sent as a Bearer token when non-empty
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{5000};
  // A follow stream that shows nothing (not even a heartbeat) for this long is dropped and
  // reconnected.
  std::chrono::milliseconds idle_timeout{5000};
  std::chrono::milliseconds connect_timeout{2000};
  std::size_t max_line_bytes = 16u << 20;  // longer lines are replication.stream_malformed
  std::size_t max_batch = 4096;            // events applied per replica transaction
  std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout;  // the replica's SQLite lock wait (journal.busy)
};

// Where a replica stands; what `hugo-journal info` shows of it.
struct ReplicaPosition {
  std::string journal_id;
  std::int64_t epoch = 1;
  std::string epoch_history;  // "1:0,2:5120"
  std::int64_t seq = 0;       // last applied seq (0: none)
  std::uint64_t hash = kEmptyHistoryHash;
};

// Applies an owner's events into a replica journal with the same journal id and seqs. Each batch of
// rows and the replica's position (seq, hash, epoch) commit in one transaction, so an event is
// applied exactly once however the follower or the server dies. Holds the replica's writer lock
// (journal.locked for a second follower); readers (every CLI verb) may read it meanwhile.
class HUGO_API HttpFollower {
 public:
  static Result<std::unique_ptr<HttpFollower>> open(FollowerOptions options);
  ~HttpFollower();
  HttpFollower(const HttpFollower&) = delete;
  HttpFollower& operator=(const HttpFollower&) = delete;

  // One request without follow: applies everything the owner has now. Returns the applied seq.
  // Fatal errors: replication.diverged, replication.checkpoint_ahead, replication.unauthorized,
  // replication.stream_malformed;
  // transport failures: replication.unavailable. Nothing is lost on any error.
  Result<std::int64_t> catch_up();
  // Follows until stop() or a fatal error, reconnecting with exponential backoff after transport
  // failures. Returns ok after stop(), else the fatal error.
  Status run();
  void stop();  // thread-safe; makes run() return promptly

  ReplicaPosition position() const;
  // Called (on the following thread) after each committed batch. Thread-safe: may be set or
  // replaced while run() or catch_up() runs; a batch committed after the call sees the new one.
  // The previous callback may still be running, or run once more for a batch already in flight,
  // after the setter returns: keep what it captures alive until run() has returned.
  void on_applied(std::function<void(const ReplicaPosition&)> callback);

  struct Impl;

 private:
  explicit HttpFollower(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads a replica's position without taking its lock. Errors: journal.* ; error.validation if
// the file is not a replica.
HUGO_API Result<ReplicaPosition> read_replica_position(const std::filesystem::path& replica,
                                                       std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout);

struct PromoteReport {
  std::string journal_id;
  std::int64_t epoch = 0;      // the new epoch
  std::int64_t last_seq = 0;   // seqs continue after this
  std::string epoch_history;
};

// Turns a replica into a writable journal that starts the next epoch. Fails with journal.locked
// while a follower still holds it, error.validation if it is not a replica.
// `busy_timeout` (here and in read_replica_position): how long its connection waits for another
// connection's lock before journal.busy.
HUGO_API Result<PromoteReport> promote_replica(const std::filesystem::path& replica,
                                               std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout);

}  // namespace hugo
