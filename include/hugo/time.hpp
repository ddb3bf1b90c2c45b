// Time in hugo-journal: UTC microseconds, ISO-8601 on the wire, and an injected Clock.
//
// Nothing in the library reads the wall clock directly: every component takes a Clock through its
// options, so tests drive time with ManualClock instead of sleeping. Replay never reads a clock at
// all; times come from the journal rows.
#pragma once

#include <hugo/error.hpp>
#include <hugo/export.hpp>

#include <date/date.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace hugo {

using Duration = std::chrono::microseconds;
using Timestamp = date::sys_time<Duration>;

// Formats as ISO-8601 with an explicit offset, Hugo's layout: "2024-01-01T00:00:00+00:00", with
// a fractional part only when it is non-zero ("2024-01-01T00:00:00.5+00:00").
HUGO_API std::string format_iso8601(Timestamp t);

// Parses ISO-8601 with an offset ("+02:00", "-05:00", "Z"), up to 7 fractional digits (.NET
// ticks; the 7th digit is truncated). Returns error.validation on anything else.
HUGO_API Result<Timestamp> parse_iso8601(std::string_view text);

// A source of the current time. Implementations are thread-safe.
class HUGO_API Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

// The real UTC clock.
class HUGO_API SystemClock final : public Clock {
 public:
  Timestamp now() const override;
  // A process-wide shared instance; the default wherever an option leaves the clock unset.
  static std::shared_ptr<Clock> shared();
};

// A clock that moves only when told to. Thread-safe.
class HUGO_API ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start = Timestamp{std::chrono::seconds{1'704'067'200}});  // 2024-01-01
  Timestamp now() const override { return Timestamp{Duration{now_us_.load()}}; }
  void advance(Duration by) { now_us_.fetch_add(by.count()); }
  void set(Timestamp t) { now_us_.store(t.time_since_epoch().count()); }

 private:
  std::atomic<std::int64_t> now_us_;
};

}  // namespace hugo
