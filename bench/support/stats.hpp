// Benchmark support: clocks, percentiles and summaries of samples. No I/O.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace hugo_bench {

using SteadyClock = std::chrono::steady_clock;

// Seconds elapsed since `start`, as a double.
inline double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// Microseconds between two time points, as a double.
inline double micros_between(SteadyClock::time_point from, SteadyClock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

// Nanoseconds on the steady clock (CLOCK_MONOTONIC: one clock for every process of the machine).
inline std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch()).count();
}

// Nearest-rank percentile (p in [0, 100]) of `sorted`, which must be sorted ascending.
// Returns 0 for an empty sample.
inline double percentile_sorted(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const double rank = std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size()));
  const auto index = static_cast<std::size_t>(std::max(rank, 1.0)) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

struct Summary {
  std::size_t count = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// Sorts `samples` in place and summarizes them.
inline Summary summarize(std::vector<double>& samples) {
  Summary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  double total = 0;
  for (double v : samples) total += v;
  s.mean = total / static_cast<double>(samples.size());
  s.p50 = percentile_sorted(samples, 50);
  s.p90 = percentile_sorted(samples, 90);
  s.p99 = percentile_sorted(samples, 99);
  s.max = samples.back();
  return s;
}

// "p50=12.3 p90=... p99=... max=..." with the given unit suffix on the key (e.g. "_us").
inline std::string format_summary(const Summary& s, std::string_view key_suffix) {
  char buffer[256];
  const std::string k(key_suffix);
  std::snprintf(buffer, sizeof buffer, "p50%s=%.1f p90%s=%.1f p99%s=%.1f max%s=%.1f", k.c_str(), s.p50,
                k.c_str(), s.p90, k.c_str(), s.p99, k.c_str(), s.max);
  return buffer;
}

// `values` printed with the printf `format` (one double each) and joined by ",": "1.0,2.5".
inline std::string join_values(const std::vector<double>& values, const char* format = "%.1f") {
  std::string text;
  char number[64];
  for (double v : values) {
    std::snprintf(number, sizeof number, format, v);
    if (!text.empty()) text += ",";
    text += number;
  }
  return text;
}

// The median of `values` (0 for none); takes a copy.
inline double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

}  // namespace hugo_bench
