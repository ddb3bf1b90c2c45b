// hugo::Durability: what a commit acknowledged by the journal, or by a sink's database, survives.
#pragma once

namespace hugo {

// What an acknowledged append survives.
enum class Durability {
  // synchronous=FULL: the WAL is fsync'd at every commit, so an acknowledged append survives
  // power loss and kernel panics. Costs one fsync per group commit.
  Fsync,
  // synchronous=NORMAL: an acknowledged append is in the OS page cache, so it survives the crash
  // of this process (SIGKILL, abort) but the last commits may be lost on power loss.
  Process,
};

}  // namespace hugo
