// Tx::Impl and the participants of a transaction (Journal::transaction, hugo/transaction.hpp).
// Internal: included by journal/journal_tx.cpp and queue/task_queue_tx.cpp.
#pragma once

#include <hugo/event.hpp>
#include <hugo/transaction.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace hugo {

namespace sql {
class Db;
}

namespace detail {

// A queue taking part in a transaction. Once the body returned ok, with the journal's write
// connection still held by the committing thread: prepare() locks the queue and builds its rows
// from the operations the body gave it (or refuses them, changing nothing); the journal then
// assigns their seqs and commits them with the body's writes; then exactly one of committed()
// (the rows are durable: apply them, then unlock) or abandoned() (unlock) runs, prepared or not.
class TxParticipant {
 public:
  virtual ~TxParticipant() = default;
  virtual Status prepare(std::vector<Event>& rows) = 0;
  virtual void committed(std::vector<Event>& rows, TxOutcome& outcome) = 0;
  virtual void abandoned() = 0;
};

}  // namespace detail

struct Tx::Impl {
  sql::Db* db = nullptr;  // the journal's write connection, inside the open transaction
  // One per queue the body used, in first-use order; owned here. `owner` names the queue
  // (its TaskQueue::Impl), so that its operations join one participant.
  struct Joined {
    const void* owner = nullptr;
    std::unique_ptr<detail::TxParticipant> participant;
  };
  std::vector<Joined> participants;
  int enqueues = 0;  // enqueue(Tx&) calls so far: each one's index in TxOutcome::task_ids

  detail::TxParticipant* find(const void* owner) {
    for (Joined& j : participants) {
      if (j.owner == owner) return j.participant.get();
    }
    return nullptr;
  }
};

}  // namespace hugo
