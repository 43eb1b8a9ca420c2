// The stateful runtime's pure parts: which partitions a replica keeps standby copies of, and the
// kafka.exactly_once setting.
#include "services/common/kafka/stateful_runtime.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace earshot::kafka {
namespace {

std::vector<GroupMember> ThreeStaticRouters() {
  // As DescribeConsumerGroups lists them: in no particular order.
  return {{"m-c", "router-2", {2, 5}}, {"m-a", "router-0", {0, 3}}, {"m-b", "router-1", {1, 4}}};
}

TEST(PlanStandbysTest, EachReplicaKeepsThePartitionsOfTheOnesBeforeIt) {
  const auto members = ThreeStaticRouters();
  // Ordered by instance id: router-0, router-1, router-2; one standby each.
  EXPECT_EQ(PlanStandbys(members, "m-b", 1), (std::set<int32_t>{0, 3}));
  EXPECT_EQ(PlanStandbys(members, "m-c", 1), (std::set<int32_t>{1, 4}));
  EXPECT_EQ(PlanStandbys(members, "m-a", 1), (std::set<int32_t>{2, 5}));
  // Every partition has exactly `standbys` keepers other than its owner.
  for (int standbys : {1, 2}) {
    std::map<int32_t, int> keepers;
    for (const auto& m : members) {
      for (int32_t p : PlanStandbys(members, m.member_id, standbys)) {
        EXPECT_EQ(std::count(m.partitions.begin(), m.partitions.end(), p), 0);
        ++keepers[p];
      }
    }
    ASSERT_EQ(keepers.size(), 6u);
    for (const auto& [p, n] : keepers) EXPECT_EQ(n, standbys) << "partition " << p;
  }
  // More standbys than other members: each keeps everything it does not own.
  EXPECT_EQ(PlanStandbys(members, "m-a", 5), (std::set<int32_t>{1, 2, 4, 5}));
}

TEST(PlanStandbysTest, NoneWithoutPeersOrWhenNotAMember) {
  EXPECT_TRUE(PlanStandbys({{"m-a", "", {0, 1, 2}}}, "m-a", 1).empty());
  EXPECT_TRUE(PlanStandbys(ThreeStaticRouters(), "m-gone", 1).empty());
  EXPECT_TRUE(PlanStandbys(ThreeStaticRouters(), "m-a", 0).empty());
  // Dynamic members are ordered by member id.
  std::vector<GroupMember> dynamic = {{"m-2", "", {2}}, {"m-1", "", {1}}};
  EXPECT_EQ(PlanStandbys(dynamic, "m-2", 1), (std::set<int32_t>{1}));
}

TEST(ExactlyOnceSettingTest, AutoTrueFalseAndErrors) {
  EXPECT_FALSE(ExactlyOnceSetting("auto")->has_value());
  EXPECT_EQ(ExactlyOnceSetting("true")->value(), true);
  EXPECT_EQ(ExactlyOnceSetting("false")->value(), false);
  auto bad = ExactlyOnceSetting("yes please");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("kafka.exactly_once"), std::string::npos);
  EXPECT_TRUE(IsMockCluster("mockCluster7f3a9c"));
  EXPECT_FALSE(IsMockCluster("5RCL8ArUSWuxOemgdg87sQ"));
}

}  // namespace
}  // namespace earshot::kafka
