// The stream follower's checks and batching (docs/SCALE-OUT.md): every message
// of the stream must be the next event of the replica's history, and a batch of them commits to
// the replica with the stream seq of its last. No I/O but the replica store's, so the checks are
// testable on hand-made messages.
#pragma once

#include "peers/replica.hpp"
#include "sinks/nats_client.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hugo::peers {

class StreamApplier {
 public:
  // `on_commit` runs after each committed batch (on the calling thread).
  StreamApplier(replica::Store& store, std::string stream, std::string replica, std::size_t max_batch,
                std::function<void()> on_commit);

  // error.validation unless the store may follow `stream`: a fresh replica, one of that stream, or
  // one that holds no event yet.
  static Status check_replica(const replica::Store& store, const std::string& stream, const std::string& replica);

  // The stream seq the next message must carry.
  std::uint64_t next_stream_seq() const { return last_stream_seq_ + 1; }
  std::uint64_t committed_stream_seq() const;

  // Checks that `message` is the next event (stream seq = last + 1; Hugo-Seq = seq + 1; the
  // replica's journal id; Hugo-Hash = chain_hash(hash, body); a body that is an event line of that
  // seq) and queues it. A message in a newer epoch first commits what is queued, then passes
  // replica::check_lineage; its owner is adopted when its batch commits. A full batch commits.
  // replication.diverged (metadata: stream, stream_seq, expected) for any mismatch, and then
  // nothing queued is committed: call discard() before reading again.
  // `message` is read only during the call.
  Status accept(const nats::MessageView& message);
  Status accept(const nats::StoredMessage& message) { return accept(nats::StoredMessageView(message)); }
  // Checks and queues a run of messages in stream order, as accept() would one by one, but a
  // plain run is checked as a whole (docs/SCALE-OUT.md, "Following a stream"): in a plain run each
  // message has the next stream seq and a body that is the next event (seq + 1) of the replica's
  // journal, parsed, validated and chained into the rolling hash; the headers of its last message
  // must then carry the replica's journal id, that seq, the chained hash (which covers every body
  // of the run) and the epoch and history in force. The other messages' headers are not read.
  // Any other run (a fresh replica's first, a journal hole, a new epoch, any mismatch) goes through
  // accept() message by message, which names the message it refuses. `messages` are read only
  // during the call.
  Status accept_run(std::span<const nats::MessageView* const> messages);
  // Commits the queued events with the stream position of the last of them.
  Status commit();
  // Drops what is queued: the next message needed is again the one after the committed batch.
  void discard();

  // replication.diverged when the stream, as `state` describes it, no longer holds the next message
  // the replica needs (it was purged) or ends before what the replica applied.
  Status check_state(const nats::StreamState& state) const;

 private:
  // The owner the queued events belong to: the one the next commit adopts, else the replica's.
  // Its references stay valid until the next commit().
  struct InForce {
    const std::string& journal_id;
    std::int64_t epoch;
    const std::string& epoch_history;
  };
  InForce in_force() const;
  Error diverged(std::string why, std::uint64_t stream_seq, const std::string& expected) const;
  Status adopt_epoch(const nats::MessageView& message, const std::string& journal_id, std::int64_t seq);
  // Queues `messages` if they are a plain run whose last headers vouch for it (accept_run); else
  // leaves everything as it was and returns false.
  bool take_plain_run(std::span<const nats::MessageView* const> messages);

  replica::Store& store_;
  std::string stream_;
  std::string replica_;
  std::size_t max_batch_;
  std::function<void()> on_commit_;
  std::vector<Event> pending_;
  std::optional<replica::OwnerIdentity> owner_;  // adopted by the next commit, before its rows
  std::int64_t seq_ = 0;             // the last queued or committed event's seq
  std::uint64_t hash_ = 0;           // the rolling hash there
  std::uint64_t last_stream_seq_ = 0;  // and its stream seq
};

}  // namespace hugo::peers
