// Deterministic primitives, all of them: the effect store and its typed capture, version gates,
// and the deterministic gate with its workflow builder (docs/DETERMINISTIC.md). Include the
// narrower header you need; this one keeps older includes compiling.
#pragma once

#include <hugo/effect_capture.hpp>
#include <hugo/effects.hpp>
#include <hugo/version_gate.hpp>
#include <hugo/workflow.hpp>
