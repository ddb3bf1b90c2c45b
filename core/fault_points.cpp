// The fault-point switch of core/fault_points.hpp; compiled only into the fault-points copy of
// the library (root meson.build).
#include "core/fault_points.hpp"

#ifndef HUGO_FAULT_POINTS
#error "core/fault_points.cpp belongs to the fault-points build only (-DHUGO_FAULT_POINTS)"
#endif

#include <atomic>

namespace hugo {
namespace {

std::atomic<FaultInjector> installed_injector{nullptr};

}  // namespace

void install_fault_injector(FaultInjector injector) { installed_injector.store(injector); }

bool fault_fires(FaultPoint point) {
  const FaultInjector injector = installed_injector.load();
  return injector != nullptr && injector(point);
}

}  // namespace hugo
