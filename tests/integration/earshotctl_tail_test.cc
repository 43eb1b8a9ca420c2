// `earshotctl tail` and `earshotctl alerts` against a whole stack with the stream service: the
// demo scenario goes in, and a user following the stream sees every routed conversation once
// (the redelivery dropped), then the warning and the breach of the one left unanswered
// (simulated time), and can resume from the printed cursor.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>

#include "gtest/gtest.h"
#include "services/earshot/demo.h"
#include "services/earshotctl/stream_cmd.h"
#include "services/sla/sla_app.h"
#include "tests/integration/stack.h"
#include "tests/services/earshotctl/captured.h"

namespace earshot {
namespace {

using earshot::testing::Captured;

using earshot::testing::StackOptions;
using earshot::testing::TestStack;
using earshot::testing::WaitFor;

const std::string kRepo = EARSHOT_SOURCE_DIR;
constexpr char kToken[] = "tail-test-token";

std::string StackConfig() {
  const std::string principals = ::testing::TempDir() + "/tail-test-principals.yaml";
  std::ofstream(principals) << "principals:\n  - {name: care, tokens: [{value: " << kToken
                            << "}], scopes: {stream:read: [\"*\"]}}\n";
  return "router: {rules_file: \"" + kRepo + "/config/rules.example.yaml\"}\n" +
         "sla: {policies_file: \"" + kRepo + "/config/demo/sla.yaml\"}\n" +
         "auth: {principals_file: \"" + principals + "\"}\n";
}

int Lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(EarshotctlTailTest, TailShowsTheDemoAndAlertsShowTheBreach) {
  const absl::Time start = absl::Now();
  FakeClock clock(start);
  TestStack stack(StackOptions{StackConfig(), &clock});
  auto* sla = static_cast<sla::SlaApp*>(stack.process().service("sla"));
  ASSERT_TRUE(WaitFor([&] { return sla->OwnedPartitions().size() == 4; }, absl::Seconds(30)));

  auto config = Config::FromYaml(earshot::testing::StackConfig());
  ASSERT_TRUE(config.ok());
  config->set_env_lookup([](const std::string&) { return std::nullopt; });
  auto secrets = replay::SigningSecrets::FromConfig(*config);
  ASSERT_TRUE(secrets.ok());
  DemoOptions options;
  options.scenario = kRepo + "/config/demo/scenario.jsonl";
  options.gateway = replay::Endpoint{"127.0.0.1", stack.http_port()};
  options.delay_scale = 0;
  options.print_hints = false;
  auto demo = Demo::Start(options, *secrets, [&] { return stack.process().Ready(); });
  ASSERT_TRUE(demo.ok()) << demo.status();
  auto summary = (*demo)->Wait(absl::Seconds(60));
  ASSERT_TRUE(summary.ok() && summary->ok());

  Captured out, err;
  const ctl::Io io{out.file(), err.file()};
  ctl::Canceller canceller;
  ctl::StreamArgs args;
  args.connect.addr = "127.0.0.1:" + std::to_string(stack.process().grpc_port());
  args.connect.timeout = absl::Seconds(30);

  // Without a token: refused, with the hint.
  args.from = "earliest";
  args.count = 1;
  EXPECT_EQ(ctl::RunStream(v1::STREAM_TOPIC_ROUTED, args, io, &canceller), ctl::kExitError);
  EXPECT_NE(err.Take().find("UNAUTHENTICATED"), std::string::npos);
  out.Take();

  // Everything from the start: 14 conversations' events (15 webhooks, one a redelivery).
  args.connect.token = kToken;
  args.count = 14;
  ASSERT_EQ(ctl::RunStream(v1::STREAM_TOPIC_ROUTED, args, io, &canceller), ctl::kExitOk)
      << err.Take();
  const std::string tail = out.Take();
  EXPECT_EQ(Lines(tail), 14) << tail;
  EXPECT_EQ(tail.find("Gilt der Frühjahrs-Sale"), tail.rfind("Gilt der Frühjahrs-Sale")) << tail;
  for (const char* expected :
       {"facebook   care-de     high", "x          escalation  high", "#influencer",
        "whatsapp   escalation  urgent", "telegram   care-en     high", "@AcmeSupport (brand)",
        "[ignored]  #spam", "generic    escalation  high"}) {
    EXPECT_NE(tail.find(expected), std::string::npos) << expected << "\n" << tail;
  }
  const std::string cursor_line = err.Take();
  ASSERT_TRUE(cursor_line.starts_with("cursor: ")) << cursor_line;
  const std::string cursor = cursor_line.substr(8, cursor_line.size() - 9);

  // Filters: only the escalation queue, at least urgent.
  args.queues = {"escalation"};
  args.min_priority = "urgent";
  args.count = 2;
  ASSERT_EQ(ctl::RunStream(v1::STREAM_TOPIC_ROUTED, args, io, &canceller), ctl::kExitOk);
  const std::string urgent = out.Take();
  EXPECT_EQ(Lines(urgent), 2) << urgent;
  EXPECT_NE(urgent.find("kündigen"), std::string::npos) << urgent;
  EXPECT_NE(urgent.find("#legal"), std::string::npos) << urgent;
  err.Take();

  // Resuming from the cursor: nothing new yet, so the timeout ends it without output.
  args = ctl::StreamArgs{};
  args.connect.addr = "127.0.0.1:" + std::to_string(stack.process().grpc_port());
  args.connect.token = kToken;
  args.connect.timeout = absl::Seconds(2);
  args.cursor = cursor;
  EXPECT_EQ(ctl::RunStream(v1::STREAM_TOPIC_ROUTED, args, io, &canceller), ctl::kExitOk);
  EXPECT_EQ(out.Take(), "");
  err.Take();

  // The unanswered Telegram question: warning, then breach.
  ASSERT_TRUE(WaitFor([&] { return sla->events_applied() >= 14; }, absl::Seconds(20)));
  clock.Set(start + absl::Seconds(40));
  ASSERT_TRUE(
      WaitFor([&] { return !stack.ReadTopic("earshot.alerts.v1", 1, absl::Seconds(1)).empty(); },
              absl::Seconds(20)));
  clock.Set(start + absl::Seconds(60));
  args = ctl::StreamArgs{};
  args.connect.addr = "127.0.0.1:" + std::to_string(stack.process().grpc_port());
  args.connect.token = kToken;
  args.connect.timeout = absl::Seconds(30);
  args.from = "earliest";
  args.count = 2;
  ASSERT_EQ(ctl::RunStream(v1::STREAM_TOPIC_ALERTS, args, io, &canceller), ctl::kExitOk)
      << err.Take();
  const std::string alerts = out.Take();
  ASSERT_EQ(Lines(alerts), 2) << alerts;
  EXPECT_NE(alerts.find("WARNING     firing    care-en     tg:7000000001:"), std::string::npos)
      << alerts;
  EXPECT_NE(alerts.find("BREACH      firing    care-en     tg:7000000001:"), std::string::npos)
      << alerts;
  EXPECT_NE(alerts.find("policy dm  \"Hi! Is your Hamburg store open this Sunday?"),
            std::string::npos)
      << alerts;
}

TEST(EarshotctlTailTest, MutualTls) {
  const std::string dir = earshot::testing::MakeCertificates("earshotctl-tls");
  // As an operator would: EARSHOT_GRPC_TLS_* in the environment.
  auto config = Config::FromYaml(earshot::testing::StackConfig());
  ASSERT_TRUE(config.ok());
  config->set_env_lookup(earshot::testing::MutualTlsEnv(dir));
  ProcessOptions options;
  const earshot::testing::TestFolder data("earshotctl-tls");
  options.data_dir = data.path();
  Process process(options, std::move(*config));
  ASSERT_TRUE(process.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return process.Ready(); }, absl::Seconds(20)));
  const std::string body = earshot::testing::ReadFixture("meta/wa_text.json");
  http::Client webhooks("127.0.0.1",
                        static_cast<gateway::GatewayApp*>(process.service("gateway"))->http_port());
  auto posted = webhooks.Send(
      "POST", "/webhooks/meta", body,
      {{"Content-Type", "application/json"},
       {"X-Hub-Signature-256", gateway::MetaSignature(body, earshot::testing::kMetaSecret)}});
  ASSERT_TRUE(posted.ok() && posted->status == 200);

  Captured out, err;
  const ctl::Io io{out.file(), err.file()};
  ctl::Canceller canceller;
  ctl::StreamArgs args;
  args.connect.addr = "127.0.0.1:" + std::to_string(process.grpc_port());
  args.connect.timeout = absl::Seconds(20);
  args.from = "earliest";
  args.count = 1;
  args.connect.tls_ca = dir + "/ca.crt";
  args.connect.tls_cert = dir + "/client.crt";
  args.connect.tls_key = dir + "/client.key";
  ASSERT_EQ(ctl::RunStream(v1::STREAM_TOPIC_ROUTED, args, io, &canceller), ctl::kExitOk)
      << err.Take();
  EXPECT_NE(out.Take().find("Thanks, the tracking link works now"), std::string::npos);
  err.Take();

  // TLS without a client certificate, and plain text: refused.
  args.connect.tls_cert.clear();
  args.connect.tls_key.clear();
  args.connect.timeout = absl::Seconds(5);
  EXPECT_EQ(ctl::RunStream(v1::STREAM_TOPIC_ROUTED, args, io, &canceller), ctl::kExitError);
  EXPECT_NE(err.Take().find("earshotctl: UNAVAILABLE"), std::string::npos);
  args.connect.tls_ca.clear();
  EXPECT_EQ(ctl::RunStream(v1::STREAM_TOPIC_ROUTED, args, io, &canceller), ctl::kExitError);
  EXPECT_EQ(out.Take(), "");

  // A certificate without its key is a usage error.
  args.connect.tls_ca = dir + "/ca.crt";
  args.connect.tls_cert = dir + "/client.crt";
  EXPECT_EQ(ctl::RunStream(v1::STREAM_TOPIC_ROUTED, args, io, &canceller), ctl::kExitUsage);
  EXPECT_NE(err.Take().find("--tls-cert and --tls-key go together"), std::string::npos);
}

}  // namespace
}  // namespace earshot
