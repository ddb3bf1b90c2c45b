// The replica side of peers (docs/PEERS.md): a journal file whose rows are an owner's rows with the
// same seqs, plus its position (seq, rolling hash, epoch; for a replica built from a JetStream
// stream also the stream and its seq) in the meta table, updated in the same transaction as the
// rows it covers (docs/FORMAT.md, "meta").
#pragma once

#include "schema/file_identity.hpp"
#include "journal/rows.hpp"
#include "schema/sqlite.hpp"
#include "schema/staged_file.hpp"
#include "schema/wal_checkpointer.hpp"
#include "schema/writer_lock.hpp"

#include <hugo/peers.hpp>

#include <memory>
#include <optional>
#include <vector>

namespace hugo::replica {

// What the owner says of itself (from /v1/info or a stream's headers).
struct OwnerIdentity {
  std::string journal_id;
  std::int64_t epoch = 1;
  std::string epoch_history = "1:0";
  std::int64_t last_seq = 0;
};

// Where a stream replica stands in its stream (docs/SCALE-OUT.md): the stream seq of its last
// applied event.
struct StreamPoint {
  std::string stream;
  std::uint64_t stream_seq = 0;
};

// The seq after which `epoch` began according to `history`; nullopt if it does not list it.
std::optional<std::int64_t> epoch_start(std::string_view history, std::int64_t epoch);

// replication.diverged unless a replica at `position` may follow `owner` (the rules in peers.hpp);
// the hash check happens separately, against the owner's hash at position.seq. An owner of the
// replica's epoch whose last seq is below the replica's lost its last commits:
// replication.checkpoint_ahead "behind" (docs/REPLICATION.md, "When the journal lost commits").
// `replica` names the replica in that error.
Status check_lineage(const ReplicaPosition& position, const OwnerIdentity& owner, const std::string& replica);

Error diverged(std::string why, const ReplicaPosition& position);
// replication.checkpoint_ahead for a replica at `position` whose owner, in the same epoch, ends at
// `owner_last_seq` ("behind") or holds other events up to position.seq ("rewritten").
Error owner_lost_commits(const ReplicaPosition& position, const std::string& replica, std::int64_t owner_last_seq,
                         std::string_view reason);

class Store {
 public:
  // Opens the replica at `path` and takes its writer lock. error.validation if the file is a
  // journal that is not a replica. A missing file is built beside `path` (docs/FORMAT.md, "New
  // files") and renamed there by adopt(): until then nothing exists at `path`, and a Store
  // dropped before adopt() removes what it built.
  // Not movable: the inserter points into db_. Its connection waits up to `busy_timeout` for locks.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& path,
                                             std::chrono::milliseconds busy_timeout);
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  bool fresh() const { return !meta_.has_value(); }
  const ReplicaPosition& position() const { return position_; }
  // The stream position committed with the rows; nullopt for a replica followed over HTTP (or a
  // fresh one).
  const std::optional<StreamPoint>& stream_point() const { return stream_; }

  // Records the owner's identity: a fresh replica becomes a replica of its journal (and a new file
  // is renamed to its path, complete); an existing one moves to the owner's (newer) epoch. Call
  // only after check_lineage passed. error.validation if a new file's path was taken meanwhile.
  Status adopt(const OwnerIdentity& owner);
  // Inserts `events` (seqs strictly increasing, above position().seq) and moves the position to
  // the last of them with `hash_after`, in one transaction. `stream`, when given, is the stream
  // position of the last event, committed in that same transaction; without it a stream position
  // the replica held is removed there too (its events no longer come from the stream).
  // journal.shm_missing, with nothing written, if the replica's -shm was deleted since open (like
  // Journal's writer).
  Status apply(const std::vector<Event>& events, std::uint64_t hash_after,
               const std::optional<StreamPoint>& stream = std::nullopt);

 private:
  Store() = default;
  // The file this store's connection opens: the temp while a new replica is built, else path_.
  const std::filesystem::path& file() const { return staging_ ? staging_->temp() : path_; }
  Status connect();
  Status publish();
  Status load();

  std::filesystem::path path_;
  std::chrono::milliseconds busy_timeout_{};
  WriterLock lock_;                                // path_'s, once the file is there
  std::optional<staged::StagedFile> staging_;      // a new replica until adopt() renames it
  sql::Db db_;
  // Keeps db_'s WAL bounded with the heavy checkpoint work off the applying thread (as the
  // journal's writer does); reset before db_ is closed or moved.
  std::unique_ptr<WalCheckpointer> checkpointer_;
  std::optional<rows::Meta> meta_;
  std::optional<rows::EventInserter> inserter_;
  FileIdentity shm_opened_as_;
  ReplicaPosition position_;
  std::optional<StreamPoint> stream_;
};

ReplicaPosition position_of(const rows::Meta& meta);
// The meta rows replica_stream and replica_stream_seq; nullopt when the replica has none.
Result<std::optional<StreamPoint>> load_stream_point(sql::Db& db);

}  // namespace hugo::replica
