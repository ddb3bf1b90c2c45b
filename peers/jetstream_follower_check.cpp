// The stream follower's checks and batching (docs/SCALE-OUT.md).
#include "peers/jetstream_follower_check.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/peers.hpp>

#include "peers/stream.hpp"

#include <charconv>
#include <optional>
#include <utility>

namespace hugo::peers {
namespace {

template <class Int>
std::optional<Int> parse_number(std::optional<std::string_view> text, int base = 10) {
  if (!text || text->empty()) return std::nullopt;
  Int value{};
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value, base);
  if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return value;
}

std::string quoted(std::optional<std::string_view> text) {
  return text ? "'" + std::string(*text) + "'" : std::string("none");
}

}  // namespace

StreamApplier::StreamApplier(replica::Store& store, std::string stream, std::string replica, std::size_t max_batch,
                             std::function<void()> on_commit)
    : store_(store),
      stream_(std::move(stream)),
      replica_(std::move(replica)),
      max_batch_(max_batch),
      on_commit_(std::move(on_commit)) {
  discard();
}

Status StreamApplier::check_replica(const replica::Store& store, const std::string& stream,
                                    const std::string& replica) {
  const auto& point = store.stream_point();
  if (point && point->stream != stream) {
    return Error::validation(replica + " is a replica of stream " + point->stream + ", not " + stream +
                             " (follow " + point->stream + ", or follow " + stream + " into a new file)")
        .with("path", replica)
        .with("replica_stream", point->stream)
        .with("stream", stream);
  }
  if (!point && store.position().seq > 0) {
    return Error::validation(replica + " was followed over HTTP; its position in stream " + stream +
                             " is unknown (follow the stream into a new file)")
        .with("path", replica)
        .with("stream", stream);
  }
  return ok_status();
}

std::uint64_t StreamApplier::committed_stream_seq() const {
  return store_.stream_point() ? store_.stream_point()->stream_seq : 0;
}

void StreamApplier::discard() {
  pending_.clear();
  owner_.reset();
  seq_ = store_.position().seq;
  hash_ = store_.position().hash;
  last_stream_seq_ = committed_stream_seq();
}

StreamApplier::InForce StreamApplier::in_force() const {
  if (owner_) return {owner_->journal_id, owner_->epoch, owner_->epoch_history};
  const ReplicaPosition& position = store_.position();
  return {position.journal_id, position.epoch, position.epoch_history};
}

Error StreamApplier::diverged(std::string why, std::uint64_t stream_seq, const std::string& expected) const {
  return replica::diverged("stream " + stream_ + " at stream seq " + std::to_string(stream_seq) + ": " + why,
                           store_.position())
      .with("stream", stream_)
      .with("stream_seq", std::to_string(stream_seq))
      .with("expected", expected);
}

Status StreamApplier::check_state(const nats::StreamState& state) const {
  const std::uint64_t next = next_stream_seq();
  if (state.last_seq + 1 < next) {
    return diverged("the stream ends at stream seq " + std::to_string(state.last_seq) +
                        " but the replica applied up to " + std::to_string(next - 1) +
                        " (was the stream deleted and created again?)",
                    state.last_seq, "stream seq >= " + std::to_string(next - 1));
  }
  if (state.first_seq > next && state.last_seq >= next) {
    return diverged("the stream was purged: it starts at stream seq " + std::to_string(state.first_seq) +
                        ", the replica needs " + std::to_string(next) + " next",
                    state.first_seq, std::to_string(next));
  }
  return ok_status();
}

Status StreamApplier::accept(const nats::MessageView& message) {
  const std::uint64_t want = next_stream_seq();
  if (message.sequence() != want) {
    return diverged(std::string(message.sequence() > want ? "a gap" : "a repeat") + ": stream seq " +
                        std::to_string(message.sequence()) + " after " + std::to_string(want - 1) +
                        " (were messages purged?)",
                    message.sequence(), std::to_string(want));
  }
  const auto journal_id = message.header("Hugo-Journal-Id");
  const std::string& ours = in_force().journal_id;
  if (!journal_id || journal_id->empty() || (!ours.empty() && *journal_id != ours)) {
    return diverged("a message of journal " + quoted(journal_id) + " in a replica of " + (ours.empty() ? "none" : ours),
                    want, ours.empty() ? "a Hugo-Journal-Id" : ours);
  }
  const auto seq = parse_number<std::int64_t>(message.header("Hugo-Seq"));
  // A fresh replica starts where the stream does: at seq 1, or at the first seq a compacted
  // journal still held when its stream was created (the hash then covers only what it held).
  const bool starts = seq_ == 0 && want == 1 && seq && *seq >= 1;
  // A journal with holes (rows removed by compact) skips seqs; the publisher declares each skip
  // with Hugo-Prev-Seq, the seq of the stream's previous message; removing a message from the
  // stream still breaks the stream seq and the hash chain checks.
  const auto prev = parse_number<std::int64_t>(message.header("Hugo-Prev-Seq"));
  const bool declared_skip = seq && prev && *prev == seq_ && *seq > seq_;
  if (!seq || (*seq != seq_ + 1 && !starts && !declared_skip)) {
    return diverged("Hugo-Seq " + quoted(message.header("Hugo-Seq")) + " after seq " + std::to_string(seq_) +
                        (seq && *seq > seq_ ? " (a gap)" : " (a repeat)"),
                    want, "Hugo-Seq " + std::to_string(seq_ + 1));
  }
  const std::uint64_t hash = chain_hash(hash_, message.data());
  const auto stated = message.header("Hugo-Hash");
  if (!stated || stated->size() != 16 || *stated != format_hash(hash)) {
    return diverged("Hugo-Hash " + quoted(stated) + " is not the replica's history plus this event (" +
                        format_hash(hash) + ")",
                    want, "Hugo-Hash " + format_hash(hash));
  }
  auto parsed = parse_stream_line(message.data());
  if (!parsed.ok() || parsed->kind != StreamLine::Kind::Event) {
    return diverged("the body is not an event line" + (parsed.ok() ? std::string() : ": " + parsed.error().message()),
                    want, "an event line");
  }
  Event& event = parsed->event;
  if (event.seq != *seq || (event.journal_id && *event.journal_id != *journal_id)) {
    return diverged("the body is event " + std::to_string(event.seq) + " of journal " +
                        event.journal_id.value_or(std::string(*journal_id)) + ", its headers say " +
                        std::to_string(*seq) + " of " + std::string(*journal_id),
                    want, "event " + std::to_string(*seq));
  }
  if (Status valid = rows::validate_for_append(event); !valid.ok()) {
    return diverged("event " + std::to_string(event.seq) + " is invalid: " + valid.error().message(), want,
                    "a valid event");
  }
  HUGO_TRY(adopt_epoch(message, std::string(*journal_id), *seq));
  pending_.push_back(std::move(event));
  seq_ = *seq;
  hash_ = hash;
  last_stream_seq_ = want;
  if (pending_.size() >= max_batch_) HUGO_TRY(commit());
  return ok_status();
}

Status StreamApplier::accept_run(std::span<const nats::MessageView* const> messages) {
  if (!take_plain_run(messages)) {
    for (const nats::MessageView* message : messages) HUGO_TRY(accept(*message));
    return ok_status();
  }
  if (pending_.size() >= max_batch_) HUGO_TRY(commit());
  return ok_status();
}

bool StreamApplier::take_plain_run(std::span<const nats::MessageView* const> messages) {
  // A fresh replica adopts its owner from its first message, which accept() does.
  if (messages.empty() || seq_ == 0 || (!owner_ && store_.fresh())) return false;
  const auto [journal_id, epoch, history] = in_force();
  if (epoch < 1 || history.empty()) return false;  // no owner yet: accept() adopts one
  const std::size_t queued = pending_.size();
  const std::int64_t seq = seq_;
  const std::uint64_t hash = hash_;
  const std::uint64_t stream_seq = last_stream_seq_;
  const auto give_back = [&] {
    pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(queued), pending_.end());
    seq_ = seq;
    hash_ = hash;
    last_stream_seq_ = stream_seq;
    return false;
  };
  for (const nats::MessageView* message : messages) {
    if (message->sequence() != next_stream_seq()) return give_back();
    auto parsed = parse_stream_line(message->data());
    if (!parsed.ok() || parsed->kind != StreamLine::Kind::Event) return give_back();
    Event& event = parsed->event;
    if (event.seq != seq_ + 1 || (event.journal_id && *event.journal_id != journal_id)) return give_back();
    if (!rows::validate_for_append(event).ok()) return give_back();
    hash_ = chain_hash(hash_, message->data());
    seq_ = event.seq;
    last_stream_seq_ = message->sequence();
    pending_.push_back(std::move(event));
  }
  const nats::MessageView& last = *messages.back();
  const auto prev = last.header("Hugo-Prev-Seq");  // streams written before it became sparse carry it
  const bool vouched = last.header("Hugo-Journal-Id") == std::string_view(journal_id) &&
                       parse_number<std::int64_t>(last.header("Hugo-Seq")) == seq_ &&
                       last.header("Hugo-Hash") == std::string_view(format_hash(hash_)) &&
                       parse_number<std::int64_t>(last.header("Hugo-Epoch")) == epoch &&
                       last.header("Hugo-Epoch-History") == std::string_view(history) &&
                       (!prev || parse_number<std::int64_t>(prev) == seq_ - 1);
  return vouched || give_back();
}

// A fresh replica takes the first message's owner; a message in another epoch (or history) than
// the replica's commits what is queued and must pass the lineage rules of peers.hpp. The owner is
// adopted with the batch that carries its first message, so a refused batch writes nothing, not
// even a new replica's file.
Status StreamApplier::adopt_epoch(const nats::MessageView& message, const std::string& journal_id,
                                  std::int64_t seq) {
  const auto epoch = parse_number<std::int64_t>(message.header("Hugo-Epoch"));
  const auto history = message.header("Hugo-Epoch-History");
  if (!epoch || *epoch < 1 || !history || history->empty()) {
    return diverged("the message lacks a valid Hugo-Epoch (" + quoted(message.header("Hugo-Epoch")) +
                        ") or Hugo-Epoch-History (" + quoted(history) + ")",
                    message.sequence(), "Hugo-Epoch and Hugo-Epoch-History");
  }
  const InForce current = in_force();
  if ((owner_ || !store_.fresh()) && *epoch == current.epoch && *history == current.epoch_history) return ok_status();
  HUGO_TRY(commit());
  replica::OwnerIdentity owner{journal_id, *epoch, std::string(*history), seq};
  if (Status lineage = replica::check_lineage(store_.position(), owner, replica_); !lineage.ok()) {
    return Error(lineage.error().code(), lineage.error().message(), lineage.error().metadata())
        .with("stream", stream_)
        .with("stream_seq", std::to_string(message.sequence()))
        .with("expected", "an epoch the replica's history leads to");
  }
  owner_ = std::move(owner);
  return ok_status();
}

Status StreamApplier::commit() {
  if (pending_.empty()) return ok_status();
  if (owner_) {
    HUGO_TRY(store_.adopt(*owner_));
    owner_.reset();
  }
  HUGO_TRY(store_.apply(pending_, hash_, replica::StreamPoint{stream_, last_stream_seq_}));
  pending_.clear();
  if (on_commit_) on_commit_();
  return ok_status();
}

}  // namespace hugo::peers
