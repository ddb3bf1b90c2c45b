// The control lines of a replication stream (docs/PEERS.md), encoded by the codec adapter
// (core/event_json.cpp) next to the event lines.
#pragma once

#include <hugo/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace hugo::wire {

// {"type":"heartbeat","lastSeq":N,"seq":S,"hash":"<16 hex>"}: the owner's last seq, and the stream's
// position (the last event line sent, 0 before any) with the rolling hash there.
struct Heartbeat {
  std::int64_t last_seq = 0;
  std::int64_t seq = 0;
  std::string hash;
};

void encode_heartbeat_json(const Heartbeat& heartbeat, std::string& out);
// codec.malformed / codec.invalid for anything but a well-formed heartbeat.
Result<Heartbeat> decode_heartbeat_json(std::string_view json);

}  // namespace hugo::wire
