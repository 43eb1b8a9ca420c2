// What Earshot needs of a real cluster's topics, from config and from their described settings.
#include "services/common/kafka/topics.h"

#include "gtest/gtest.h"

namespace earshot::kafka {
namespace {

Config FromYaml(const std::string& yaml) {
  auto config = Config::FromYaml(yaml);
  EXPECT_TRUE(config.ok()) << config.status();
  config->set_env_lookup([](const std::string&) { return std::nullopt; });
  return std::move(*config);
}

TEST(TopicSettingsTest, RecordSizeFollowsTheBodyLimit) {
  const TopicSettings defaults = TopicSettingsFromConfig(FromYaml("{}"));
  EXPECT_EQ(defaults.max_message_bytes, (4 << 20) + (64 << 10));
  EXPECT_EQ(defaults.names, (std::vector<std::string>{
                                "earshot.raw.v1", "earshot.events.v1", "earshot.routed.v1",
                                "earshot.alerts.v1", "earshot.deadletter.v1", "earshot.audit.v1"}));
  const TopicSettings s = TopicSettingsFromConfig(FromYaml(
      "http: {body_limit_bytes: 8388608}\n"
      "kafka: {topics: {events: care.events, create: false, partitions: 24, retention: 3d}}"));
  EXPECT_EQ(s.max_message_bytes, (8 << 20) + (64 << 10));
  EXPECT_EQ(s.names[1], "care.events");
  EXPECT_FALSE(s.create);
  EXPECT_EQ(s.partitions, 24);
  EXPECT_EQ(s.retention, absl::Hours(72));
  EXPECT_EQ(defaults.retention_of.at("earshot.raw.v1"), absl::Hours(7 * 24));
  EXPECT_EQ(defaults.retention_of.at("earshot.deadletter.v1"), absl::Hours(30 * 24));
  EXPECT_EQ(defaults.retention_of.at("earshot.audit.v1"), absl::Hours(3 * 365 * 24));
  EXPECT_FALSE(defaults.retention_of.contains("earshot.events.v1"));
  const TopicSettings raw =
      TopicSettingsFromConfig(FromYaml("kafka: {topics: {raw_retention: 1d}}"));
  EXPECT_EQ(raw.retention_of.at("earshot.raw.v1"), absl::Hours(24));
}

TEST(TopicProblemsTest, NamesTopicsTooSmallOrCompacted) {
  const int64_t need = (4 << 20) + (64 << 10);
  const auto problems = TopicProblems(
      {{"earshot.raw.v1", {{"max.message.bytes", "1048588"}, {"cleanup.policy", "delete"}}},
       {"earshot.events.v1",
        {{"max.message.bytes", std::to_string(need)}, {"cleanup.policy", "compact,delete"}}},
       {"earshot.routed.v1", {{"max.message.bytes", "8388608"}, {"cleanup.policy", "delete"}}}},
      need);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("earshot.events.v1 is compacted"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("earshot.raw.v1 takes records of 1048588 bytes"), std::string::npos)
      << problems[1];
  EXPECT_NE(problems[1].find("max.message.bytes=" + std::to_string(need)), std::string::npos);
}

}  // namespace
}  // namespace earshot::kafka
