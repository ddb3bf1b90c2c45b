// The chaos suite's planted faults (docs/TESTING.md, "Planted faults"): bugs made by firing fault
// points of the fault-points copy of the library (core/fault_points.hpp). Linked only into
// hugo-chaos-child-planted. HUGO_PLANT=<name> in the child's environment plants one of them
// before main() runs; without it nothing fires. An unknown name ends the child at start (exit 2),
// so that a misspelt fault cannot pass for one the harness missed.
#include "core/fault_points.hpp"

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace hugo {
namespace {

constexpr unsigned bit(FaultPoint point) { return 1u << static_cast<unsigned>(point); }

struct PlantedFault {
  std::string_view name;
  unsigned points;  // the fault points that fire, every time they are reached
};

constexpr PlantedFault kPlantedFaults[] = {
    // An append is acknowledged before its batch commits: a SIGKILL in between loses it. (Turning
    // fsync off would not do: a SIGKILL keeps what is in the page cache.)
    {"ack_before_commit", bit(FaultPoint::ack_before_commit)},
    // A transactional sink resumes one event before its checkpoint and applies that event again.
    {"double_apply", bit(FaultPoint::sink_resume_one_early) | bit(FaultPoint::sink_retake_checkpoint)},
};

// Written once before main() and only read after it, on any thread.
unsigned planted_points = 0;

bool planted_fault_fires(FaultPoint point) { return (planted_points & bit(point)) != 0; }

unsigned points_named_by_environment() {
  const char* name = std::getenv("HUGO_PLANT");
  if (name == nullptr) return 0;
  for (const PlantedFault& fault : kPlantedFaults) {
    if (fault.name == name) return fault.points;
  }
  std::fprintf(stderr, "hugo-chaos-child-planted: unknown HUGO_PLANT '%s'\n", name);
  std::exit(2);
}

struct PlantAtStart {
  PlantAtStart() {
    planted_points = points_named_by_environment();
    install_fault_injector(&planted_fault_fires);
  }
} plant_at_start;

}  // namespace
}  // namespace hugo
