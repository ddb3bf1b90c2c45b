// hugo-journal metrics JOURNAL: Prometheus text for the journal, from one read-only scan: events
// per queue and kind (counters), pending/active/dead tasks per queue and journal extent (gauges).
#include "output.hpp"
#include "verbs.hpp"

#include <hugo/verify.hpp>
#include <hugo/metrics.hpp>

#include <map>
#include <memory>

namespace hugo::cli {
namespace verb_metrics {

struct Options {
  std::string journal;
  bool json = false;
};

struct Sample {
  std::string name;
  MetricKind kind;
  std::string unit;
  MetricTags tags;
  double value;
};

Result<std::vector<Sample>> collect(const std::string& path) {
  HUGO_ASSIGN_OR_RETURN(auto reader, open_reader(path));
  std::map<std::pair<std::string, EventKind>, std::int64_t> events;
  std::int64_t after = 0, rows = 0;
  while (true) {
    HUGO_ASSIGN_OR_RETURN(auto batch, reader->read(after, 4096));
    if (batch.empty()) break;
    for (const Event& e : batch) ++events[{e.queue, e.kind}];
    rows += static_cast<std::int64_t>(batch.size());
    after = batch.back().seq;
  }
  HUGO_ASSIGN_OR_RETURN(std::int64_t last_seq, reader->last_seq());
  reader.reset();
  HUGO_ASSIGN_OR_RETURN(auto queues, project_journal(path));

  std::vector<Sample> samples;
  for (const auto& [key, n] : events) {
    samples.push_back({"hugo.journal.events", MetricKind::Counter, "events",
                       {{"taskqueue.name", key.first}, {"taskqueue.event.kind", std::string(to_string(key.second))}},
                       static_cast<double>(n)});
  }
  for (const auto& [name, s] : queues) {
    const MetricTags tags{{"taskqueue.name", name}};
    samples.push_back({"taskqueue.pending", MetricKind::Gauge, "tasks", tags, static_cast<double>(s.pending.size())});
    samples.push_back({"taskqueue.active", MetricKind::Gauge, "tasks", tags, static_cast<double>(s.leased.size())});
    samples.push_back({"taskqueue.dead_letters", MetricKind::Gauge, "tasks", tags, static_cast<double>(s.dead.size())});
  }
  samples.push_back({"hugo.journal.rows", MetricKind::Gauge, "rows", {}, static_cast<double>(rows)});
  samples.push_back({"hugo.journal.last_seq", MetricKind::Gauge, "seq", {}, static_cast<double>(last_seq)});
  samples.push_back({"hugo.journal.bytes", MetricKind::Gauge, "bytes", {},
                     static_cast<double>(file_bytes(path) + file_bytes(wal_of(path)))});
  return samples;
}

int run(const Options& o) {
  auto samples = collect(o.journal);
  if (!samples.ok()) return report("metrics", samples.error());
  if (o.json) {
    std::string buffer;
    for (const Sample& s : *samples) {
      append_json_line(buffer, [&](JsonObject& object) {
        std::string labels;
        JsonObject by_tag(labels);
        for (const auto& [k, v] : s.tags) by_tag.str(k, v);
        by_tag.close();
        object.str("name", s.name)
            .str("type", s.kind == MetricKind::Counter ? "counter" : "gauge")
            .str("unit", s.unit)
            .raw("labels", labels)
            .real("value", s.value);
      });
    }
    out(buffer);
    return kExitOk;
  }
  MetricsRegistry registry;
  for (const Sample& s : *samples) {
    if (s.kind == MetricKind::Counter) registry.add(s.name, s.unit, s.tags, s.value);
    else registry.set(s.name, s.unit, s.tags, s.value);
  }
  out(registry.prometheus_text());
  return kExitOk;
}

}  // namespace verb_metrics

void add_metrics(CLI::App& app, Verbs& verbs) {
  using namespace verb_metrics;
  auto [cmd, o] = add_verb(app, verbs, run, "metrics",
                           "Prometheus text exposition of the journal: events per queue and "
                           "kind, pending/active/dead tasks per queue, rows, last seq, bytes.");
  add_journal_arg(cmd, o->journal);
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal metrics orders.journal > /var/lib/node_exporter/hugo.prom");
}

}  // namespace hugo::cli
