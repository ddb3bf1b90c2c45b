// Journal maintenance, all of it: the read side (projections, verification: <hugo/verify.hpp>)
// and administration (import, compaction: <hugo/journal_admin.hpp>). Include the narrower header
// you need; this one keeps older includes compiling.
#pragma once

#include <hugo/journal_admin.hpp>
#include <hugo/verify.hpp>
