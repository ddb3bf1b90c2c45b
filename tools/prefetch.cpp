#include "prefetch.hpp"

namespace hugo::cli {

Prefetcher::Prefetcher(ReadFn read, MoreFn more, std::size_t depth)
    : read_(std::move(read)), more_(std::move(more)), depth_(depth), thread_([this] { run(); }) {}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void Prefetcher::run() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stop_ || ready_.size() < depth_; });
      if (stop_) return;
    }
    Result<std::vector<Event>> batch = read_();
    const bool more = batch.ok() && more_(*batch);
    std::vector<std::vector<Event>> spent;
    {
      std::lock_guard lock(mutex_);
      ready_.push_back(std::move(batch));
      if (!more) ended_ = true;
      spent.swap(spent_);
    }
    changed_.notify_all();
    spent.clear();  // after the hand-over, so the consumer need not wait for the frees
    if (!more) return;
  }
}

Result<std::vector<Event>> Prefetcher::next() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || ended_; });
  if (ready_.empty()) return std::vector<Event>{};
  Result<std::vector<Event>> batch = std::move(ready_.front());
  ready_.pop_front();
  lock.unlock();
  changed_.notify_all();
  return batch;
}

void Prefetcher::give_back(std::vector<Event> spent) {
  std::lock_guard lock(mutex_);
  if (!ended_) spent_.push_back(std::move(spent));
}  // else `spent` is destroyed here: the background thread has stopped reading

bool Prefetcher::ended() {
  std::lock_guard lock(mutex_);
  return ended_ && ready_.empty();
}

}  // namespace hugo::cli
