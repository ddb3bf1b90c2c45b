// The example programs' way out: an error is one line "PROGRAM: what failed" on stderr and exit 1.
// Each program names itself in `example::program` before its first call.
#pragma once

#include <hugo/error.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

namespace example {

inline const char* program = "example";

[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program, what.c_str());
  std::exit(1);
}

template <class T>
T must(hugo::Result<T> result) {
  if (!result.ok()) die(result.error().to_string());
  return std::move(result).value();
}

inline void must(const hugo::Status& status) {
  if (!status.ok()) die(status.error().to_string());
}

}  // namespace example
