// hugo::TaskQueueDeterministicCoordinator: run one handler per replication event, once, across
// restarts and lost checkpoints.
//
// The effect id is "{journal_id}/taskqueue.replication::{queue}::{seq}": Hugo's id qualified by
// the source journal, and keyed on the durable journal seq, so a restarted process can never
// collide with a previous run's records (one record per effect; docs/DETERMINISTIC.md).
// The first execute() of an event runs the handler and records its outcome (success or failure);
// every later execute() of the same event returns the recorded outcome without calling it. The
// event's fingerprint is recorded with the outcome: an execute() for another event under the same
// id (the journal lost its last commits and issued the seq again) is
// replication.checkpoint_ahead and runs nothing (docs/REPLICATION.md, "When the journal lost
// commits").
#pragma once

#include <hugo/effect_capture.hpp>
#include <hugo/effects.hpp>
#include <hugo/error_codes.hpp>
#include <hugo/event.hpp>
#include <hugo/event_json.hpp>
#include <hugo/replication.hpp>

#include <memory>
#include <string>
#include <utility>

namespace hugo {

class TaskQueueDeterministicCoordinator {
 public:
  explicit TaskQueueDeterministicCoordinator(std::shared_ptr<DeterministicEffectStore> store)
      : store_(std::move(store)) {}

  static std::string effect_id(const Event& event) {
    return event.journal_id.value_or(std::string()) + "/taskqueue.replication::" + event.queue +
           "::" + std::to_string(event.seq);
  }

  // handler(const Event&) returns Result<T> or T. See DeterministicEffectStore::capture.
  template <class T, class Fn>
  Result<T> execute(const Event& event, std::string_view type_tag, Fn&& handler) {
    if (!store_) return Error::validation("the coordinator has no effect store");
    const EffectEvent identity{event.journal_id.value_or(std::string()), event.seq, event_fingerprint(event)};
    return store_->capture_for_event<T>(effect_id(event), identity, type_tag, [&] { return handler(event); });
  }
  template <class T, class Fn>
    requires HasEffectTypeTag<T>
  Result<T> execute(const Event& event, Fn&& handler) {
    return execute<T>(event, effect_type_tag<T>(), std::forward<Fn>(handler));
  }

  // Records the event itself (its JSON) as the effect's value; a replay returns the stored copy.
  Result<Event> capture_event(const Event& event) {
    HUGO_ASSIGN_OR_RETURN(std::string json,
                          execute<std::string>(event, "hugo.event.json", [](const Event& e) { return encode_event_json(e); }));
    return decode_event_json(json);
  }

  DeterministicEffectStore& store() { return *store_; }

 private:
  std::shared_ptr<DeterministicEffectStore> store_;
};

}  // namespace hugo
