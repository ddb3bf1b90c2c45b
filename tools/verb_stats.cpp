// hugo-journal stats JOURNAL: events per kind, per queue and per time bucket, and bytes per event.
#include "cli_json.hpp"
#include "cli_table.hpp"
#include "verbs.hpp"

#include <cstdio>
#include <map>
#include <memory>

namespace hugo::cli {
namespace {

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

  const Format format = pick_format(o.json);
  if (format == Format::Json) {
    std::string kinds = "{", queues = "{", buckets = "[";
    for (const auto& [k, n] : s.kinds) {
      kinds += (kinds.size() > 1 ? "," : "");
      json_string(kinds, kind_name(k));
      kinds += ':' + std::to_string(n);
    }
    for (const auto& [q, n] : s.queues) {
      queues += (queues.size() > 1 ? "," : "");
      json_string(queues, q);
      queues += ':' + std::to_string(n);
    }
    for (const auto& [start, n] : s.buckets) {
      if (buckets.size() > 1) buckets += ',';
      JsonObject b(buckets);
      b.time("start", at_us(start)).num("events", n);
      b.close();
    }
    std::string line;
    JsonObject object(line);
    object.num("rows", s.rows)
        .num("fileBytes", static_cast<std::int64_t>(file))
        .num("walBytes", static_cast<std::int64_t>(wal))
        .raw("bytesPerEvent", per_event_text)
        .num("payloadBytes", s.payload_bytes)
        .time("firstAt", s.first_at)
        .time("lastAt", s.last_at)
        .raw("kinds", kinds + "}")
        .raw("queues", queues + "}")
        .str("bucket", o.bucket)
        .raw("buckets", buckets + "]");
    object.close();
    out_line(line);
    return kExitOk;
  }
  Table table(format, {"group", "key", "value"});
  table.row({"total", "rows", std::to_string(s.rows)});
  table.row({"total", "file_bytes", std::to_string(file)});
  table.row({"total", "wal_bytes", std::to_string(wal)});
  table.row({"total", "bytes_per_event", per_event_text});
  table.row({"total", "payload_bytes", std::to_string(s.payload_bytes)});
  table.row({"total", "first_at", s.first_at ? iso(*s.first_at) : ""});
  table.row({"total", "last_at", s.last_at ? iso(*s.last_at) : ""});
  for (const auto& [k, n] : s.kinds) table.row({"kind", kind_name(k), std::to_string(n)});
  for (const auto& [q, n] : s.queues) table.row({"queue", q, std::to_string(n)});
  for (const auto& [start, n] : s.buckets) table.row({o.bucket, iso(at_us(start)), std::to_string(n)});
  table.finish();
  return kExitOk;
}

}  // namespace

void add_stats(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("stats", "Events per kind, per queue and per time bucket; file size and bytes "
                                              "per event (file size / rows).");
  cmd->add_option("JOURNAL", o->journal, "the journal file")->required();
  cmd->add_option("--bucket", o->bucket, "time bucket of the histogram (default hour)")
      ->check(CLI::IsMember({"minute", "hour", "day"}));
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal stats --bucket day orders.journal");
  verbs.push_back({cmd, [o] { return run(*o); }});
}

}  // namespace hugo::cli
