// earshotctl's commands against a whole stack on loopback: `thread list|get|resolve` on the
// router's Threads service, and `replay` of a recording file into the gateway.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"
#include "services/earshotctl/replay_cmd.h"
#include "services/earshotctl/thread_cmd.h"
#include "services/router/router_app.h"
#include "tests/integration/stack.h"
#include "tests/services/earshotctl/captured.h"

namespace earshot {
namespace {

using earshot::testing::Captured;

using earshot::testing::ReadFixture;
using earshot::testing::TestStack;
using earshot::testing::WaitFor;

constexpr char kThread[] = "wa:410000000000222:4915112345678";

// A pretty-printed fixture on one line (a recording is one line; JSON allows the spaces).
std::string OneLine(const std::string& fixture) {
  std::string s = ReadFixture(fixture);
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

TEST(EarshotctlIntegrationTest, ThreadListGetResolve) {
  TestStack stack;
  auto* router = static_cast<router::RouterApp*>(stack.process().service("router"));
  ASSERT_EQ(stack.PostMeta(ReadFixture("meta/wa_text.json")).status, 200);
  ASSERT_TRUE(WaitFor([&] { return router->events_applied() >= 1; }, absl::Seconds(20)));

  Captured out, err;
  const ctl::Io io{out.file(), err.file()};
  ctl::ThreadArgs args;
  args.connect.addr = "127.0.0.1:" + std::to_string(stack.process().grpc_port());
  args.connect.timeout = absl::Seconds(10);

  ASSERT_EQ(ctl::RunThread({"list"}, args, io), ctl::kExitOk) << err.Take();
  const std::string list = out.Take();
  EXPECT_NE(list.find(std::string(kThread) + "  awaiting_reply"), std::string::npos) << list;
  EXPECT_NE(list.find("\"Thanks, the tracking link works now\""), std::string::npos) << list;

  ASSERT_EQ(ctl::RunThread({"get", kThread}, args, io), ctl::kExitOk) << err.Take();
  const std::string got = out.Take();
  EXPECT_NE(got.find("platform      whatsapp"), std::string::npos) << got;
  EXPECT_NE(got.find("status        awaiting_reply for"), std::string::npos) << got;

  EXPECT_EQ(ctl::RunThread({"get", "wa:1:2"}, args, io), ctl::kExitError);
  EXPECT_NE(err.Take().find("earshotctl: NOT_FOUND"), std::string::npos);

  args.reason = "answered by phone";
  args.actor = "test";
  ASSERT_EQ(ctl::RunThread({"resolve", kThread}, args, io), ctl::kExitOk) << err.Take();
  EXPECT_NE(out.Take().find("resolved " + std::string(kThread)), std::string::npos);
  ASSERT_TRUE(WaitFor(
      [&] {
        ctl::RunThread({"get", kThread}, args, io);
        return out.Take().find("status        resolved (answered by phone)") != std::string::npos;
      },
      absl::Seconds(20)));
  args.status = "resolved";
  ASSERT_EQ(ctl::RunThread({"list"}, args, io), ctl::kExitOk);
  EXPECT_NE(out.Take().find(std::string(kThread) + "  resolved"), std::string::npos);
}

TEST(EarshotctlIntegrationTest, ReplayAFileIntoTheGateway) {
  TestStack stack;
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/secrets.yaml") << earshot::testing::StackConfig();
  const std::string file = dir + "/recorded.jsonl";
  {
    std::ofstream f(file);
    f << R"({"platform":"meta","body":)" << OneLine("meta/fb_comment.json") << "}\n";
    // Recorded with a stale signature: replay signs anew.
    f << R"({"platform":"x","headers":{"x-twitter-webhooks-signature":"sha256=stale"},"body":)"
      << OneLine("x/mention_reply.json") << "}\n";
    f << R"({"platform":"telegram","body":)" << OneLine("telegram/private_reply.json") << "}\n";
    f << R"({"platform":"generic","source":"reviews","body":)" << OneLine("generic/single.json")
      << "}\n";
    // Not JSON for the gateway: a 400 the summary lists.
    f << R"({"platform":"meta","body":"not json"})"
      << "\n";
  }
  Captured out, err;
  ctl::ReplayArgs args;
  args.gateway = "http://127.0.0.1:" + std::to_string(stack.http_port());
  args.config = dir + "/secrets.yaml";
  args.rate = "100/s";
  args.progress = false;
  ctl::Canceller canceller;
  EXPECT_EQ(ctl::RunReplay({file}, args, ctl::Io{out.file(), err.file()}, &canceller),
            ctl::kExitError);
  const std::string summary = out.Take();
  const std::string errors = err.Take();
  EXPECT_NE(summary.find("replayed 5 of 5 requests"), std::string::npos) << summary;
  EXPECT_NE(summary.find("2xx 4  3xx 0  4xx 1  5xx 0  no answer 0"), std::string::npos) << summary;
  EXPECT_NE(summary.find("events accepted 4"), std::string::npos) << summary;
  EXPECT_NE(errors.find("line 5: 400"), std::string::npos) << errors;
  EXPECT_EQ(stack.ReadTopic("earshot.events.v1", 4).size(), 4u);
}

}  // namespace
}  // namespace earshot
