#include <hugo/metrics.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

namespace hugo {
namespace {

std::string prometheus_name(const std::string& name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  if (!out.empty() && std::isdigit(static_cast<unsigned char>(out[0]))) out.insert(out.begin(), '_');
  return out;
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string labels(const MetricTags& tags, const std::string& extra = {}) {
  if (tags.empty() && extra.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : tags) {
    if (!first) out += ',';
    first = false;
    out += prometheus_name(k) + "=\"" + escape_label(v) + "\"";
  }
  if (!extra.empty()) {
    if (!first) out += ',';
    out += extra;
  }
  return out + "}";
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

}  // namespace

MetricsRegistry::MetricsRegistry(MetricsOptions options) : options_(std::move(options)) {
  std::sort(options_.buckets.begin(), options_.buckets.end());
}

void MetricsRegistry::observe(MetricKind kind, const std::string& name, const std::string& unit, MetricTags tags,
                              double value) {
  std::sort(tags.begin(), tags.end());
  std::vector<std::shared_ptr<MetricsListener>> listeners;
  {
    std::lock_guard lock(mutex_);
    Series& s = series_[Key{name, tags}];
    s.kind = kind;
    s.unit = unit;
    switch (kind) {
      case MetricKind::Counter:
      case MetricKind::UpDownCounter: s.value += value; break;
      case MetricKind::Gauge: s.value = value; break;
      case MetricKind::Histogram: {
        if (s.buckets.empty()) s.buckets.assign(options_.buckets.size(), 0);
        for (std::size_t i = 0; i < options_.buckets.size(); ++i) {
          if (value <= options_.buckets[i]) ++s.buckets[i];
        }
        ++s.count;
        s.sum += value;
        break;
      }
    }
    listeners = listeners_;
  }
  for (const auto& l : listeners) l->observe(kind, name, unit, tags, value);
}

void MetricsRegistry::add(const std::string& name, const std::string& unit, MetricTags tags, double delta) {
  observe(MetricKind::Counter, name, unit, std::move(tags), delta);
}

void MetricsRegistry::add_up_down(const std::string& name, const std::string& unit, MetricTags tags, double delta) {
  observe(MetricKind::UpDownCounter, name, unit, std::move(tags), delta);
}

void MetricsRegistry::set(const std::string& name, const std::string& unit, MetricTags tags, double value) {
  observe(MetricKind::Gauge, name, unit, std::move(tags), value);
}

void MetricsRegistry::record(const std::string& name, const std::string& unit, MetricTags tags, double value) {
  observe(MetricKind::Histogram, name, unit, std::move(tags), value);
}

void MetricsRegistry::add_listener(std::shared_ptr<MetricsListener> listener) {
  std::lock_guard lock(mutex_);
  listeners_.push_back(std::move(listener));
}

double MetricsRegistry::value(const std::string& name, MetricTags tags) const {
  std::sort(tags.begin(), tags.end());
  std::lock_guard lock(mutex_);
  auto it = series_.find(Key{name, tags});
  return it == series_.end() ? 0 : it->second.value;
}

std::uint64_t MetricsRegistry::count(const std::string& name, MetricTags tags) const {
  std::sort(tags.begin(), tags.end());
  std::lock_guard lock(mutex_);
  auto it = series_.find(Key{name, tags});
  return it == series_.end() ? 0 : it->second.count;
}

std::string MetricsRegistry::prometheus_text() const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  std::string last_name;
  for (const auto& [key, s] : series_) {
    const std::string base = prometheus_name(key.first);
    const std::string family = s.kind == MetricKind::Counter ? base + "_total" : base;
    if (key.first != last_name) {
      const char* type = s.kind == MetricKind::Counter     ? "counter"
                         : s.kind == MetricKind::Histogram ? "histogram"
                                                           : "gauge";
      out << "# HELP " << family << " " << key.first << " (" << s.unit << ")\n";
      out << "# TYPE " << family << " " << type << "\n";
      last_name = key.first;
    }
    if (s.kind != MetricKind::Histogram) {
      out << family << labels(key.second) << " " << number(s.value) << "\n";
      continue;
    }
    for (std::size_t i = 0; i < options_.buckets.size(); ++i) {
      out << base << "_bucket" << labels(key.second, "le=\"" + number(options_.buckets[i]) + "\"") << " "
          << (i < s.buckets.size() ? s.buckets[i] : 0) << "\n";
    }
    out << base << "_bucket" << labels(key.second, "le=\"+Inf\"") << " " << s.count << "\n";
    out << base << "_sum" << labels(key.second) << " " << number(s.sum) << "\n";
    out << base << "_count" << labels(key.second) << " " << s.count << "\n";
  }
  return out.str();
}

}  // namespace hugo
