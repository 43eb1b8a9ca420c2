// The first-run demo end to end: the bundled scenario (config/demo/scenario.jsonl) replayed by
// the demo into a whole stack with the example routing rules and the demo's SLA policies. Every
// webhook must be accepted, every conversation routed as the README says, the redelivery
// dropped, and the one unanswered question must get a warning and a breach (simulated time, so
// the test does not wait the scenario's 25 seconds and the policy's 30).
#include <map>
#include <set>

#include "earshot/v1/alert.pb.h"
#include "earshot/v1/routing.pb.h"
#include "gtest/gtest.h"
#include "services/earshot/demo.h"
#include "services/router/router_app.h"
#include "services/sla/sla_app.h"
#include "tests/integration/stack.h"

namespace earshot {
namespace {

using earshot::testing::StackOptions;
using earshot::testing::TestStack;
using earshot::testing::WaitFor;

const std::string kRepo = EARSHOT_SOURCE_DIR;

std::string DemoStackConfig() {
  return "router: {rules_file: \"" + kRepo + "/config/rules.example.yaml\"}\n" +
         "sla: {policies_file: \"" + kRepo + "/config/demo/sla.yaml\"}\n";
}

replay::SigningSecrets StackSecrets() {
  auto config = Config::FromYaml(earshot::testing::StackConfig());
  EXPECT_TRUE(config.ok());
  config->set_env_lookup([](const std::string&) { return std::nullopt; });
  auto secrets = replay::SigningSecrets::FromConfig(*config);
  EXPECT_TRUE(secrets.ok()) << secrets.status();
  return *secrets;
}

std::vector<v1::RoutedEvent> Routed(TestStack& stack, size_t want) {
  std::vector<v1::RoutedEvent> out;
  for (const auto& m :
       stack.ReadTopic("earshot.routed.v1", want, absl::Seconds(30), absl::Seconds(1))) {
    v1::RoutedEvent r;
    EXPECT_TRUE(r.ParseFromString(m.value));
    out.push_back(std::move(r));
  }
  return out;
}

TEST(DemoScenarioTest, EveryWebhookIsAcceptedRoutedAndTheUnansweredQuestionBreaches) {
  const absl::Time start = absl::Now();
  FakeClock clock(start);
  TestStack stack(StackOptions{DemoStackConfig(), &clock});
  auto* sla = static_cast<sla::SlaApp*>(stack.process().service("sla"));
  ASSERT_TRUE(WaitFor([&] { return sla->OwnedPartitions().size() == 4; }, absl::Seconds(30)));

  DemoOptions options;
  options.scenario = kRepo + "/config/demo/scenario.jsonl";
  options.gateway = replay::Endpoint{"127.0.0.1", stack.http_port()};
  options.delay_scale = 0;  // the timestamps still follow the scenario's 25 s
  options.print_hints = false;
  auto demo = Demo::Start(options, StackSecrets(), [&] { return stack.process().Ready(); });
  ASSERT_TRUE(demo.ok()) << demo.status();
  auto summary = (*demo)->Wait(absl::Seconds(60));
  ASSERT_TRUE(summary.ok()) << summary.status();
  for (const auto& f : summary->failures)
    ADD_FAILURE() << "line " << f.line << ": " << f.status << " " << f.message;
  EXPECT_TRUE(summary->ok());
  EXPECT_EQ(summary->total, 15);
  EXPECT_EQ(summary->events_accepted, 15);
  EXPECT_EQ(summary->deadlettered, 0);

  // The gateway wrote every event, the redelivered Facebook comment included; the router
  // dropped the redelivery.
  EXPECT_EQ(stack.ReadTopic("earshot.events.v1", 15).size(), 15u);
  const auto routed = Routed(stack, 14);
  ASSERT_EQ(routed.size(), 14u);
  std::set<std::string> event_ids;
  std::set<v1::Platform> platforms;
  std::map<std::string, const v1::RoutedEvent*> by_start;  // first words of the text
  for (const auto& r : routed) {
    EXPECT_TRUE(event_ids.insert(r.event().event_id()).second) << r.event().event_id();
    platforms.insert(r.event().platform());
    by_start[r.event().text().substr(0, 12)] = &r;
  }
  EXPECT_EQ(platforms, std::set<v1::Platform>({v1::PLATFORM_X, v1::PLATFORM_FACEBOOK,
                                               v1::PLATFORM_INSTAGRAM, v1::PLATFORM_WHATSAPP,
                                               v1::PLATFORM_TELEGRAM, v1::PLATFORM_GENERIC}));
  auto decision = [&](const std::string& start_of_text) -> const v1::RoutingDecision& {
    static const v1::RoutingDecision none;
    auto it = by_start.find(start_of_text.substr(0, 12));
    EXPECT_NE(it, by_start.end()) << start_of_text;
    return it == by_start.end() ? none : it->second->decision();
  };
  auto tagged = [](const v1::RoutingDecision& d, const std::string& tag) {
    return std::find(d.tags().begin(), d.tags().end(), tag) != d.tags().end();
  };
  // What the README's demo section promises.
  EXPECT_EQ(decision("Gilt der Frühjahrs").queue(), "care-de");
  EXPECT_EQ(decision("@AcmeSupport my parcel").queue(), "escalation");
  EXPECT_TRUE(tagged(decision("@AcmeSupport my parcel"), "complaint"));
  EXPECT_TRUE(tagged(decision("Ten runs in with"), "influencer"));
  EXPECT_EQ(decision("Ten runs in with").priority(), v1::PRIORITY_HIGH);
  EXPECT_EQ(decision("Hallo, ich möchte").queue(), "escalation");
  EXPECT_EQ(decision("Hallo, ich möchte").priority(), v1::PRIORITY_URGENT);
  EXPECT_EQ(decision("Wenn ich mein Geld").queue(), "escalation");
  EXPECT_TRUE(tagged(decision("Wenn ich mein Geld"), "legal"));
  EXPECT_TRUE(decision("@danak_88 We're sorry").ignore());  // the brand's own reply
  EXPECT_TRUE(tagged(decision("Free followers"), "spam"));
  EXPECT_EQ(decision("Hi! Is your Hamburg").queue(), "care-en");
  EXPECT_EQ(decision("Hi! Is your Hamburg").sla_policy(), "dm");

  // Nothing is due yet. Then the simulated clock passes the scenario's end plus the demo
  // policy's 30 s: the Telegram question (written at t=18 s) warns at 33 s and breaches at
  // 48 s; every other conversation was answered or has hours left.
  ASSERT_TRUE(WaitFor([&] { return sla->events_applied() >= 14; }, absl::Seconds(20)));
  EXPECT_TRUE(stack.ReadTopic("earshot.alerts.v1", 0, absl::Seconds(1)).empty());
  std::vector<v1::Alert> alerts;
  auto read_alerts = [&](size_t want) {
    alerts.clear();
    for (const auto& m :
         stack.ReadTopic("earshot.alerts.v1", want, absl::Seconds(20), absl::Seconds(1))) {
      v1::Alert a;
      EXPECT_TRUE(a.ParseFromString(m.value));
      alerts.push_back(std::move(a));
    }
  };
  clock.Set(start + absl::Seconds(40));
  read_alerts(1);
  ASSERT_EQ(alerts.size(), 1u);
  clock.Set(start + absl::Seconds(60));
  read_alerts(2);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].name(), "ResponseTimeWarning");
  EXPECT_EQ(alerts[1].name(), "ResponseTimeBreached");
  EXPECT_EQ(alerts[1].level(), v1::ALERT_LEVEL_BREACH);
  EXPECT_EQ(alerts[1].platform(), v1::PLATFORM_TELEGRAM);
  EXPECT_EQ(alerts[1].policy(), "dm");
  EXPECT_EQ(alerts[1].queue(), "care-en");
  EXPECT_TRUE(alerts[1].thread_key().starts_with("tg:7000000001:")) << alerts[1].thread_key();
  EXPECT_EQ(alerts[1].deadline().seconds() - alerts[1].wait_started().seconds(), 30);
}

}  // namespace
}  // namespace earshot
