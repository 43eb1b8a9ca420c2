// The gateway as an operator runs it, a separate `earshot --target=gateway` process behind a
// fixed port, killed with SIGKILL several times under a load of signed webhooks and started
// again on the same port, with a router process behind it. The client behaves as the platforms
// do: a request that got no answer, or an answer other than 2xx, is sent again (the same
// message, signed anew) until it is answered 2xx. What the gateway promises
// (services/gateway/README.md, docs/architecture.md "Guarantees"):
//   - a 2xx only after Kafka acknowledged the request's records: every message answered 2xx has
//     its event on earshot.events.v1;
//   - a redelivery is a duplicate the router drops: earshot.routed.v1 holds every event id
//     exactly once, however often the gateway wrote it.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "earshot/v1/event.pb.h"
#include "earshot/v1/routing.pb.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "services/common/http/client.h"
#include "services/gateway/signature.h"
#include "tests/integration/kill_support.h"
#include "tests/integration/test_folder.h"
#include "tests/integration/test_kafka.h"
#include "tests/support/earshot_child.h"

namespace earshot {
namespace {

using testing::EarshotChild;
using testing::MetricByLabel;
using testing::MetricSum;

constexpr int kMessages = 1500;
constexpr int kConversations = 300;
constexpr int kClients = 6;  // connections sending at once, as a platform's delivery workers
constexpr int kKills = 4;
constexpr int kMaxAttempts = 200;  // per message; a platform gives up after about a day
constexpr char kSource[] = "reviews";
constexpr char kSecret[] = "whsec_a2lsbC10ZXN0LWdlbmVyaWMtc2VjcmV0";

std::string Body(int n) {
  return fmt::format(R"({{"id":"{}","thread_id":"t{}","kind":"review","author":{{"id":"c{}"}},)"
                     R"("text":"Message {} about my order","rating":2}})",
                     n, n % kConversations, n % kConversations, n);
}
std::string EventId(int n) { return fmt::format("gen:{}:{}", kSource, n); }

// What the client saw.
struct Load {
  std::atomic<int> acked{0};
  std::atomic<int> attempts{0};
  std::atomic<int> no_answer{0};  // connection refused or reset, or no answer in time
  std::atomic<int> refused{0};    // an answer, but not 2xx
  std::atomic<int> retried_messages{0};
  std::atomic<int> gave_up{0};
  absl::Mutex mu;
  std::set<int> acked_ids ABSL_GUARDED_BY(mu);
  std::map<int, int> statuses ABSL_GUARDED_BY(mu);  // non-2xx answers by status
};

// One platform connection: sends the messages it takes from `next` until each is answered 2xx,
// backing off a little after a failure, as platforms do (within seconds, not hours, here).
void SendAll(int port, std::atomic<int>& next, absl::Time deadline, std::stop_token stop,
             Load& load) {
  std::unique_ptr<http::Client> client;
  for (int n = next++; n < kMessages && !stop.stop_requested(); n = next++) {
    const std::string body = Body(n);
    const std::string msg_id = fmt::format("msg_{}", n);
    absl::Duration backoff = absl::Milliseconds(20);
    bool acked = false;
    for (int attempt = 0;
         attempt < kMaxAttempts && absl::Now() < deadline && !stop.stop_requested(); ++attempt) {
      if (attempt == 1) ++load.retried_messages;
      if (client == nullptr) {
        client = std::make_unique<http::Client>("127.0.0.1", port, absl::Seconds(10));
      }
      const std::string ts = std::to_string(absl::ToUnixSeconds(absl::Now()));
      ++load.attempts;
      auto r = client->Send(
          "POST", fmt::format("/webhooks/generic/{}", kSource), body,
          {{"Content-Type", "application/json"},
           {"webhook-id", msg_id},
           {"webhook-timestamp", ts},
           {"webhook-signature", gateway::SignStandardWebhook(msg_id, ts, body, kSecret)}});
      if (r.ok() && r->status >= 200 && r->status < 300) {
        acked = true;
        break;
      }
      if (r.ok()) {
        ++load.refused;
        absl::MutexLock lock(&load.mu);
        ++load.statuses[r->status];
      } else {
        ++load.no_answer;
        client.reset();  // a new connection for the next attempt
      }
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Milliseconds(500));
    }
    if (!acked) {
      ++load.gave_up;
      continue;
    }
    ++load.acked;
    absl::MutexLock lock(&load.mu);
    load.acked_ids.insert(n);
  }
}

// Event ids of a topic's records (Event on earshot.events.v1, RoutedEvent on
// earshot.routed.v1), with how often each is there.
std::map<std::string, int> Ids(const testing::TopicFollower::Messages& ms, bool routed) {
  std::map<std::string, int> ids;
  for (const auto& m : ms) {
    if (routed) {
      earshot::v1::RoutedEvent r;
      if (r.ParseFromString(m.value)) ++ids[r.event().event_id()];
    } else {
      earshot::v1::Event e;
      if (e.ParseFromString(m.value)) ++ids[e.event_id()];
    }
  }
  return ids;
}

TEST(GatewayKillTest, EveryAcknowledgedWebhookIsRoutedOnceThroughSigkills) {
  const uint64_t seed = testing::TestSeed();
  std::mt19937_64 rng(seed);
  const testing::LastingKafka kafka;
  ASSERT_FALSE(kafka.bootstrap.empty());
  const testing::TestFolder folder("earshot-gateway-kill");
  const std::string dir = folder.path();
  std::ofstream(dir + "/earshot.yaml")
      << fmt::format(R"(generic: {{sources: {{{}: {{secret: {}}}}}}}
kafka: {{delivery_timeout: 5s}}
)",
                     kSource, kSecret);
  const int port = testing::FreeLoopbackPort();
  EarshotChild gateway(
      EARSHOT_BINARY, "gateway", dir + "/gateway", dir + "/gateway.log", dir + "/earshot.yaml",
      testing::ChildEnv(kafka.bootstrap, {fmt::format("EARSHOT_HTTP_ADDR=127.0.0.1:{}", port)}));
  EarshotChild router(EARSHOT_BINARY, "router", dir + "/router", dir + "/router.log",
                      dir + "/earshot.yaml", testing::ChildEnv(kafka.bootstrap));
  ASSERT_TRUE(gateway.Start().ok());
  ASSERT_TRUE(testing::WaitChildReady(gateway, absl::Seconds(90))) << gateway.LogTail();
  ASSERT_TRUE(router.Start().ok());
  ASSERT_TRUE(testing::WaitChildReady(router, absl::Seconds(90))) << router.LogTail();
  testing::TopicFollower events(kafka.bootstrap, "earshot.events.v1");
  testing::TopicFollower routed(kafka.bootstrap, "earshot.routed.v1");

  Load load;
  std::atomic<int> next{0};
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::Seconds(90);
  std::vector<std::jthread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&](std::stop_token stop) { SendAll(port, next, deadline, stop, load); });
  }

  // Kills spread over the load: the k-th once about k/(kKills+1) of the messages are answered,
  // each followed by a random while down and a restart on the same port.
  for (int k = 1; k <= kKills; ++k) {
    const int at =
        k * kMessages / (kKills + 1) + std::uniform_int_distribution<int>(-100, 100)(rng);
    while (load.acked < at && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
    const int acked_before = load.acked;
    const int attempts_before = load.attempts;
    gateway.Kill(SIGKILL);
    const absl::Time killed = absl::Now();
    ASSERT_TRUE(gateway.Wait(absl::Seconds(10)).has_value());
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(0, 1000)(rng)));
    ASSERT_TRUE(gateway.Start().ok());
    ASSERT_TRUE(testing::WaitChildReady(gateway, absl::Seconds(60)))
        << "the gateway did not get ready after kill " << k << "\n"
        << gateway.LogTail();
    std::cout << fmt::format(
                     "kill {} at {:.1f} s with {} answered ({} attempts), ready {:.1f} s later", k,
                     absl::ToDoubleSeconds(killed - start), acked_before, attempts_before,
                     absl::ToDoubleSeconds(absl::Now() - killed))
              << std::endl;
  }
  for (auto& c : clients) c.join();  // each once its messages are answered
  const double load_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::set<int> acked_ids;
  std::map<int, int> statuses;
  {
    absl::MutexLock lock(&load.mu);
    acked_ids = load.acked_ids;
    statuses = load.statuses;
  }

  // Every answered message's event on earshot.events.v1; the router through all of them.
  std::set<std::string> want;
  for (int n : acked_ids) want.insert(EventId(n));
  auto all_in = [&](bool is_routed) {
    return [&, is_routed](const testing::TopicFollower::Messages& ms) {
      const auto ids = Ids(ms, is_routed);
      return std::all_of(want.begin(), want.end(),
                         [&](const auto& id) { return ids.contains(id); });
    };
  };
  EXPECT_TRUE(events.WaitFor(all_in(false), absl::Seconds(30)));
  EXPECT_TRUE(events.WaitCaughtUp(absl::Seconds(30)));
  const auto written = Ids(events.messages(), false);
  size_t event_records = 0;
  for (const auto& [_, n] : written) event_records += static_cast<size_t>(n);
  EXPECT_TRUE(routed.WaitFor(all_in(true), absl::Seconds(45)));
  // The router consumed every record written, duplicates included, before its output counts.
  double consumed = 0;
  bool router_done = false;
  for (const absl::Time until = absl::Now() + absl::Seconds(60);
       !router_done && absl::Now() < until; absl::SleepFor(absl::Milliseconds(250))) {
    consumed = MetricSum(router.Metrics(), "earshot_router_events_total");
    router_done = consumed >= static_cast<double>(event_records);
  }
  EXPECT_TRUE(router_done) << "the router consumed " << consumed << " of " << event_records
                           << " records";
  EXPECT_TRUE(routed.WaitCaughtUp(absl::Seconds(30)));
  const auto router_results =
      MetricByLabel(router.Metrics(), "earshot_router_events_total", "result");
  const auto routed_ids = Ids(routed.messages(), true);

  int lost = 0, written_twice = 0, routed_missing = 0, routed_twice = 0, routed_extra = 0;
  std::string first_lost, first_twice;
  for (const std::string& id : want) {
    auto w = written.find(id);
    if (w == written.end()) {
      if (lost++ == 0) first_lost = id;
    } else {
      written_twice += w->second - 1;
    }
    auto r = routed_ids.find(id);
    if (r == routed_ids.end()) {
      ++routed_missing;
    } else if (r->second > 1) {
      routed_twice += r->second - 1;
      if (first_twice.empty()) first_twice = id;
    }
  }
  for (const auto& [id, _] : routed_ids) routed_extra += want.contains(id) ? 0 : 1;
  const double duplicates_dropped =
      router_results.contains("duplicate") ? router_results.at("duplicate") : 0;

  std::string refusals;
  for (const auto& [status, n] : statuses) refusals += fmt::format(" {} x{}", status, n);
  std::cout << fmt::format(
      "sent: {} messages in {:.1f} s over {} connections, {} requests; acknowledged {}; retried "
      "{} messages: {} requests without an answer, {} answered non-2xx{}; gave up {}\n",
      kMessages, load_seconds, kClients, load.attempts.load(), acked_ids.size(),
      load.retried_messages.load(), load.no_answer.load(), load.refused.load(), refusals,
      load.gave_up.load());
  std::cout
      << fmt::format(
             "found: earshot.events.v1 {} records, {} of {} acknowledged ids ({} lost), {} written "
             "more than once; earshot.routed.v1 {} ids, {} missing, {} routed twice, {} not "
             "acknowledged; the router dropped {} duplicates\n",
             event_records, want.size() - static_cast<size_t>(lost), want.size(), lost,
             written_twice, routed_ids.size(), routed_missing, routed_twice, routed_extra,
             duplicates_dropped)
      << std::flush;

  EXPECT_EQ(load.gave_up.load(), 0) << "messages never answered 2xx";
  EXPECT_EQ(acked_ids.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(lost, 0) << "answered 2xx, yet not on earshot.events.v1, e.g. " << first_lost;
  EXPECT_EQ(routed_missing, 0) << "acknowledged events the router did not route";
  EXPECT_EQ(routed_twice, 0) << "events routed more than once, e.g. " << first_twice;
  EXPECT_EQ(routed_extra, 0) << "routed events of no acknowledged message";
  EXPECT_EQ(duplicates_dropped, static_cast<double>(event_records - written.size()))
      << "the router's duplicates are not the gateway's repeated records";
  EXPECT_GT(load.no_answer.load(), 0) << "no kill caught a request: the test proved nothing";
}

}  // namespace
}  // namespace earshot
