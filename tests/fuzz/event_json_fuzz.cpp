// Fuzz target: the event JSON decoder (decode_event_json, decode_error_json).
//
// Properties, beyond "no sanitizer report":
//  - bad input is a hugo::Error with a codec.* code, never anything else;
//  - whatever decodes re-encodes to JSON that decodes to the same event (export output is always
//    importable, and the round trip is lossless from the first decode on; see below for numbers
//    inside JSON payloads);
//  - the same holds for Hugo's Error JSON shape.
#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

bool is_codec_error(const hugo::Error& error) {
  return error.code() == hugo::errc::codec_malformed || error.code() == hugo::errc::codec_invalid;
}

void check_event(std::string_view input) {
  auto decoded = hugo::decode_event_json(input);
  if (!decoded.ok()) {
    FUZZ_CHECK(is_codec_error(decoded.error()), "unexpected code %s: %s", decoded.error().code().c_str(),
               decoded.error().message().c_str());
    return;
  }
  const std::string encoded = hugo::encode_event_json(*decoded);
  auto again = hugo::decode_event_json(encoded);
  FUZZ_CHECK(again.ok(), "re-encoded event does not decode (%s): %s", again.ok() ? "" : again.error().message().c_str(),
             encoded.c_str());
  // Every field survives, except that numbers inside a JSON payload may move by an ulp: RapidJSON
  // 1.1 parses them to within an ulp (its full-precision mode reaches undefined behaviour on
  // input such as 0.0e400), so such a payload is only required to stay JSON.
  hugo::Event a = *again, d = *decoded;
  if (a.payload_format == hugo::PayloadFormat::Json && d.payload_format == hugo::PayloadFormat::Json) a.payload = d.payload;
  FUZZ_CHECK(a == d, "round trip changed the event: %s -> %s", encoded.c_str(), hugo::encode_event_json(*again).c_str());
}

void check_error(std::string_view input) {
  std::optional<hugo::Error> decoded;
  hugo::Status status = hugo::decode_error_json(input, decoded);
  if (!status.ok()) {
    FUZZ_CHECK(is_codec_error(status.error()), "unexpected code %s", status.error().code().c_str());
    return;
  }
  FUZZ_CHECK(decoded.has_value(), "decode_error_json succeeded without an error");
  std::string encoded;
  hugo::encode_error_json(*decoded, encoded);
  std::optional<hugo::Error> again;
  hugo::Status status_again = hugo::decode_error_json(encoded, again);
  FUZZ_CHECK(status_again.ok() && again && *again == *decoded, "error JSON round trip failed: %s", encoded.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_event(input);
  // The same bytes feed Hugo's Error JSON decoder; the corpus holds seeds of both shapes.
  check_error(input);
  return 0;
}
