// The SLA monitor end to end: webhooks through gateway and router into the monitor, alerts read
// back from earshot.alerts.v1 in simulated time; a restart with open clocks; and a real
// Alertmanager from Debian's package on loopback.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "earshot/v1/alert.pb.h"
#include "gtest/gtest.h"
#include "services/common/kafka/embedded_broker.h"
#include "services/common/kafka/producer.h"
#include "services/router/router_app.h"
#include "services/sla/sla_app.h"
#include "tests/integration/stack.h"
#include "tests/support/earshot_child.h"
#include "tests/support/routed_events.h"

namespace earshot {
namespace {

using earshot::testing::ReadFixture;
using earshot::testing::StackOptions;
using earshot::testing::TestFolder;
using earshot::testing::TestStack;
using earshot::testing::WaitFor;
using earshot::v1::Alert;

constexpr int64_t kCustomerWrote = 1741173000;  // meta/wa_text.json's timestamp
constexpr char kThread[] = "wa:410000000000222:4915112345678";

std::string PoliciesFile(const std::string& yaml) {
  static int n = 0;
  // Rewritten by every run: the same few names each time.
  const std::string path = ::testing::TempDir() + "/sla-policies-" + std::to_string(n++) + ".yaml";
  std::ofstream(path) << yaml;
  return path;
}

std::string SlaConfig(const std::string& policies_yaml, const std::string& more = "") {
  return "sla: {policies_file: \"" + PoliciesFile(policies_yaml) + "\", horizon: 60s}\n" + more;
}

constexpr char kHourPolicy[] = R"(
policies:
  default: {first_response: 1h, next_response: 1h, warn_at: 75%, escalate_after: 30m}
)";

sla::SlaApp* Sla(TestStack& stack) {
  return static_cast<sla::SlaApp*>(stack.process().service("sla"));
}

std::vector<Alert> Alerts(TestStack& stack, size_t want) {
  std::vector<Alert> out;
  for (const auto& m : stack.ReadTopic("earshot.alerts.v1", want)) {
    Alert a;
    EXPECT_TRUE(a.ParseFromString(m.value));
    out.push_back(std::move(a));
  }
  return out;
}

// The WhatsApp fixtures with their timestamps moved to `at`.
std::string AtTime(std::string body, int64_t from, int64_t at) {
  return std::regex_replace(body, std::regex(std::to_string(from)), std::to_string(at));
}

TEST(SlaIntegrationTest, AlertsFireAtDeadlinesAndResolveOnAnswer) {
  FakeClock clock(absl::FromUnixSeconds(kCustomerWrote + 60));
  TestStack stack(StackOptions{SlaConfig(kHourPolicy), &clock});
  ASSERT_TRUE(
      WaitFor([&] { return Sla(stack)->OwnedPartitions().size() == 4; }, absl::Seconds(30)));
  ASSERT_EQ(stack.PostMeta(ReadFixture("meta/wa_text.json")).status, 200);
  ASSERT_TRUE(WaitFor([&] { return Sla(stack)->events_applied() >= 1; }, absl::Seconds(20)));
  EXPECT_EQ(stack.ReadTopic("earshot.alerts.v1", 0, absl::Seconds(1)).size(), 0u);

  clock.Set(absl::FromUnixSeconds(kCustomerWrote) + absl::Minutes(45));
  auto alerts = Alerts(stack, 1);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].name(), "ResponseTimeWarning");
  EXPECT_EQ(alerts[0].thread_key(), kThread);
  EXPECT_EQ(alerts[0].platform(), earshot::v1::PLATFORM_WHATSAPP);
  EXPECT_EQ(alerts[0].policy(), "default");
  EXPECT_EQ(alerts[0].deadline().seconds(), kCustomerWrote + 3600);
  EXPECT_EQ(alerts[0].excerpt(), "Thanks, the tracking link works now");

  clock.Set(absl::FromUnixSeconds(kCustomerWrote) + absl::Minutes(61));
  alerts = Alerts(stack, 2);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].name(), "ResponseTimeBreached");
  EXPECT_EQ(alerts[1].state(), earshot::v1::ALERT_STATE_FIRING);
  EXPECT_EQ(alerts[1].waited().seconds(), 61 * 60);

  // The brand answers at minute 62 (WhatsApp reports the read receipt of its message): both
  // alerts resolve, and the response time counts as breached.
  ASSERT_EQ(stack
                .PostMeta(AtTime(ReadFixture("meta/wa_status_read.json"), 1741173055,
                                 kCustomerWrote + 62 * 60))
                .status,
            200);
  alerts = Alerts(stack, 4);
  ASSERT_EQ(alerts.size(), 4u);
  EXPECT_EQ(alerts[2].state(), earshot::v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(alerts[3].state(), earshot::v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(alerts[3].alert_id(), alerts[1].alert_id());

  ASSERT_TRUE(WaitFor(
      [&] {
        return stack.Metrics().find(
                   "earshot_sla_answered_total{queue=\"general\",result=\"breached\"} 1") !=
               std::string::npos;
      },
      absl::Seconds(10)))
      << stack.Metrics();
  EXPECT_NE(stack.Metrics().find("earshot_sla_first_response_seconds_count{queue=\"general\"} 1"),
            std::string::npos);
}

TEST(SlaIntegrationTest, DeadlinesMissedWhileDownFireOnceAfterRestart) {
  const testing::LastingKafka kafka;
  FakeClock clock(absl::FromUnixSeconds(kCustomerWrote + 60));
  const TestFolder data("sla-restart");
  StackOptions options{SlaConfig(kHourPolicy), &clock, kafka.bootstrap, data.path()};
  {
    TestStack first(options);
    ASSERT_TRUE(
        WaitFor([&] { return Sla(first)->OwnedPartitions().size() == 4; }, absl::Seconds(30)));
    ASSERT_EQ(first.PostMeta(ReadFixture("meta/wa_text.json")).status, 200);
    ASSERT_TRUE(WaitFor([&] { return Sla(first)->events_applied() >= 1; }, absl::Seconds(20)));
  }  // stopped with the clock open

  clock.Set(absl::FromUnixSeconds(kCustomerWrote) + absl::Hours(2));  // past every level
  {
    TestStack second(options);
    auto alerts = Alerts(second, 1);
    ASSERT_EQ(alerts.size(), 1u) << "exactly one alert for the missed deadlines";
    EXPECT_EQ(alerts[0].name(), "ResponseTimeEscalated");
    EXPECT_EQ(alerts[0].state(), earshot::v1::ALERT_STATE_FIRING);
  }
  {
    TestStack third(options);  // and nothing fires twice
    ASSERT_TRUE(
        WaitFor([&] { return Sla(third)->OwnedPartitions().size() == 4; }, absl::Seconds(30)));
    absl::SleepFor(absl::Seconds(1));
    EXPECT_EQ(third.ReadTopic("earshot.alerts.v1", 2, absl::Seconds(2)).size(), 1u);
  }
}

// The brand answers while the monitor is down, before the deadline; when the monitor comes back
// the deadline has passed and the answer waits among the routed events written meanwhile. The
// monitor applies those before it fires anything: no alert (and no resolution) for a
// conversation answered in time. It used to fire the missed level at once, ahead of the
// answer, and resolve it a batch later (sla_kill_test found it after SIGKILLs on Kafka).
TEST(SlaIntegrationTest, NothingFiresAfterARestartForAConversationAnsweredWhileDown) {
  const testing::LastingKafka kafka;
  FakeClock clock(absl::FromUnixSeconds(kCustomerWrote + 60));
  const TestFolder data("sla-answered-while-down");
  const StackOptions options{SlaConfig(kHourPolicy), &clock, kafka.bootstrap, data.path()};
  const absl::Time wrote = absl::FromUnixSeconds(kCustomerWrote);
  const auto waiting =
      testing::CustomerMessage(kThread, "wa:answered-while-down", earshot::v1::PLATFORM_WHATSAPP,
                               {"general", earshot::v1::PRIORITY_NORMAL, ""}, wrote, wrote);
  auto write = [&](const earshot::v1::RoutedEvent& routed) {
    kafka::ProducerOptions po;
    po.bootstrap = kafka.bootstrap;
    auto producer = kafka::Producer::Create(po, nullptr);
    ASSERT_TRUE(producer.ok()) << producer.status();
    ASSERT_TRUE(
        kafka::ProduceAndWait(**producer, {router::RoutedRecord(routed, "earshot.routed.v1")})
            .ok());
  };
  {
    TestStack first(options);
    ASSERT_TRUE(
        WaitFor([&] { return Sla(first)->OwnedPartitions().size() == 4; }, absl::Seconds(30)));
    write(waiting);
    ASSERT_TRUE(WaitFor([&] { return Sla(first)->events_applied() >= 1; }, absl::Seconds(20)));
  }  // stopped with the clock open
  // Answered half an hour into the wait, while the monitor is down; it comes back past every
  // level's due time.
  write(testing::BrandAnswer(waiting, "wa:answer", wrote + absl::Minutes(30)));
  clock.Set(wrote + absl::Hours(2));
  TestStack second(options);
  ASSERT_TRUE(WaitFor([&] { return Sla(second)->events_applied() >= 1; }, absl::Seconds(30)));
  EXPECT_EQ(second.ReadTopic("earshot.alerts.v1", 1, absl::Seconds(2)).size(), 0u)
      << "an alert for a conversation answered before its deadline";
  EXPECT_NE(second.Metrics().find(
                "earshot_sla_answered_total{queue=\"general\",result=\"within_target\"} 1"),
            std::string::npos)
      << second.Metrics();
}

// The environment of stacks that are replicas of one deployment: the same consumer groups,
// hence the same changelogs (on the embedded broker, the default groups already are; a real
// Kafka outlives one test, so each test's groups are its own).
std::map<std::string, std::string> ReplicaGroups() {
  if (!testing::TestKafka::Real()) return {};
  return {{"EARSHOT_ROUTER_GROUP_ID", testing::TestKafka::UniqueName("earshot-router")},
          {"EARSHOT_SLA_GROUP_ID", testing::TestKafka::UniqueName("earshot-sla")}};
}

// A replica with no copy of the state (another pod, an empty volume) takes over: it restores the
// clocks from the changelog instead of reading the routed events again, fires the missed
// deadline once, and a third replica fires nothing again.
TEST(SlaIntegrationTest, AReplicaWithoutACopyTakesOverTheClocksFromTheChangelog) {
  const testing::LastingKafka kafka;
  FakeClock clock(absl::FromUnixSeconds(kCustomerWrote + 60));
  const TestFolder first_data("sla-first");
  const TestFolder second_data("sla-second");
  const TestFolder third_data("sla-third");
  const auto groups = ReplicaGroups();
  auto options = [&](const TestFolder& data) {
    StackOptions o{SlaConfig(kHourPolicy), &clock, kafka.bootstrap, data.path()};
    o.env = groups;
    return o;
  };
  {
    TestStack first(options(first_data));
    ASSERT_TRUE(
        WaitFor([&] { return Sla(first)->OwnedPartitions().size() == 4; }, absl::Seconds(30)));
    ASSERT_EQ(first.PostMeta(ReadFixture("meta/wa_text.json")).status, 200);
    ASSERT_TRUE(WaitFor([&] { return Sla(first)->events_applied() >= 1; }, absl::Seconds(20)));
  }  // gone, with the clock open

  clock.Set(absl::FromUnixSeconds(kCustomerWrote) + absl::Hours(2));  // past every level
  {
    TestStack second(options(second_data));
    auto alerts = Alerts(second, 1);
    ASSERT_EQ(alerts.size(), 1u) << "exactly one alert for the missed deadlines";
    EXPECT_EQ(alerts[0].name(), "ResponseTimeEscalated");
    EXPECT_EQ(alerts[0].thread_key(), kThread);
    const std::string metrics = second.Metrics();
    EXPECT_EQ(Sla(second)->events_applied(), 0)
        << "the new replica read routed events its predecessor had applied";
    EXPECT_NE(metrics.find("earshot_sla_state_restores_total{reason=\"no_local_copy\"}"),
              std::string::npos)
        << metrics;
    EXPECT_EQ(metrics.find("earshot_sla_first_response_seconds_count{queue=\"general\"} 1"),
              std::string::npos)
        << "a response counted again";
  }
  {
    TestStack third(options(third_data));
    ASSERT_TRUE(
        WaitFor([&] { return Sla(third)->OwnedPartitions().size() == 4; }, absl::Seconds(30)));
    absl::SleepFor(absl::Seconds(1));
    EXPECT_EQ(third.ReadTopic("earshot.alerts.v1", 2, absl::Seconds(2)).size(), 1u)
        << "an alert fired twice";
  }
}

double Metric(TestStack& stack, const std::string& name) {
  return testing::MetricSum(stack.Metrics(), name);
}

// A customer message on a WhatsApp conversation of its own (sender and message id from `n`).
std::string WhatsAppFrom(int n) {
  std::string body = ReadFixture("meta/wa_text.json");
  body = std::regex_replace(body, std::regex("4915112345678"), std::to_string(4915100000000 + n));
  return std::regex_replace(body, std::regex("RVhBTVBMRV9JTkJPVU5EXzAwMDE="),
                            "surge-" + std::to_string(n));
}

// Surges are about all of a channel's messages, which two replicas split between them: one
// replica (the owner of partition 0) counts every partition's, fires once, and its successor
// goes on from its checkpoint.
TEST(SlaIntegrationTest, ASurgeSplitOverReplicasIsCountedWholeAndFiresOnce) {
  const testing::LastingKafka kafka;
  FakeClock clock(absl::FromUnixSeconds(kCustomerWrote + 60));
  const TestFolder first_data("sla-watch-first");
  const TestFolder second_data("sla-watch-second");
  const auto groups = ReplicaGroups();
  constexpr int kSurge = 16;
  const std::string config =
      "sla: {policies_file: \"" + PoliciesFile(kHourPolicy) +
      "\", horizon: 60s, surge: {window: 1m, factor: 2, min_count: " + std::to_string(kSurge) +
      "}, silence: {min_events: 1000000}}\n";
  auto options = [&](const TestFolder& data) {
    StackOptions o{config, &clock, kafka.bootstrap, data.path()};
    o.env = groups;
    o.ready_timeout = absl::Seconds(60);  // the second joins the first's group
    return o;
  };
  auto first = std::make_unique<TestStack>(options(first_data));
  ASSERT_TRUE(
      WaitFor([&] { return Sla(*first)->OwnedPartitions().size() == 4; }, absl::Seconds(30)));
  auto second = std::make_unique<TestStack>(options(second_data));
  ASSERT_TRUE(WaitFor(
      [&] {
        return Sla(*first)->OwnedPartitions().size() == 2 &&
               Sla(*second)->OwnedPartitions().size() == 2;
      },
      absl::Seconds(60)))
      << "the two replicas did not split the partitions";
  auto watched = [&] {
    return Metric(*first, "earshot_sla_channel_watch_events_total") +
           Metric(*second, "earshot_sla_channel_watch_events_total");
  };
  // The usual rate: one message in the first minute.
  ASSERT_EQ(first->PostMeta(WhatsAppFrom(0)).status, 200);
  ASSERT_TRUE(WaitFor([&] { return watched() >= 1; }, absl::Seconds(30)));
  clock.Advance(absl::Seconds(61));
  // The crisis: kSurge conversations, spread over both replicas' partitions.
  for (int n = 1; n <= kSurge; ++n) ASSERT_EQ(first->PostMeta(WhatsAppFrom(n)).status, 200);
  auto alerts = Alerts(*first, 1);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].name(), "MentionSurge");
  EXPECT_EQ(alerts[0].state(), earshot::v1::ALERT_STATE_FIRING);
  EXPECT_EQ(alerts[0].details().at("mentions_in_window"), std::to_string(kSurge))
      << "the surge was counted over one replica's partitions only";
  EXPECT_GT(Sla(*first)->events_applied(), 0);
  EXPECT_GT(Sla(*second)->events_applied(), 0);

  // The replica with the watch leaves; the other takes partition 0 and its checkpoint.
  const bool first_watched = Metric(*first, "earshot_sla_channel_watch_leader") == 1;
  std::unique_ptr<TestStack>& stays = first_watched ? second : first;
  (first_watched ? first : second).reset();
  ASSERT_TRUE(WaitFor(
      [&] {
        return Sla(*stays)->OwnedPartitions().size() == 4 &&
               Metric(*stays, "earshot_sla_channel_watch_leader") == 1;
      },
      absl::Seconds(60)));
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(stays->ReadTopic("earshot.alerts.v1", 2, absl::Seconds(2)).size(), 1u)
      << "the surge fired again after the watch moved";
  // Quiet minutes: the moved watch resolves the surge it did not raise, under the same id.
  clock.Advance(absl::Minutes(3));
  auto after = Alerts(*stays, 2);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1].state(), earshot::v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(after[1].alert_id(), alerts[0].alert_id());
}

// A real Alertmanager (Debian's prometheus-alertmanager) on a loopback port.
class Alertmanager {
 public:
  Alertmanager() {
    std::ofstream(dir_ + "/am.yml")
        << "route: {receiver: 'null', group_wait: 0s}\nreceivers: [{name: 'null'}]\n";
    port_ = testing::FreeLoopbackPort();
    pid_ = fork();
    if (pid_ == 0) {
      freopen((dir_ + "/log").c_str(), "w", stdout);
      freopen((dir_ + "/log").c_str(), "a", stderr);
      const std::string config = "--config.file=" + dir_ + "/am.yml";
      const std::string storage = "--storage.path=" + dir_ + "/data";
      const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
      execlp("prometheus-alertmanager", "prometheus-alertmanager", config.c_str(), storage.c_str(),
             listen.c_str(), "--cluster.listen-address=", nullptr);
      _exit(127);
    }
  }
  ~Alertmanager() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool WaitReady() {
    return WaitFor(
        [&] {
          http::Client c("127.0.0.1", port_, absl::Seconds(1));
          auto r = c.Get("/-/ready");
          return r.ok() && r->status == 200;
        },
        absl::Seconds(20));
  }
  std::string ActiveAlerts() {
    http::Client c("127.0.0.1", port_, absl::Seconds(2));
    auto r = c.Get("/api/v2/alerts?active=true");
    return r.ok() ? r->body : "";
  }
  int port() const { return port_; }

 private:
  TestFolder folder_{"alertmanager"};  // removed after the destructor stopped Alertmanager
  std::string dir_ = folder_.path();
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST(SlaAlertmanagerTest, BreachShowsInAlertmanagerAndDisappearsWhenAnswered) {
  Alertmanager am;
  ASSERT_TRUE(am.WaitReady()) << "prometheus-alertmanager did not start";
  // Real time, a 3-second promise.
  TestStack stack(
      StackOptions{SlaConfig(R"(
policies:
  default: {first_response: 3s, next_response: 3s, warn_at: 1s}
)",
                             "alertmanager: {url: \"http://127.0.0.1:" + std::to_string(am.port()) +
                                 "\", resend_interval: 2s}\n")});
  ASSERT_TRUE(
      WaitFor([&] { return Sla(stack)->OwnedPartitions().size() == 4; }, absl::Seconds(30)));
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  ASSERT_EQ(stack.PostMeta(AtTime(ReadFixture("meta/wa_text.json"), kCustomerWrote, now)).status,
            200);
  ASSERT_TRUE(
      WaitFor([&] { return am.ActiveAlerts().find("ResponseTimeBreached") != std::string::npos; },
              absl::Seconds(30)))
      << am.ActiveAlerts();
  const std::string active = am.ActiveAlerts();
  // The thread by its digest: its key holds the customer's phone number, which stays out.
  EXPECT_NE(active.find("\"thread_ref\":\"" + sla::ThreadRef(kThread) + "\""), std::string::npos)
      << active;
  EXPECT_EQ(active.find("4915112345678"), std::string::npos) << active;
  EXPECT_NE(active.find("\"severity\":\"critical\""), std::string::npos);
  EXPECT_NE(active.find("\"queue\":\"general\""), std::string::npos);
  EXPECT_NE(active.find("\"platform\":\"whatsapp\""), std::string::npos);

  ASSERT_EQ(stack
                .PostMeta(AtTime(ReadFixture("meta/wa_status_read.json"), 1741173055,
                                 absl::ToUnixSeconds(absl::Now())))
                .status,
            200);
  EXPECT_TRUE(
      WaitFor([&] { return am.ActiveAlerts().find(sla::ThreadRef(kThread)) == std::string::npos; },
              absl::Seconds(30)))
      << "still active: " << am.ActiveAlerts();
}

}  // namespace
}  // namespace earshot
