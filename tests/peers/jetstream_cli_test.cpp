// `hugo-journal follow nats://HOST:PORT/STREAM` and `info` of a stream replica, run as the real
// binary (HUGO_CLI) against a real nats-server.
#include "tests/peers/jetstream_support.hpp"
#include "tests/support/nats_server.hpp"
#include "tests/tools/cli_support.hpp"

namespace peers_jetstream_cli_test {

using namespace hugo;
using namespace hugo::test;
using hugo::test::cli::run_cli;

TEST_SUITE("jetstream") {

TEST_CASE("follow nats:// builds a stream replica that info describes and promote turns into a journal") {
  auto server = NatsServer::start();
  TempDir dir;
  {
    auto writer = must(Journal::open(dir / "owner.journal", fast_options()));
    append_workload(*writer, 40);
  }
  const std::string id = journal_id_of(dir / "owner.journal");
  const std::string stream = default_stream_name(id);
  auto messages = stream_messages(dir / "owner.journal");
  publish_messages(server.url(), stream, stream_subject(id), messages);
  const std::string source = "nats://127.0.0.1:" + std::to_string(server.port()) + "/" + stream;

  auto followed = run_cli({"follow", source, "--into", "replica.journal", "--once"}, dir.path());
  CHECK_MESSAGE(followed.code == 0, followed.err);
  CHECK(followed.err.find("replica.journal is at seq 40") != std::string::npos);
  CHECK(journal_ndjson(dir / "replica.journal") == journal_ndjson(dir / "owner.journal"));

  auto info = run_cli({"info", "replica.journal"}, dir.path());
  REQUIRE(info.code == 0);
  CHECK(info.out.find("stream") != std::string::npos);
  CHECK(info.out.find(stream) != std::string::npos);
  auto json = run_cli({"info", "--json", "replica.journal"}, dir.path());
  REQUIRE(json.code == 0);
  CHECK(json.out.find("\"stream\":\"" + stream + "\",\"streamSeq\":40") != std::string::npos);
  auto owner_info = run_cli({"info", "--json", "owner.journal"}, dir.path());
  CHECK(owner_info.out.find("streamSeq") == std::string::npos);

  // A message that is not the replica's next event (event 2 again, at stream seq 41): exit 6, one
  // line, and the replica stays.
  auto repeat = messages[1];
  set_header(repeat, "Nats-Msg-Id", id + ":41");  // else the server drops it as a duplicate
  publish_messages(server.url(), stream, stream_subject(id), {repeat}, 40);
  auto refused = run_cli({"follow", source, "--into", "replica.journal", "--once"}, dir.path());
  CHECK(refused.code == 6);
  CHECK(cli::is_one_error_line(refused.err));
  CHECK(refused.err.find("replication.diverged") != std::string::npos);
  CHECK(refused.err.find("replica.journal stays at seq 40") != std::string::npos);

  // Usage errors: a source that is not nats://HOST:PORT/STREAM, --creds for an http:// owner.
  CHECK(run_cli({"follow", "nats://127.0.0.1/S", "--into", "x.journal"}, dir.path()).code == 2);
  CHECK(run_cli({"follow", "http://127.0.0.1:1", "--into", "x.journal", "--creds", "c.creds"}, dir.path()).code == 2);
  CHECK(run_cli({"follow", source, "--into", "x.journal", "--token", "t", "--creds", "c.creds"}, dir.path()).code == 2);
  CHECK_FALSE(std::filesystem::exists(dir / "x.journal"));

  // Promotion drops the stream position with the replica role.
  auto promoted = run_cli({"promote", "replica.journal"}, dir.path());
  CHECK_MESSAGE(promoted.code == 0, promoted.err);
  auto after = run_cli({"info", "--json", "replica.journal"}, dir.path());
  CHECK(after.out.find("streamSeq") == std::string::npos);
  CHECK(after.out.find("\"epoch\":2") != std::string::npos);
}

}  // TEST_SUITE

}  // namespace peers_jetstream_cli_test
