// A TaskQueue's part in a Journal::transaction (hugo/transaction.hpp, journal/tx_impl.hpp): the
// operations a body gives the Tx are kept here, checked, and carried out at commit. Internal.
#pragma once

#include <hugo/task_queue.hpp>
#include <hugo/transaction.hpp>

namespace hugo::detail {

// Records an enqueue (arguments already checked by the caller) or a completion for `q` in `tx`.
void tx_enqueue(Tx& tx, TaskQueue::Impl& q, std::string payload, const EnqueueOptions& options);
void tx_complete(Tx& tx, TaskQueue::Impl& q, const OwnershipToken& token);

}  // namespace hugo::detail
