#pragma once
// WeeklyCalendar: the Calendar behind `calendars:` in the SLA policy file. A time zone, open
// periods per weekday in local wall-clock time (a period may run past midnight), and holidays
// (local dates on which nothing is open). Built once by the policy parser (or a test), shared
// by the policies that name it, immutable: any thread may call it.
//
// How local times become instants (see services/sla/README.md, "Policies and calendars"):
// - a local time that does not exist (the hour skipped when clocks go forward) stands for the
//   moment of the jump; a local time that occurs twice (the hour repeated when clocks go back)
//   stands for its first occurrence. So a period 01:00-04:00 is 2 h long on a spring-forward
//   night and 4 h long on a fall-back night in Europe/Berlin.
// - a period belongs to the day it starts on. A holiday closes its whole local date: the
//   periods starting on it do not happen (nor their part after midnight), and a period of the
//   day before that runs into it stops at midnight.
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/sla/policy.h"

namespace earshot::sla {

// One open period of a weekday, in minutes of the local wall clock.
struct OpenPeriod {
  int start_minute = 0;    // after local midnight, [0, 1440)
  int length_minutes = 0;  // (0, 1440]; start + length > 1440 runs into the next day
};

// Index 0 is Monday, as absl::Weekday::monday; 6 is Sunday.
using WeeklyHours = std::array<std::vector<OpenPeriod>, 7>;

class WeeklyCalendar final : public Calendar {
 public:
  // Periods of a day are sorted here; they must not overlap one another (the parser checks
  // that, with the line of the offending period). No period at all is allowed here (a calendar
  // that is never open: every deadline is InfiniteFuture), though the parser refuses it.
  WeeklyCalendar(std::string name, absl::TimeZone zone, WeeklyHours hours,
                 std::vector<absl::CivilDay> holidays);

  const std::string& name() const override { return name_; }
  bool IsOpen(absl::Time t) const override;
  // Walks local days and their periods, never minutes; gives up (InfiniteFuture) when `d` of
  // open time is not reached within kMaxWalkDays local days of `start`.
  absl::Time AddOpenTime(absl::Time start, absl::Duration d) const override;
  // Counts at most kMaxWalkDays local days after `a`.
  absl::Duration OpenTimeBetween(absl::Time a, absl::Time b) const override;

  const absl::TimeZone& zone() const { return zone_; }

  // About three years.
  static constexpr int kMaxWalkDays = 3 * 366;

 private:
  struct Interval {
    absl::Time start;
    absl::Time end;
  };

  // The instant a local wall-clock time stands for (see the top of this file).
  absl::Time ToInstant(absl::CivilSecond cs) const;
  absl::CivilDay LocalDay(absl::Time t) const;
  bool IsHoliday(absl::CivilDay day) const;
  // Appends the open intervals of the periods starting on `day`, in order; empty ones dropped.
  void IntervalsOf(absl::CivilDay day, std::vector<Interval>* out) const;

  const std::string name_;
  const absl::TimeZone zone_;
  WeeklyHours hours_;                     // each day sorted by start
  std::vector<absl::CivilDay> holidays_;  // sorted, unique
  bool ever_open_ = false;
};

}  // namespace earshot::sla
