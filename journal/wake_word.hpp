// WakeWord: a 32-bit word a thread sleeps on until it changes, with no mutex to take back on
// waking (a futex on Linux, std::atomic's wait elsewhere). A sleeper reads the word, checks its
// condition, then sleeps unless the word changed since it read it; a waker changes the condition,
// then bumps the word and wakes. So no wake-up is lost, and a woken thread that finds its condition
// met goes on without touching the lock its waker may still hold. Internal: the journal's group
// commit, and the queue's enqueue calls waiting for room (queue/queue_waiters.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#ifdef __linux__
#include <linux/futex.h>
#include <ctime>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace hugo::detail {

class WakeWord {
 public:
  std::uint32_t read() const noexcept { return word_.load(std::memory_order_acquire); }

  // Returns once the word differs from `seen` (or spuriously: callers re-check their condition).
  void sleep(std::uint32_t seen) noexcept {
#ifdef __linux__
    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
    (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word_), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
#else
    word_.wait(seen, std::memory_order_acquire);
#endif
  }

  // As sleep(), but returns by `deadline` (steady_clock) at the latest.
  void sleep_until(std::uint32_t seen, std::chrono::steady_clock::time_point deadline) noexcept {
    if (deadline == std::chrono::steady_clock::time_point::max()) return sleep(seen);
#ifdef __linux__
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, steady_clock's clock on Linux.
    static_assert(std::chrono::steady_clock::is_steady);
    const auto since_epoch = deadline.time_since_epoch();
    if (since_epoch.count() <= 0) return;
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    timespec at{};
    at.tv_sec = static_cast<time_t>(secs.count());
    at.tv_nsec = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count());
    (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word_), FUTEX_WAIT_BITSET_PRIVATE, seen, &at, nullptr,
                    FUTEX_BITSET_MATCH_ANY);
#else
    // No timed wait on std::atomic: poll in short naps until the word changes or time is up.
    while (read() == seen && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
#endif
  }

  // Bumps the word, then wakes one sleeper or all of them.
  void wake_one() noexcept { wake(1); }
  void wake_all() noexcept { wake(-1); }

 private:
  void wake([[maybe_unused]] int count) noexcept {
    word_.fetch_add(1, std::memory_order_release);
#ifdef __linux__
    (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word_), FUTEX_WAKE_PRIVATE, count < 0 ? INT32_MAX : count,
                    nullptr, nullptr, 0);
#else
    if (count < 0) word_.notify_all();
    else word_.notify_one();
#endif
  }

  std::atomic<std::uint32_t> word_{0};
};

}  // namespace hugo::detail
