// The typed half of the effect store: DeterministicEffectStore::capture<T> for values of T, stored
// as cereal portable-binary bytes (portable_binary.hpp; docs/DETERMINISTIC.md, "Capturing
// effects"). T needs a cereal serialize() and a default constructor.
#pragma once

#include <hugo/effects.hpp>
#include <hugo/error.hpp>
#include <hugo/error_codes.hpp>
#include <hugo/portable_binary.hpp>

#include <cereal/types/string.hpp>  // the built-in tags "string" and "bytes"
#include <cereal/types/vector.hpp>

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace hugo::detail {

template <class T> struct IsResult : std::false_type {};
template <class T> struct IsResult<Result<T>> : std::true_type {};

// Calls fn(args...), which returns Result<T> or something convertible to T, as a Result<T>.
template <class T, class Fn, class... Args>
Result<T> invoke_as_result(Fn& fn, Args&&... args) {
  using R = std::remove_cvref_t<std::invoke_result_t<Fn&, Args...>>;
  if constexpr (IsResult<R>::value) {
    static_assert(std::is_same_v<R, Result<T>>, "the effect returns a Result of another type");
    return std::invoke(fn, std::forward<Args>(args)...);
  } else {
    static_assert(std::is_convertible_v<R, T>, "the effect must return T or Result<T>");
    return Result<T>(T(std::invoke(fn, std::forward<Args>(args)...)));
  }
}

template <class T>
Result<std::string> encode_value(const T& value, std::string_view effect_id, std::string_view type_tag) {
  return portable_binary_encode(value, [&](const PortableBinaryFailure& failure) {
    return value_codec_error(true, effect_id, type_tag, "cannot serialize the value: " + failure.what);
  });
}

template <class T>
Result<T> decode_value(const std::string& bytes, std::string_view effect_id, std::string_view type_tag) {
  return portable_binary_decode<T>(bytes, [&](const PortableBinaryFailure& failure) {
    return value_codec_error(false, effect_id, type_tag,
                             failure.trailing_bytes ? std::string("the recorded value has trailing bytes")
                                                    : "the recorded value does not decode: " + failure.what);
  });
}

template <class T>
struct EffectCapture {
  static Result<T> replay(const EffectRecord& record, std::string_view type_tag) {
    HUGO_TRY(DeterministicEffectStore::check_replayable(record, type_tag));
    if (!record.is_success.value_or(false)) return DeterministicEffectStore::recorded_failure(record);
    return decode_value<T>(record.value, record.effect_id, type_tag);
  }

  // DeterministicEffectStore::capture. `unrecorded`, when given, is an out-channel: an effect that
  // sets it is treated like a cancellation (claim deleted, the error returned, nothing recorded).
  template <class Fn>
  static Result<T> run(DeterministicEffectStore& store, std::string_view effect_id, std::string_view type_tag,
                       Fn& effect, std::optional<Error>* unrecorded, const EffectEvent* event = nullptr) {
    static_assert(std::is_default_constructible_v<T> && !std::is_reference_v<T>,
                  "a captured type must be default-constructible (cereal loads into a value)");
    HUGO_ASSIGN_OR_RETURN(EffectLock lock, store.lock_effect(effect_id, type_tag));
    HUGO_ASSIGN_OR_RETURN(DeterministicEffectStore::Claim claimed, store.claim(effect_id, type_tag, event));
    if (claimed.recorded) return replay(*claimed.recorded, type_tag);

    std::optional<Result<T>> outcome;
    try {
      outcome.emplace(invoke_as_result<T>(effect));
    } catch (const OperationCanceled& e) {
      outcome.emplace(Error::canceled(e.what()).with("effectId", std::string(effect_id)));
    } catch (const std::exception& e) {
      outcome.emplace(error_from_exception(e, effect_id));
    } catch (...) {
      outcome.emplace(error_from_unknown_exception(effect_id));
    }
    const bool skip = (unrecorded != nullptr && unrecorded->has_value()) ||
                      (!outcome->ok() && outcome->error().code() == errc::canceled);
    if (skip) {
      Error error = (unrecorded != nullptr && unrecorded->has_value()) ? **unrecorded : outcome->error();
      HUGO_TRY(store.discard_pending(effect_id));
      return error;
    }
    std::string bytes;
    if (outcome->ok()) {
      auto encoded = encode_value(outcome->value(), effect_id, type_tag);
      if (encoded.ok()) {
        bytes = std::move(encoded).value();
      } else {
        outcome.emplace(std::move(encoded).error());
      }
    }
    HUGO_ASSIGN_OR_RETURN(EffectRecord stored, store.record(effect_id, type_tag, outcome->ok(), bytes,
                                                            outcome->ok() ? nullptr : &outcome->error(), event));
    return replay(stored, type_tag);
  }
};

}  // namespace hugo::detail
