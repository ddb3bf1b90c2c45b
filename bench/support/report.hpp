// Benchmark support: the output contract, command-line options and the scratch folder.
//
// Every benchmark prints one human-readable line per measurement, then one
// `RESULT name=... value=... unit=...` line per headline figure (optionally with `ceiling=` and
// `ratio=`). The last line a benchmark prints is its main headline, always with a ceiling and a
// ratio (docs/BENCHMARKS.md, "Reading a RESULT line"). Benchmarks print; they never assert timings.
#pragma once

#include "tests/support/temp_dir.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace hugo_bench {

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

// `RESULT name=<name> value=<value> unit=<unit> ceiling=<ceiling> ratio=<ratio>` with an explicit
// ratio and `decimals` digits for value and ceiling: for figures where lower is better (a time, a
// latency), the ratio is ceiling/value (or goal/value), so that higher is better everywhere.
inline void print_result_ratio(std::string_view name, double value, std::string_view unit, double ceiling,
                               double ratio, int decimals) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, "RESULT name=%.*s value=%.*f unit=%.*s ceiling=%.*f ratio=%.3f",
                static_cast<int>(name.size()), name.data(), decimals, value, static_cast<int>(unit.size()),
                unit.data(), decimals, ceiling, ratio);
  print_line(buffer);
}

// `RESULT name=<name> value=<value> unit=<unit>` with `decimals` digits.
inline void print_result_decimals(std::string_view name, double value, std::string_view unit, int decimals) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, "RESULT name=%.*s value=%.*f unit=%.*s", static_cast<int>(name.size()),
                name.data(), decimals, value, static_cast<int>(unit.size()), unit.data());
  print_line(buffer);
}

// Prints "<program>: <message>" to stderr and exits with status 1.
[[noreturn]] inline void fail(std::string_view program, std::string_view message) {
  std::fflush(stdout);
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()), program.data(),
               static_cast<int>(message.size()), message.data());
  std::exit(1);
}

// The tests' TempDir (a fresh folder under $TMPDIR, removed with its contents at scope exit); a
// folder that cannot be made ends the program through fail() with TempDir's reason.
using TempDir = hugo::test::TempDir;

inline TempDir scratch_dir(std::string_view program, std::string_view prefix) {
  try {
    return TempDir(prefix);
  } catch (const std::exception& e) {
    fail(program, e.what());
  }
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

}  // namespace hugo_bench
