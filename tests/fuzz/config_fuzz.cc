// The YAML files operators write: routing rules (EARSHOT_FUZZ_CONFIG=rules) or SLA policies and
// calendars (EARSHOT_FUZZ_CONFIG=sla). yaml-cpp throws on malformed YAML and the parsers promise
// that nothing escapes Parse(); a file that parses must then decide for any event without
// crashing, and name a queue and a policy for every event it does not ignore.
#include <cstdlib>
#include <string_view>

#include "absl/time/time.h"
#include "earshot/v1/event.pb.h"
#include "earshot/v1/routing.pb.h"

#if EARSHOT_FUZZ_CONFIG_RULES
#include "services/router/rules.h"
#else
#include "services/sla/policy.h"
#endif

namespace {

earshot::v1::Event Sample(int i) {
  earshot::v1::Event e;
  e.set_event_id("fb:" + std::to_string(i));
  e.set_platform(i % 2 ? earshot::v1::PLATFORM_FACEBOOK : earshot::v1::PLATFORM_X);
  e.set_kind(i % 3 ? earshot::v1::KIND_COMMENT : earshot::v1::KIND_DIRECT_MESSAGE);
  e.set_direction(earshot::v1::DIRECTION_INBOUND);
  e.set_account_id("1");
  e.set_thread_key("fb:1:c:" + std::to_string(i));
  e.set_lang(i % 2 ? "en" : "de");
  e.set_text(i % 2 ? "Where is my refund?? This is unacceptable" : "hallo, wo bleibt mein Paket");
  e.mutable_author()->set_id("cust");
  e.mutable_author()->set_follower_count(i * 25000);
  e.mutable_created_at()->set_seconds(1767225600 + 3600 * 7 * i);
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
#if EARSHOT_FUZZ_CONFIG_RULES
  auto rules = earshot::router::RuleSet::Parse(yaml, "fuzz.yaml");
  if (!rules.ok()) return 0;
  for (int i = 0; i < 4; ++i) {
    auto d = (*rules)->Decide(Sample(i));
    if (!d.ignore() && (d.queue().empty() || d.sla_policy().empty())) std::abort();
  }
#else
  auto policies = earshot::sla::PolicySet::Parse(yaml, "fuzz.yaml");
  if (!policies.ok()) return 0;
  for (int i = 0; i < 4; ++i) {
    earshot::v1::RoutedEvent routed;
    *routed.mutable_event() = Sample(i);
    routed.mutable_decision()->set_queue(i % 2 ? "care" : "escalation");
    routed.mutable_decision()->set_sla_policy(i % 2 ? "default" : "dm");
    const auto& policy = (*policies)->Select(routed);
    const absl::Time start = absl::FromUnixSeconds(1767225600 + 3600 * 7 * i);
    auto d = earshot::sla::ComputeDeadlines(policy, start, i % 2 == 0);
    if (d.breach < start) std::abort();  // a promise cannot fall due before the wait began
  }
#endif
  return 0;
}
