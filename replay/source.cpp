// TaskQueueReplicationSource: a cursor over committed journal rows (see replication.hpp).
#include <hugo/error_codes.hpp>
#include <hugo/replication.hpp>

#include "replay/replication_names.hpp"

#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace hugo {
namespace {

constexpr std::size_t kCacheLimit = 100'000;

bool ends_task(EventKind k) {
  return k == EventKind::Completed || k == EventKind::DeadLettered || k == EventKind::Drained || k == EventKind::Canceled;
}

bool ends_lease(EventKind k) {
  return k == EventKind::Completed || k == EventKind::Failed || k == EventKind::LeaseExpired || k == EventKind::Canceled;
}

}  // namespace

ObserverSubscription& ObserverSubscription::operator=(ObserverSubscription&& other) noexcept {
  if (this != &other) {
    reset();
    unregister_ = std::move(other.unregister_);
    other.unregister_ = nullptr;
  }
  return *this;
}

void ObserverSubscription::reset() {
  if (unregister_) {
    auto fn = std::move(unregister_);
    unregister_ = nullptr;
    fn();
  }
}

struct TaskQueueReplicationSource::Impl {
  std::shared_ptr<Journal> journal;  // set by attach(): wake on commit
  std::unique_ptr<JournalReader> reader;
  ReplicationSourceOptions options;
  std::int64_t position = 0;
  std::unordered_map<std::int64_t, StoredPayload> payloads;  // task -> payload, live tasks
  std::unordered_map<std::int64_t, std::string> owners;       // lease -> owner, live leases

  // Observers live in a shared block so that a subscription may outlive the source safely.
  struct Observers {
    std::mutex mutex;
    std::uint64_t next_id = 1;
    std::vector<std::pair<std::uint64_t, std::function<Status(const Event&)>>> list;
    std::atomic<std::uint64_t> failures{0};
  };
  std::shared_ptr<Observers> observers = std::make_shared<Observers>();

  // Waits until something may have been committed after `position`, or the deadline.
  Status wait_for_more(std::chrono::steady_clock::time_point deadline) {
    if (journal) {
      journal->wait_for_commit(position, deadline);
      return ok_status();
    }
    while (std::chrono::steady_clock::now() < deadline) {
      HUGO_ASSIGN_OR_RETURN(bool changed, reader->changed());
      if (changed) return ok_status();
      std::this_thread::sleep_for(options.poll_interval);
    }
    return ok_status();
  }

  // An attached source takes what the writer still holds in memory of its latest commits (the
  // same events, field for field: Journal::read_recent), and reads the file otherwise. Reads
  // from memory skip the reader's check that the path still names this journal, so it runs
  // every kIdentityCheckEvery instead (journal.replaced, as from a file read).
  static constexpr auto kIdentityCheckEvery = std::chrono::milliseconds(100);
  std::chrono::steady_clock::time_point next_identity_check{};

  Result<std::vector<Event>> read_after_position(std::size_t max) {
    if (journal) {
      if (auto recent = journal->read_recent(position, max)) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_identity_check) {
          next_identity_check = now + kIdentityCheckEvery;
          if (auto checked = reader->changed(); !checked.ok()) return std::move(checked).error();
        }
        return std::move(*recent);
      }
    }
    return reader->read(position, max);
  }

  Status hydrate(Event& e) {
    if (e.payload) {
      if (e.kind == EventKind::Enqueued || e.kind == EventKind::Restored) {
        if (payloads.size() >= kCacheLimit) payloads.clear();
        payloads[e.task_id] = StoredPayload{*e.payload, e.payload_format};
      }
    } else {
      auto it = payloads.find(e.task_id);
      if (it != payloads.end()) {
        e.payload = it->second.bytes;
        e.payload_format = it->second.format;
      } else {
        HUGO_ASSIGN_OR_RETURN(auto stored, reader->task_payload(e.task_id));
        if (stored) {
          e.payload = stored->bytes;
          e.payload_format = stored->format;
          if (!ends_task(e.kind)) payloads[e.task_id] = std::move(*stored);
        }
      }
    }
    if (e.kind == EventKind::LeaseGranted && e.owner_peer_id && e.token) {
      if (owners.size() >= kCacheLimit) owners.clear();
      owners[e.token->lease_id] = *e.owner_peer_id;
    } else if (!e.owner_peer_id && e.token && e.kind != EventKind::LeaseGranted) {
      auto it = owners.find(e.token->lease_id);
      if (it != owners.end()) {
        e.owner_peer_id = it->second;
      } else {
        HUGO_ASSIGN_OR_RETURN(auto grant, reader->read(e.token->lease_id - 1, 1));
        if (!grant.empty() && grant[0].seq == e.token->lease_id && grant[0].kind == EventKind::LeaseGranted) {
          e.owner_peer_id = grant[0].owner_peer_id;
        }
      }
    }
    if (e.token && ends_lease(e.kind)) owners.erase(e.token->lease_id);
    if (ends_task(e.kind)) payloads.erase(e.task_id);
    if (!e.owner_peer_id && options.owner_peer_resolver) e.owner_peer_id = options.owner_peer_resolver(e);
    if (!e.owner_peer_id) e.owner_peer_id = options.default_owner_peer_id;
    e.source_peer_id = options.source_peer_id;
    return ok_status();
  }

  // Observers and metrics see each event once, when it is delivered for good (next() returned
  // it, or pump()'s handler accepted it): events at or below observed_through were seen already,
  // and a rewind (pump's redelivery, seek() backwards) does not show them again.
  std::int64_t observed_through = 0;

  void notify(const std::vector<Event>& events) {
    if (events.empty() || events.back().seq <= observed_through) return;
    std::vector<std::function<Status(const Event&)>> current;
    {
      std::lock_guard lock(observers->mutex);
      for (const auto& [id, fn] : observers->list) current.push_back(fn);
    }
    for (const Event& e : events) {
      if (e.seq <= observed_through) continue;
      observed_through = e.seq;
      if (options.metrics) replication_names::count_event(*options.metrics, e);
      for (const auto& observer : current) {
        Status status = [&]() -> Status {
          try {
            return observer(e);
          } catch (const std::exception& ex) {
            return Error::exception(std::string("observer threw: ") + ex.what());
          } catch (...) {
            return Error::exception("observer threw a non-standard exception");
          }
        }();
        if (!status.ok()) {
          observers->failures.fetch_add(1);
          if (options.on_observer_error) {
            options.on_observer_error(Error(status.error()).with("seq", std::to_string(e.seq)).with("stage", "observer"));
          }
        }
      }
    }
  }

  // The consumer's anchor once resume() checked it, moved to the last row read (its fingerprint
  // taken before hydration). After an idle wait, the next read first checks that the journal
  // still holds that row (docs/REPLICATION.md, "When the journal lost commits").
  std::optional<ReplicationAnchor> anchor;
  bool idle = false;

  Status check_anchor(const ReplicationAnchor& a) {
    if (a.seq <= 0) return ok_status();
    HUGO_ASSIGN_OR_RETURN(std::int64_t last, reader->last_seq());
    if (last < a.seq) return checkpoint_ahead(a, reader->journal_id(), last, "behind");
    if (!a.fingerprint) return ok_status();
    HUGO_ASSIGN_OR_RETURN(std::vector<Event> at, reader->read(a.seq - 1, 1));
    // A row compacted away cannot be compared; the journal's last seq above still covers it.
    if (at.empty() || at.front().seq != a.seq) return ok_status();
    if (event_fingerprint(at.front()) != *a.fingerprint) {
      return checkpoint_ahead(a, reader->journal_id(), last, "rewritten");
    }
    return ok_status();
  }

  // The next events after `position` (advanced past them), not yet shown to observers.
  Result<std::vector<Event>> read_next(std::size_t max, std::chrono::steady_clock::duration wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    max = std::max<std::size_t>(1, std::min(max, options.batch_size));
    while (true) {
      if (idle && anchor && anchor->seq == position) HUGO_TRY(check_anchor(*anchor));
      idle = false;
      HUGO_ASSIGN_OR_RETURN(std::vector<Event> rows, read_after_position(max));
      if (!rows.empty()) {
        const std::int64_t scanned_to = rows.back().seq;
        if (anchor) {
          anchor->seq = scanned_to;
          anchor->fingerprint = event_fingerprint(rows.back());
        }
        std::vector<Event> out;
        out.reserve(rows.size());
        for (Event& e : rows) {
          if (options.queue && e.queue != *options.queue) continue;
          HUGO_TRY(hydrate(e));
          out.push_back(std::move(e));
        }
        position = scanned_to;
        if (!out.empty()) return out;
        continue;  // only other queues' rows: keep scanning
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        idle = true;  // a whole wait passed with nothing: check the anchor before the next read
        return std::vector<Event>{};
      }
      HUGO_TRY(wait_for_more(deadline));
    }
  }
};

TaskQueueReplicationSource::TaskQueueReplicationSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TaskQueueReplicationSource::~TaskQueueReplicationSource() = default;

Result<std::unique_ptr<TaskQueueReplicationSource>> TaskQueueReplicationSource::attach(
    std::shared_ptr<Journal> journal, std::int64_t after, ReplicationSourceOptions options) {
  if (!journal) return Error::validation("attach: the journal is null");
  HUGO_ASSIGN_OR_RETURN(auto source, open(journal->path(), after, std::move(options)));
  source->impl_->journal = std::move(journal);
  return source;
}

Result<std::unique_ptr<TaskQueueReplicationSource>> TaskQueueReplicationSource::open(
    const std::filesystem::path& path, std::int64_t after, ReplicationSourceOptions options) {
  if (after < 0) return Error::validation("a source cannot start before seq 0");
  if (options.batch_size == 0) return Error::validation("batch_size must be > 0");
  auto impl = std::make_unique<Impl>();
  HUGO_ASSIGN_OR_RETURN(impl->reader, JournalReader::open(path));
  impl->options = std::move(options);
  impl->position = after;
  (void)impl->reader->changed();  // prime data_version
  return std::unique_ptr<TaskQueueReplicationSource>(new TaskQueueReplicationSource(std::move(impl)));
}

Result<std::vector<Event>> TaskQueueReplicationSource::next(std::size_t max, std::chrono::steady_clock::duration wait) {
  HUGO_ASSIGN_OR_RETURN(auto events, impl_->read_next(max, wait));
  impl_->notify(events);
  return events;
}

Status TaskQueueReplicationSource::pump(const std::function<Status(const std::vector<Event>&)>& handler,
                                        std::stop_token stop, std::size_t max_batch) {
  while (!stop.stop_requested()) {
    const std::int64_t before = impl_->position;
    HUGO_ASSIGN_OR_RETURN(auto batch, impl_->read_next(max_batch, std::chrono::milliseconds(50)));
    if (batch.empty()) continue;
    Status handled = handler(batch);
    if (!handled.ok()) {
      impl_->position = before;  // redeliver the failed batch on the next call
      return handled;
    }
    impl_->notify(batch);
  }
  return ok_status();
}

std::int64_t TaskQueueReplicationSource::position() const { return impl_->position; }
void TaskQueueReplicationSource::seek(std::int64_t after) {
  impl_->position = std::max<std::int64_t>(0, after);
  impl_->anchor.reset();
}

Status TaskQueueReplicationSource::resume(const ReplicationAnchor& anchor) {
  HUGO_TRY(impl_->check_anchor(anchor));
  seek(anchor.seq);
  impl_->anchor = anchor;
  impl_->idle = false;
  return ok_status();
}
const std::string& TaskQueueReplicationSource::journal_id() const { return impl_->reader->journal_id(); }

ObserverSubscription TaskQueueReplicationSource::register_observer(std::function<Status(const Event&)> observer) {
  auto observers = impl_->observers;
  std::uint64_t id = 0;
  {
    std::lock_guard lock(observers->mutex);
    id = observers->next_id++;
    observers->list.emplace_back(id, std::move(observer));
  }
  std::weak_ptr<Impl::Observers> weak = observers;
  return ObserverSubscription([weak, id] {
    if (auto o = weak.lock()) {
      std::lock_guard lock(o->mutex);
      std::erase_if(o->list, [id](const auto& entry) { return entry.first == id; });
    }
  });
}

std::uint64_t TaskQueueReplicationSource::observer_failures() const { return impl_->observers->failures.load(); }

}  // namespace hugo
