// The stream layout's names (include/hugo/jetstream.hpp): the default stream and subject of a
// journal, stream-name validation and the follow source URL "nats://HOST:PORT/STREAM". Compiled with
// or without libnats.
#include "sinks/nats_client.hpp"

#include <hugo/jetstream.hpp>

namespace hugo {

std::string default_stream_name(std::string_view journal_id) { return "HUGO_" + std::string(journal_id); }

std::string stream_subject(std::string_view journal_id) { return "hugo." + std::string(journal_id) + ".events"; }

namespace nats {

Status check_stream_name(std::string_view name) {
  if (name.empty() || name.size() > 255) {
    return Error::validation("a stream name has 1 to 255 characters", {{"stream", std::string(name)}});
  }
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '.' || c == '*' || c == '>' || c == '/' || c == '\\') {
      return Error::validation("stream name \"" + std::string(name) +
                                   "\" holds a character NATS refuses (space, control, non-ASCII, . * > / \\)",
                               {{"stream", std::string(name)}});
    }
  }
  return ok_status();
}

}  // namespace nats

Result<NatsStreamUrl> parse_nats_stream_url(std::string_view url) {
  const auto invalid = [&](std::string why) {
    return Error::validation("\"" + std::string(url) + "\" is not nats://HOST:PORT/STREAM: " + why,
                             {{"url", std::string(url)}});
  };
  constexpr std::string_view kScheme = "nats://";
  if (url.substr(0, kScheme.size()) != kScheme) return invalid("it must start with nats://");
  const std::string_view rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return invalid("the stream name is missing");
  const std::string_view authority = rest.substr(0, slash);
  const std::string_view stream = rest.substr(slash + 1);
  const std::size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) return invalid("the port is missing");
  const std::string_view host = authority.substr(0, colon);
  const std::string_view port = authority.substr(colon + 1);
  if (host.empty()) return invalid("the host is missing");
  const bool bracketed = host.front() == '[' && host.back() == ']' && host.size() > 2;
  for (const char c : host) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                       c == '-' || c == '_';
    if (!plain && !(bracketed && (c == '[' || c == ']' || c == ':'))) return invalid("the host is malformed");
  }
  if (port.empty() || port.size() > 5) return invalid("the port must be 1 to 65535");
  unsigned value = 0;
  for (const char c : port) {
    if (c < '0' || c > '9') return invalid("the port must be 1 to 65535");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return invalid("the port must be 1 to 65535");
  if (stream.empty()) return invalid("the stream name is missing");
  if (Status named = nats::check_stream_name(stream); !named.ok()) return invalid(named.error().message());
  return NatsStreamUrl{"nats://" + std::string(authority), std::string(stream)};
}

}  // namespace hugo
