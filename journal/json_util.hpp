// Internal JSON helpers shared by the codec and the journal's append validation.
#pragma once

#include <string_view>

namespace hugo {

// True if `json` holds exactly one well-formed UTF-8 JSON value (surrounding whitespace allowed).
bool is_valid_json(std::string_view json);

}  // namespace hugo
