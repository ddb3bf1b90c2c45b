// Shared bits of the migration samples: a scratch folder and a fail-fast unwrap.
#pragma once

#include <hugo/error.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace sample {

// Unwraps a Result or exits with its error: samples stay short; real code propagates errors.
template <class T>
T must(hugo::Result<T> r) {
  if (!r.ok()) {
    std::fprintf(stderr, "sample: %s\n", r.error().to_string().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

inline void must(hugo::Status s) {
  if (!s.ok()) {
    std::fprintf(stderr, "sample: %s\n", s.error().to_string().c_str());
    std::exit(1);
  }
}

// A fresh folder removed at exit.
struct Scratch {
  std::filesystem::path path;
  Scratch() {
    char pattern[] = "/tmp/hugo-sample-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~Scratch() { std::filesystem::remove_all(path); }
};

}  // namespace sample
