#include "services/earshotctl/args.h"

#include <cstdlib>

#include "absl/flags/reflection.h"
#include "gtest/gtest.h"

namespace earshot::ctl {
namespace {

// Every earshotctl flag back to its default (absl::FlagSaver would do it too, but logs each).
class ArgsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& [name, flag] : absl::GetAllFlags()) {
      if (flag->Filename().find("earshotctl") == std::string::npos) continue;
      std::string error;
      flag->ParseFrom(flag->DefaultValue(), &error);
    }
  }
};

std::vector<std::string> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "earshotctl");
  auto r = ParseArgs(args);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<std::string>{};
}

TEST_F(ArgsTest, FlagsBeforeAndAfterTheCommandWithDashesOrUnderscores) {
  const auto words =
      Parse({"--addr=10.0.0.1:9090", "tail", "--min-priority", "high", "--from=earliest", "--json",
             "--count=3", "--timeout=30s", "--tls_ca=/ca.pem"});
  EXPECT_EQ(words, std::vector<std::string>({"tail"}));
  const StreamArgs a = StreamFromFlags();
  EXPECT_EQ(a.connect.addr, "10.0.0.1:9090");
  EXPECT_EQ(a.connect.tls_ca, "/ca.pem");
  EXPECT_EQ(a.connect.timeout, absl::Seconds(30));
  EXPECT_EQ(a.min_priority, "high");
  EXPECT_EQ(a.from, "earliest");
  EXPECT_TRUE(a.json);
  EXPECT_EQ(a.count, 3);
}

TEST_F(ArgsTest, ListFlagsRepeatOrTakeCommas) {
  Parse({"tail", "--queue=care-de", "--queue", "care-en,escalation", "--platform=x",
         "--platform=telegram"});
  const StreamArgs a = StreamFromFlags();
  EXPECT_EQ(a.queues, std::vector<std::string>({"care-de", "care-en", "escalation"}));
  EXPECT_EQ(a.platforms, std::vector<std::string>({"x", "telegram"}));
  EXPECT_TRUE(a.kinds.empty());
}

TEST_F(ArgsTest, TokenDefaultsToTheEnvironment) {
  setenv("EARSHOT_TOKEN", "from-env", 1);
  Parse({"tail"});
  EXPECT_EQ(ConnectFromFlags().token, "from-env");
  Parse({"tail", "--token=from-flag"});
  EXPECT_EQ(ConnectFromFlags().token, "from-flag");
  unsetenv("EARSHOT_TOKEN");
}

TEST_F(ArgsTest, ReplayAndThreadFlags) {
  const auto words = Parse({"replay", "--no-progress", "--rate=50/s", "--concurrency=8",
                            "--keep-signatures", "f.jsonl", "--gateway", "http://gw:8080"});
  EXPECT_EQ(words, std::vector<std::string>({"replay", "f.jsonl"}));
  const ReplayArgs r = ReplayFromFlags();
  EXPECT_FALSE(r.progress);
  EXPECT_EQ(r.rate, "50/s");
  EXPECT_EQ(r.concurrency, 8);
  EXPECT_TRUE(r.keep_signatures);
  EXPECT_EQ(r.gateway, "http://gw:8080");

  Parse({"thread", "resolve", "k", "--reason=spam", "--actor=ana", "--page-size=5"});
  const ThreadArgs t = ThreadFromFlags();
  EXPECT_EQ(t.reason, "spam");
  EXPECT_EQ(t.actor, "ana");
  EXPECT_EQ(t.page_size, 5);
}

TEST_F(ArgsTest, HelpAndDoubleDash) {
  EXPECT_EQ(Parse({"tail", "--help"})[0], "help");
  EXPECT_EQ(Parse({"replay", "--", "--weird-file-name"}),
            std::vector<std::string>({"replay", "--weird-file-name"}));
}

TEST_F(ArgsTest, UsageErrors) {
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"earshotctl", "--nope"},
        std::vector<std::string>{"earshotctl", "tail", "--count=many"},
        std::vector<std::string>{"earshotctl", "tail", "--count"},
        std::vector<std::string>{"earshotctl", "tail", "--timeout=soon"},
        std::vector<std::string>{"earshotctl", "--nojson=1"},
        // Abseil's own flags are not earshotctl's.
        std::vector<std::string>{"earshotctl", "--flagfile=/etc/passwd"}}) {
    auto r = ParseArgs(bad);
    EXPECT_FALSE(r.ok()) << bad.back();
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace earshot::ctl
