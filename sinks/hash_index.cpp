#include "sinks/hash_index.hpp"

#include <hugo/event_json.hpp>
#include <hugo/peers.hpp>

#include <algorithm>

namespace hugo::peers {

Result<std::uint64_t> HashIndex::hash_at(std::int64_t seq) {
  std::lock_guard lock(mutex_);
  if (!reader_) {
    HUGO_ASSIGN_OR_RETURN(reader_, JournalReader::open(journal_));
  }
  if (marks_.empty()) marks_.emplace_back(0, kEmptyHistoryHash);
  auto mark = std::upper_bound(marks_.begin(), marks_.end(), seq,
                               [](std::int64_t s, const auto& m) { return s < m.first; });
  --mark;  // marks_.front().first == 0 <= seq
  std::int64_t position = mark->first;
  std::uint64_t hash = mark->second;
  std::size_t since_mark = 0;
  std::string line;
  while (position < seq) {
    HUGO_ASSIGN_OR_RETURN(auto events, reader_->read(position, 4096));
    if (events.empty()) break;
    for (const Event& e : events) {
      if (e.seq > seq) return hash;
      line.clear();
      encode_event_json(e, line);
      hash = chain_hash(hash, line);
      position = e.seq;
      if (++since_mark == kMarkEvery && position > marks_.back().first) {
        marks_.emplace_back(position, hash);
        since_mark = 0;
      }
    }
  }
  return hash;
}

}  // namespace hugo::peers
