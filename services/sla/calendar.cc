#include "services/sla/calendar.h"

#include <algorithm>
#include <utility>

namespace earshot::sla {

WeeklyCalendar::WeeklyCalendar(std::string name, absl::TimeZone zone, WeeklyHours hours,
                               std::vector<absl::CivilDay> holidays)
    : name_(std::move(name)),
      zone_(zone),
      hours_(std::move(hours)),
      holidays_(std::move(holidays)) {
  for (std::vector<OpenPeriod>& day : hours_) {
    std::sort(day.begin(), day.end(), [](const OpenPeriod& a, const OpenPeriod& b) {
      return a.start_minute < b.start_minute;
    });
    for (const OpenPeriod& p : day) {
      if (p.length_minutes > 0) ever_open_ = true;
    }
  }
  std::sort(holidays_.begin(), holidays_.end());
  holidays_.erase(std::unique(holidays_.begin(), holidays_.end()), holidays_.end());
}

absl::Time WeeklyCalendar::ToInstant(absl::CivilSecond cs) const {
  const absl::TimeZone::TimeInfo info = zone_.At(cs);
  // SKIPPED: `trans` is the moment the clock jumped over `cs`. REPEATED: `pre` is the first
  // occurrence. Both keep the mapping monotonic, so periods that do not overlap on the wall
  // clock do not overlap as instants either.
  return info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
}

absl::CivilDay WeeklyCalendar::LocalDay(absl::Time t) const {
  return absl::CivilDay(zone_.At(t).cs);
}

bool WeeklyCalendar::IsHoliday(absl::CivilDay day) const {
  return std::binary_search(holidays_.begin(), holidays_.end(), day);
}

void WeeklyCalendar::IntervalsOf(absl::CivilDay day, std::vector<Interval>* out) const {
  if (IsHoliday(day)) return;
  const auto& periods = hours_[static_cast<int>(absl::GetWeekday(day))];
  if (periods.empty()) return;
  const absl::CivilSecond midnight(day);
  const absl::CivilSecond next_midnight(day + 1);
  const bool next_is_holiday = IsHoliday(day + 1);
  for (const OpenPeriod& p : periods) {
    const absl::CivilSecond start = midnight + p.start_minute * 60;
    absl::CivilSecond end = start + p.length_minutes * 60;
    if (next_is_holiday && end > next_midnight) end = next_midnight;
    const absl::Time s = ToInstant(start);
    const absl::Time e = ToInstant(end);
    if (e > s) out->push_back(Interval{s, e});
  }
}

bool WeeklyCalendar::IsOpen(absl::Time t) const {
  if (!ever_open_ || t == absl::InfinitePast() || t == absl::InfiniteFuture()) return false;
  const absl::CivilDay day = LocalDay(t);
  std::vector<Interval> intervals;
  // A period starts at most a day before the local day it covers.
  IntervalsOf(day - 1, &intervals);
  IntervalsOf(day, &intervals);
  return std::any_of(intervals.begin(), intervals.end(),
                     [t](const Interval& i) { return i.start <= t && t < i.end; });
}

absl::Time WeeklyCalendar::AddOpenTime(absl::Time start, absl::Duration d) const {
  if (start == absl::InfinitePast() || start == absl::InfiniteFuture()) return start;
  if (d <= absl::ZeroDuration()) return start;
  if (!ever_open_ || d == absl::InfiniteDuration()) return absl::InfiniteFuture();
  absl::Duration remaining = d;
  absl::Time cursor = start;  // open time before it is counted already
  std::vector<Interval> intervals;
  const absl::CivilDay first = LocalDay(start) - 1;
  for (absl::CivilDay day = first; day - first <= kMaxWalkDays; ++day) {
    intervals.clear();
    IntervalsOf(day, &intervals);
    for (const Interval& i : intervals) {
      const absl::Time s = std::max(i.start, cursor);
      if (i.end <= s) continue;
      const absl::Duration open = i.end - s;
      if (remaining <= open) return s + remaining;
      remaining -= open;
      cursor = i.end;
    }
  }
  return absl::InfiniteFuture();
}

absl::Duration WeeklyCalendar::OpenTimeBetween(absl::Time a, absl::Time b) const {
  if (!ever_open_ || a >= b) return absl::ZeroDuration();
  if (a == absl::InfinitePast()) return absl::InfiniteDuration();
  absl::Duration total = absl::ZeroDuration();
  absl::Time cursor = a;
  std::vector<Interval> intervals;
  const absl::CivilDay first = LocalDay(a) - 1;
  const absl::CivilDay last = b == absl::InfiniteFuture()
                                  ? first + kMaxWalkDays
                                  : std::min(LocalDay(b), first + kMaxWalkDays);
  for (absl::CivilDay day = first; day <= last; ++day) {
    intervals.clear();
    IntervalsOf(day, &intervals);
    for (const Interval& i : intervals) {
      const absl::Time s = std::max(i.start, cursor);
      const absl::Time e = std::min(i.end, b);
      if (e <= s) continue;
      total += e - s;
      cursor = e;
    }
  }
  return total;
}

}  // namespace earshot::sla
