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
  // Commits the queued events with the stream position of the last of them.
  Status commit();
  // Drops what is queued: the next message needed is again the one after the committed batch.
  void discard();

  // replication.diverged when the stream, as `state` describes it, no longer holds the next message
  // the replica needs (it was purged) or ends before what the replica applied.
  Status check_state(const nats::StreamState& state) const;

 private:
  Error diverged(std::string why, std::uint64_t stream_seq, const std::string& expected) const;
  Status adopt_epoch(const nats::MessageView& message, const std::string& journal_id, std::int64_t seq);

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
