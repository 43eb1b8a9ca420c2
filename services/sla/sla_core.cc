#include "services/sla/sla_core.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "fmt/format.h"
#include "services/common/base/proto_time.h"
#include "services/common/base/strings.h"
#include "services/common/store/store.h"
#include "services/common/store/stored_proto.h"

namespace earshot::sla {
namespace {

using earshot::v1::Alert;
using earshot::v1::AlertLevel;
using earshot::v1::SlaClock;

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t s = absl::ToInt64Seconds(d);
  out->set_seconds(s);
  out->set_nanos(static_cast<int32_t>((d - absl::Seconds(s)) / absl::Nanoseconds(1)));
}

uint32_t Bit(AlertLevel level) { return 1u << static_cast<int>(level); }

std::string PartitionKey(int32_t partition, std::string_view key) {
  std::string out = PartitionPrefix(partition);
  out.append(key);
  return out;
}

std::string WaitKey(int32_t partition, absl::Time at, std::string_view thread_key) {
  return store::TimedKey{partition, at, std::string(thread_key)}.Encode();
}

std::string CountKey(const SlaClock& c) {
  return WaitingKey{c.queue(), c.platform(), c.priority()}.Encode();
}

// The levels of a clock in firing order, with their times.
std::vector<std::pair<AlertLevel, absl::Time>> Levels(const SlaClock& c) {
  std::vector<std::pair<AlertLevel, absl::Time>> out = {
      {earshot::v1::ALERT_LEVEL_WARNING, FromProtoTime(c.warn_at())},
      {earshot::v1::ALERT_LEVEL_BREACH, FromProtoTime(c.breach_at())}};
  if (c.has_escalate_at()) {
    out.emplace_back(earshot::v1::ALERT_LEVEL_ESCALATION, FromProtoTime(c.escalate_at()));
  }
  return out;
}

// Sets next_fire to the earliest level not yet fired; clears it when none is left.
void UpdateNextFire(SlaClock* c) {
  c->clear_next_fire();
  for (const auto& [level, at] : Levels(*c)) {
    if ((c->fired() & Bit(level)) == 0) {
      SetProtoTime(at, c->mutable_next_fire());
      return;
    }
  }
}

// Moves the partition's count of waiting clocks in the clock's queue and policy by `delta`.
void Count(earshot::v1::SlaPartitionState* pstate, const SlaClock& c, int delta) {
  const std::string key = CountKey(c);
  auto& n = (*pstate->mutable_waiting())[key];
  n += delta;
  if (n <= 0) pstate->mutable_waiting()->erase(key);
}

void Unschedule(int32_t partition, const SlaClock& c, store::KvView& view) {
  if (c.has_next_fire()) {
    view.Delete(kTimers, TimerKey(partition, FromProtoTime(c.next_fire()), c.thread_key()));
  }
}

void Schedule(int32_t partition, const SlaClock& c, store::KvView& view, Outcome* out) {
  if (!c.has_next_fire()) return;
  const absl::Time at = FromProtoTime(c.next_fire());
  view.Put(kTimers, TimerKey(partition, at, c.thread_key()), "");
  out->scheduled.emplace_back(at, partition, c.thread_key());
}

}  // namespace

std::vector<store::ColumnFamily> ColumnFamilies() {
  return {
      {kClocks, nullptr, /*point_lookups=*/true},     {kTimers, nullptr, /*point_lookups=*/false},
      {kWaits, nullptr, /*point_lookups=*/false},     {kFiring, nullptr, /*point_lookups=*/false},
      {kPartitions, nullptr, /*point_lookups=*/true},
  };
}

std::string TimerKey(int32_t partition, absl::Time at, std::string_view thread_key) {
  return WaitKey(partition, at, thread_key);
}

std::string WaitingKey::Encode() const {
  return fmt::format("{}|{}|{}", queue, static_cast<int>(platform), static_cast<int>(priority));
}

WaitingKey WaitingKey::Decode(std::string_view key) {
  const auto a = key.find('|');
  const auto b = key.find('|', a + 1);
  int platform = 0;
  int priority = 0;
  (void)absl::SimpleAtoi(ToAbsl(key.substr(a + 1, b - a - 1)), &platform);
  (void)absl::SimpleAtoi(ToAbsl(key.substr(b + 1)), &priority);
  return {std::string(key.substr(0, a)), static_cast<earshot::v1::Platform>(platform),
          static_cast<earshot::v1::Priority>(priority)};
}

const char* AlertName(AlertLevel level) {
  switch (level) {
    case earshot::v1::ALERT_LEVEL_WARNING:
      return "ResponseTimeWarning";
    case earshot::v1::ALERT_LEVEL_BREACH:
      return "ResponseTimeBreached";
    case earshot::v1::ALERT_LEVEL_ESCALATION:
      return "ResponseTimeEscalated";
    case earshot::v1::ALERT_LEVEL_SURGE:
      return "MentionSurge";
    case earshot::v1::ALERT_LEVEL_SILENCE:
      return "ChannelSilent";
    default:
      return "Unknown";
  }
}

Alert MakeAlert(const SlaClock& c, AlertLevel level, absl::Time now) {
  Alert a;
  const absl::Time started = FromProtoTime(c.wait_started());
  a.set_alert_id(fmt::format("{}|{}|{}", c.thread_key(), absl::ToUnixMicros(started),
                             static_cast<int>(level)));
  a.set_name(AlertName(level));
  a.set_level(level);
  a.set_state(earshot::v1::ALERT_STATE_FIRING);
  a.set_thread_key(c.thread_key());
  a.set_queue(c.queue());
  a.set_platform(c.platform());
  a.set_priority(c.priority());
  a.set_policy(c.policy());
  a.set_account_id(c.account_id());
  SetDuration(now - started, a.mutable_waited());
  *a.mutable_deadline() = c.breach_at();
  *a.mutable_wait_started() = c.wait_started();
  SetProtoTime(now, a.mutable_fired_at());
  a.set_excerpt(c.excerpt());
  a.set_permalink(c.permalink());
  const std::string waited = absl::FormatDuration(absl::Trunc(now - started, absl::Minutes(1)));
  const char* what = level == earshot::v1::ALERT_LEVEL_WARNING ? "is close to its deadline"
                     : level == earshot::v1::ALERT_LEVEL_BREACH
                         ? "missed its deadline"
                         : "is escalated, long past its deadline";
  a.set_summary(fmt::format("A customer in queue {} has waited {} for an answer: {} ({} policy {})",
                            c.queue(), waited, what,
                            c.first_response() ? "first response," : "next response,", c.policy()));
  return a;
}

void SlaCore::Apply(int32_t partition, int64_t offset, const earshot::v1::RoutedEvent& routed,
                    const PolicySet& policies, absl::Time now, store::KvView& view, Outcome* out,
                    PartitionStates& partitions) const {
  const earshot::v1::Thread& t = routed.thread();
  const std::string clock_key = PartitionKey(partition, t.thread_key());
  earshot::v1::SlaPartitionState* pstate = partitions.Load(partition, view);
  pstate->set_next_offset(offset + 1);
  std::optional<SlaClock> stored;
  if (auto v = view.Get(kClocks, clock_key)) {
    stored.emplace();
    if (!store::ParseStored(&*stored, *v, "SLA clock " + t.thread_key())) stored.reset();
  }
  const bool waiting =
      t.status() == earshot::v1::THREAD_STATUS_AWAITING_REPLY && t.has_oldest_unanswered();

  if (!waiting) {
    if (stored) {
      // The router erased or expired the thread: its resolutions carry no customer text.
      if (routed.event().kind() == earshot::v1::KIND_CONTROL &&
          routed.event().control().action() == earshot::v1::Control::ACTION_ERASE) {
        stored->clear_excerpt();
        stored->clear_permalink();
      }
      // The wait is over (answered, resolved, erased): resolve what fired, drop the clock.
      for (const auto& [level, at] : Levels(*stored)) {
        if ((stored->fired() & Bit(level)) == 0) continue;
        Alert a = MakeAlert(*stored, level, now);
        // Only levels that were raised get a resolution (lower levels skipped after a pause
        // are marked fired without an alert).
        auto v = view.Get(kFiring, PartitionKey(partition, a.alert_id()));
        if (!v) continue;
        Alert firing;
        if (firing.ParseFromString(*v)) *a.mutable_fired_at() = firing.fired_at();
        a.set_state(earshot::v1::ALERT_STATE_RESOLVED);
        SetProtoTime(now, a.mutable_resolved_at());
        view.Delete(kFiring, PartitionKey(partition, a.alert_id()));
        out->alerts.push_back(std::move(a));
      }
      if (t.status() == earshot::v1::THREAD_STATUS_ANSWERED && t.has_last_outbound()) {
        const absl::Time answered_at = FromProtoTime(t.last_outbound());
        out->answered.push_back({stored->queue(), stored->first_response(),
                                 answered_at - FromProtoTime(stored->wait_started()),
                                 answered_at <= FromProtoTime(stored->breach_at())});
      }
      Unschedule(partition, *stored, view);
      view.Delete(kWaits,
                  WaitKey(partition, FromProtoTime(stored->wait_started()), t.thread_key()));
      view.Delete(kClocks, clock_key);
      Count(pstate, *stored, -1);
    }
    return;
  }

  // The thread waits. The policy is the thread's (the latest customer message decided it).
  earshot::v1::RoutedEvent selector = routed;
  selector.mutable_decision()->set_sla_policy(t.sla_policy());
  if (selector.decision().queue().empty()) selector.mutable_decision()->set_queue(t.queue());
  selector.mutable_decision()->set_priority(t.priority());
  const Policy& policy = policies.Select(selector);
  const absl::Time wait_start = FromProtoTime(t.oldest_unanswered());
  const bool first_response = !t.has_last_outbound();

  SlaClock clock;
  if (stored) clock = *stored;
  const bool same_wait = stored && FromProtoTime(stored->wait_started()) == wait_start &&
                         stored->policy() == policy.name &&
                         stored->first_response() == first_response;
  if (stored) Count(pstate, *stored, -1);
  clock.set_thread_key(t.thread_key());
  clock.set_platform(t.platform());
  clock.set_account_id(t.account_id());
  clock.set_queue(t.queue());
  clock.set_priority(t.priority());
  clock.set_excerpt(t.excerpt());
  clock.set_permalink(t.permalink());
  if (!same_wait) {
    if (stored) {
      Unschedule(partition, *stored, view);
      view.Delete(kWaits,
                  WaitKey(partition, FromProtoTime(stored->wait_started()), t.thread_key()));
    }
    const Deadlines d = ComputeDeadlines(policy, wait_start, first_response);
    clock.set_policy(policy.name);
    clock.set_first_response(first_response);
    SetProtoTime(wait_start, clock.mutable_wait_started());
    SetProtoTime(d.warn, clock.mutable_warn_at());
    SetProtoTime(d.breach, clock.mutable_breach_at());
    if (d.escalate == absl::InfiniteFuture()) {
      clock.clear_escalate_at();
    } else {
      SetProtoTime(d.escalate, clock.mutable_escalate_at());
    }
    // A moved wait of the same thread keeps what already fired: nothing fires twice.
    UpdateNextFire(&clock);
    Schedule(partition, clock, view, out);
    view.Put(kWaits, WaitKey(partition, wait_start, t.thread_key()), "");
  }
  Count(pstate, clock, +1);
  view.Put(kClocks, clock_key, clock.SerializeAsString());
}

void SlaCore::Fire(int32_t partition, std::string_view thread_key, absl::Time now,
                   store::KvView& view, Outcome* out) const {
  const std::string clock_key = PartitionKey(partition, thread_key);
  auto v = view.Get(kClocks, clock_key);
  if (!v) return;
  SlaClock clock;
  if (!clock.ParseFromString(*v) || !clock.has_next_fire() ||
      FromProtoTime(clock.next_fire()) > now) {
    return;
  }
  // After a pause (a restart, say) several levels may be due: raise only the highest, and count
  // the lower ones as done, so a customer past escalation is not also reported as "near".
  AlertLevel highest = earshot::v1::ALERT_LEVEL_UNSPECIFIED;
  absl::Time due;
  for (const auto& [level, at] : Levels(clock)) {
    if (at <= now && (clock.fired() & Bit(level)) == 0) {
      highest = level;
      due = at;
      clock.set_fired(clock.fired() | Bit(level));
    }
  }
  Unschedule(partition, clock, view);
  if (highest != earshot::v1::ALERT_LEVEL_UNSPECIFIED) {
    Alert a = MakeAlert(clock, highest, now);
    view.Put(kFiring, PartitionKey(partition, a.alert_id()), a.SerializeAsString());
    out->alerts.push_back(std::move(a));
    out->delays.push_back(now - due);
  }
  UpdateNextFire(&clock);
  Schedule(partition, clock, view, out);
  view.Put(kClocks, clock_key, clock.SerializeAsString());
}

}  // namespace earshot::sla
