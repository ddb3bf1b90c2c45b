// Internal JSON checks shared by the codec, append validation (journal/rows_encode.cpp), the queue and
// verify. The limits they apply are the public constants of <hugo/event_json.hpp>.
#pragma once

#include <hugo/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace hugo {

// True if `json` holds exactly one well-formed UTF-8 JSON value (surrounding whitespace allowed).
// Iterative: no recursion, whatever the nesting; it does not apply kMaxJsonDepth (the encoder
// writes an already stored payload as it is), json_payload_problem does.
bool is_valid_json(std::string_view json);

// True if arrays and objects in `json` nest deeper than `limit`, counted outside strings in one
// pass without recursion. Exact for well-formed JSON; for other text the parser refuses anyway.
bool nests_deeper_than(std::string_view json, int limit);

// Why `json` cannot be stored as a JSON payload, or "" when it can: one well-formed UTF-8 JSON
// value nested at most kMaxJsonDepth deep. The reason reads after "the payload ".
std::string json_payload_problem(std::string_view json);

// True if `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF), the rule RapidJSON's encoding validation applies to every decoded string.
bool is_valid_utf8(std::string_view text);

// Why encode_error_json(error) would not decode again with decode_error_json, or "" when it
// would: a string (code, message, cause, a metadata key or value) that is not valid UTF-8, or a
// JSON text above kMaxEventJsonBytes. Encodes nothing unless the error is large enough that the
// exact size matters. The reason reads after "the error's ".
std::string error_json_problem(const Error& error);

// Why `key` cannot be a task's idempotency key, or "" when it can: 1 to 1024 bytes of valid UTF-8
// with no NUL. The reason reads after "the key ".
std::string task_key_problem(std::string_view key);

// error.validation (metadata `bytes`, `max_bytes`) for a payload above kMaxPayloadBytes.
Status check_payload_size(std::size_t bytes);

// True if `name` (a queue or peer name, an error metadata key) holds a NUL byte: refused on
// append (error.validation) and on decode (codec.invalid), docs/FORMAT.md "Limits".
inline bool has_nul(std::string_view name) { return name.find('\0') != std::string_view::npos; }

}  // namespace hugo
