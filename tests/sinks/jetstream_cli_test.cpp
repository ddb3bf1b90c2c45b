// `hugo-journal publish` as a real process against a real nats-server: --once publishes what is
// committed and a rerun repeats nothing, SIGTERM stops a running publisher cleanly (exit 0), and
// failures are one stderr line with the documented exit code. Suite jetstream.
#include "sinks/nats_client.hpp"
#include "tests/sinks/jetstream_test_support.hpp"
#include "tests/support/events.hpp"
#include "tests/support/process.hpp"
#include "tests/support/queue_fixture.hpp"
#include "tests/tools/cli_support.hpp"

#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>

#include <doctest/doctest.h>

#include <csignal>

namespace sinks_jetstream_cli_test {

using namespace hugo;
using hugo::test::connect_options;
using hugo::test::must;
using hugo::test::NatsServer;
using hugo::test::cli::is_one_error_line;
using hugo::test::cli::run_cli;

namespace {

std::string make_journal(const std::filesystem::path& path, int count) {
  auto journal = must(Journal::open(path));
  for (int i = 0; i < count; ++i) must(journal->append(test::enqueued("q", "p" + std::to_string(i))));
  std::string id = journal->journal_id();
  must(journal->close());
  return id;
}

// The journal seqs stream `stream` holds, in order (bounded: stops after `expected` or 5 idle seconds).
std::vector<std::string> stream_seqs(const NatsServer& server, const std::string& stream, const std::string& id,
                                     std::size_t expected) {
  auto conn = must(nats::Connection::connect(connect_options(server), "hugo-test-reader"));
  auto reader = must(conn->read(stream, "hugo." + id + ".events", 1));
  std::vector<std::string> seqs;
  while (seqs.size() < expected) {
    auto batch = must(reader->next(1000, std::chrono::milliseconds(5000)));
    if (batch.empty()) break;
    for (const auto& m : batch) seqs.emplace_back(m.header("Hugo-Seq").value_or("?"));
  }
  for (const auto& m : must(reader->next(1000, std::chrono::milliseconds(100)))) {
    seqs.emplace_back(m.header("Hugo-Seq").value_or("?"));
  }
  return seqs;
}

std::vector<std::string> seqs_to(int n) {
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i) out.push_back(std::to_string(i));
  return out;
}

}  // namespace

TEST_SUITE("jetstream") {
  TEST_CASE("publish --once publishes what is committed; a rerun repeats nothing") {
    auto server = NatsServer::start();
    test::TempDir dir;
    const std::string id = make_journal(dir / "j.journal", 12);
    const auto first = run_cli({"publish", "j.journal", "--nats", server.url(), "--once"}, dir.path());
    CAPTURE(first.err);
    REQUIRE(first.code == 0);
    CHECK(first.out == "publishing j.journal to HUGO_" + id + " on " + server.url() + "\n");
    CHECK(first.err.find("up to seq 12") != std::string::npos);
    CHECK(stream_seqs(server, "HUGO_" + id, id, 12) == seqs_to(12));
    const auto again = run_cli({"publish", "j.journal", "--nats", server.url(), "--once", "--stream", "HUGO_" + id},
                               dir.path());
    CHECK(again.code == 0);
    CHECK(stream_seqs(server, "HUGO_" + id, id, 12) == seqs_to(12));
  }

  TEST_CASE("publish runs until SIGTERM and exits 0") {
    auto server = NatsServer::start();
    test::TempDir dir;
    const std::string id = make_journal(dir / "j.journal", 5);
    test::Child child(test::cli::cli_argv({"publish", (dir / "j.journal").string(), "--nats", server.url()}));
    const auto line = child.read_line();
    REQUIRE(line.has_value());
    CHECK(line->rfind("publishing ", 0) == 0);
    CHECK(stream_seqs(server, "HUGO_" + id, id, 5) == seqs_to(5));
    ::kill(child.pid(), SIGTERM);
    CHECK(child.wait() == 0);
  }

  TEST_CASE("publish failures are one stderr line with the documented exit code") {
    test::TempDir dir;
    make_journal(dir / "j.journal", 2);
    std::string gone_url;
    {
      auto gone = NatsServer::start();
      gone_url = gone.url();
      gone.kill();
    }
    const auto unreachable = run_cli({"publish", "j.journal", "--nats", gone_url, "--once"}, dir.path());
    CHECK(unreachable.code == 6);
    CHECK(is_one_error_line(unreachable.err));
    CHECK(unreachable.err.find("replication.unavailable") != std::string::npos);

    const auto both = run_cli({"publish", "j.journal", "--nats", gone_url, "--token", "t", "--creds", "c"}, dir.path());
    CHECK(both.code == 2);
    CHECK(is_one_error_line(both.err));
    const auto missing = run_cli({"publish", "nope.journal", "--nats", gone_url, "--once"}, dir.path());
    CHECK(missing.code == 3);
    CHECK(is_one_error_line(missing.err));
    const auto bad_stream = run_cli({"publish", "j.journal", "--nats", gone_url, "--stream", "a.b"}, dir.path());
    CHECK(bad_stream.code == 2);

    test::NatsServerOptions with_token;
    with_token.token = "s3cret";
    auto guarded = NatsServer::start(with_token);
    const auto refused = run_cli({"publish", "j.journal", "--nats", guarded.url(), "--token", "wrong", "--once"},
                                 dir.path());
    CHECK(refused.code == 6);
    CHECK(refused.err.find("replication.unauthorized") != std::string::npos);
    const auto allowed = run_cli({"publish", "j.journal", "--nats", guarded.url(), "--token", "s3cret", "--once"},
                                 dir.path());
    CHECK(allowed.code == 0);
  }
}

}  // namespace sinks_jetstream_cli_test
