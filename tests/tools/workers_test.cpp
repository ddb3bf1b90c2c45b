// Remote workers as processes (docs/WORKERS.md): `hugo-journal serve --queue` and `hugo-journal
// work` SIGKILLed at the worst moments, checked through the journal they leave behind.
#include <doctest/doctest.h>

#include "tests/tools/cli_support.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <hugo/journal.hpp>
#include <hugo/remote_queue.hpp>

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <thread>

using namespace hugo;
using namespace hugo::test::cli;
using hugo::test::Child;
using hugo::test::TempDir;

namespace {

constexpr const char* kToken = "worker-secret";

template <class T>
T ok_or_fail(Result<T> r) {
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().to_string()));
  return std::move(r).value();
}

// `hugo-journal serve JOURNAL --queue jobs` on `listen`; the child and its URL.
std::pair<std::unique_ptr<Child>, std::string> serve(const std::filesystem::path& journal, const std::string& listen,
                                                     const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{cli_binary(), "serve", journal.string(), "--listen", listen,
                                "--queue",    "jobs",  "--write-token", kToken};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto child = std::make_unique<Child>(argv);
  const auto line = child->read_line();
  REQUIRE(line.has_value());
  const std::size_t at = line->find(" on http://");
  REQUIRE(at != std::string::npos);
  return {std::move(child), line->substr(at + 4)};
}

std::unique_ptr<RemoteTaskQueue> client(const std::string& url) {
  RemoteTaskQueueOptions o;
  o.url = url;
  o.queue = "jobs";
  o.token = kToken;
  o.retries = 20;
  return ok_or_fail(RemoteTaskQueue::open(o));
}

bool eventually(const std::function<bool()>& done, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

std::vector<Event> journal_events(const std::filesystem::path& path) {
  auto reader = ok_or_fail(JournalReader::open(path));
  std::vector<Event> all;
  std::int64_t after = 0;
  while (true) {
    auto batch = ok_or_fail(reader->read(after, 4096));
    if (batch.empty()) return all;
    after = batch.back().seq;
    for (auto& e : batch) all.push_back(std::move(e));
  }
}

std::set<std::string> lines_of(const std::filesystem::path& path) {
  std::set<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.insert(line);
  }
  return lines;
}

TEST_CASE("work: a SIGKILLed worker's task comes back after its lease expires, with attempt + 1") {
  TempDir dir;
  const auto journal = dir / "jobs.journal";
  auto [server, url] = serve(journal, "127.0.0.1:0", {"--lease-seconds", "1", "--durability", "process"});
  auto jobs = client(url);
  const auto task = ok_or_fail(jobs->enqueue("the payload"));
  const std::string started = (dir / "started").string();
  // The first command records its pid and never ends; the worker is SIGKILLed while it runs.
  Child hung({cli_binary(), "work", url, "--queue", "jobs", "--token", kToken, "--", "sh", "-c",
              "cat > /dev/null; echo $$ > " + started + "; exec sleep 120"});
  REQUIRE(eventually([&] { return !lines_of(started).empty(); }));
  hung.kill_hard();
  CHECK(hung.wait() == 128 + SIGKILL);
  ::kill(std::stoi(*lines_of(started).begin()), SIGKILL);  // its command, orphaned

  const std::string got = (dir / "got").string();
  Child healthy({cli_binary(), "work", url, "--queue", "jobs", "--token", kToken, "--", "sh", "-c",
                 "cat > " + got + ".tmp && mv " + got + ".tmp " + got});
  REQUIRE(eventually([&] {
    auto counts = jobs->counts();
    return counts.ok() && counts->pending == 0 && counts->leased == 0 && !lines_of(got).empty();
  }));
  CHECK(*lines_of(got).begin() == "the payload");
  ::kill(healthy.pid(), SIGTERM);
  CHECK(healthy.wait() == 0);  // SIGTERM: stops leasing, exits 0
  ::kill(server->pid(), SIGTERM);
  CHECK(server->wait() == 0);

  std::vector<EventKind> kinds;
  std::int32_t completed_attempt = 0;
  for (const Event& e : journal_events(journal)) {
    if (e.task_id != task) continue;
    kinds.push_back(e.kind);
    if (e.kind == EventKind::Completed) completed_attempt = e.attempt;
  }
  CHECK(kinds == std::vector<EventKind>{EventKind::Enqueued, EventKind::LeaseGranted, EventKind::LeaseExpired,
                                        EventKind::Requeued, EventKind::LeaseGranted, EventKind::Completed});
  CHECK(completed_attempt == 2);
}

TEST_CASE("work: a SIGKILLed server restarts under long-polling workers, and nothing acknowledged is lost") {
  TempDir dir;
  const auto journal = dir / "jobs.journal";
  // Short leases: a task in flight when the server dies comes back soon after the restart.
  auto [server, url] = serve(journal, "127.0.0.1:0", {"--lease-seconds", "2"});
  const std::string port = url.substr(url.rfind(':') + 1);
  const std::string done = (dir / "done.txt").string();
  // One echo per task: one write under O_APPEND, so concurrent commands never interleave lines.
  Child worker({cli_binary(), "work", url, "--queue", "jobs", "--token", kToken, "--concurrency", "3", "--", "sh",
                "-c", "p=$(cat); echo \"$p\" >> " + done});
  std::set<std::string> acknowledged;
  auto jobs = client(url);
  for (int i = 0; i < 30; ++i) {
    const std::string payload = "before-" + std::to_string(i);
    ok_or_fail(jobs->enqueue_keyed(payload, payload));
    acknowledged.insert(payload);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the workers park their long polls
  server->kill_hard();
  CHECK(server->wait() == 128 + SIGKILL);
  auto [restarted, url2] = serve(journal, "127.0.0.1:" + port, {"--lease-seconds", "2"});
  CHECK(url2 == url);
  for (int i = 0; i < 30; ++i) {
    const std::string payload = "after-" + std::to_string(i);
    ok_or_fail(jobs->enqueue_keyed(payload, payload));
    acknowledged.insert(payload);
  }
  REQUIRE(eventually([&] { return lines_of(done) == acknowledged; }));
  REQUIRE(eventually([&] {
    auto counts = jobs->counts();
    return counts.ok() && counts->pending == 0 && counts->leased == 0;
  }));
  ::kill(worker.pid(), SIGTERM);
  CHECK(worker.wait() == 0);  // it rode out the restart instead of exiting
  ::kill(restarted->pid(), SIGTERM);
  CHECK(restarted->wait() == 0);

  // In the journal, every acknowledged task is completed exactly once.
  std::map<std::int64_t, std::string> payload_of;
  std::map<std::int64_t, int> completions;
  for (const Event& e : journal_events(journal)) {
    if (e.kind == EventKind::Enqueued && e.payload) payload_of[e.task_id] = *e.payload;
    if (e.kind == EventKind::Completed) completions[e.task_id]++;
  }
  std::set<std::string> completed;
  for (const auto& [task, count] : completions) {
    CHECK(count == 1);
    completed.insert(payload_of[task]);
  }
  CHECK(completed == acknowledged);
}

TEST_CASE("enqueue and work report a bad queue, a read-only token and a missing command on one line") {
  TempDir dir;
  auto [server, url] = serve(dir / "jobs.journal", "127.0.0.1:0", {"--token", "reader"});
  const Run unknown = run_cli({"enqueue", url, "--queue", "nope", "--token", kToken, "x"}, dir.path());
  CHECK(unknown.code == 2);
  CHECK(unknown.err.find("queue.unknown") != std::string::npos);
  const Run reader = run_cli({"enqueue", url, "--queue", "jobs", "--token", "reader", "x"}, dir.path());
  CHECK(reader.code == 6);
  CHECK(reader.err.find("replication.unauthorized") != std::string::npos);
  const Run keyed = run_cli({"enqueue", url, "--queue", "jobs", "--token", kToken, "--key", "k", "--json", "x"}, dir.path());
  CHECK(keyed.code == 0);
  CHECK(keyed.out.find("\"duplicate\":false") != std::string::npos);
  const Run again = run_cli({"enqueue", url, "--queue", "jobs", "--token", kToken, "--key", "k", "--json", "x"}, dir.path());
  CHECK(again.out.find("\"duplicate\":true") != std::string::npos);
  const Run no_command = run_cli({"work", url, "--queue", "jobs", "--token", kToken}, dir.path());
  CHECK(no_command.code == 2);
  const Run no_token = run_cli({"serve", (dir / "other.journal").string(), "--listen", "127.0.0.1:0", "--queue", "jobs"},
                               dir.path());
  CHECK(no_token.code == 6);
  CHECK(no_token.err.find("replication.token_required") != std::string::npos);
  ::kill(server->pid(), SIGTERM);
  CHECK(server->wait() == 0);
}

}  // namespace
