// Reads the next batches of events on a background thread while the caller encodes and writes the
// previous ones: decoding (SQLite + hugo::Event) and JSON encoding then overlap instead of
// alternating, which is most of what `tail` and `export` cost (docs/BENCHMARKS.md, cli_tail).
#pragma once

#include <hugo/error.hpp>
#include <hugo/event.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hugo::cli {

class Prefetcher {
 public:
  // `read` returns the next batch, or an empty one when there is nothing more for now; `more`
  // says, after each batch, whether to keep reading (false ends the stream). Both run on the
  // background thread only. At most `depth` batches wait unconsumed.
  using ReadFn = std::function<Result<std::vector<Event>>()>;
  using MoreFn = std::function<bool(const std::vector<Event>&)>;

  Prefetcher(ReadFn read, MoreFn more, std::size_t depth = 4);
  ~Prefetcher();  // stops reading and joins
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // The next batch in order; an empty vector once the stream ended (or, while it goes on, a wait
  // that found nothing); the reader's Error if it failed.
  Result<std::vector<Event>> next();
  bool ended();
  // Hands a batch from next() back once it is written: the background thread destroys it, on the
  // thread whose allocator made its strings; freed on another thread, every chunk takes glibc's
  // slow path (`_int_free`, `malloc_consolidate`: docs/BENCHMARKS.md, cli_tail).
  void give_back(std::vector<Event> spent);

 private:
  void run();

  ReadFn read_;
  MoreFn more_;
  std::size_t depth_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Result<std::vector<Event>>> ready_;
  std::vector<std::vector<Event>> spent_;
  bool stop_ = false;
  bool ended_ = false;
  std::thread thread_;
};

}  // namespace hugo::cli
