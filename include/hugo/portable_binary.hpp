// The value codec of the typed headers (effect_capture.hpp, typed_task_queue.hpp): a value of T as
// cereal portable-binary bytes. T needs a cereal serialize() (or the cereal/types/ header for
// standard types) and a default constructor. Each caller turns a failure into its own Error.
#pragma once

#include <hugo/error.hpp>

#include <cereal/archives/portable_binary.hpp>

#include <exception>
#include <sstream>
#include <string>

namespace hugo::detail {

// Why a value did not encode or decode.
struct PortableBinaryFailure {
  bool trailing_bytes = false;  // the value decoded, but bytes were left after it
  std::string what;             // otherwise: the archive's exception message
};

// The bytes of `value`, or make_error(failure) (an Error) if cereal throws.
template <class T, class MakeError>
Result<std::string> portable_binary_encode(const T& value, MakeError&& make_error) {
  try {
    std::ostringstream out(std::ios::binary);
    {
      cereal::PortableBinaryOutputArchive archive(out);
      archive(value);
    }
    return out.str();
  } catch (const std::exception& e) {
    return make_error(PortableBinaryFailure{false, e.what()});
  }
}

// The value in `bytes`, or make_error(failure) (an Error) if cereal throws or bytes are left over.
template <class T, class MakeError>
Result<T> portable_binary_decode(const std::string& bytes, MakeError&& make_error) {
  try {
    std::istringstream in(bytes, std::ios::binary);
    T value{};
    {
      cereal::PortableBinaryInputArchive archive(in);
      archive(value);
    }
    if (in.peek() != std::char_traits<char>::eof()) return make_error(PortableBinaryFailure{true, {}});
    return value;
  } catch (const std::exception& e) {
    return make_error(PortableBinaryFailure{false, e.what()});
  }
}

}  // namespace hugo::detail
