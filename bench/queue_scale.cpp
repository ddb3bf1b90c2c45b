// bench/queue_scale: what one lease() and one enqueue() cost as the queue grows, with scheduled
// tasks and priorities (docs/QUEUE.md, "Scheduled tasks" and "Priorities"): the goal is O(log n),
// read as µs per call at 1M pending / µs per call at 10k pending <= 3.
//
// One journal (Durability::Process) and one queue (ManualClock, no sweeper, capacity 2M) are
// filled to 10k, then 100k, then 1M pending tasks, 32-byte payloads, through enqueue_batch_with:
// each step writes 1,000 batches, batch k scheduled at t0 + k s (k = 0..999) with priority
// k % 4. The clock stands at t0 + 500.5 s throughout, so about half of the tasks are due (their
// rows record no time) and half wait in the queue's time index. At each size, --calls rounds of
// one lease() (Wait::none: the best due task) and one enqueue_with() (at a random one of the
// 1,000 times and 4 priorities) keep the size steady; each call is timed alone, and the median is
// reported (the mean too: the first lease after a fill also moves the tasks that came due into
// the due index, once). Every call also commits its row, an O(1) cost that the ratio includes.
//
// The ceiling is the goal itself (3): ratio = 3 / growth, so >= 1 meets it.
//
// Usage: queue_scale [--calls N] [--max-pending N]   (defaults 2,000 and 1,000,000)
// Last line: `RESULT name=queue_scale_lease_growth value=<growth> unit=x ceiling=3 ratio=<3/growth>`,
// after the same line for queue_scale_enqueue_growth.
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

using hugo_bench::SteadyClock;

constexpr const char* kProgram = "queue_scale";
constexpr int kTimes = 1000;
constexpr int kPriorities = 4;
constexpr double kGoal = 3.0;

template <class T>
T must(hugo::Result<T> r, const char* what) {
  if (!r.ok()) hugo_bench::fail(kProgram, std::string(what) + ": " + r.error().to_string());
  return std::move(r).value();
}

struct Scale {
  hugo_bench::TempDir dir = hugo_bench::scratch_dir(kProgram, "queue_scale");
  std::shared_ptr<hugo::ManualClock> clock = std::make_shared<hugo::ManualClock>();
  hugo::Timestamp t0 = clock->now();
  std::shared_ptr<hugo::Journal> journal;
  std::unique_ptr<hugo::TaskQueue> queue;
  std::mt19937_64 random{42};

  Scale() {
    hugo::JournalOptions jo;
    jo.durability = hugo::Durability::Process;
    jo.clock = clock;
    journal = std::shared_ptr<hugo::Journal>(must(hugo::Journal::open(dir / "scale.journal", jo), "open").release());
    hugo::TaskQueueOptions qo;
    qo.name = "scale";
    qo.clock = clock;
    qo.run_sweeper = false;
    qo.capacity = 2'000'000;
    queue = must(hugo::TaskQueue::open(journal, qo), "queue");
    clock->set(t0 + std::chrono::milliseconds(500'500));
  }

  hugo::EnqueueOptions options(int time, int priority) const {
    hugo::EnqueueOptions o;
    o.not_before = t0 + std::chrono::seconds(time);
    o.priority = priority;
    return o;
  }

  // Adds `count` tasks in kTimes batches, batch k at time k and priority k % kPriorities.
  void fill(std::size_t count) {
    for (int k = 0; k < kTimes; ++k) {
      const std::size_t n = count / kTimes + (static_cast<std::size_t>(k) < count % kTimes ? 1 : 0);
      if (n == 0) continue;
      must(queue->enqueue_batch_with(std::vector<std::string>(n, std::string(32, 'p')), options(k, k % kPriorities)),
           "fill");
    }
  }

  // Median and mean µs of `calls` leases and of `calls` enqueues, alternating.
  std::pair<std::vector<double>, std::vector<double>> measure(std::size_t calls) {
    std::vector<double> lease_us, enqueue_us;
    lease_us.reserve(calls);
    enqueue_us.reserve(calls);
    for (std::size_t i = 0; i < calls; ++i) {
      auto start = SteadyClock::now();
      must(queue->lease("w", hugo::Wait::none()), "lease");
      auto end = SteadyClock::now();
      lease_us.push_back(hugo_bench::micros_between(start, end));
      const int time = static_cast<int>(random() % kTimes);
      const hugo::EnqueueOptions o = options(time, static_cast<int>(random() % kPriorities));
      start = SteadyClock::now();
      must(queue->enqueue_with(std::string(32, 'q'), o, hugo::Wait::none()), "enqueue");
      end = SteadyClock::now();
      enqueue_us.push_back(hugo_bench::micros_between(start, end));
    }
    return {lease_us, enqueue_us};
  }
};

double mean(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
}

}  // namespace

int main(int argc, char** argv) {
  double calls = 2000;
  double max_pending = 1'000'000;
  hugo_bench::parse_options(argc, argv, {{"--calls", nullptr, &calls, 10, 1e6},
                                         {"--max-pending", nullptr, &max_pending, 10'000, 2e6}});
  Scale s;
  std::vector<double> lease_median, enqueue_median;
  std::size_t pending = 0;
  for (const double target : {10'000.0, 100'000.0, max_pending}) {
    const auto size = static_cast<std::size_t>(target);
    if (size <= pending || target > max_pending) continue;
    const auto fill_start = SteadyClock::now();
    s.fill(size - pending);
    pending = size;
    const double fill_seconds = hugo_bench::seconds_since(fill_start);
    if (s.queue->pending_count() != pending) hugo_bench::fail(kProgram, "the queue does not hold the tasks written");
    auto [lease_us, enqueue_us] = s.measure(static_cast<std::size_t>(calls));
    lease_median.push_back(hugo_bench::median(lease_us));
    enqueue_median.push_back(hugo_bench::median(enqueue_us));
    char line[256];
    std::snprintf(line, sizeof line,
                  "pending %zu: lease median %.2f us (mean %.2f), enqueue median %.2f us (mean %.2f); filled in %.1f s",
                  pending, lease_median.back(), mean(lease_us), enqueue_median.back(), mean(enqueue_us), fill_seconds);
    hugo_bench::print_line(line);
  }
  const double enqueue_growth = enqueue_median.back() / enqueue_median.front();
  const double lease_growth = lease_median.back() / lease_median.front();
  hugo_bench::print_result_ratio("queue_scale_enqueue_growth", enqueue_growth, "x", kGoal, kGoal / enqueue_growth, 3);
  hugo_bench::print_result_ratio("queue_scale_lease_growth", lease_growth, "x", kGoal, kGoal / lease_growth, 3);
  return 0;
}
