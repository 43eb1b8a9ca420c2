#pragma once
// SLA policies and business-hours calendars (YAML, validated at start, reloaded on SIGHUP).
//
// A Calendar says when a brand's team is open (time zone, several periods per weekday, periods
// across midnight, holidays by date); a Policy says how fast the brand promises to answer
// (first and next response targets), when to warn before the deadline and when to escalate
// after it, and whether the targets count calendar time or only open hours. A PolicySet picks
// the policy for a routed event. All immutable once built; any thread.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "earshot/v1/routing.pb.h"

namespace earshot::sla {

class Calendar {
 public:
  virtual ~Calendar() = default;
  virtual const std::string& name() const = 0;
  virtual bool IsOpen(absl::Time t) const = 0;
  // The instant at which `d` of open time has passed since `start` (start may lie in a closed
  // period: counting begins at the next opening). InfiniteFuture if the calendar is never open.
  virtual absl::Time AddOpenTime(absl::Time start, absl::Duration d) const = 0;
  // Open time in [a, b).
  virtual absl::Duration OpenTimeBetween(absl::Time a, absl::Time b) const = 0;
};

struct Policy {
  std::string name;
  absl::Duration first_response = absl::Hours(1);
  absl::Duration next_response = absl::Hours(1);
  // Warning point: a fraction of the target elapsed (e.g. 0.75), or a fixed time before the
  // deadline; at most one of the two is set (warn_fraction > 0 or warn_before > 0).
  double warn_fraction = 0.75;
  absl::Duration warn_before = absl::ZeroDuration();
  // Escalation: this long after the breach (zero: no escalation level).
  absl::Duration escalate_after = absl::ZeroDuration();
  // Null: targets count calendar time. Otherwise only this calendar's open hours count.
  std::shared_ptr<const Calendar> calendar;
};

// The instants at which each level fires for one wait.
struct Deadlines {
  absl::Time warn;
  absl::Time breach;
  absl::Time escalate;  // InfiniteFuture when the policy has no escalation
};

// first_response: the brand has never answered this thread; else the next-response target.
// `wait_start` is when the wait began: the customer's first message, or the oldest customer
// message not answered since the brand's last answer. With a calendar every level counts its
// open time only: the warning after warn_fraction x target of open time (or target minus
// warn_before of it), the breach after the target, the escalation after escalate_after more;
// a wait that starts while closed starts counting at the next opening.
Deadlines ComputeDeadlines(const Policy& policy, absl::Time wait_start, bool first_response);

class PolicySet {
 public:
  virtual ~PolicySet() = default;
  // Errors name the source, line and reason, like the routing rules', e.g.
  // "sla.yaml:12: policy \"dm\": unknown calendar \"berlin\"": InvalidArgument listing every
  // error found (up to 20), one a line. The format is in services/sla/README.md ("Policies and
  // calendars"). yaml-cpp's exceptions do not leave Parse().
  static absl::StatusOr<std::unique_ptr<PolicySet>> Parse(std::string_view yaml,
                                                          std::string_view source_name);
  // NotFound when the file cannot be read; otherwise as Parse() with the path as source name.
  static absl::StatusOr<std::unique_ptr<PolicySet>> LoadFile(const std::string& path);
  // One policy "default": 1 h first and next response, calendar time, warning at 75%.
  static std::unique_ptr<PolicySet> Default();

  // The policy named by decision.sla_policy when it exists; else the first `select` entry that
  // matches queue, platform, kind and priority; else the default policy.
  virtual const Policy& Select(const earshot::v1::RoutedEvent& routed) const = 0;
  virtual const Policy* Find(std::string_view name) const = 0;
  // A calendar of the file's `calendars:` section (used by a policy or not); null if unknown.
  virtual std::shared_ptr<const Calendar> FindCalendar(std::string_view name) const = 0;
  // The number of policies, "default" included.
  virtual size_t size() const = 0;
};

// One calendar alone, given as the map under its name in `calendars:` (time_zone, hours,
// holidays), validated as in a policy file; for tests and tools. Errors as PolicySet::Parse().
absl::StatusOr<std::shared_ptr<const Calendar>> ParseCalendar(std::string_view name,
                                                              std::string_view yaml,
                                                              std::string_view source_name);

}  // namespace earshot::sla
