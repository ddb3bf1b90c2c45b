// The chaos harness: runs a scenario's child process on one folder of files, SIGKILLs it at a
// random moment, lets the scenario reopen everything and check its invariants, and starts the
// child again on the same files, `kills` times.
//
// A scenario supplies the child's command line and the checks; the harness owns the kill
// schedule (drawn from the seed), the counting and the one summary line
//   chaos: <N> kills, <M> invariant checks, <V> violations (seed S)
// A new scenario (a follower, say) implements Scenario and calls run_chaos().
#pragma once

#include "tests/support/queue_invariants.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace hugo::chaos {

using Report = test::InvariantReport;

class Scenario {
 public:
  virtual ~Scenario() = default;
  virtual std::string name() const = 0;
  // The child's argv (argv[0] included) for the next run on `dir`. The child prints one line
  // "ack" after each acknowledgement it made durable, and runs until it is killed.
  virtual std::vector<std::string> child_argv(const std::filesystem::path& dir, unsigned child_seed) = 0;
  // Called after each kill, with the child reaped: reopen everything in `dir`, check the
  // invariants against what the child acknowledged, and close it all again (the next child needs
  // the files). Scenarios keep whatever they need across kills (positions, counts) themselves.
  virtual void check_after_kill(const std::filesystem::path& dir, Report& report) = 0;
  // What the runs covered, printed once at the end (so a log shows the workload was exercised).
  virtual std::string summary() const { return {}; }
};

struct ChaosOptions {
  int kills = 200;
  unsigned seed = 0;
  // "NAME=value" entries added to the child's environment (HUGO_PLANT for planted faults).
  std::vector<std::string> child_env;
  // Each run is killed after 1..max_acks acknowledgements, then at once or up to
  // max_delay_us microseconds later (half of the kills each), both drawn from the seed.
  int max_acks = 30;
  int max_delay_us = 3000;
  // Stop at the first kill whose checks found a violation (the seed and kill count replay it).
  bool stop_at_violation = true;
};

struct ChaosResult {
  int kills = 0;
  std::size_t checks = 0;
  std::vector<std::string> violations;
  unsigned seed = 0;
};

// HUGO_CHAOS_SEED, or a fresh random seed.
unsigned chaos_seed();
// HUGO_CHAOS_KILLS, else HUGO_CHAOS_DEFAULT_KILLS (set by the chaos-long registration), else
// `fallback`.
int chaos_kills(int fallback);

// Runs `scenario` in a fresh temporary folder. Prints the seed before the first kill and the
// summary line (plus one line per violation) at the end.
ChaosResult run_chaos(Scenario& scenario, const ChaosOptions& options);

}  // namespace hugo::chaos
