// TEST ONLY: deliberate bugs for the chaos harness to find (tests/chaos, docs/TESTING.md).
// Compiled only into the hugo-core-planted copy of the library (-DHUGO_PLANTED_BUGS, meson option
// planted_bugs); the library that is installed and tested everywhere else has none of this.
// A bug is switched on at run time with HUGO_PLANT=<name>.
#pragma once

#ifdef HUGO_PLANTED_BUGS
#include <cstdlib>
#include <string_view>

namespace hugo::planted {

inline bool active(std::string_view bug) {
  const char* chosen = std::getenv("HUGO_PLANT");
  return chosen != nullptr && bug == chosen;
}

}  // namespace hugo::planted
#endif
