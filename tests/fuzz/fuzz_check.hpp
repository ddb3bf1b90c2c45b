// Fuzz target support: a property check that turns a broken invariant into a libFuzzer crash.
// A failed FUZZ_CHECK prints what broke and aborts, so libFuzzer saves the input as a crash
// artifact exactly as it does for a sanitizer report.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "fuzz check failed at %s:%d: %s\n  ", __FILE__,     \
                   __LINE__, #cond);                                           \
      std::fprintf(stderr, __VA_ARGS__);                                       \
      std::fprintf(stderr, "\n");                                              \
      std::abort();                                                            \
    }                                                                          \
  } while (0)
