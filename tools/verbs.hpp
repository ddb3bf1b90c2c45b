// The verbs of hugo-journal. Each verb_<name>.cpp adds one CLI11 subcommand with its options,
// help text and example, and the function that runs it and returns the exit code. Its helpers
// live in namespace hugo::cli::verb_<name>, not an anonymous one: tools/ compiles as one unity
// translation unit (tools/meson.build), where every verb's Options and run() must stay apart.
#pragma once

#include <hugo/checkpoint.hpp>

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hugo::cli {

struct Verb {
  CLI::App* command = nullptr;
  std::function<int()> run;
};
using Verbs = std::vector<Verb>;

void add_info(CLI::App& app, Verbs& verbs);
void add_tail(CLI::App& app, Verbs& verbs);
void add_show(CLI::App& app, Verbs& verbs);
void add_tasks(CLI::App& app, Verbs& verbs);
void add_history(CLI::App& app, Verbs& verbs);
void add_dead_letters(CLI::App& app, Verbs& verbs);
void add_requeue(CLI::App& app, Verbs& verbs);
void add_cancel(CLI::App& app, Verbs& verbs);
void add_checkpoints(CLI::App& app, Verbs& verbs);
void add_effects(CLI::App& app, Verbs& verbs);
void add_verify(CLI::App& app, Verbs& verbs);
void add_stats(CLI::App& app, Verbs& verbs);
void add_export(CLI::App& app, Verbs& verbs);
void add_import(CLI::App& app, Verbs& verbs);
void add_compact(CLI::App& app, Verbs& verbs);
void add_metrics(CLI::App& app, Verbs& verbs);
void add_serve(CLI::App& app, Verbs& verbs);
void add_follow(CLI::App& app, Verbs& verbs);
void add_promote(CLI::App& app, Verbs& verbs);
void add_publish(CLI::App& app, Verbs& verbs);
void add_enqueue(CLI::App& app, Verbs& verbs);
void add_work(CLI::App& app, Verbs& verbs);

// Adds subcommand `name` with `help` to `app`, and to `verbs` the call of `run` with its options,
// one shared Options that the subcommand's flags fill in. Returns both, for adding those flags.
template <typename Options>
std::pair<CLI::App*, std::shared_ptr<Options>> add_verb(CLI::App& app, Verbs& verbs, int (*run)(const Options&),
                                                        std::string name, std::string help) {
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(std::move(name), std::move(help));
  verbs.push_back({command, [options, run] { return run(*options); }});
  return {command, options};
}

// Adds the --json flag every data-printing verb has.
void add_json_flag(CLI::App* command, bool& json);
// Adds the required JOURNAL argument of the verbs that read or write one journal.
void add_journal_arg(CLI::App* command, std::string& journal);

// Every checkpoint in an existing sink database (verb_checkpoints.cpp); journal.not_found or
// journal.corrupt for a missing file or one without checkpoints. Shared with compact.
Result<std::vector<TaskQueueReplicationCheckpoint>> read_checkpoints(const std::string& sinkdb);

}  // namespace hugo::cli
