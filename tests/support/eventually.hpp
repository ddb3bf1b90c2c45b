// eventually(done): polls `done` (yielding between polls) until it holds, or until a far deadline
// passes (then false, and the test fails on it): for states other threads reach by themselves,
// without timing anything. The deadline only turns a stuck wait into a failure instead of a hang.
#pragma once

#include <chrono>
#include <thread>

namespace hugo::test {

// Far enough away that a test never reaches it; only bounds a wait that would otherwise hang.
inline std::chrono::steady_clock::time_point far_deadline() {
  return std::chrono::steady_clock::now() + std::chrono::seconds(60);
}

template <class Done>
bool eventually(Done done) {
  const auto deadline = far_deadline();
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace hugo::test
