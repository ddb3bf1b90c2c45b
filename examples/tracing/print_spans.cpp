// A tracer that prints every span: the shape of a bridge to OpenTelemetry. start_span would call
// tracer->StartSpan(name, attributes) and TraceSpan::end would set the end attributes and call
// span->End(); here both print one line. Run: build/examples/tracing-print-spans [JOURNAL]
#include <hugo/hugo.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace {

std::string join(const hugo::MetricTags& tags) {
  std::string out;
  for (const auto& [key, value] : tags) out += " " + key + "=" + value;
  return out;
}

class PrintingSpan : public hugo::TraceSpan {
 public:
  explicit PrintingSpan(std::string name) : name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}
  void end(const hugo::SpanEnd& end) override {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start_);
    std::printf("span %s seq=%lld %s%s (%lld us)\n", name_.c_str(), static_cast<long long>(end.seq),
                end.error ? "error" : "ok", join(end.tags).c_str(), static_cast<long long>(us.count()));
  }

 private:
  std::string name_;
  std::chrono::steady_clock::time_point start_;
};

class PrintingTracer : public hugo::Tracer {
 public:
  std::unique_ptr<hugo::TraceSpan> start_span(std::string_view name, const hugo::MetricTags&) override {
    return std::make_unique<PrintingSpan>(std::string(name));
  }
};

int fail(const hugo::Error& e) {
  std::fprintf(stderr, "tracing example: %s\n", e.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path path = argc > 1 ? argv[1] : "tracing-example.journal";
  std::filesystem::remove(path);
  auto journal = hugo::Journal::open(path, {});
  if (!journal.ok()) return fail(journal.error());
  hugo::TaskQueueOptions options;
  options.name = "orders";
  options.tracer = std::make_shared<PrintingTracer>();
  options.metric_tags = {{"service.name", "tracing-example"}};
  auto queue = hugo::TaskQueue::open(std::shared_ptr<hugo::Journal>(std::move(*journal)), options);
  if (!queue.ok()) return fail(queue.error());
  hugo::TaskQueue& q = **queue;

  auto task = q.enqueue("ship order 1", {}, hugo::PayloadFormat::Bytes, hugo::EnqueueOrigin{"web-frontend"});
  if (!task.ok()) return fail(task.error());
  auto lease = q.lease("worker-1");
  if (!lease.ok()) return fail(lease.error());
  if (auto s = q.fail(lease->token, hugo::Error("app.retry", "carrier timeout")); !s.ok()) return fail(s.error());
  auto again = q.lease("worker-1");
  if (!again.ok()) return fail(again.error());
  if (auto s = q.complete(again->token); !s.ok()) return fail(s.error());
  (void)q.complete(again->token);  // stale on purpose: the span ends with taskqueue.error.code
  return q.close().ok() ? 0 : 1;
}
