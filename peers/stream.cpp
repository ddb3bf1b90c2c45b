#include "peers/stream.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

#include "core/base64.hpp"

#include <cstring>
#include <optional>

namespace hugo::peers {
namespace {

constexpr std::string_view kEventPrefix = "{\"sequenceNumber\":";
constexpr std::string_view kControlPrefix = "{\"type\":";

// Reads an event line in exactly the layout encode_event_json writes (the 15 Hugo properties in
// order, then the extensions in order, no whitespace), which is what a ReplicationServer sends,
// without building a JSON DOM: the strict decoder costs several microseconds per line, most of
// the follower's time. It accepts only a subset of what decode_event_json accepts and yields the
// same Event for it: strings without escapes, control bytes or non-ASCII bytes, integers of at
// most 18 digits without leading zeros, a null error, a JSON value made only of such strings,
// such integers, true, false and null (so its compact form is its own text). Anything else
// (including every invalid line) makes it give up, and the line goes to decode_event_json, which
// decides and explains.
class CanonicalEventLine {
 public:
  explicit CanonicalEventLine(std::string_view line) : p_(line.data()), end_(line.data() + line.size()) {}

  std::optional<Event> decode() {
    Event e;
    std::string_view text;
    std::int64_t n = 0;
    if (!key("{\"sequenceNumber\":") || !integer(e.seq, 0, INT64_MAX)) return std::nullopt;
    if (!key(",\"sourceEventId\":") || !integer(e.source_event_id, INT64_MIN, INT64_MAX)) return std::nullopt;
    if (!key(",\"queueName\":") || !string(text) || text.empty()) return std::nullopt;
    e.queue.assign(text);
    if (!key(",\"kind\":") || !integer(n, 0, kEventKindCount - 1)) return std::nullopt;
    e.kind = static_cast<EventKind>(n);
    if (!key(",\"sourcePeerId\":") || !optional_string(e.source_peer_id)) return std::nullopt;
    if (!key(",\"ownerPeerId\":") || !optional_string(e.owner_peer_id)) return std::nullopt;
    if (!key(",\"occurredAt\":") || !time(e.occurred_at)) return std::nullopt;
    if (!key(",\"recordedAt\":") || !time(e.recorded_at)) return std::nullopt;
    if (!key(",\"taskSequenceId\":") || !integer(e.task_id, 0, INT64_MAX)) return std::nullopt;
    if (!key(",\"attempt\":") || !integer(n, 0, INT32_MAX)) return std::nullopt;
    e.attempt = static_cast<std::int32_t>(n);
    if (!key(",\"value\":")) return std::nullopt;
    std::string_view value;
    bool value_is_string = false;
    if (!key("null")) {
      value_is_string = p_ < end_ && *p_ == '"';
      const char* start = p_;
      if (!json_value(0)) return std::nullopt;
      value = std::string_view(start, static_cast<std::size_t>(p_ - start));
    }
    if (!key(",\"error\":null,\"ownershipToken\":")) return std::nullopt;
    if (!key("null")) {
      OwnershipToken token;
      if (!key("{\"sequenceId\":") || !integer(token.task_id, 0, INT64_MAX)) return std::nullopt;
      if (!key(",\"attempt\":") || !integer(n, 0, INT32_MAX)) return std::nullopt;
      token.attempt = static_cast<std::int32_t>(n);
      if (!key(",\"leaseId\":") || !string(text) || !key("}")) return std::nullopt;
      auto lease = lease_id_from_guid(text);
      if (!lease.ok()) return std::nullopt;
      token.lease_id = *lease;
      e.token = token;
    }
    if (!key(",\"leaseExpiration\":") || !optional_time(e.lease_expiration)) return std::nullopt;
    if (!key(",\"flags\":") || !integer(n, 0, flags::All)) return std::nullopt;
    e.flags = static_cast<std::uint32_t>(n);
    const bool json_format = key(",\"valueFormat\":\"json\"");
    if (key(",\"enqueuedAt\":") && !time(e.enqueued_at.emplace())) return std::nullopt;
    if (key(",\"availableAt\":") && !time(e.available_at.emplace())) return std::nullopt;
    if (key(",\"journalId\":")) {
      if (!string(text)) return std::nullopt;
      e.journal_id.emplace(text);
    }
    if (!key("}") || p_ != end_) return std::nullopt;
    if (!value.empty()) {
      if (json_format || !value_is_string) {
        e.payload.emplace(value);
        e.payload_format = PayloadFormat::Json;
      } else {
        e.payload = base64::decode(value.substr(1, value.size() - 2));
        if (!e.payload) return std::nullopt;
      }
    }
    return e;
  }

 private:
  static constexpr int kMaxDepth = 32;

  bool key(std::string_view literal) {
    if (static_cast<std::size_t>(end_ - p_) < literal.size() || std::memcmp(p_, literal.data(), literal.size()) != 0) {
      return false;
    }
    p_ += literal.size();
    return true;
  }
  // -?(0|[1-9][0-9]{0,17}), the next byte not part of a number.
  bool integer(std::int64_t& out, std::int64_t min, std::int64_t max) {
    const bool minus = p_ < end_ && *p_ == '-';
    const char* digits = p_ + (minus ? 1 : 0);
    const char* q = digits;
    std::int64_t value = 0;
    while (q < end_ && *q >= '0' && *q <= '9') {
      if (q - digits == 18) return false;
      value = value * 10 + (*q++ - '0');
    }
    const auto count = q - digits;
    if (count == 0 || (count > 1 && *digits == '0') || (minus && value == 0)) return false;
    if (q < end_ && (*q == '.' || *q == 'e' || *q == 'E')) return false;
    value = minus ? -value : value;
    if (value < min || value > max) return false;
    out = value;
    p_ = q;
    return true;
  }
  // A string of printable ASCII without escapes; `out` is its content.
  bool string(std::string_view& out) {
    if (p_ >= end_ || *p_ != '"') return false;
    const char* start = ++p_;
    while (p_ < end_ && *p_ != '"') {
      const auto c = static_cast<unsigned char>(*p_);
      if (c < 0x20 || c >= 0x7f || c == '\\') return false;
      ++p_;
    }
    if (p_ >= end_) return false;
    out = std::string_view(start, static_cast<std::size_t>(p_ - start));
    ++p_;
    return true;
  }
  bool optional_string(std::optional<std::string>& out) {
    if (key("null")) return true;
    std::string_view text;
    if (!string(text)) return false;
    out.emplace(text);
    return true;
  }
  bool time(Timestamp& out) {
    std::string_view text;
    if (!string(text)) return false;
    auto parsed = parse_iso8601(text);
    if (!parsed.ok()) return false;
    out = *parsed;
    return true;
  }
  bool optional_time(std::optional<Timestamp>& out) { return key("null") || time(out.emplace()); }
  // One JSON value made of the pieces the class comment lists.
  bool json_value(int depth) {
    if (p_ >= end_ || depth > kMaxDepth) return false;
    std::string_view ignored;
    std::int64_t number = 0;
    switch (*p_) {
      case '"': return string(ignored);
      case 't': return key("true");
      case 'f': return key("false");
      case 'n': return key("null");
      case '{':
      case '[': {
        const bool object = *p_++ == '{';
        const char close = object ? '}' : ']';
        if (key(std::string_view(&close, 1))) return true;
        do {
          if (object && (!string(ignored) || !key(":"))) return false;
          if (!json_value(depth + 1)) return false;
        } while (key(","));
        return key(std::string_view(&close, 1));
      }
      default: return integer(number, INT64_MIN, INT64_MAX);
    }
  }

  const char* p_;
  const char* end_;
};

std::string printable_prefix(std::string_view line) {
  std::string out;
  for (char c : line.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

Error malformed_stream(std::string why, std::string_view line) {
  return Error::replication_stream_malformed("malformed replication stream: " + why + " (is the URL a hugo-journal server?)")
      .with("line_prefix", printable_prefix(line))
      .with("line_bytes", std::to_string(line.size()));
}

Status LineSplitter::oversize(std::size_t bytes) const {
  return Error::replication_stream_malformed("malformed replication stream: a line exceeds " + std::to_string(max_) +
                   " bytes (raise FollowerOptions::max_line_bytes if the owner's payloads are that large)")
      .with("line_bytes", std::to_string(bytes))
      .with("max_line_bytes", std::to_string(max_));
}

std::optional<Event> decode_canonical_event_line(std::string_view line) {
  return CanonicalEventLine(line).decode();
}

Result<StreamLine> parse_stream_line(std::string_view line) {
  StreamLine out;
  if (line.starts_with(kEventPrefix)) {
    if (line.size() <= kMaxEventJsonBytes) {
      if (auto fast = decode_canonical_event_line(line)) {
        out.kind = StreamLine::Kind::Event;
        out.event = std::move(*fast);
        return out;
      }
    }
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
