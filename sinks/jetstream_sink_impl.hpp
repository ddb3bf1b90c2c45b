// JetStreamSink's state, shared by sinks/jetstream_sink.cpp (publishing, run) and
// sinks/jetstream_sink_recover.cpp (connecting and recovering the position from the stream).
//
// Locking: `mutex` guards the acknowledgement side (acked position, the in-flight table, the first
// failure), written by the adapter's ack callback on a libnats thread and read by the publishing
// thread and position(). Everything else belongs to the one thread in run()/publish_available().
// No metrics call and no callback runs under `mutex`.
#pragma once

#include "sinks/hash_index.hpp"
#include "sinks/nats_client.hpp"

#include <hugo/jetstream.hpp>
#include <hugo/journal.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hugo {

struct JetStreamSink::Impl {
  JetStreamSinkOptions options;
  std::string journal_id;
  std::string stream;
  std::string subject;
  std::unique_ptr<JournalReader> reader;
  std::unique_ptr<peers::HashIndex> hashes;

  // The publishing thread's cursor: the last journal seq handed to the connection, the stream seq
  // that message expects to get, and the rolling hash after it.
  std::unique_ptr<nats::Connection> conn;  // null: connect and recover before publishing
  std::int64_t sent_seq = 0;
  std::uint64_t sent_stream_seq = 0;
  std::uint64_t hash = 0;
  std::string sent_body;  // the body of sent_seq (to tell our last message from another's)
  std::optional<Timestamp> overtaken_at;  // when the stream last went past what this publisher sent
  std::int64_t journal_last_seen = 0;  // highest journal seq read so far (sequence lag)
  std::string schema_version;
  std::string epoch;
  std::string epoch_history;

  // What one published event needs once its ack arrives.
  struct InFlight {
    std::int64_t seq = 0;          // journal seq
    std::uint64_t stream_seq = 0;  // expected
    std::uint64_t hash = 0;        // the rolling hash after this event (its Hugo-Hash)
    Event event;                   // queue, kind, owner and occurred_at, only when metrics are kept
    bool acked = false;
  };
  // A position this publisher meant to fill that the server says holds something else (10071)
  // or the same Nats-Msg-Id (a duplicate): its stream seq and the Hugo-Hash we would have put there.
  struct Contested {
    std::uint64_t stream_seq = 0;
    std::uint64_t hash = 0;
  };
  mutable std::mutex mutex;
  std::deque<InFlight> in_flight;  // in journal seq order, as sent
  std::int64_t acked_seq = 0;
  std::uint64_t acked_stream_seq = 0;
  // The failure of the lowest journal seq among the outcomes since the last drain.
  std::optional<std::int64_t> failed_seq;
  std::optional<Error> failure;
  std::vector<Contested> contested;  // non-empty: a 10071 or a duplicate, someone else wrote into the stream
  std::atomic<bool> failed{false};

  std::atomic<bool> stopping{false};
  std::mutex stop_mutex;
  std::condition_variable stop_cv;

  ~Impl();

  // Connects (if not connected), creates the stream if absent and sets the cursor from the stream
  // (docs/SCALE-OUT.md). On error the connection is dropped.
  Status recover();
  Status connect_and_recover();
  // Whether a publish still awaits its outcome, or has one not yet acted on (a refusal stays in
  // flight until drained). Takes `mutex`.
  bool unsettled() const {
    std::lock_guard lock(mutex);
    return !in_flight.empty();
  }
  // The in-flight entry of journal seq `seq`, or null (forgotten by a reset). Under `mutex`.
  InFlight* find_in_flight(std::int64_t seq);
  // Handles an ack or failure from the adapter (libnats thread).
  void on_outcome(const nats::PublishOutcome& outcome);
  // Forgets what was in flight and any failure (after a drain or a dropped connection).
  void reset_flight();
};

}  // namespace hugo
