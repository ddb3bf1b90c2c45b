// WakeWord: a 32-bit word a thread sleeps on until it changes, with no mutex to take back on
// waking (a futex on Linux, std::atomic's wait elsewhere). A sleeper reads the word, checks its
// condition, then sleeps unless the word changed since it read it; a waker changes the condition,
// then bumps the word and wakes. So no wake-up is lost, and a woken thread that finds its condition
// met goes on without touching the lock its waker may still hold. Internal: journal/ only.
#pragma once

#include <atomic>
#include <cstdint>

#ifdef __linux__
#include <linux/futex.h>
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
