// Benchmark support: CPU time, from the POSIX CPU-time clocks, of this process, of the calling
// thread and of another running thread, so that a benchmark can say what a figure costs in CPU and
// leave out the threads that are not part of the measured work (hog.hpp's, a sampler's).
#pragma once

#include "bench/support/report.hpp"

#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

namespace hugo_bench {

// Seconds on the CPU-time clock `clock`; fails the program if the clock cannot be read.
inline double cpu_clock_seconds(std::string_view program, clockid_t clock) {
  timespec now{};
  if (::clock_gettime(clock, &now) != 0) fail(program, "clock_gettime on a CPU-time clock failed");
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// CPU seconds used by every thread of this process so far.
inline double process_cpu_seconds(std::string_view program) {
  return cpu_clock_seconds(program, CLOCK_PROCESS_CPUTIME_ID);
}

// CPU seconds used by the calling thread so far.
inline double this_thread_cpu_seconds(std::string_view program) {
  return cpu_clock_seconds(program, CLOCK_THREAD_CPUTIME_ID);
}

// Context switches of every thread of this process so far, voluntary and involuntary together
// (getrusage(RUSAGE_SELF)); fails the program if they cannot be read.
inline double process_switches(std::string_view program) {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) fail(program, "getrusage failed");
  return static_cast<double>(usage.ru_nvcsw) + static_cast<double>(usage.ru_nivcsw);
}

// The CPU-time clock of `thread`, which must be running (joinable); the clock is valid until the
// thread is joined.
inline clockid_t cpu_clock_of(std::string_view program, std::thread& thread) {
  clockid_t clock{};
  if (const int rc = ::pthread_getcpuclockid(thread.native_handle(), &clock); rc != 0) {
    fail(program, std::string("pthread_getcpuclockid: ") + std::strerror(rc));
  }
  return clock;
}

}  // namespace hugo_bench
