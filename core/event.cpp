#include <hugo/error_codes.hpp>
#include <hugo/event.hpp>

#include "core/hex.hpp"
#include "core/json_out.hpp"

#include <array>
#include <cctype>
#include <charconv>

namespace hugo {
namespace {

constexpr std::array<std::string_view, kEventKindCount> kKindNames = {
    "Enqueued",     "LeaseGranted", "Heartbeat", "Completed", "Failed",
    "Requeued",     "DeadLettered", "LeaseExpired", "Drained", "Restored", "Canceled",
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view to_string(EventKind kind) {
  const auto index = static_cast<std::size_t>(kind);
  return index < kKindNames.size() ? kKindNames[index] : std::string_view("Unknown");
}

bool is_valid_event_kind(std::int64_t value) { return value >= 0 && value < kEventKindCount; }

Result<EventKind> parse_event_kind(std::string_view text) {
  for (std::size_t i = 0; i < kKindNames.size(); ++i) {
    if (iequals(text, kKindNames[i])) return static_cast<EventKind>(i);
  }
  // Hugo's lifecycle name for LeaseExpired.
  if (iequals(text, "Expired")) return EventKind::LeaseExpired;
  int number = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc() && end == text.data() + text.size() && is_valid_event_kind(number)) {
    return static_cast<EventKind>(number);
  }
  return Error::validation("unknown event kind '" + std::string(text) +
                   "' (use a name such as LeaseGranted, or a number 0-" +
                   std::to_string(kEventKindCount - 1) + ")")
      .with("value", std::string(text));
}

namespace detail {

void format_lease_guid_to(std::int64_t lease_id, char* buffer) {
  static constexpr std::string_view kZero = "00000000-0000-0000-0000-000000000000";
  static_assert(kZero.size() == kLeaseGuidLength);
  kZero.copy(buffer, kZero.size());
  auto value = static_cast<std::uint64_t>(lease_id);
  // The last 16 hex digits sit at positions 19..22 and 24..35.
  static constexpr std::array<int, 16> kPositions = {19, 20, 21, 22, 24, 25, 26, 27,
                                                     28, 29, 30, 31, 32, 33, 34, 35};
  for (int i = 15; i >= 0; --i) {
    buffer[kPositions[static_cast<std::size_t>(i)]] = hex::kLower[value & 0xf];
    value >>= 4;
  }
}

}  // namespace detail

std::string lease_id_to_guid(std::int64_t lease_id) {
  std::string out(detail::kLeaseGuidLength, '0');
  detail::format_lease_guid_to(lease_id, out.data());
  return out;
}

namespace {

Error invalid_guid(std::string_view guid, std::string_view why) {
  return Error::validation("lease id GUID '" + std::string(guid.substr(0, 40)) + "' " + std::string(why) +
                   " (a GUID is 32 hex digits, e.g. 00000000-0000-0000-0000-00000000002a)")
      .with("value", std::string(guid.substr(0, 40)));
}

// The 32 lowercase hex digits of a GUID given canonically (36 chars) or as 32 hex digits.
Result<std::string> guid_digits(std::string_view guid) {
  std::string digits;
  digits.reserve(32);
  if (guid.size() == 36) {
    for (std::size_t i = 0; i < guid.size(); ++i) {
      const bool dash_slot = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash_slot && guid[i] != '-') return invalid_guid(guid, "is not a GUID");
      if (!dash_slot) digits += guid[i];
    }
  } else if (guid.size() == 32) {
    digits.assign(guid);
  }
  if (digits.size() != 32) return invalid_guid(guid, "is not a GUID");
  for (char& c : digits) {
    const int v = hex::digit_value(c);
    if (v < 0) return invalid_guid(guid, "has a non-hex digit");
    c = hex::kLower[v];
  }
  return digits;
}

}  // namespace

Result<std::string> canonical_guid(std::string_view guid) {
  HUGO_ASSIGN_OR_RETURN(std::string digits, guid_digits(guid));
  for (std::size_t dash : {20u, 16u, 12u, 8u}) digits.insert(dash, 1, '-');
  return digits;
}

Result<std::int64_t> lease_id_from_guid(std::string_view guid) {
  HUGO_ASSIGN_OR_RETURN(std::string digits, guid_digits(guid));
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  for (std::size_t i = 0; i < 32; ++i) {
    (i < 16 ? high : low) = ((i < 16 ? high : low) << 4) | static_cast<std::uint64_t>(hex::digit_value(digits[i]));
  }
  if (high != 0 || low > static_cast<std::uint64_t>(INT64_MAX)) {
    return invalid_guid(guid, "was not issued by hugo-journal (its lease ids look like 00000000-0000-0000-0000-00000000002a)");
  }
  return static_cast<std::int64_t>(low);
}

std::string OwnershipToken::to_string() const {
  std::string guid = lease_id_to_guid(lease_id);
  std::string compact;
  compact.reserve(32);
  for (char c : guid) {
    if (c != '-') compact += c;
  }
  return std::to_string(task_id) + ":" + std::to_string(attempt) + ":" + compact;
}

}  // namespace hugo
