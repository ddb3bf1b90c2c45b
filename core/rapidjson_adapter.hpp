// The RapidJSON that cereal wraps, as the event codec uses it (core/event_json.cpp encodes,
// core/event_json_decode.cpp decodes). Including cereal's JSON archive header configures it:
// its assertions throw cereal::RapidJSONException, which the codec catches; none escapes.
#pragma once

#include <cereal/archives/json.hpp>

#include <string>

namespace hugo::rapid {

namespace rj = RAPIDJSON_NAMESPACE;

// RapidJSON output stream that appends to a std::string.
struct StringSink {
  using Ch = char;
  std::string* out;
  void Put(char c) { out->push_back(c); }
  void Flush() {}
};

// Explicit kWriteNoFlags (here and in compact_json): cereal's archive header makes NaN/Infinity
// writable by default, and a number that overflowed while parsing must not come back out as the
// non-JSON token Infinity.
template <class Allocator = rj::CrtAllocator>
using Writer = rj::Writer<StringSink, rj::UTF8<>, rj::UTF8<>, Allocator, rj::kWriteNoFlags>;

}  // namespace hugo::rapid
