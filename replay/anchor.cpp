// Event fingerprints and the replication.checkpoint_ahead error (docs/REPLICATION.md, "When the
// journal lost commits").
#include <hugo/error_codes.hpp>
#include <hugo/replication.hpp>

#include <bit>

namespace hugo {
namespace {

// Rotate-xor-multiply over 64-bit words, independent of the platform's byte order.
class Fingerprint {
 public:
  void mix(std::uint64_t word) { h_ = std::rotl(h_ ^ word, 31) * 0x9e3779b97f4a7c15ULL; }
  void mix(std::string_view text) {
    mix(static_cast<std::uint64_t>(text.size()));
    std::uint64_t word = 0;
    std::size_t filled = 0;
    for (const char c : text) {
      word |= std::uint64_t(static_cast<unsigned char>(c)) << (8 * filled);
      if (++filled == 8) {
        mix(word);
        word = 0;
        filled = 0;
      }
    }
    if (filled > 0) mix(word);
  }
  std::uint64_t value() const { return h_ ^ (h_ >> 29); }

 private:
  std::uint64_t h_ = 0x6875676f2d667072ULL;  // "hugo-fpr"
};

bool row_stores_payload(EventKind kind) { return kind == EventKind::Enqueued || kind == EventKind::Restored; }

}  // namespace

std::uint64_t event_fingerprint(const Event& e) {
  Fingerprint f;
  f.mix(static_cast<std::uint64_t>(e.seq));
  f.mix(static_cast<std::uint64_t>(e.kind));
  f.mix(e.queue);
  f.mix(static_cast<std::uint64_t>(e.task_id));
  f.mix(static_cast<std::uint64_t>(static_cast<std::uint32_t>(e.attempt)));
  f.mix(static_cast<std::uint64_t>(e.occurred_at.time_since_epoch().count()));
  f.mix(static_cast<std::uint64_t>(e.flags));
  f.mix(static_cast<std::uint64_t>(e.token ? e.token->lease_id : -1));
  f.mix(e.error ? std::string_view(e.error->code()) : std::string_view("-"));
  if (row_stores_payload(e.kind)) f.mix(e.payload ? std::string_view(*e.payload) : std::string_view("-"));
  return f.value();
}

Error checkpoint_ahead(const ReplicationAnchor& anchor, const std::string& journal_id, std::int64_t journal_last_seq,
                       std::string_view reason) {
  const std::string seq = std::to_string(anchor.seq);
  const std::string what =
      reason == "behind"
          ? "the journal ends at seq " + std::to_string(journal_last_seq) + " but it applied seq " + seq
          : "the journal holds another event at seq " + seq + " than the one it applied";
  return Error::replication_checkpoint_ahead(
             "consumer '" + anchor.consumer + "' is ahead of journal " + journal_id + ": " + what +
             "; the journal lost its last commits (power loss at durability Process?) and issues those seqs "
             "again (rebuild the consumer from the journal, or restore the journal from a copy that holds seq " +
             seq + ")")
      .with("consumer", anchor.consumer)
      .with("journal_id", journal_id)
      .with("checkpoint_seq", seq)
      .with("journal_last_seq", std::to_string(journal_last_seq))
      .with("reason", std::string(reason));
}

}  // namespace hugo
