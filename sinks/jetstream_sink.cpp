// JetStreamSink: publishes a journal's events into its stream exactly once (include/hugo/jetstream.hpp,
// docs/SCALE-OUT.md). The publishing thread reads committed rows and hands each event to the adapter
// with the stream seq it expects last; acks arrive on a libnats thread and advance the acknowledged
// position in journal order. A refused publish (10071) or a duplicate means another writer touched
// the stream: after draining, every contested position must hold this history's event (else
// replication.diverged), and recovery decides between "the stream ends at or before what we sent"
// or "beyond it, once" (go on after its end) and "beyond it again, within kFenceWindow" (another
// publisher writes this journal into the stream: replication.fenced).
#include "sinks/jetstream_sink_impl.hpp"

#include "replay/replication_names.hpp"

#include <hugo/event_json.hpp>
#include <hugo/peers.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <span>

namespace hugo {
namespace {

constexpr int kWrongLastSequence = 10071;  // JetStream's "wrong last sequence"

// Overtaken by its own journal's history twice within this long, a publisher is fenced (drain).
constexpr std::chrono::seconds kFenceWindow{30};

// The bytes NATS counts against max_payload for a message: its header block and its body.
std::size_t message_bytes(std::span<const nats::HeaderRef> headers, std::uint64_t expected, std::size_t body) {
  std::size_t n = std::string_view("NATS/1.0\r\n\r\n").size() + body;
  for (const nats::HeaderRef& h : headers) n += std::strlen(h.key) + 2 + std::strlen(h.value) + 2;
  n += std::string_view("Nats-Expected-Last-Sequence: \r\n").size() + std::to_string(expected).size();
  return n;
}

// `value` as decimal text in `out`, NUL-terminated.
const char* decimal(std::int64_t value, std::array<char, 24>& out) {
  *std::to_chars(out.data(), out.data() + out.size() - 1, value).ptr = '\0';
  return out.data();
}

Event metrics_view(const Event& e) {
  Event v;
  v.seq = e.seq;
  v.queue = e.queue;
  v.kind = e.kind;
  v.owner_peer_id = e.owner_peer_id;
  v.occurred_at = e.occurred_at;
  return v;
}

}  // namespace

JetStreamSink::Impl::~Impl() { conn.reset(); }  // waits for running ack callbacks first

void JetStreamSink::Impl::reset_flight() {
  std::lock_guard lock(mutex);
  in_flight.clear();
  failed_seq.reset();
  failure.reset();
  contested.clear();
  failed.store(false);
}

JetStreamSink::Impl::InFlight* JetStreamSink::Impl::find_in_flight(std::int64_t seq) {
  auto it = std::lower_bound(in_flight.begin(), in_flight.end(), seq,
                             [](const InFlight& f, std::int64_t wanted) { return f.seq < wanted; });
  return it != in_flight.end() && it->seq == seq ? &*it : nullptr;
}

void JetStreamSink::Impl::on_outcome(const nats::PublishOutcome& outcome) {
  std::vector<Event> acked_now;
  std::int64_t lag = 0;
  {
    std::lock_guard lock(mutex);
    InFlight* flight = find_in_flight(outcome.tag);
    if (flight == nullptr) return;  // forgotten by a reset
    if (outcome.error || outcome.duplicate || outcome.stream_seq != flight->stream_seq) {
      if (outcome.jetstream_error == kWrongLastSequence || outcome.duplicate) {
        contested.push_back({flight->stream_seq, flight->hash});
      } else if (!failed_seq || outcome.tag < *failed_seq) {
        failed_seq = outcome.tag;
        failure = outcome.error ? *outcome.error
                                : Error::replication_diverged(
                                      "stream " + stream + " stored seq " + std::to_string(outcome.tag) +
                                          " at stream seq " + std::to_string(outcome.stream_seq) + ", not " +
                                          std::to_string(flight->stream_seq),
                                      {{"stream", stream}, {"seq", std::to_string(outcome.tag)}});
      }
      failed.store(true);
      return;
    }
    flight->acked = true;
    while (!in_flight.empty() && in_flight.front().acked) {
      acked_seq = in_flight.front().seq;
      acked_stream_seq = in_flight.front().stream_seq;
      if (options.metrics) acked_now.push_back(std::move(in_flight.front().event));
      in_flight.pop_front();
    }
    lag = journal_last_seen - acked_seq;
  }
  if (!options.metrics) return;
  const Timestamp now = options.clock->now();
  for (const Event& e : acked_now) {
    replication_names::count_event(*options.metrics, e);
    const double ms = std::chrono::duration<double, std::milli>(now - e.occurred_at).count();
    replication_names::record_lag(*options.metrics, e, lag, ms);
  }
}

namespace {

// Hands the next batch of committed events to the connection. True if there was any.
Result<bool> publish_batch(JetStreamSink::Impl& s) {
  HUGO_ASSIGN_OR_RETURN(std::vector<Event> events, s.reader->read(s.sent_seq, s.options.batch));
  if (events.empty()) return false;
  const auto max_payload = static_cast<std::size_t>(std::max<std::int64_t>(s.conn->max_payload(), 0));
  std::string line;
  std::string msg_id;
  std::array<char, 24> seq_text{}, prev_text{}, kind_text{};
  for (const Event& e : events) {
    if (s.failed.load() || s.stopping.load()) break;
    line.clear();
    encode_event_json(e, line);
    const std::uint64_t next_hash = chain_hash(s.hash, line);
    const char* seq = decimal(e.seq, seq_text);
    msg_id.assign(s.journal_id).append(":").append(seq);
    const std::string hash_text = format_hash(next_hash);
    // Hugo-Prev-Seq only where the journal skips seqs (docs/SCALE-OUT.md): elsewhere it is seq - 1.
    const bool skip = s.sent_seq != e.seq - 1;
    const nats::HeaderRef all[] = {
        {"Nats-Msg-Id", msg_id.c_str()},
        {"Hugo-Journal-Id", s.journal_id.c_str()},
        {"Hugo-Seq", seq},
        {"Hugo-Kind", decimal(static_cast<int>(e.kind), kind_text)},
        {"Hugo-Schema-Version", s.schema_version.c_str()},
        {"Hugo-Epoch", s.epoch.c_str()},
        {"Hugo-Epoch-History", s.epoch_history.c_str()},
        {"Hugo-Hash", hash_text.c_str()},
        {"Hugo-Prev-Seq", skip ? decimal(s.sent_seq, prev_text) : ""},
    };
    const std::span<const nats::HeaderRef> headers(all, skip ? std::size(all) : std::size(all) - 1);
    const std::size_t bytes = message_bytes(headers, s.sent_stream_seq, line.size());
    if (bytes > max_payload) {
      const std::string seq_string(seq);
      return Error::replication_message_too_large(
          "event seq " + seq_string + " takes " + std::to_string(bytes) + " bytes with its headers; the server at " +
              s.options.nats.url + " takes at most " + std::to_string(max_payload) +
              " (raise max_payload in the server's configuration)",
          {{"seq", seq_string}, {"bytes", std::to_string(bytes)}, {"max_payload", std::to_string(max_payload)},
           {"stream", s.stream}});
    }
    {
      std::lock_guard lock(s.mutex);
      s.in_flight.push_back(JetStreamSink::Impl::InFlight{e.seq, s.sent_stream_seq + 1, next_hash,
                                                          s.options.metrics ? metrics_view(e) : Event{}, false});
      s.journal_last_seen = std::max(s.journal_last_seen, e.seq);
    }
    Status sent = s.conn->publish_async(s.subject, headers, line, s.sent_stream_seq, e.seq);
    if (!sent.ok()) return std::move(sent).error();
    s.sent_seq = e.seq;
    s.sent_stream_seq += 1;
    s.hash = next_hash;
    std::swap(s.sent_body, line);
  }
  return true;
}

// Waits for every outcome, then settles what they said: ok, a failure to return, or (after a
// refused publish or a duplicate) recovery and the fencing decision.
Status drain(JetStreamSink::Impl& s) {
  const auto timeout = std::max(s.options.nats.timeout * 2, std::chrono::milliseconds(1000));
  HUGO_TRY(s.conn->wait_published(timeout));
  std::vector<JetStreamSink::Impl::Contested> contested;
  {
    std::lock_guard lock(s.mutex);
    if (s.failure) return *s.failure;
    contested = s.contested;
  }
  if (contested.empty()) return ok_status();
  // Pipelined publishes may land after another writer's message (the expected-sequence chain
  // counts messages, and a duplicate Nats-Msg-Id skips it): every contested position must hold
  // this history's event, which its Hugo-Hash (the hash of everything up to it) says.
  for (const auto& [stream_seq, hash] : contested) {
    HUGO_ASSIGN_OR_RETURN(std::optional<nats::StoredMessage> there, s.conn->message(s.stream, stream_seq));
    if (there && there->header("Hugo-Hash") != format_hash(hash)) {
      return Error::replication_diverged(
          "stream " + s.stream + " holds another history of journal " + s.journal_id + " at stream seq " +
              std::to_string(stream_seq) + ": two owners published at once (stop the stale one; rebuild the stream)",
          {{"stream", s.stream}, {"stream_seq", std::to_string(stream_seq)}, {"journal_id", s.journal_id}});
    }
  }
  // Recovery checks that the stream ends with the journal's own event at its seq. Ending at or
  // before what this publisher sent, the stream holds nothing this publisher would not have
  // written (a late message of a killed predecessor, or our own): go on after it.
  const std::int64_t mine = s.sent_seq;
  HUGO_TRY(s.recover());
  if (s.sent_seq <= mine) return ok_status();
  // Ending beyond, with this history's hash there, the stream is this journal's history up to its
  // end (the hash covers all of it): once, that is the late messages of a predecessor killed with
  // publishes on the wire, and this publisher goes on after them. Overtaken again within
  // kFenceWindow, another publisher is writing this journal into the stream: stop.
  HUGO_ASSIGN_OR_RETURN(const std::uint64_t ours, s.hashes->hash_at(s.sent_seq));
  if (ours != s.hash) {
    return Error::replication_diverged(
        "stream " + s.stream + " ends at journal seq " + std::to_string(s.sent_seq) + " with another history (Hugo-Hash " +
            format_hash(s.hash) + ", the journal's is " + format_hash(ours) +
            "): two owners published at once (stop the stale one; rebuild the stream)",
        {{"stream", s.stream}, {"seq", std::to_string(s.sent_seq)}, {"journal_id", s.journal_id}});
  }
  const Timestamp now = s.options.clock->now();
  const bool again = s.overtaken_at && now - *s.overtaken_at < kFenceWindow;
  s.overtaken_at = now;
  if (!again) return ok_status();
  return Error::replication_fenced("another publisher writes into stream " + s.stream +
                                       ": twice within " + std::to_string(kFenceWindow.count()) +
                                       " s the stream went past what this publisher had sent (journal seq " +
                                       std::to_string(mine) + ", the stream's end " + std::to_string(s.sent_seq) +
                                       "; run one publisher per stream)",
                                   {{"stream", s.stream},
                                    {"url", s.options.nats.url},
                                    {"seq", std::to_string(mine)},
                                    {"stream_last_seq", std::to_string(s.sent_seq)}});
}

// When publish_all settles the outcomes of what it published (drain): `always` before it returns
// (publish_available), or `when_idle` (run): a call that published something returns with its acks
// on the way, so a live tail never waits for acks before publishing what was committed since; the
// outcomes are settled at once after a failure or stop(), and otherwise on the first call that
// finds nothing new. The window (JetStreamSinkOptions::window) bounds what is unsettled.
enum class Settle { always, when_idle };

// How long run() waits for a new commit, with outcomes unsettled, before it settles them.
constexpr std::chrono::milliseconds kSettleAfter{5};

// Publishes everything committed now and settles the outcomes as `settle` says. On an error the
// connection is dropped: the next call reconnects and recovers from the stream.
Status publish_all(JetStreamSink::Impl& s, Settle settle) {
  if (!s.conn) HUGO_TRY(s.connect_and_recover());
  bool published = false;
  for (;;) {
    Result<bool> more = publish_batch(s);
    if (!more.ok()) {
      if (more.error().code() == errc::replication_message_too_large) (void)drain(s);  // ack what went before
      s.conn.reset();
      return std::move(more).error();
    }
    published = published || *more;
    if (*more && !s.failed.load() && !s.stopping.load()) continue;
    if (settle == Settle::when_idle && published && !s.failed.load() && !s.stopping.load()) return ok_status();
    Status drained = drain(s);
    if (!drained.ok()) {
      s.conn.reset();
      return drained;
    }
    if (!*more || s.stopping.load()) return ok_status();
  }
}

// Until the journal may hold something new, or stop(): the writer's commits when it lives here,
// else the reader's change counter every poll_interval. With outcomes unsettled, at most
// kSettleAfter.
void wait_for_journal(JetStreamSink::Impl& s) {
  const bool unsettled = s.unsettled();
  const auto longest = unsettled ? kSettleAfter : std::chrono::milliseconds(100);
  if (s.options.live != nullptr) {
    (void)s.options.live->wait_for_commit(s.sent_seq, std::chrono::steady_clock::now() + longest);
    return;
  }
  while (!s.stopping.load()) {
    Result<bool> changed = s.reader->changed();
    if (!changed.ok() || *changed) return;
    std::unique_lock lock(s.stop_mutex);
    const std::chrono::microseconds poll = s.options.poll_interval;
    s.stop_cv.wait_for(lock, unsettled ? std::min<std::chrono::microseconds>(longest, poll) : poll,
                       [&] { return s.stopping.load(); });
    if (unsettled) return;
  }
}

}  // namespace

JetStreamSink::JetStreamSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JetStreamSink::~JetStreamSink() { stop(); }

Result<std::int64_t> JetStreamSink::publish_available() {
  HUGO_TRY(publish_all(*impl_, Settle::always));
  return position().seq;
}

Status JetStreamSink::run() {
  Impl& s = *impl_;
  std::chrono::milliseconds backoff = s.options.backoff_min;
  while (!s.stopping.load()) {
    Status published = publish_all(s, Settle::when_idle);
    if (!published.ok()) {
      if (published.error().code() != errc::replication_unavailable) return published;
      std::unique_lock lock(s.stop_mutex);
      s.stop_cv.wait_for(lock, backoff, [&] { return s.stopping.load(); });
      backoff = std::min(backoff * 2, s.options.backoff_max);
      continue;
    }
    backoff = s.options.backoff_min;
    wait_for_journal(s);
  }
  // Settle what the last pass left on the way, so position() covers it when run() returns.
  if (s.conn && s.unsettled()) {
    Status settled = drain(s);
    if (!settled.ok()) {
      s.conn.reset();
      if (settled.error().code() != errc::replication_unavailable) return settled;
    }
  }
  return ok_status();
}

void JetStreamSink::stop() {
  {
    std::lock_guard lock(impl_->stop_mutex);
    impl_->stopping.store(true);
  }
  impl_->stop_cv.notify_all();
}

JetStreamPosition JetStreamSink::position() const {
  std::lock_guard lock(impl_->mutex);
  return JetStreamPosition{impl_->stream, impl_->journal_id, impl_->acked_seq, impl_->acked_stream_seq};
}

}  // namespace hugo
