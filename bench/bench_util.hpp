// Small helpers shared by the benchmarks under bench/: a scratch folder, timing, percentiles and
// the machine-readable RESULT lines.
//
// Output convention for every benchmark: one human-readable line per measurement, then one
// `RESULT name=... value=... unit=...` line per headline figure (optionally with `ceiling=` and
// `ratio=`). The last line a benchmark prints is its main headline. Benchmarks print; they never
// assert timings.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <unistd.h>

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

// A fresh folder made with mkdtemp under $TMPDIR (or /tmp), removed with its contents at scope
// exit. ok() is false if the folder could not be made.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "hugo-bench") {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
    if (char* made = ::mkdtemp(pattern.data())) path_ = made;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / std::string(name); }

 private:
  std::filesystem::path path_;
};

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

// Prints one line and flushes, so progress is visible while a long benchmark runs.
inline void print_line(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// `RESULT name=<name> value=<value> unit=<unit>`.
inline void print_result(std::string_view name, double value, std::string_view unit) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, "RESULT name=%.*s value=%.1f unit=%.*s", static_cast<int>(name.size()),
                name.data(), value, static_cast<int>(unit.size()), unit.data());
  print_line(buffer);
}

// `RESULT name=<name> value=<value> unit=<unit> ceiling=<ceiling> ratio=<value/ceiling, 3 decimals>`.
inline void print_result(std::string_view name, double value, std::string_view unit, double ceiling) {
  char buffer[512];
  const double ratio = ceiling > 0 ? value / ceiling : 0.0;
  std::snprintf(buffer, sizeof buffer, "RESULT name=%.*s value=%.1f unit=%.*s ceiling=%.1f ratio=%.3f",
                static_cast<int>(name.size()), name.data(), value, static_cast<int>(unit.size()), unit.data(),
                ceiling, ratio);
  print_line(buffer);
}

// Prints "<program>: <message>" to stderr and exits with status 1.
[[noreturn]] inline void fail(std::string_view program, std::string_view message) {
  std::fflush(stdout);
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()), program.data(),
               static_cast<int>(message.size()), message.data());
  std::exit(1);
}

// A numeric command-line option `--name V` (or `--name=V`), with an environment variable
// fallback, for parse_options.
struct NumericOption {
  std::string_view flag;  // "--seconds"
  const char* env;        // "HUGO_BENCH_SECONDS", or nullptr
  double* value;          // in: default; out: the parsed value
  double min;
  double max;
};

// Parses argv against `options` (environment first, then the command line, which wins). Exits
// with a usage message on an unknown argument or a value outside [min, max].
inline void parse_options(int argc, char** argv, std::vector<NumericOption> options) {
  const char* program = argc > 0 ? argv[0] : "bench";
  auto usage = [&] {
    std::string text = "usage:";
    for (const auto& o : options) text += " [" + std::string(o.flag) + " N]";
    return text;
  };
  auto parse = [&](const NumericOption& o, const char* text) {
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(v >= o.min && v <= o.max)) {
      fail(program, "invalid " + std::string(o.flag) + " value '" + text + "' (" + usage() + ")");
    }
    *o.value = v;
  };
  for (const auto& o : options) {
    if (o.env == nullptr) continue;
    if (const char* env = std::getenv(o.env); env && *env) parse(o, env);
  }
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    bool known = false;
    for (const auto& o : options) {
      if (arg == o.flag && i + 1 < argc) {
        parse(o, argv[++i]);
        known = true;
      } else if (arg.size() > o.flag.size() && arg.substr(0, o.flag.size()) == o.flag &&
                 arg[o.flag.size()] == '=') {
        parse(o, argv[i] + o.flag.size() + 1);
        known = true;
      }
      if (known) break;
    }
    if (!known) fail(program, "unknown argument '" + std::string(arg) + "' (" + usage() + ")");
  }
}

// The median of `values` (0 for none); takes a copy.
inline double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

}  // namespace hugo_bench
