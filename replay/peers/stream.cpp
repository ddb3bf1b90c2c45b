#include "replay/peers/stream.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

namespace hugo::peers {
namespace {

constexpr std::string_view kEventPrefix = "{\"sequenceNumber\":";
constexpr std::string_view kControlPrefix = "{\"type\":";

std::string printable_prefix(std::string_view line) {
  std::string out;
  for (char c : line.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

Error malformed_stream(std::string why, std::string_view line) {
  return Error(std::string(errc::replication_stream_malformed),
               "malformed replication stream: " + why + " (is the URL a hugo-journal server?)")
      .with("line_prefix", printable_prefix(line))
      .with("line_bytes", std::to_string(line.size()));
}

Status LineSplitter::oversize(std::size_t bytes) const {
  return Error(std::string(errc::replication_stream_malformed),
               "malformed replication stream: a line exceeds " + std::to_string(max_) +
                   " bytes (raise FollowerOptions::max_line_bytes if the owner's payloads are that large)")
      .with("line_bytes", std::to_string(bytes))
      .with("max_line_bytes", std::to_string(max_));
}

Result<StreamLine> parse_stream_line(std::string_view line) {
  StreamLine out;
  if (line.starts_with(kEventPrefix)) {
    auto event = decode_event_json(line);
    if (!event.ok()) return malformed_stream("bad event line: " + event.error().message(), line);
    out.kind = StreamLine::Kind::Event;
    out.event = std::move(event).value();
    return out;
  }
  if (line.starts_with(kControlPrefix)) {
    auto heartbeat = wire::decode_heartbeat_json(line);
    if (!heartbeat.ok()) return malformed_stream("bad control line: " + heartbeat.error().message(), line);
    out.kind = StreamLine::Kind::Heartbeat;
    out.heartbeat = std::move(heartbeat).value();
    return out;
  }
  return malformed_stream("a line is neither an event nor a heartbeat", line);
}

}  // namespace hugo::peers
