// JetStreamSink recovery: the stream is the publisher's checkpoint (docs/SCALE-OUT.md).
// After opening, after a transport failure and after a refused publish, the publisher reads the
// stream's state and last message and continues after that message's journal seq, once the journal
// is known to hold the same event there.
#include "sinks/jetstream_sink_impl.hpp"

#include <hugo/event_json.hpp>
#include <hugo/peers.hpp>

#include <algorithm>
#include <charconv>

namespace hugo {
namespace {

std::optional<std::uint64_t> parse_hash(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> parse_seq(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

std::string joined(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& s : list) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

Status JetStreamSink::Impl::connect_and_recover() {
  if (!conn) {
    HUGO_ASSIGN_OR_RETURN(conn, nats::Connection::connect(options.nats, "hugo-journal publish " + journal_id));
    Status started = conn->start_publishing(options.window, [this](const nats::PublishOutcome& o) { on_outcome(o); });
    if (!started.ok()) {
      conn.reset();
      return started;
    }
  }
  Status recovered = recover();
  if (!recovered.ok()) conn.reset();
  return recovered;
}

Status JetStreamSink::Impl::recover() {
  reset_flight();
  const ErrorMetadata where{{"stream", stream}, {"url", options.nats.url}, {"journal_id", journal_id}};
  const auto diverged = [&](std::string message, ErrorMetadata extra = {}) {
    ErrorMetadata metadata = where;
    metadata.insert(extra.begin(), extra.end());
    return Error::replication_diverged(std::move(message), std::move(metadata));
  };
  HUGO_ASSIGN_OR_RETURN(nats::StreamState state, conn->ensure_stream({stream, subject, options.replicas}));
  if (state.subjects != std::vector<std::string>{subject}) {
    return diverged("stream " + stream + " holds subjects " + joined(state.subjects) + ", not " + subject +
                        " (a stream of another journal? publish into another stream)",
                    {{"subjects", joined(state.subjects)}});
  }
  HUGO_ASSIGN_OR_RETURN(JournalInfo info, reader->info());
  schema_version = std::to_string(info.schema_version);
  epoch = std::to_string(info.epoch);
  epoch_history = info.epoch_history;

  if (state.last_seq == 0) {  // a new stream: it starts with the journal's first retained event
    const std::int64_t start = info.first_seq > 0 ? info.first_seq - 1 : info.last_seq;
    HUGO_ASSIGN_OR_RETURN(hash, hashes->hash_at(start));
    sent_seq = start;
    sent_stream_seq = 0;
    sent_body.clear();
  } else {
    if (state.first_seq != 1 || state.messages != state.last_seq) {
      return diverged("stream " + stream + " was purged: it holds " + std::to_string(state.messages) +
                          " messages from stream seq " + std::to_string(state.first_seq) + " to " +
                          std::to_string(state.last_seq) + " (republish into a new stream)",
                      {{"first_seq", std::to_string(state.first_seq)}, {"last_seq", std::to_string(state.last_seq)}});
    }
    HUGO_ASSIGN_OR_RETURN(std::optional<nats::StoredMessage> last, conn->last_message(stream, subject));
    if (!last) return diverged("stream " + stream + " was purged: its last message is gone (republish into a new stream)");
    const std::string other(last->header("Hugo-Journal-Id").value_or("(none)"));
    if (other != journal_id) return diverged("stream " + stream + " holds journal " + other + " (publish into another stream)",
                                             {{"other", other}});
    const std::optional<std::int64_t> seq = parse_seq(last->header("Hugo-Seq").value_or(""));
    const std::optional<std::uint64_t> last_hash = parse_hash(last->header("Hugo-Hash").value_or(""));
    if (!seq || !last_hash) {
      return diverged("the last message of stream " + stream + " has no valid Hugo-Seq or Hugo-Hash header (not a hugo-journal stream? publish into another stream)",
                      {{"stream_seq", std::to_string(last->stream_seq)}});
    }
    const ErrorMetadata at{{"seq", std::to_string(*seq)}, {"stream_seq", std::to_string(last->stream_seq)}};
    HUGO_ASSIGN_OR_RETURN(std::vector<Event> rows, reader->read(*seq - 1, 1));
    if (rows.empty() || rows.front().seq != *seq) {
      HUGO_ASSIGN_OR_RETURN(std::int64_t journal_last, reader->last_seq());
      if (journal_last < *seq) {
        ErrorMetadata metadata = where;
        metadata.insert(at.begin(), at.end());
        metadata["journal_last_seq"] = std::to_string(journal_last);
        metadata["checkpoint_seq"] = std::to_string(*seq);
        metadata["consumer"] = stream;
        metadata["reason"] = "behind";
        return Error::replication_checkpoint_ahead(
            "the journal is behind stream " + stream + ": the stream holds seq " + std::to_string(*seq) +
                " but the journal ends at seq " + std::to_string(journal_last) +
                " (it lost commits; see docs/REPLICATION.md, \"When the journal lost commits\")",
            std::move(metadata));
      }
      return diverged("the journal no longer holds seq " + std::to_string(*seq) + ", the last event of stream " +
                          stream + " (compacted past it? publish into a new stream)",
                      at);
    }
    std::string line;
    encode_event_json(rows.front(), line);
    if (line != last->body) {
      return diverged("stream " + stream + " holds another event at seq " + std::to_string(*seq) +
                          " than the journal (another history of journal " + journal_id + ": publish into a new stream)",
                      at);
    }
    sent_seq = *seq;
    sent_stream_seq = last->stream_seq;
    hash = *last_hash;
    sent_body = std::move(line);
  }
  std::lock_guard lock(mutex);
  journal_last_seen = std::max(info.last_seq, sent_seq);
  acked_seq = sent_stream_seq > 0 ? sent_seq : 0;
  acked_stream_seq = sent_stream_seq;
  return ok_status();
}

Result<std::unique_ptr<JetStreamSink>> JetStreamSink::open(JetStreamSinkOptions options) {
  if (options.replicas < 1 || options.replicas > 5) {
    return Error::validation("replicas must be 1 to 5", {{"replicas", std::to_string(options.replicas)}});
  }
  if (options.window == 0 || options.batch == 0) return Error::validation("window and batch must be at least 1");
  if (options.backoff_min.count() <= 0 || options.backoff_max < options.backoff_min) {
    return Error::validation("the reconnect backoff needs 0 < backoff_min <= backoff_max");
  }
  if (!options.clock) options.clock = SystemClock::shared();
  auto impl = std::make_unique<Impl>();
  HUGO_ASSIGN_OR_RETURN(impl->reader, JournalReader::open(options.journal));
  impl->journal_id = impl->reader->journal_id();
  if (options.live != nullptr && options.live->journal_id() != impl->journal_id) {
    return Error::validation("the live journal is not the journal at " + options.journal.string(),
                             {{"path", options.journal.string()}});
  }
  for (const char c : impl->journal_id) {
    if (c == '.' || c == '*' || c == '>' || static_cast<unsigned char>(c) <= 0x20) {
      return Error::validation("journal id \"" + impl->journal_id + "\" cannot name a NATS subject",
                               {{"journal_id", impl->journal_id}});
    }
  }
  impl->stream = options.stream.empty() ? default_stream_name(impl->journal_id) : options.stream;
  HUGO_TRY(nats::check_stream_name(impl->stream));
  impl->subject = stream_subject(impl->journal_id);
  impl->hashes = std::make_unique<peers::HashIndex>(options.journal);
  impl->options = std::move(options);
  HUGO_TRY(impl->connect_and_recover());
  return std::unique_ptr<JetStreamSink>(new JetStreamSink(std::move(impl)));
}

}  // namespace hugo
