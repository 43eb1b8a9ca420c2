// The SLA monitor as an operator runs it, a separate `earshot --target=sla` process, killed with
// SIGKILL at random points while the response-time deadlines of a few hundred conversations
// fall due, and started again on the same data folder each time. What a care team would notice
// is read back from earshot.alerts.v1 the way every downstream reader reads it (read_committed)
// and held against the documented guarantees (services/sla/README.md, docs/architecture.md):
//   - for every conversation still waiting, the highest level that fell due fired;
//   - a lower level is missing only where the README allows it: it fell due while the monitor
//     was down, and a higher one fired at the restart ("after a pause only the highest level
//     that is due fires and the lower ones count as done");
//   - no alert before its level was due, none long after it unless the monitor was down then;
//   - none for a conversation the brand answered in time: not for one answered at once, and no
//     breach or escalation for one answered between its warning and its deadline; what fired
//     for it is resolved ("a resolution is sent for every level that fired");
//   - no alert twice: every alert id once on Kafka (transactions); on the embedded broker, which
//     has none, at least once and always under the same id. Alerts are re-sent only to
//     Alertmanager (off here), never to the topic.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "earshot/v1/alert.pb.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "services/common/base/proto_time.h"
#include "services/common/kafka/producer.h"
#include "services/router/router_app.h"
#include "tests/integration/kill_support.h"
#include "tests/integration/test_folder.h"
#include "tests/integration/test_kafka.h"
#include "tests/support/earshot_child.h"
#include "tests/support/routed_events.h"

namespace earshot {
namespace {

using earshot::v1::Alert;
using earshot::v1::AlertLevel;
using testing::EarshotChild;

constexpr int kThreads = 300;
// A new conversation every 80 ms: the waits start over 24 s, and their levels fall due from
// 5 s to 40 s after the first one.
constexpr absl::Duration kSpacing = absl::Milliseconds(80);
// The policy: warning at 50% of 10 s, breach at 10 s, escalation 6 s after the breach.
constexpr char kPolicies[] = R"(
policies:
  quick: {first_response: 10s, next_response: 10s, warn_at: 50%, escalate_after: 6s}
)";
constexpr absl::Duration kWarnAfter = absl::Seconds(5);
constexpr absl::Duration kBreachAfter = absl::Seconds(10);
constexpr absl::Duration kEscalateAfter = absl::Seconds(16);
// When the brand answers the conversations it answers between warning and deadline.
constexpr absl::Duration kLateAnswerAfter = absl::Seconds(7);
constexpr int kKills = 4;
constexpr int kMinKills = 3;
// While it runs, the monitor fires within about a poll of the due time; the bound leaves room
// for two busy cores. A level due during an outage must fire this soon after the restart.
constexpr absl::Duration kMaxLate = absl::Seconds(5);
// An alert due this long before a kill may still have been in the batch the kill aborted.
constexpr absl::Duration kBeforeKill = absl::Seconds(2);

const AlertLevel kLevels[] = {earshot::v1::ALERT_LEVEL_WARNING, earshot::v1::ALERT_LEVEL_BREACH,
                              earshot::v1::ALERT_LEVEL_ESCALATION};

absl::Duration DueAfter(AlertLevel level) {
  switch (level) {
    case earshot::v1::ALERT_LEVEL_WARNING:
      return kWarnAfter;
    case earshot::v1::ALERT_LEVEL_BREACH:
      return kBreachAfter;
    default:
      return kEscalateAfter;
  }
}

std::string LevelName(AlertLevel level) {
  return earshot::v1::AlertLevel_Name(level).substr(sizeof("ALERT_LEVEL_") - 1);
}

// The monitor was down from `killed` until it was ready again.
struct Outage {
  absl::Time killed;
  absl::Time ready;
  // A level due in here may fire late, at the restart, or be covered by a higher one.
  bool Covers(absl::Time due) const { return due >= killed - kBeforeKill && due <= ready; }
};

enum class Answer { kNever, kAtOnce, kBeforeDeadline };

struct Conversation {
  std::string thread_key;
  absl::Time waiting_since;
  Answer answer = Answer::kNever;
  absl::Time Due(AlertLevel level) const { return waiting_since + DueAfter(level); }
  std::string AlertId(AlertLevel level) const {
    return fmt::format("{}|{}|{}", thread_key, absl::ToUnixMicros(waiting_since),
                       static_cast<int>(level));
  }
};

// A routed record and when it is written.
struct Scheduled {
  absl::Time at;
  kafka::Record record;
};

std::string At(absl::Time t, absl::Time t0) {
  return fmt::format("{:+.1f} s", absl::ToDoubleSeconds(t - t0));
}

TEST(SlaKillTest, AlertsThatFellDueWhileTheMonitorWasKilledFireOnceEach) {
  const uint64_t seed = testing::TestSeed();
  std::mt19937_64 rng(seed);
  auto seconds = [&](double lo, double hi) {
    return absl::Seconds(std::uniform_real_distribution<double>(lo, hi)(rng));
  };
  const testing::LastingKafka kafka;
  ASSERT_FALSE(kafka.bootstrap.empty());
  const testing::TestFolder folder("earshot-sla-kill");
  const std::string dir = folder.path();
  std::ofstream(dir + "/sla.yaml") << kPolicies;
  // The channel watch stays silent: only response-time levels are counted here.
  std::ofstream(dir + "/earshot.yaml") << fmt::format(R"(sla:
  policies_file: "{}/sla.yaml"
  surge: {{min_count: 1000000000}}
  silence: {{min_events: 1000000000}}
)",
                                                      dir);
  EarshotChild monitor(EARSHOT_BINARY, "sla", dir + "/data", dir + "/sla.log",
                       dir + "/earshot.yaml", testing::ChildEnv(kafka.bootstrap));
  ASSERT_TRUE(monitor.Start().ok());
  ASSERT_TRUE(testing::WaitChildReady(monitor, absl::Seconds(90)))
      << "the monitor did not get ready\n"
      << monitor.LogTail();
  testing::TopicFollower alerts(kafka.bootstrap, "earshot.alerts.v1");

  kafka::ProducerOptions po;
  po.bootstrap = kafka.bootstrap;
  po.client_id = "sla-kill-test";
  auto producer = kafka::Producer::Create(po, nullptr);
  ASSERT_TRUE(producer.ok()) << producer.status();

  // The conversations: each waits from its own moment on, and its customer message is written
  // to earshot.routed.v1 then, as the router would. Of every five, three are never answered,
  // one is answered at once and one between its warning and its deadline.
  // Whole microseconds: the alert ids carry the wait's start in microseconds.
  const absl::Time t0 = absl::FromUnixMicros(absl::ToUnixMicros(absl::Now() + absl::Seconds(1)));
  std::vector<Conversation> conversations;
  std::vector<Scheduled> schedule;
  const earshot::v1::Platform platforms[] = {earshot::v1::PLATFORM_WHATSAPP,
                                             earshot::v1::PLATFORM_MESSENGER,
                                             earshot::v1::PLATFORM_TELEGRAM};
  for (int i = 0; i < kThreads; ++i) {
    const Answer answer = i % 5 == 3   ? Answer::kAtOnce
                          : i % 5 == 4 ? Answer::kBeforeDeadline
                                       : Answer::kNever;
    const Conversation c{fmt::format("kill:{}:customer-{}", seed % 1000, i), t0 + i * kSpacing,
                         answer};
    conversations.push_back(c);
    const auto message = testing::CustomerMessage(
        c.thread_key, c.thread_key + ":m1", platforms[i % 3],
        {"care", earshot::v1::PRIORITY_NORMAL, "quick"}, c.waiting_since, c.waiting_since);
    schedule.push_back({c.waiting_since, router::RoutedRecord(message, "earshot.routed.v1")});
    if (answer != Answer::kNever) {
      const absl::Time answered =
          c.waiting_since + (answer == Answer::kAtOnce ? absl::Milliseconds(1) : kLateAnswerAfter);
      schedule.push_back(
          {answered,
           router::RoutedRecord(testing::BrandAnswer(message, c.thread_key + ":a1", answered),
                                "earshot.routed.v1")});
    }
  }
  std::stable_sort(schedule.begin(), schedule.end(),
                   [](const Scheduled& a, const Scheduled& b) { return a.at < b.at; });
  std::atomic<int> produced{0};
  std::atomic<int> produce_failures{0};
  std::jthread writer([&](std::stop_token stop) {
    for (size_t i = 0; i < schedule.size() && !stop.stop_requested(); ++i) {
      absl::SleepFor(schedule[i].at - absl::Now());  // pacing: a message when it is written
      if (kafka::ProduceAndWait(**producer, {schedule[i].record}).ok()) {
        ++produced;
      } else {
        ++produce_failures;
      }
    }
  });

  // SIGKILLs while the levels fall due (from t0 + 5 s to t0 + 40 s): each after a random while
  // of work, each followed by a random while down and a restart on the same folder.
  std::vector<Outage> outages;
  absl::Time next_kill = t0 + seconds(4, 7);
  const absl::Time last_kill = t0 + absl::Seconds(36);
  for (int k = 0; k < kKills && next_kill <= last_kill; ++k) {
    absl::SleepFor(next_kill - absl::Now());
    monitor.Kill(SIGKILL);
    const absl::Time killed = absl::Now();
    ASSERT_TRUE(monitor.Wait(absl::Seconds(10)).has_value());
    absl::SleepFor(seconds(0, 1.5));
    ASSERT_TRUE(monitor.Start().ok());
    ASSERT_TRUE(testing::WaitChildReady(monitor, absl::Seconds(60)))
        << "the monitor did not get ready after kill " << k + 1 << "\n"
        << monitor.LogTail();
    outages.push_back({killed, absl::Now()});
    std::cout << fmt::format("kill {}: at {}, ready again at {}\n", k + 1, At(killed, t0),
                             At(outages.back().ready, t0))
              << std::flush;
    next_kill = outages.back().ready + seconds(1, 5);
  }
  writer.join();
  EXPECT_GE(outages.size(), static_cast<size_t>(kMinKills))
      << "too few kills while levels fell due";
  EXPECT_EQ(produce_failures.load(), 0);

  // Every waiting conversation's escalation (its highest level) on the topic, then a little
  // longer, for anything that should not be there.
  std::set<std::string> escalations;
  for (const Conversation& c : conversations) {
    if (c.answer == Answer::kNever) {
      escalations.insert(c.AlertId(earshot::v1::ALERT_LEVEL_ESCALATION));
    }
  }
  const absl::Time all_due = conversations.back().Due(earshot::v1::ALERT_LEVEL_ESCALATION);
  absl::SleepFor(all_due - absl::Now());
  const bool complete = alerts.WaitFor(
      [&](const testing::TopicFollower::Messages& ms) {
        std::set<std::string> found;
        for (const auto& m : ms) {
          Alert a;
          if (a.ParseFromString(m.value) && escalations.contains(a.alert_id())) {
            found.insert(a.alert_id());
          }
        }
        return found.size() == escalations.size();
      },
      absl::Seconds(60));
  absl::SleepFor(absl::Seconds(2));
  EXPECT_TRUE(alerts.WaitCaughtUp(absl::Seconds(30)));
  EXPECT_TRUE(alerts.errors().empty()) << alerts.errors().front();
  EXPECT_TRUE(complete) << "escalations missing after a minute; log " << monitor.log_path();

  // What is on the topic, by alert id.
  std::map<std::string, std::vector<Alert>> firing;
  std::map<std::string, std::vector<Alert>> resolved;
  int unreadable = 0;
  for (const auto& m : alerts.messages()) {
    Alert a;
    if (!a.ParseFromString(m.value)) {
      ++unreadable;
    } else {
      auto& by_id = a.state() == earshot::v1::ALERT_STATE_FIRING ? firing : resolved;
      by_id[a.alert_id()].push_back(std::move(a));
    }
  }
  EXPECT_EQ(unreadable, 0);

  // Held against what fell due.
  std::map<std::string, int> due_by, found_by, at_restart_by, skipped_by;
  int missing = 0, uncovered = 0, early = 0, late = 0, extra_copies = 0, mismatched = 0;
  int answered_alerted = 0, answered_warned = 0, unresolved = 0, resolved_unfired = 0;
  absl::Duration latest = absl::ZeroDuration();
  std::vector<std::string> problems;
  auto problem = [&](std::string what) {
    if (problems.size() < 10) problems.push_back(std::move(what));
  };
  std::set<std::string> known;
  for (const Conversation& c : conversations) {
    std::map<AlertLevel, const Alert*> fired;
    for (AlertLevel level : kLevels) {
      const std::string id = c.AlertId(level);
      known.insert(id);
      auto it = firing.find(id);
      auto r = resolved.find(id);
      const int resolutions = r == resolved.end() ? 0 : static_cast<int>(r->second.size());
      if (it == firing.end()) {
        resolved_unfired += resolutions;
        if (resolutions > 0) problem(id + ": resolved, never fired");
        continue;
      }
      fired[level] = &it->second.front();
      extra_copies += static_cast<int>(it->second.size()) - 1;
      if (c.answer != Answer::kNever) {
        // Answered: what fired is resolved, once (at least once on the embedded broker).
        if (resolutions == 0) {
          ++unresolved;
          problem(id + ": fired, and never resolved though answered");
        }
        extra_copies += std::max(0, resolutions - 1);
      }
      for (const Alert& copy : it->second) {
        if (copy.thread_key() != c.thread_key || copy.level() != level ||
            FromProtoTime(copy.wait_started()) != c.waiting_since) {
          ++mismatched;
          problem(fmt::format("{}: a copy that describes another wait or level", copy.alert_id()));
        }
      }
    }
    if (c.answer == Answer::kAtOnce) {
      answered_alerted += fired.empty() ? 0 : 1;
      if (!fired.empty()) problem(fmt::format("{}: alerts though answered at once", c.thread_key));
      continue;
    }
    if (c.answer == Answer::kBeforeDeadline) {
      // Its warning fell due before the answer and may have fired; nothing after it may.
      answered_warned += fired.contains(earshot::v1::ALERT_LEVEL_WARNING) ? 1 : 0;
      for (const auto& [level, a] : fired) {
        if (level == earshot::v1::ALERT_LEVEL_WARNING) continue;
        ++answered_alerted;
        problem(fmt::format("{}: fired at {} though answered at {}", a->alert_id(),
                            At(FromProtoTime(a->fired_at()), t0),
                            At(c.waiting_since + kLateAnswerAfter, t0)));
      }
      continue;
    }
    for (AlertLevel level : kLevels) {
      ++due_by[LevelName(level)];
      const absl::Time due = c.Due(level);
      const Outage* outage = nullptr;
      for (const Outage& o : outages) {
        if (o.Covers(due)) outage = &o;
      }
      auto it = fired.find(level);
      if (it != fired.end()) {
        ++found_by[LevelName(level)];
        const absl::Time at = FromProtoTime(it->second->fired_at());
        if (at < due) {
          ++early;
          problem(fmt::format("{}: fired at {}, due at {}", it->second->alert_id(), At(at, t0),
                              At(due, t0)));
        }
        if (at > (outage != nullptr ? outage->ready : due) + kMaxLate) {
          ++late;
          problem(fmt::format("{}: fired at {}, due at {}{}", it->second->alert_id(), At(at, t0),
                              At(due, t0), outage != nullptr ? " during an outage" : ""));
        }
        if (outage == nullptr) {
          latest = std::max(latest, at - due);
        } else {
          ++at_restart_by[LevelName(level)];
        }
        continue;
      }
      // Missing: allowed only for a level that fell due while the monitor was down, when a
      // higher one fired at the restart.
      bool covered = false;
      for (auto h = fired.upper_bound(level); h != fired.end() && !covered; ++h) {
        const absl::Time at = FromProtoTime(h->second->fired_at());
        covered = outage != nullptr && at >= outage->killed && at <= outage->ready + kMaxLate;
      }
      if (level == earshot::v1::ALERT_LEVEL_ESCALATION) {
        ++missing;
        problem(
            fmt::format("{}: the escalation, due at {}, never fired", c.thread_key, At(due, t0)));
      } else if (!covered) {
        ++uncovered;
        problem(fmt::format("{}: {} due at {} never fired{}", c.thread_key, LevelName(level),
                            At(due, t0),
                            outage != nullptr ? ", and no higher level fired at the restart"
                                              : " while the monitor ran"));
      } else {
        ++skipped_by[LevelName(level)];
      }
    }
  }
  int unknown = 0;
  for (const auto* by_id : {&firing, &resolved}) {
    for (const auto& [id, _] : *by_id) {
      if (!known.contains(id)) {
        ++unknown;
        problem(id + ": an alert for no conversation of this test");
      }
    }
  }

  const int never = static_cast<int>(escalations.size());
  std::cout << fmt::format(
      "sent: {} routed events for {} conversations ({} never answered, {} answered at once, {} "
      "answered {} s into the wait), levels due from {} to {}\n",
      produced.load(), kThreads, never, kThreads / 5, kThreads - never - kThreads / 5,
      absl::ToInt64Seconds(kLateAnswerAfter),
      At(conversations.front().Due(earshot::v1::ALERT_LEVEL_WARNING), t0), At(all_due, t0));
  std::cout << fmt::format("kills: {} SIGKILLs, down {}\n", outages.size(), [&] {
    std::string s;
    for (const Outage& o : outages) {
      s += fmt::format("{}[{} .. {}]", s.empty() ? "" : ", ", At(o.killed, t0), At(o.ready, t0));
    }
    return s;
  }());
  for (AlertLevel level : kLevels) {
    const std::string n = LevelName(level);
    std::cout << fmt::format(
        "  never answered, {}: fell due {}, found {} ({} of them due while the monitor was "
        "down), skipped under a higher level after an outage {}\n",
        n, due_by[n], found_by[n], at_restart_by[n], skipped_by[n]);
  }
  std::cout << fmt::format(
      "found: {} firing alert ids, {} resolved, {} more copies ({}); answered before the "
      "deadline: {} warned and resolved, {} resolved without firing, {} fired and unresolved, {} "
      "alerts they should not have; {} for none of this test; latest while running {:.3f} s "
      "after its due time\n",
      firing.size(), resolved.size(), extra_copies,
      testing::TestKafka::Real() ? "Kafka: must be 0" : "embedded broker: at least once",
      answered_warned, resolved_unfired, unresolved, answered_alerted, unknown,
      absl::ToDoubleSeconds(latest));
  for (const auto& p : problems) std::cout << "  " << p << "\n";
  std::cout << std::flush;

  EXPECT_EQ(missing, 0) << "waiting conversations whose escalation never fired";
  EXPECT_EQ(uncovered, 0) << "levels that fell due and never fired, with no documented reason";
  EXPECT_EQ(early, 0) << "alerts before their level was due";
  EXPECT_EQ(late, 0) << "alerts more than " << absl::FormatDuration(kMaxLate)
                     << " after they were due (or after the restart that followed)";
  EXPECT_EQ(answered_alerted, 0) << "alerts for conversations answered in time";
  EXPECT_EQ(unresolved, 0) << "alerts of answered conversations never resolved";
  EXPECT_EQ(resolved_unfired, 0) << "resolutions of alerts that never fired";
  EXPECT_EQ(unknown, 0);
  EXPECT_EQ(mismatched, 0) << "alert ids that do not name their wait and level";
  if (testing::TestKafka::Real()) {
    EXPECT_EQ(extra_copies, 0) << "alerts a read_committed reader saw twice";
  }
}

}  // namespace
}  // namespace earshot
