// cpp-httplib takes each timeout as a (seconds, microseconds) pair; the options hold durations.
#pragma once

#include <chrono>
#include <ctime>

namespace hugo::peers {

struct SplitTimeout {
  std::time_t seconds;
  std::time_t micros;
};

inline SplitTimeout split_timeout(std::chrono::microseconds timeout) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  return {static_cast<std::time_t>(seconds.count()), static_cast<std::time_t>((timeout - seconds).count())};
}

}  // namespace hugo::peers
