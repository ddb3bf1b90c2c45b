// How read verbs describe a queue whose history holds rows that are not valid transitions: they
// project it as RecoveryMode::SkipInvalid does (docs/QUEUE.md, "Recovery") and say so beside
// what they show, instead of refusing the journal (docs/CLI.md, info and tasks).
#pragma once

#include <hugo/task_queue.hpp>

#include <cstdio>
#include <string>
#include <string_view>

namespace hugo::cli {

// "" for a whole queue; else how many rows were left out and the first of them with its rule.
inline std::string queue_problem(const QueueSnapshot& s) {
  if (s.skipped.empty()) return {};
  const SkippedRow& first = s.skipped.front();
  const std::size_t n = s.skipped.size();
  return std::to_string(n) + (n == 1 ? " row is" : " rows are") +
         " not a valid transition and left out; first: seq " + std::to_string(first.seq) + " (" +
         std::string(to_string(first.kind)) + " of task " + std::to_string(first.task_id) + "): " + first.rule;
}

// One warning line on stderr for a queue with a problem; nothing otherwise.
inline void warn_queue_problem(std::string_view verb, const QueueSnapshot& s) {
  const std::string problem = queue_problem(s);
  if (problem.empty()) return;
  const std::string line = "hugo-journal: " + std::string(verb) + ": warning: queue '" + s.queue + "': " + problem +
                           " (run `hugo-journal verify` for every violation)\n";
  std::fputs(line.c_str(), stderr);
}

}  // namespace hugo::cli
