// The replication stream's lines (docs/PEERS.md): splitting a byte stream into lines under a size
// bound, and telling event lines from heartbeats. Pure functions, no I/O: the follower and the
// stream fuzzer share them.
#pragma once

#include "core/wire_json.hpp"

#include <hugo/event.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace hugo::peers {

// Cuts a byte stream into '\n'-terminated lines (a trailing '\r' is dropped). A line longer than
// max_line_bytes fails with replication.stream_malformed; so does any later feed.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line_bytes) : max_(max_line_bytes) {}

  // Calls on_line(std::string_view) -> Status for each complete line, stopping at its first error.
  template <class OnLine>
  Status feed(std::string_view chunk, OnLine&& on_line);

  // Bytes of an unfinished line (a stream that ends here was cut mid-line).
  std::size_t partial_bytes() const { return partial_.size(); }

 private:
  Status oversize(std::size_t bytes) const;

  std::size_t max_;
  std::string partial_;
  bool failed_ = false;
};

struct StreamLine {
  enum class Kind { Event, Heartbeat } kind = Kind::Event;
  Event event;              // Kind::Event
  wire::Heartbeat heartbeat;  // Kind::Heartbeat
};

// An event line or a heartbeat line; anything else is replication.stream_malformed (with the codec
// error's message and the line's first bytes as metadata).
Result<StreamLine> parse_stream_line(std::string_view line);

Error malformed_stream(std::string why, std::string_view line);

// The fast path of parse_stream_line: an event line in exactly encode_event_json's layout, read
// without a JSON DOM. nullopt when the line is anything else (then decode_event_json decides).
// Whatever it returns, decode_event_json returns too (the stream fuzz target checks this).
std::optional<Event> decode_canonical_event_line(std::string_view line);

template <class OnLine>
Status LineSplitter::feed(std::string_view chunk, OnLine&& on_line) {
  if (failed_) return oversize(partial_.size());
  while (!chunk.empty()) {
    const std::size_t newline = chunk.find('\n');
    if (newline == std::string_view::npos) {
      if (partial_.size() + chunk.size() > max_) {
        failed_ = true;
        return oversize(partial_.size() + chunk.size());
      }
      partial_.append(chunk);
      return ok_status();
    }
    std::string_view line = chunk.substr(0, newline);
    chunk.remove_prefix(newline + 1);
    if (!partial_.empty()) {
      if (partial_.size() + line.size() > max_) {
        failed_ = true;
        return oversize(partial_.size() + line.size());
      }
      partial_.append(line);
      line = partial_;
    } else if (line.size() > max_) {
      failed_ = true;
      return oversize(line.size());
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    Status status = on_line(line);
    partial_.clear();
    HUGO_TRY(std::move(status));
  }
  return ok_status();
}

}  // namespace hugo::peers
