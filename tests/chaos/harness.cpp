#include "tests/chaos/harness.hpp"

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

namespace hugo::chaos {
namespace {

// Waits for `acks` acknowledgements, then kills the child; a violation if it stopped on its own.
void run_until_killed(test::Child& child, int acks, std::chrono::microseconds delay, Report& report) {
  for (int a = 0; a < acks; ++a) {
    auto line = child.read_line();
    if (line != std::optional<std::string>("ack")) {
      report.expect(false, "the child stopped before its kill: " + line.value_or("<eof or silence>"));
      break;
    }
  }
  if (delay.count() > 0) std::this_thread::sleep_for(delay);  // a kill point between acknowledgements
  child.kill_hard();
  const int status = child.wait();
  report.expect(status == 128 + SIGKILL, "the child exited with " + std::to_string(status) + " instead of dying by SIGKILL");
}

}  // namespace

unsigned chaos_seed() {
  const char* env = std::getenv("HUGO_CHAOS_SEED");
  return env && *env ? static_cast<unsigned>(std::strtoul(env, nullptr, 10)) : std::random_device{}();
}

int chaos_kills(int fallback) {
  for (const char* name : {"HUGO_CHAOS_KILLS", "HUGO_CHAOS_DEFAULT_KILLS"}) {
    const char* env = std::getenv(name);
    if (env && *env) return std::atoi(env);
  }
  return fallback;
}

ChaosResult run_chaos(Scenario& scenario, const ChaosOptions& options) {
  std::printf("chaos %s: seed %u (replay with HUGO_CHAOS_SEED=%u)\n", scenario.name().c_str(), options.seed,
              options.seed);
  std::fflush(stdout);
  std::mt19937 rng(options.seed);
  test::TempDir dir;
  Report report;
  ChaosResult result;
  result.seed = options.seed;
  const auto started = std::chrono::steady_clock::now();
  for (int k = 0; k < options.kills; ++k) {
    const unsigned child_seed = static_cast<unsigned>(rng());
    const int acks = 1 + static_cast<int>(rng() % static_cast<unsigned>(options.max_acks));
    const bool delayed = rng() % 2 == 0;
    const auto delay = std::chrono::microseconds(delayed ? rng() % static_cast<unsigned>(options.max_delay_us + 1) : 0);
    {
      test::Child child(scenario.child_argv(dir.path(), child_seed), options.child_env);
      run_until_killed(child, acks, delay, report);
    }
    ++result.kills;
    const std::size_t before = report.violations.size();
    scenario.check_after_kill(dir.path(), report);
    if (report.violations.size() > before) {
      std::printf("chaos %s: kill %d (after %d acks, +%lld us) found %zu violations\n", scenario.name().c_str(),
                  result.kills, acks, static_cast<long long>(delay.count()), report.violations.size() - before);
    }
    if (options.stop_at_violation && !report.violations.empty()) break;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.checks = report.checks;
  result.violations = report.violations;
  std::printf("chaos %s: %.1f s, %.1f kills/s\n", scenario.name().c_str(), seconds, result.kills / seconds);
  if (const std::string covered = scenario.summary(); !covered.empty()) {
    std::printf("chaos %s: %s\n", scenario.name().c_str(), covered.c_str());
  }
  std::printf("chaos: %d kills, %zu invariant checks, %zu violations (seed %u)\n", result.kills, result.checks,
              result.violations.size(), options.seed);
  const std::size_t shown = std::min<std::size_t>(result.violations.size(), 20);
  for (std::size_t i = 0; i < shown; ++i) std::printf("violation: %s\n", result.violations[i].c_str());
  if (shown < result.violations.size()) std::printf("... and %zu more\n", result.violations.size() - shown);
  std::fflush(stdout);
  return result;
}

}  // namespace hugo::chaos
