// hugo-journal stats JOURNAL: events per kind, per queue and per time bucket, and bytes per event.
#include "output.hpp"
#include "verbs.hpp"

#include <cstdio>
#include <map>
#include <memory>

namespace hugo::cli {
namespace verb_stats {

struct Options {
  std::string journal;
  std::string bucket = "hour";
  bool json = false;
};

struct Stats {
  std::int64_t rows = 0;
  std::int64_t payload_bytes = 0;
  std::optional<Timestamp> first_at, last_at;
  std::map<int, std::int64_t> kinds;
  std::map<std::string, std::int64_t> queues;
  std::map<std::int64_t, std::int64_t> buckets;  // bucket start (us since epoch) -> events
};

std::int64_t bucket_us(const std::string& bucket) {
  constexpr std::int64_t kMinute = 60'000'000;
  if (bucket == "minute") return kMinute;
  if (bucket == "day") return 24 * 60 * kMinute;
  return 60 * kMinute;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

Result<Stats> scan(JournalReader& reader, std::int64_t width) {
  Stats s;
  std::int64_t after = 0;
  while (true) {
    HUGO_ASSIGN_OR_RETURN(auto batch, reader.read(after, 4096));
    if (batch.empty()) return s;
    for (const Event& e : batch) {
      ++s.rows;
      ++s.kinds[static_cast<int>(e.kind)];
      ++s.queues[e.queue];
      const std::int64_t us = e.occurred_at.time_since_epoch().count();
      ++s.buckets[floor_div(us, width) * width];
      if (e.payload) s.payload_bytes += static_cast<std::int64_t>(e.payload->size());
      if (!s.first_at || e.occurred_at < *s.first_at) s.first_at = e.occurred_at;
      if (!s.last_at || e.occurred_at > *s.last_at) s.last_at = e.occurred_at;
    }
    after = batch.back().seq;
  }
}

std::string kind_name(int k) { return std::string(to_string(static_cast<EventKind>(k))); }
Timestamp at_us(std::int64_t us) { return Timestamp{Duration{us}}; }

int run(const Options& o) {
  auto reader = open_reader(o.journal);
  if (!reader.ok()) return report("stats", reader.error());
  auto stats = scan(**reader, bucket_us(o.bucket));
  if (!stats.ok()) return report("stats", stats.error());
  const Stats& s = *stats;
  const std::uint64_t file = file_bytes(o.journal);
  const std::uint64_t wal = file_bytes(wal_of(o.journal));
  const double per_event = s.rows > 0 ? static_cast<double>(file) / static_cast<double>(s.rows) : 0.0;
  char per_event_text[32];
  std::snprintf(per_event_text, sizeof(per_event_text), "%.1f", per_event);

  Output output(o.json, {"group", "key", "value"});
  if (output.json()) {
    std::string kinds, queues;
    JsonObject by_kind(kinds), by_queue(queues);
    for (const auto& [k, n] : s.kinds) by_kind.num(kind_name(k), n);
    for (const auto& [q, n] : s.queues) by_queue.num(q, n);
    by_kind.close();
    by_queue.close();
    output.object([&](JsonObject& object) {
      object.num("rows", s.rows)
          .num("fileBytes", static_cast<std::int64_t>(file))
          .num("walBytes", static_cast<std::int64_t>(wal))
          .raw("bytesPerEvent", per_event_text)
          .num("payloadBytes", s.payload_bytes)
          .time("firstAt", s.first_at)
          .time("lastAt", s.last_at)
          .raw("kinds", kinds)
          .raw("queues", queues)
          .str("bucket", o.bucket)
          .raw("buckets", json_array(s.buckets, [](JsonObject& b, const auto& bucket) {
            b.time("start", at_us(bucket.first)).num("events", bucket.second);
          }));
    });
  } else {
    output.cells({"total", "rows", std::to_string(s.rows)});
    output.cells({"total", "file_bytes", std::to_string(file)});
    output.cells({"total", "wal_bytes", std::to_string(wal)});
    output.cells({"total", "bytes_per_event", per_event_text});
    output.cells({"total", "payload_bytes", std::to_string(s.payload_bytes)});
    output.cells({"total", "first_at", s.first_at ? iso(*s.first_at) : ""});
    output.cells({"total", "last_at", s.last_at ? iso(*s.last_at) : ""});
    for (const auto& [k, n] : s.kinds) output.cells({"kind", kind_name(k), std::to_string(n)});
    for (const auto& [q, n] : s.queues) output.cells({"queue", q, std::to_string(n)});
    for (const auto& [start, n] : s.buckets) output.cells({o.bucket, iso(at_us(start)), std::to_string(n)});
  }
  output.finish();
  return kExitOk;
}

}  // namespace verb_stats

void add_stats(CLI::App& app, Verbs& verbs) {
  using namespace verb_stats;
  auto [cmd, o] = add_verb(app, verbs, run, "stats",
                           "Events per kind, per queue and per time bucket; file size and bytes "
                           "per event (file size / rows).");
  add_journal_arg(cmd, o->journal);
  cmd->add_option("--bucket", o->bucket, "time bucket of the histogram (default hour)")
      ->check(CLI::IsMember({"minute", "hour", "day"}));
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal stats --bucket day orders.journal");
}

}  // namespace hugo::cli
