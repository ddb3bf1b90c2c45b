// Fuzz target: the follower's stream parser (peers/stream.hpp): LineSplitter and
// parse_stream_line, fed the input in chunks whose sizes come from the input itself.
//
// Properties, beyond "no sanitizer report":
//  - a line over the bound is replication.stream_malformed, and so is every later feed;
//  - the fast canonical event reader agrees with the strict decoder on every line it accepts;
//  - every complete line either parses (an event or a heartbeat) or is
//    replication.stream_malformed, never anything else;
//  - splitting is independent of chunking: the lines seen equal those of splitting the whole
//    input at once.
#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

#include "peers/stream.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

// The splitter's line bound: small, so that oversize lines are common, or (bit 0x40 of the
// first input byte) 2 MiB, so that a line nested past the depth limit reaches the decoders.
constexpr std::size_t kSmallMaxLine = 2048;
constexpr std::size_t kLargeMaxLine = 2u << 20;

bool is_malformed(const hugo::Error& error) { return error.code() == hugo::errc::replication_stream_malformed; }

// Differential check of the fast path: what it accepts, the strict decoder decodes identically.
void check_fast_path(std::string_view line) {
  auto fast = hugo::peers::decode_canonical_event_line(line);
  if (!fast) return;
  auto strict = hugo::decode_event_json(line);
  FUZZ_CHECK(strict.ok(), "fast path accepted a line the strict decoder rejects: %s",
             strict.ok() ? "" : strict.error().message().c_str());
  FUZZ_CHECK(*strict == *fast, "fast path and strict decoder disagree on a line");
}

// Splits `input` with the given chunk sizes; returns the lines seen, and the first error.
std::vector<std::string> split(std::string_view input, std::size_t max_line, std::size_t chunk, hugo::Status& status) {
  hugo::peers::LineSplitter splitter(max_line);
  std::vector<std::string> lines;
  status = hugo::ok_status();
  while (!input.empty() && status.ok()) {
    const std::size_t n = std::min(chunk, input.size());
    status = splitter.feed(input.substr(0, n), [&](std::string_view line) -> hugo::Status {
      lines.emplace_back(line);
      check_fast_path(line);
      auto parsed = hugo::peers::parse_stream_line(line);
      if (!parsed.ok()) {
        FUZZ_CHECK(is_malformed(parsed.error()), "unexpected code %s", parsed.error().code().c_str());
      } else if (parsed->kind == hugo::peers::StreamLine::Kind::Event) {
        auto again = hugo::decode_event_json(hugo::encode_event_json(parsed->event));
        FUZZ_CHECK(again.ok(), "a parsed event line does not re-encode to a decodable event");
      }
      return hugo::ok_status();
    });
    input.remove_prefix(n);
  }
  if (!status.ok()) FUZZ_CHECK(is_malformed(status.error()), "splitter failed with %s", status.error().code().c_str());
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if (data[0] == 0xff) {  // the whole rest is one line for the differential check
    check_fast_path(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
    return 0;
  }
  const std::size_t chunk = 1 + data[0] % 64;
  const std::size_t max_line = (data[0] & 0x40) ? kLargeMaxLine : kSmallMaxLine;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  hugo::Status whole_status = hugo::ok_status();
  hugo::Status chunked_status = hugo::ok_status();
  const auto whole = split(input, max_line, input.size() + 1, whole_status);
  const auto chunked = split(input, max_line, chunk, chunked_status);
  if (whole_status.ok() && chunked_status.ok()) {
    FUZZ_CHECK(whole == chunked, "chunking changed the lines (%zu vs %zu)", whole.size(), chunked.size());
  }
  return 0;
}
