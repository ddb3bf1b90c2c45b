// hugo::Error and hugo::Result<T>: how every fallible call in the public API reports failure.
//
// No exception crosses the public API. Each dependency adapter (SQLite, the JSON codec, the OS)
// converts its failures into an Error at its boundary. Codes are stable strings; the full list
// with guidance on which to pick lives in error_codes.hpp and docs/ERRORS.md.
#pragma once

#include <hugo/error_codes.hpp>
#include <hugo/export.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace hugo {

// Orders keys ignoring ASCII case, like Hugo's error metadata (keys are case-insensitive).
struct CaseInsensitiveLess {
  using is_transparent = void;
  HUGO_API bool operator()(std::string_view a, std::string_view b) const noexcept;
};

using ErrorMetadata = std::map<std::string, std::string, CaseInsensitiveLess>;

// The serialized form of the exception that caused an error (Hugo's `cause` object).
struct ErrorCause {
  std::string type;
  std::string message;
  std::optional<std::string> stack_trace;
  friend bool operator==(const ErrorCause&, const ErrorCause&) = default;
};

// An error value: a stable code, a message a person can act on, and string metadata
// (stage, seq, path, ...). Errors decoded from Hugo JSON may carry an empty code and a cause.
class HUGO_API Error {
 public:
  Error(std::string code, std::string message, ErrorMetadata metadata = {});

  // One factory per stable code (error_codes.hpp): `return Error::journal_corrupt("...");`.
#define HUGO_ERROR_FACTORY(name, text)                                                   \
  static Error name(std::string message, ErrorMetadata metadata = {}) {                \
    return Error(std::string(text), std::move(message), std::move(metadata));          \
  }
  HUGO_ERROR_CODES(HUGO_ERROR_FACTORY)
#undef HUGO_ERROR_FACTORY

  const std::string& code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  const ErrorMetadata& metadata() const noexcept { return metadata_; }
  const std::optional<ErrorCause>& cause() const noexcept { return cause_; }

  // Returns the metadata value for `key`, or nullptr.
  const std::string* find(std::string_view key) const;

  // Adds or replaces a metadata entry; chainable.
  Error& with(std::string key, std::string value) &;
  Error&& with(std::string key, std::string value) &&;
  Error& with_cause(ErrorCause cause) &;
  Error&& with_cause(ErrorCause cause) &&;

  // One line: "code: message [k=v, ...]".
  std::string to_string() const;

  friend bool operator==(const Error& a, const Error& b) {
    return a.code_ == b.code_ && a.message_ == b.message_ && a.metadata_ == b.metadata_ &&
           a.cause_ == b.cause_;
  }

 private:
  std::string code_;
  std::string message_;
  ErrorMetadata metadata_;
  std::optional<ErrorCause> cause_;
};

// Either a T or an Error. Construct from either; test with ok(); never throws.
template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<T, Error>, "Result<Error> is ambiguous; return Status or an out-param");

 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // Precondition: ok(). On an rvalue Result the value is moved out and returned by value, never
  // as a reference into the Result: `for (auto& e : f().value())` and `const T& v = *f();` hold
  // the value itself, which lives as long as the reference, not the dying Result's storage.
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }

  // Precondition: !ok(). On an rvalue Result the Error is moved out and returned by value.
  const Error& error() const& { return std::get<1>(state_); }
  Error error() && { return std::get<1>(std::move(state_)); }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> state_;
};

// Success-or-Error for operations without a value.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  static Result success() { return Result(); }

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }

  // Precondition: !ok(). On an rvalue Status the Error is moved out and returned by value.
  const Error& error() const& { return *error_; }
  Error error() && { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status ok_status() { return Status(); }

}  // namespace hugo

#define HUGO_CONCAT_INNER(a, b) a##b
#define HUGO_CONCAT(a, b) HUGO_CONCAT_INNER(a, b)

// Evaluates `expr` (a Result or Status); returns its Error from the enclosing function on failure.
#define HUGO_TRY(expr)                                  \
  do {                                                  \
    auto&& hugo_try_result_ = (expr);                   \
    if (!hugo_try_result_.ok()) {                       \
      return std::move(hugo_try_result_).error();       \
    }                                                   \
  } while (false)

// `HUGO_ASSIGN_OR_RETURN(auto x, f());` declares/assigns x from a Result, or returns its Error.
#define HUGO_ASSIGN_OR_RETURN(lhs, expr) \
  HUGO_ASSIGN_OR_RETURN_IMPL(HUGO_CONCAT(hugo_result_, __LINE__), lhs, expr)
#define HUGO_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) {                                 \
    return std::move(tmp).error();                 \
  }                                                \
  lhs = std::move(tmp).value()
