// Symbol visibility for the shared library: everything is hidden unless marked HUGO_API.
#pragma once

#if defined(HUGO_BUILDING)
#define HUGO_API __attribute__((visibility("default")))
#else
#define HUGO_API
#endif
