// Fault points: the places where a test may make the library misbehave, so that the chaos harness
// can prove it fails (docs/TESTING.md, "Planted faults"). All of it exists only with
// -DHUGO_FAULT_POINTS, which only the test-only copy of the library is compiled with (meson option
// planted_bugs); the installed library has no fault point. The library decides nothing: a point
// fires only when the injector a test installed says so, and none fires before one is installed.
#pragma once

#ifdef HUGO_FAULT_POINTS

namespace hugo {

enum class FaultPoint {
  ack_before_commit,        // AppendTicket::wait returns its seq before the batch commits
  sink_resume_one_early,    // TransactionalSink::resume_position is one event before its checkpoint
  sink_retake_checkpoint,   // a TransactionalSink takes the event at its checkpoint again
};

// Says whether `point` fires now. Called on any library thread, so it must be thread-safe and
// must not call into the library.
using FaultInjector = bool (*)(FaultPoint point);

// Replaces the injector (nullptr: no point fires). Thread-safe.
void install_fault_injector(FaultInjector injector);

// What the installed injector says about `point`; false when none is installed.
bool fault_fires(FaultPoint point);

}  // namespace hugo

#endif
