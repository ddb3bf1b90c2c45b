// The chaos suite: the mixed scenario under hundreds of SIGKILLs with no violation, and the same
// harness against planted faults (tests/chaos/planted_faults.cpp), where it must find violations.
#include <doctest/doctest.h>

#include "tests/chaos/harness.hpp"
#include "tests/chaos/follower_scenario.hpp"
#include "tests/chaos/mixed_scenario.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

using namespace hugo;

namespace {

std::string env_or_throw(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) throw std::runtime_error(std::string(name) + " is not set; run the tests through meson test");
  return value;
}

// Runs the mixed scenario on the planted child with HUGO_PLANT=`fault` and requires the harness
// to report violations: that is what proves the harness can fail.
void require_found(const std::string& fault, int max_kills) {
  chaos::MixedScenario scenario(env_or_throw("HUGO_CHAOS_PLANTED_CHILD"));
  chaos::ChaosOptions options;
  options.seed = chaos::chaos_seed();
  options.kills = max_kills;
  options.child_env = {"HUGO_PLANT=" + fault};
  const chaos::ChaosResult result = chaos::run_chaos(scenario, options);
  CHECK(result.checks > 0);
  CHECK_MESSAGE(!result.violations.empty(), "planted fault " << fault << " survived " << result.kills
                                                             << " kills (seed " << result.seed << ")");
}

}  // namespace

TEST_SUITE("chaos") {

TEST_CASE("mixed workload: SIGKILL at random moments breaks no invariant") {
  chaos::MixedScenario scenario(env_or_throw("HUGO_CHAOS_CHILD"));
  chaos::ChaosOptions options;
  options.seed = chaos::chaos_seed();
  options.kills = chaos::chaos_kills(200);
  const chaos::ChaosResult result = chaos::run_chaos(scenario, options);
  CHECK(result.kills == options.kills);
  CHECK(result.checks > 0);
  CHECK(result.violations.empty());
  CHECK(scenario.scheduled_rows() > 0);  // the workload scheduled tasks, and none was leased early
  CHECK(scenario.rows_of(EventKind::Canceled) > 0);  // and canceled pending and leased tasks
  CHECK(scenario.keyed_rows() > 0);                  // and enqueued under idempotency keys
  CHECK(scenario.transactions() > 0);                // and in transactions with rows of its own
}

TEST_CASE("follower: SIGKILL at random moments loses, duplicates or reorders nothing in the replica") {
  chaos::FollowerScenario scenario(env_or_throw("HUGO_CHAOS_FOLLOWER"));
  chaos::ChaosOptions options;
  options.seed = chaos::chaos_seed();
  options.kills = chaos::chaos_kills(200) / 4;  // 50 in the normal suite, 250 in chaos-long
  const chaos::ChaosResult result = chaos::run_chaos(scenario, options);
  CHECK(result.kills == options.kills);
  CHECK(result.checks > 0);
  CHECK(result.violations.empty());
}

TEST_CASE("planted ack_before_commit (appends acknowledged before their commit) is caught") {
  require_found("ack_before_commit", 200);
}

TEST_CASE("planted double_apply (a transactional sink re-applies the event at its checkpoint) is caught") {
  require_found("double_apply", 200);
}

}  // TEST_SUITE
