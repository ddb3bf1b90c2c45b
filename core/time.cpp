#include <hugo/error_codes.hpp>
#include <hugo/time.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include "core/json_out.hpp"
#include <sstream>

namespace hugo {
namespace {

char* put_digits(char* out, long long value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

Error bad_time(std::string_view text, std::string_view why) {
  return Error::validation("invalid ISO-8601 timestamp '" + std::string(text.substr(0, 64)) + "': " +
                   std::string(why) + " (expected e.g. 2024-01-01T00:00:00+00:00)")
      .with("value", std::string(text.substr(0, 64)));
}

// Two ASCII digits at text[at]; -1 if either is not a digit.
int two_digits(std::string_view text, std::size_t at) {
  const char a = text[at];
  const char b = text[at + 1];
  if (a < '0' || a > '9' || b < '0' || b > '9') return -1;
  return (a - '0') * 10 + (b - '0');
}

// The common shape "YYYY-MM-DDTHH:MM:SS" + "+HH:MM"/"-HH:MM"/"Z" (what format_iso8601 and .NET
// write), with every field in range, without the stream-based date::parse, which costs
// microseconds per call (the event decoder parses two or three times per event). nullopt for
// anything else, which then goes through date::parse as before; so this only answers for input
// that date::parse reads to the same instant.
std::optional<date::sys_seconds> parse_canonical_seconds(std::string_view head, std::string_view offset) {
  if (head[4] != '-' || head[7] != '-' || head[10] != 'T' || head[13] != ':' || head[16] != ':') return std::nullopt;
  const int y_high = two_digits(head, 0);
  const int y_low = two_digits(head, 2);
  const int month = two_digits(head, 5);
  const int day = two_digits(head, 8);
  const int hour = two_digits(head, 11);
  const int minute = two_digits(head, 14);
  const int second = two_digits(head, 17);
  if (y_high < 0 || y_low < 0 || month < 1 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
      second < 0 || second > 59) {
    return std::nullopt;
  }
  const date::year_month_day ymd{date::year{y_high * 100 + y_low}, date::month{static_cast<unsigned>(month)},
                                 date::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  int offset_minutes = 0;
  if (offset != "Z" && offset != "z") {
    if (offset.size() != 6 || (offset[0] != '+' && offset[0] != '-') || offset[3] != ':') return std::nullopt;
    const int oh = two_digits(offset, 1);
    const int om = two_digits(offset, 4);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return std::nullopt;
    offset_minutes = (offset[0] == '-' ? -1 : 1) * (oh * 60 + om);
  }
  return date::sys_seconds{date::sys_days{ymd}} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
         std::chrono::seconds{second} - std::chrono::minutes{offset_minutes};
}

}  // namespace

namespace detail {

std::size_t format_iso8601_to(Timestamp t, char* buffer) {
  const auto day = date::floor<date::days>(t);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss<Duration> hms{t - day};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {
    // Outside what ISO-8601's basic four-digit year holds; date::format handles the sign.
    const std::string wide = date::format("%FT%T", t) + "+00:00";
    const std::size_t n = std::min<std::size_t>(wide.size(), 47);
    wide.copy(buffer, n);
    return n;
  }
  char* p = buffer;
  p = put_digits(p, year, 4);
  *p++ = '-';
  p = put_digits(p, static_cast<unsigned>(ymd.month()), 2);
  *p++ = '-';
  p = put_digits(p, static_cast<unsigned>(ymd.day()), 2);
  *p++ = 'T';
  p = put_digits(p, hms.hours().count(), 2);
  *p++ = ':';
  p = put_digits(p, hms.minutes().count(), 2);
  *p++ = ':';
  p = put_digits(p, hms.seconds().count(), 2);
  long long micros = hms.subseconds().count();
  if (micros != 0) {
    int width = 6;
    while (micros % 10 == 0) {
      micros /= 10;
      --width;
    }
    *p++ = '.';
    p = put_digits(p, micros, width);
  }
  for (char c : {'+', '0', '0', ':', '0', '0'}) *p++ = c;
  return static_cast<std::size_t>(p - buffer);
}

}  // namespace detail

std::string format_iso8601(Timestamp t) {
  char buffer[48];
  return std::string(buffer, detail::format_iso8601_to(t, buffer));
}

// date::parse trips GCC's -Wmaybe-uninitialized inside date.h (a false positive in a
// third-party header); silence it for this one function only.
namespace {
Result<date::sys_seconds> parse_seconds_slowly(std::string_view text, std::string_view head, std::string_view rest);
}  // namespace

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
Result<Timestamp> parse_iso8601(std::string_view text) {
  // Split "<local date-time>[.fraction]<offset>" so that the date library parses the calendar
  // part and the offset, while the fraction (up to .NET's 7 digits) is handled exactly here.
  if (text.size() < 20 || text.size() > 40) return bad_time(text, "wrong length");
  if (text[10] != 'T' && text[10] != 't') return bad_time(text, "missing 'T'");
  std::string_view head = text.substr(0, 19);
  // "YYYY-MM-DDTHH:MM:SS" digit for digit: the date library is only handed well-formed fields
  // (its %S reads a floating-point second and converts a failed read's NaN, which is undefined).
  for (std::size_t i = 0; i < head.size(); ++i) {
    const bool separator = i == 4 || i == 7 || i == 10 || i == 13 || i == 16;
    if (!separator && (head[i] < '0' || head[i] > '9')) return bad_time(text, "not a valid date and time");
  }
  if (head[4] != '-' || head[7] != '-' || head[13] != ':' || head[16] != ':') {
    return bad_time(text, "not a valid date and time");
  }
  std::string_view rest = text.substr(19);
  long long fraction_us = 0;
  if (!rest.empty() && rest.front() == '.') {
    std::size_t n = 1;
    long long scale = 100000;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') {
      if (n > 7) return bad_time(text, "more than 7 fractional digits");
      if (scale > 0) fraction_us += (rest[n] - '0') * scale;
      scale /= 10;
      ++n;
    }
    if (n == 1) return bad_time(text, "empty fraction");
    rest = rest.substr(n);
  }
  date::sys_seconds seconds{};
  if (const auto fast = parse_canonical_seconds(head, rest)) {
    seconds = *fast;
  } else {
    HUGO_ASSIGN_OR_RETURN(seconds, parse_seconds_slowly(text, head, rest));
  }
  // Like .NET's DateTimeOffset, the instant itself (in UTC) must fall in years 0001..9999, so
  // that it formats back as a four-digit year that this parser accepts.
  const Timestamp t = Timestamp{seconds} + Duration{fraction_us};
  if (t < Timestamp{date::sys_days{date::year{1} / 1 / 1}} || t >= Timestamp{date::sys_days{date::year{10000} / 1 / 1}}) {
    return bad_time(text, "the UTC instant is outside years 0001..9999");
  }
  return t;
}

namespace {
// The general path: any offset form date::parse accepts for "%Y-%m-%dT%H:%M:%S%Ez".
Result<date::sys_seconds> parse_seconds_slowly(std::string_view text, std::string_view head, std::string_view rest) {
  std::string offset(rest);
  if (offset == "Z" || offset == "z") offset = "+00:00";
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (offset.size() != 6 || (offset[0] != '+' && offset[0] != '-') || offset[3] != ':' || !digit(offset[1]) ||
      !digit(offset[2]) || !digit(offset[4]) || !digit(offset[5])) {
    return bad_time(text, "missing or malformed UTC offset");
  }
  std::istringstream in(std::string(head) + offset);
  date::sys_seconds seconds{};
  in >> date::parse("%Y-%m-%dT%H:%M:%S%Ez", seconds);
  if (in.fail()) return bad_time(text, "not a valid date and time");
  if (in.peek() != std::char_traits<char>::eof()) return bad_time(text, "trailing characters");
  return seconds;
}
}  // namespace
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

Timestamp SystemClock::now() const {
  return date::floor<Duration>(std::chrono::system_clock::now());
}

std::shared_ptr<Clock> SystemClock::shared() {
  static const std::shared_ptr<Clock> instance = std::make_shared<SystemClock>();
  return instance;
}

ManualClock::ManualClock(Timestamp start) : now_us_(start.time_since_epoch().count()) {}

}  // namespace hugo
