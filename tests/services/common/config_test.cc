#include "services/common/base/config.h"

#include <cstdio>
#include <fstream>
#include <map>

#include "gtest/gtest.h"

namespace earshot {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  Config Load(std::string_view yaml) {
    auto c = Config::FromYaml(yaml);
    EXPECT_TRUE(c.ok()) << c.status();
    c->set_env_lookup([this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    });
    return *std::move(c);
  }
  std::map<std::string, std::string> env_;
};

TEST_F(ConfigTest, YamlValueThenEnvironmentOverride) {
  Config c = Load("http:\n  addr: 127.0.0.1:1234\nkafka:\n  bootstrap: a:1\n");
  EXPECT_EQ(c.GetString("http.addr"), "127.0.0.1:1234");
  env_["EARSHOT_HTTP_ADDR"] = "0.0.0.0:9";
  EXPECT_EQ(c.GetString("http.addr"), "0.0.0.0:9");
  EXPECT_EQ(c.GetString("missing.key", "dflt"), "dflt");
}

TEST_F(ConfigTest, SetDefaultNeverOverridesFileOrEnvironment) {
  Config c = Load("kafka:\n  linger: 2ms\n");
  c.SetDefault("kafka.fetch_wait", "5ms");        // new key under an existing map
  c.SetDefault("kafka.linger", "9ms");            // the file's value stays
  c.SetDefault("stream.deep.fetch_wait", "7ms");  // new maps
  env_["EARSHOT_STREAM_HEARTBEAT"] = "3s";
  c.SetDefault("stream.heartbeat", "1s");  // the environment's value stays
  EXPECT_EQ(c.GetDuration("kafka.fetch_wait", absl::ZeroDuration()), absl::Milliseconds(5));
  EXPECT_EQ(c.GetDuration("kafka.linger", absl::ZeroDuration()), absl::Milliseconds(2));
  EXPECT_EQ(c.GetString("stream.deep.fetch_wait"), "7ms");
  EXPECT_EQ(c.GetString("stream.heartbeat"), "3s");
  env_.clear();
  EXPECT_FALSE(c.Has("stream.heartbeat")) << "SetDefault wrote over an environment value";
}

TEST_F(ConfigTest, SecretFromFileWithoutTrailingNewline) {
  const std::string path = ::testing::TempDir() + "/secret.txt";
  std::ofstream(path) << "s3cr3t\n";
  Config c = Load("");
  env_["EARSHOT_META_APP_SECRET_FILE"] = path;
  EXPECT_EQ(c.GetString("meta.app_secret"), "s3cr3t");
  env_["EARSHOT_META_APP_SECRET"] = "direct";
  EXPECT_EQ(c.GetString("meta.app_secret"), "direct");
}

TEST_F(ConfigTest, UnreadableSecretFileIsAnError) {
  Config c = Load("");
  env_["EARSHOT_X_CONSUMER_SECRET_FILE"] = "/nonexistent/secret";
  EXPECT_EQ(c.GetString("x.consumer_secret"), "");
  EXPECT_FALSE(c.status().ok());
  EXPECT_NE(c.status().message().find("EARSHOT_X_CONSUMER_SECRET_FILE"), absl::string_view::npos);
}

TEST_F(ConfigTest, ListsFromCommaStringsAndSequences) {
  Config c = Load("meta:\n  app_secret: [old, new]\n");
  EXPECT_EQ(c.GetList("meta.app_secret"), (std::vector<std::string>{"old", "new"}));
  env_["EARSHOT_META_APP_SECRET"] = "a, b,,c";
  EXPECT_EQ(c.GetList("meta.app_secret"), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(ConfigTest, IntListsRecordTheItemsThatAreNotIntegers) {
  Config c = Load("http:\n  cpu_affinity: [0, 1]\n");
  EXPECT_EQ(c.GetIntList("http.cpu_affinity"), (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(c.status().ok());
  env_["EARSHOT_HTTP_CPU_AFFINITY"] = "1,x";
  EXPECT_EQ(c.GetIntList("http.cpu_affinity"), (std::vector<int64_t>{1}));
  EXPECT_NE(c.status().message().find("http.cpu_affinity: \"x\" is not an integer"),
            absl::string_view::npos)
      << c.status();
}

TEST_F(ConfigTest, TypedValuesAndErrorsReportedTogether) {
  Config c = Load("a: 12\nb: 1.5\nc: true\nd: 250ms\ne: 7d\nf: nope\ng: soon\n");
  EXPECT_EQ(c.GetInt("a", 0), 12);
  EXPECT_DOUBLE_EQ(c.GetDouble("b", 0), 1.5);
  EXPECT_TRUE(c.GetBool("c", false));
  EXPECT_EQ(c.GetDuration("d", absl::ZeroDuration()), absl::Milliseconds(250));
  EXPECT_EQ(c.GetDuration("e", absl::ZeroDuration()), absl::Hours(168));
  EXPECT_TRUE(c.status().ok());
  EXPECT_EQ(c.GetInt("f", 3), 3);
  EXPECT_EQ(c.GetDuration("g", absl::Seconds(1)), absl::Seconds(1));
  const std::string msg(c.status().message());
  EXPECT_NE(msg.find("f: \"nope\" is not an integer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("g: \"soon\" is not a duration"), std::string::npos) << msg;
}

TEST_F(ConfigTest, ChildKeysAndNestedOverrides) {
  Config c =
      Load("generic:\n  sources:\n    blog:\n      secret: x\n    reviews:\n      secret: y\n");
  EXPECT_EQ(c.ChildKeys("generic.sources"), (std::vector<std::string>{"blog", "reviews"}));
  env_["EARSHOT_GENERIC_SOURCES_BLOG_SECRET"] = "z";
  EXPECT_EQ(c.GetString("generic.sources.blog.secret"), "z");
  // Reading keys does not change the tree.
  EXPECT_EQ(c.GetString("generic.sources.reviews.secret"), "y");
  EXPECT_EQ(c.ChildKeys("generic.sources").size(), 2u);
}

TEST(ConfigFileTest, BadYamlNamesTheLine) {
  const std::string path = ::testing::TempDir() + "/bad.yaml";
  std::ofstream(path) << "a: 1\nb: [unclosed\n";
  auto c = Config::LoadFile(path);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("bad.yaml:"), absl::string_view::npos) << c.status();
  EXPECT_EQ(Config::LoadFile("/nonexistent.yaml").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace earshot
