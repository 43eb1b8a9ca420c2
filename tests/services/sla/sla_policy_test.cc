#include <memory>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/sla/calendar.h"
#include "services/sla/policy.h"

// Every expected instant below is written out by hand in UTC, with the local time in a
// comment, so that the tests do not share the code's own local-to-absolute conversion.
// Europe/Berlin: CET = UTC+1, CEST = UTC+2; 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC),
// 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC).
// America/New_York: EST = UTC-5, EDT = UTC-4; 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC),
// 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC).

namespace earshot::sla {
namespace {

using earshot::v1::RoutedEvent;
using ::testing::HasSubstr;

constexpr char kExamplePolicies[] = EARSHOT_FIXTURES_DIR "/../../config/sla.example.yaml";

absl::Time Utc(int y, int mo, int d, int h, int mi = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), absl::UTCTimeZone());
}

std::shared_ptr<const Calendar> MustCalendar(const std::string& yaml) {
  auto calendar = ParseCalendar("test", yaml, "calendar.yaml");
  EXPECT_TRUE(calendar.ok()) << calendar.status();
  if (!calendar.ok()) return nullptr;
  return *std::move(calendar);
}

std::unique_ptr<PolicySet> MustParse(const std::string& yaml) {
  auto policies = PolicySet::Parse(yaml, "sla.yaml");
  EXPECT_TRUE(policies.ok()) << policies.status();
  if (!policies.ok()) return PolicySet::Default();
  return *std::move(policies);
}

// The error message of a policy file that must be refused.
std::string ErrorOf(const std::string& yaml) {
  auto policies = PolicySet::Parse(yaml, "sla.yaml");
  EXPECT_FALSE(policies.ok()) << "accepted:\n" << yaml;
  if (policies.ok()) return "";
  EXPECT_EQ(policies.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(policies.status().message());
}

// The German care desk: split shift Monday to Thursday, straight through on Friday, closed at
// the weekend.
constexpr char kBerlinCare[] = R"(
time_zone: Europe/Berlin
hours:
  mon: ["08:00-12:00", "13:00-18:00"]
  tue: ["08:00-12:00", "13:00-18:00"]
  wed: ["08:00-12:00", "13:00-18:00"]
  thu: ["08:00-12:00", "13:00-18:00"]
  fri: ["08:00-18:00"]
  sat: []
holidays: ["2026-12-25", "2026-12-26"]
)";

// A night desk: every weekday night from 22:00 to 06:00 the next morning.
constexpr char kBerlinNight[] = R"(
time_zone: Europe/Berlin
hours:
  mon: ["22:00-06:00"]
  tue: ["22:00-06:00"]
  wed: ["22:00-06:00"]
  thu: ["22:00-06:00"]
  fri: ["22:00-06:00"]
holidays: ["2026-12-25"]
)";

Policy WithCalendar(std::shared_ptr<const Calendar> calendar, absl::Duration first,
                    absl::Duration next) {
  Policy p;
  p.name = "test";
  p.first_response = first;
  p.next_response = next;
  p.calendar = std::move(calendar);
  return p;
}

// ---- Calendar time -----------------------------------------------------------------------

TEST(DeadlinesTest, CalendarTimeFirstAndNextResponse) {
  Policy p;
  p.first_response = absl::Hours(1);
  p.next_response = absl::Hours(2);
  p.warn_fraction = 0.75;
  p.escalate_after = absl::Minutes(30);
  const absl::Time start = Utc(2026, 3, 6, 10, 0);

  const Deadlines first = ComputeDeadlines(p, start, /*first_response=*/true);
  EXPECT_EQ(first.warn, Utc(2026, 3, 6, 10, 45));
  EXPECT_EQ(first.breach, Utc(2026, 3, 6, 11, 0));
  EXPECT_EQ(first.escalate, Utc(2026, 3, 6, 11, 30));

  const Deadlines next = ComputeDeadlines(p, start, /*first_response=*/false);
  EXPECT_EQ(next.warn, Utc(2026, 3, 6, 11, 30));
  EXPECT_EQ(next.breach, Utc(2026, 3, 6, 12, 0));
  EXPECT_EQ(next.escalate, Utc(2026, 3, 6, 12, 30));
}

TEST(DeadlinesTest, WarningByDurationBeforeTheDeadline) {
  Policy p;
  p.first_response = absl::Hours(1);
  p.next_response = absl::Hours(2);
  p.warn_fraction = 0;
  p.warn_before = absl::Minutes(15);
  const absl::Time start = Utc(2026, 3, 6, 10, 0);
  EXPECT_EQ(ComputeDeadlines(p, start, true).warn, Utc(2026, 3, 6, 10, 45));
  EXPECT_EQ(ComputeDeadlines(p, start, false).warn, Utc(2026, 3, 6, 11, 45));
}

TEST(DeadlinesTest, NoEscalationLevelWithoutEscalateAfter) {
  Policy p;
  EXPECT_EQ(ComputeDeadlines(p, Utc(2026, 3, 6, 10), true).escalate, absl::InfiniteFuture());
}

TEST(DeadlinesTest, CalendarTimeIsElapsedTimeAcrossDaylightSaving) {
  // 1d of calendar time from Saturday 2026-03-28 12:00 CET is 24 elapsed hours: Sunday 13:00
  // CEST on the local clock.
  auto set = MustParse("policies:\n  p: {first_response: 1d, next_response: 1d}\n");
  const Policy* p = set->Find("p");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(ComputeDeadlines(*p, Utc(2026, 3, 28, 11), true).breach, Utc(2026, 3, 29, 11));
}

// ---- Open hours ----------------------------------------------------------------------------

TEST(OpenHoursTest, FridayEveningDmIsDueMondayMorning) {
  // A DM at Friday 2026-03-06 17:30 CET, 1h target, open until 18:00 and again Monday 08:00:
  // 30 min on Friday, 30 min on Monday -> Monday 08:30 CET (07:30 UTC).
  Policy p = WithCalendar(MustCalendar(kBerlinCare), absl::Hours(1), absl::Hours(2));
  p.escalate_after = absl::Minutes(30);
  const Deadlines d = ComputeDeadlines(p, Utc(2026, 3, 6, 16, 30), true);
  EXPECT_EQ(d.breach, Utc(2026, 3, 9, 7, 30));
  // 75% = 45 min of open time: 30 on Friday, 15 on Monday -> Monday 08:15 CET.
  EXPECT_EQ(d.warn, Utc(2026, 3, 9, 7, 15));
  // 30 min of open time after the breach -> Monday 09:00 CET.
  EXPECT_EQ(d.escalate, Utc(2026, 3, 9, 8, 0));
}

TEST(OpenHoursTest, SplitShiftSkipsTheLunchBreak) {
  auto calendar = MustCalendar(kBerlinCare);
  // Monday 2026-03-09 11:30 CET + 1h: 30 min until 12:00, 30 min from 13:00 -> 13:30 CET.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 9, 10, 30), absl::Hours(1)),
            Utc(2026, 3, 9, 12, 30));
  // Starting in the lunch break (12:15 CET): counting begins at 13:00 -> 14:00 CET.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 9, 11, 15), absl::Hours(1)), Utc(2026, 3, 9, 13, 0));
  // Before opening (06:00 CET) -> 09:00 CET.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 9, 5, 0), absl::Hours(1)), Utc(2026, 3, 9, 8, 0));
  // Sunday -> Monday 09:00 CET.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 8, 12, 0), absl::Hours(1)), Utc(2026, 3, 9, 8, 0));
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 3, 9, 10, 59)));   // 11:59 CET
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 3, 9, 11, 0)));   // 12:00 CET, lunch
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 3, 9, 11, 59)));  // 12:59 CET
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 3, 9, 12, 0)));    // 13:00 CET
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 3, 9, 17, 0)));   // 18:00 CET, closed
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 3, 7, 10, 0)));   // Saturday
  // One split-shift day is 9 h, Friday 10 h: a week is 4 x 9 + 10 = 46 h.
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 3, 8, 23), Utc(2026, 3, 9, 23)), absl::Hours(9));
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 3, 8, 23), Utc(2026, 3, 15, 23)), absl::Hours(46));
  // [a, b) inside one period and across the lunch break.
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 3, 9, 10), Utc(2026, 3, 9, 13)), absl::Hours(2));
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 3, 9, 13), Utc(2026, 3, 9, 10)),
            absl::ZeroDuration());
}

TEST(OpenHoursTest, NextResponseCountsOpenHours) {
  // Next response 4h from Monday 2026-03-09 10:00 CET: 2h until 12:00, 2h from 13:00 -> 15:00.
  Policy p = WithCalendar(MustCalendar(kBerlinCare), absl::Hours(1), absl::Hours(4));
  const Deadlines d = ComputeDeadlines(p, Utc(2026, 3, 9, 9), /*first_response=*/false);
  EXPECT_EQ(d.breach, Utc(2026, 3, 9, 14));
  // 75% = 3h of open time: 2h until 12:00, 1h from 13:00 -> 14:00 CET.
  EXPECT_EQ(d.warn, Utc(2026, 3, 9, 13));
}

TEST(OpenHoursTest, WarningCountsOpenTimeToo) {
  // Target 2h from Monday 2026-03-09 11:00 CET: 1h until 12:00, 1h from 13:00 -> 14:00 CET.
  Policy p = WithCalendar(MustCalendar(kBerlinCare), absl::Hours(2), absl::Hours(2));
  // By fraction: 75% = 90 min of open time -> 13:30 CET (calendar time would say 12:30).
  Deadlines d = ComputeDeadlines(p, Utc(2026, 3, 9, 10), true);
  EXPECT_EQ(d.breach, Utc(2026, 3, 9, 13));
  EXPECT_EQ(d.warn, Utc(2026, 3, 9, 12, 30));
  // By duration: 90 min of open time before the deadline = after 30 min -> 11:30 CET
  // (calendar time would say 12:30, in the lunch break).
  p.warn_fraction = 0;
  p.warn_before = absl::Minutes(90);
  d = ComputeDeadlines(p, Utc(2026, 3, 9, 10), true);
  EXPECT_EQ(d.warn, Utc(2026, 3, 9, 10, 30));
  EXPECT_EQ(d.breach, Utc(2026, 3, 9, 13));
}

TEST(OpenHoursTest, EscalationCountsOpenTimeAfterTheBreach) {
  // Friday 2026-03-06 16:00 CET + 2h -> breach at closing time, Friday 18:00 CET; escalation
  // 1h of open time later -> Monday 09:00 CET.
  Policy p = WithCalendar(MustCalendar(kBerlinCare), absl::Hours(2), absl::Hours(2));
  p.escalate_after = absl::Hours(1);
  const Deadlines d = ComputeDeadlines(p, Utc(2026, 3, 6, 15), true);
  EXPECT_EQ(d.breach, Utc(2026, 3, 6, 17));
  EXPECT_EQ(d.escalate, Utc(2026, 3, 9, 8));
}

TEST(OpenHoursTest, OneDayIsTwentyFourOpenHours) {
  // 1d from Monday 2026-03-09 08:00 CET: 9h Mon, 9h Tue, then 6h on Wednesday: 4h until 12:00
  // and 2h from 13:00 -> Wednesday 15:00 CET.
  auto set = MustParse(std::string("calendars:\n  care:\n") +
                       R"(    time_zone: Europe/Berlin
    hours:
      mon: ["08:00-12:00", "13:00-18:00"]
      tue: ["08:00-12:00", "13:00-18:00"]
      wed: ["08:00-12:00", "13:00-18:00"]
policies:
  slow: {first_response: 1d, next_response: 2h30m, warn_at: 90s, business_hours: care}
)");
  const Policy* p = set->Find("slow");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->next_response, absl::Minutes(150));
  EXPECT_EQ(p->warn_before, absl::Seconds(90));
  EXPECT_EQ(ComputeDeadlines(*p, Utc(2026, 3, 9, 7), true).breach, Utc(2026, 3, 11, 14));
}

TEST(OpenHoursTest, OvernightPeriodsRunPastMidnight) {
  auto calendar = MustCalendar(kBerlinNight);
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 3, 5, 22)));       // Thursday 23:00 CET
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 3, 6, 2)));        // Friday 03:00, Thursday's night
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 3, 6, 5)));       // Friday 06:00, closed
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 3, 7, 4)));        // Saturday 05:00, Friday's night
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 3, 7, 21, 30)));  // Saturday 22:30: no sat period
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 3, 9, 1)));       // Monday 02:00: no sun period
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 3, 9, 22)));       // Monday 23:00
  // Thursday 2026-03-05 23:00 CET + 1h -> Friday 00:00 CET.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 5, 22), absl::Hours(1)), Utc(2026, 3, 5, 23));
  // Friday 05:00 CET + 3h: 1h until 06:00, 2h from Friday 22:00 -> Saturday 00:00 CET.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 6, 4), absl::Hours(3)), Utc(2026, 3, 6, 23));
  // Saturday 07:00 CET + 1h: next opening Monday 22:00 -> Monday 23:00 CET.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 7, 6), absl::Hours(1)), Utc(2026, 3, 9, 22));
  // A night is 8h.
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 3, 5, 12), Utc(2026, 3, 6, 12)), absl::Hours(8));
}

TEST(OpenHoursTest, SundayNightRunsIntoMonday) {
  auto calendar = MustCalendar(R"(
time_zone: Europe/Berlin
hours: {sun: ["20:00-02:00"], mon: ["02:00-04:00"]}
)");
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 3, 9, 0)));   // Monday 01:00 CET
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 3, 9, 1)));   // Monday 02:00 CET
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 3, 9, 3)));  // Monday 04:00 CET
  // Sunday 2026-03-08 23:00 CET + 4h: 3h until 02:00, touching Monday's period -> 03:00 CET.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 8, 22), absl::Hours(4)), Utc(2026, 3, 9, 2));
}

TEST(OpenHoursTest, HolidaysCloseWholeLocalDays) {
  auto calendar = MustCalendar(kBerlinCare);
  // Christmas 2026: 24 Dec Thursday (open), 25 Friday and 26 Saturday holidays.
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 12, 24, 9)));   // Thursday 10:00 CET
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 12, 25, 9)));  // Friday 10:00 CET, holiday
  // Thursday 17:00 CET + 2h: 1h on Thursday, then Monday 28 Dec 08:00 + 1h -> 09:00 CET.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 12, 24, 16), absl::Hours(2)), Utc(2026, 12, 28, 8));
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 12, 24, 23), Utc(2026, 12, 27, 23)),
            absl::ZeroDuration());
}

TEST(OpenHoursTest, HolidayCutsTheNightBeforeAtMidnightAndCancelsItsOwnNight) {
  auto calendar = MustCalendar(kBerlinNight);  // holiday 2026-12-25, a Friday
  // Thursday 24 Dec's night stops at midnight.
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 12, 24, 22)));  // Thursday 23:00 CET
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 12, 25, 0)));  // Friday 01:00 CET, holiday
  // Friday 25 Dec's night does not happen at all, its part on Saturday neither.
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 12, 25, 21, 30)));  // Friday 22:30 CET
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 12, 26, 2)));       // Saturday 03:00 CET
  // Thursday 23:00 CET + 2h: 1h until midnight, then Monday 28 Dec 22:00 + 1h -> 23:00 CET.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 12, 24, 22), absl::Hours(2)), Utc(2026, 12, 28, 22));
}

// ---- Daylight saving -----------------------------------------------------------------------

TEST(DaylightSavingTest, BerlinSpringForwardNightIsShorter) {
  auto calendar = MustCalendar(R"(
time_zone: Europe/Berlin
hours: {sun: ["01:00-04:00"]}
)");
  // Sunday 2026-03-29: 01:00 CET = 00:00 UTC, 04:00 CEST = 02:00 UTC: 2h, not 3h.
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 3, 28, 12), Utc(2026, 3, 29, 12)), absl::Hours(2));
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 3, 29, 0)));
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 3, 29, 1, 59)));
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 3, 29, 2)));
  // 90 min from the opening: 01:00 CET + 60 min reaches the jump, 30 more -> 03:30 CEST.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 29, 0), absl::Minutes(90)), Utc(2026, 3, 29, 1, 30));
  // 3h: the 2h of this night, 1h of the next Sunday (2026-04-05 01:00 CEST = 23:00 UTC).
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 28, 12), absl::Hours(3)), Utc(2026, 4, 5, 0));
}

TEST(DaylightSavingTest, BerlinFallBackNightIsLonger) {
  auto calendar = MustCalendar(R"(
time_zone: Europe/Berlin
hours: {sun: ["01:00-04:00"]}
)");
  // Sunday 2026-10-25: 01:00 CEST = Saturday 23:00 UTC, 04:00 CET = 03:00 UTC: 4h.
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 10, 24, 12), Utc(2026, 10, 25, 12)),
            absl::Hours(4));
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 10, 25, 0, 30)));  // 02:30 CEST, first time
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 10, 25, 1, 30)));  // 02:30 CET, second time
  EXPECT_FALSE(calendar->IsOpen(Utc(2026, 10, 25, 3)));
  // 3h30m from the opening -> 03:30 CET = 02:30 UTC.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 10, 24, 23), absl::Minutes(210)),
            Utc(2026, 10, 25, 2, 30));
}

TEST(DaylightSavingTest, BerlinOpeningHoursFollowTheLocalClock) {
  // Open every day 08:00-20:00. Saturday 2026-03-28 19:00 CET (18:00 UTC) + 2h: 1h on
  // Saturday, then Sunday 08:00 CEST (06:00 UTC) + 1h -> 07:00 UTC.
  auto calendar = MustCalendar(R"(
time_zone: Europe/Berlin
hours: {mon: "08:00-20:00", tue: "08:00-20:00", wed: "08:00-20:00", thu: "08:00-20:00",
        fri: "08:00-20:00", sat: "08:00-20:00", sun: "08:00-20:00"}
)");
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 28, 18), absl::Hours(2)), Utc(2026, 3, 29, 7));
  // Saturday 2026-10-24 19:00 CEST (17:00 UTC) + 2h -> Sunday 09:00 CET = 08:00 UTC.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 10, 24, 17), absl::Hours(2)), Utc(2026, 10, 25, 8));
  // Both switch days have 12 open hours: the switch happens while closed.
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 3, 28, 23), Utc(2026, 3, 29, 22)), absl::Hours(12));
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 10, 24, 22), Utc(2026, 10, 25, 23)),
            absl::Hours(12));
}

TEST(DaylightSavingTest, SkippedAndRepeatedPeriodBoundaries) {
  // A boundary in the skipped hour stands for the moment of the jump; one in the repeated hour
  // for its first occurrence.
  auto calendar = MustCalendar(R"(
time_zone: Europe/Berlin
hours: {sun: ["00:00-02:30", "02:30-05:00"]}
)");
  // 2026-03-29: 00:00 CET = 23:00 UTC (Saturday); 02:30 does not exist: 01:00 UTC (the jump);
  // 05:00 CEST = 03:00 UTC. 2h + 2h.
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 3, 28, 22), Utc(2026, 3, 29, 1)), absl::Hours(2));
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 3, 29, 1), Utc(2026, 3, 29, 12)), absl::Hours(2));
  // 2026-10-25: 00:00 CEST = 22:00 UTC (Saturday); 02:30 CEST (first) = 00:30 UTC;
  // 05:00 CET = 04:00 UTC. 2h30m + 3h30m, nothing counted twice.
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 10, 24, 12), Utc(2026, 10, 25, 0, 30)),
            absl::Minutes(150));
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 10, 25, 0, 30), Utc(2026, 10, 25, 12)),
            absl::Minutes(210));
  // A period wholly inside the skipped hour is empty that night.
  auto skipped = MustCalendar("time_zone: Europe/Berlin\nhours: {sun: [\"02:00-02:30\"]}\n");
  EXPECT_EQ(skipped->OpenTimeBetween(Utc(2026, 3, 28, 12), Utc(2026, 3, 29, 12)),
            absl::ZeroDuration());
  EXPECT_EQ(skipped->OpenTimeBetween(Utc(2026, 3, 21, 12), Utc(2026, 3, 22, 12)),
            absl::Minutes(30));
}

TEST(DaylightSavingTest, NewYorkSpringForward) {
  auto calendar = MustCalendar(R"(
time_zone: America/New_York
hours: {sat: ["09:00-17:00"], sun: ["01:00-04:00", "09:00-17:00"]}
)");
  // Sunday 2026-03-08: 01:00 EST = 06:00 UTC, 04:00 EDT = 08:00 UTC: 2h.
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 3, 8, 5), Utc(2026, 3, 8, 12)), absl::Hours(2));
  // 1h30m from 01:00 EST -> 03:30 EDT = 07:30 UTC.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 8, 6), absl::Minutes(90)), Utc(2026, 3, 8, 7, 30));
  // Saturday 2026-03-07 16:00 EST (21:00 UTC) + 4h: 1h on Saturday, 2h in the night, then
  // Sunday 09:00 EDT (13:00 UTC) + 1h -> 14:00 UTC.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 7, 21), absl::Hours(4)), Utc(2026, 3, 8, 14));
}

TEST(DaylightSavingTest, NewYorkFallBack) {
  auto calendar = MustCalendar(R"(
time_zone: America/New_York
hours: {sat: ["09:00-17:00"], sun: ["01:00-04:00", "09:00-17:00"]}
)");
  // Sunday 2026-11-01: 01:00 EDT = 05:00 UTC, 04:00 EST = 09:00 UTC: 4h.
  EXPECT_EQ(calendar->OpenTimeBetween(Utc(2026, 11, 1, 4), Utc(2026, 11, 1, 12)), absl::Hours(4));
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 11, 1, 5, 30)));  // 01:30 EDT
  EXPECT_TRUE(calendar->IsOpen(Utc(2026, 11, 1, 6, 30)));  // 01:30 EST
  // 3h from 01:00 EDT -> 03:00 EST = 08:00 UTC.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 11, 1, 5), absl::Hours(3)), Utc(2026, 11, 1, 8));
  // Saturday 2026-10-31 16:00 EDT (20:00 UTC) + 6h: 1h on Saturday, 4h in the night, then
  // Sunday 09:00 EST (14:00 UTC) + 1h -> 15:00 UTC.
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 10, 31, 20), absl::Hours(6)), Utc(2026, 11, 1, 15));
}

TEST(DaylightSavingTest, DeadlinesInNewYorkBusinessHours) {
  auto set = MustParse(R"(
calendars:
  ny:
    time_zone: America/New_York
    hours: {mon: "09:00-17:00", tue: "09:00-17:00", wed: "09:00-17:00", thu: "09:00-17:00",
            fri: "09:00-17:00"}
policies:
  dm: {first_response: 2h, next_response: 4h, warn_at: 30m, escalate_after: 1h,
       business_hours: ny}
)");
  const Policy* p = set->Find("dm");
  ASSERT_NE(p, nullptr);
  // Friday 2026-03-06 16:00 EST (21:00 UTC): 1h on Friday; Monday 2026-03-09 09:00 EDT
  // (13:00 UTC) + 1h -> 14:00 UTC. Warning 30 min of open time before: 13:30 UTC.
  // Escalation 1h later: 15:00 UTC.
  Deadlines d = ComputeDeadlines(*p, Utc(2026, 3, 6, 21), true);
  EXPECT_EQ(d.breach, Utc(2026, 3, 9, 14));
  EXPECT_EQ(d.warn, Utc(2026, 3, 9, 13, 30));
  EXPECT_EQ(d.escalate, Utc(2026, 3, 9, 15));
  // Friday 2026-10-30 15:00 EDT (19:00 UTC), next response 4h: 2h on Friday; Monday
  // 2026-11-02 09:00 EST (14:00 UTC) + 2h -> 16:00 UTC.
  d = ComputeDeadlines(*p, Utc(2026, 10, 30, 19), false);
  EXPECT_EQ(d.breach, Utc(2026, 11, 2, 16));
  EXPECT_EQ(d.warn, Utc(2026, 11, 2, 15, 30));
  EXPECT_EQ(d.escalate, Utc(2026, 11, 2, 17));
}

// ---- Calendar limits ---------------------------------------------------------------------

TEST(CalendarLimitsTest, NeverOpenCalendarNeverBreaches) {
  absl::TimeZone berlin;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  auto never = std::make_shared<WeeklyCalendar>("never", berlin, WeeklyHours{},
                                                std::vector<absl::CivilDay>{});
  EXPECT_EQ(never->AddOpenTime(Utc(2026, 3, 6, 10), absl::Hours(1)), absl::InfiniteFuture());
  EXPECT_FALSE(never->IsOpen(Utc(2026, 3, 6, 10)));
  const Deadlines d = ComputeDeadlines(WithCalendar(never, absl::Hours(1), absl::Hours(1)),
                                       Utc(2026, 3, 6, 10), true);
  EXPECT_EQ(d.warn, absl::InfiniteFuture());
  EXPECT_EQ(d.breach, absl::InfiniteFuture());
}

TEST(CalendarLimitsTest, WalkIsBoundedToAboutThreeYears) {
  // Open on Mondays only, and every Monday of ten years is a holiday.
  absl::TimeZone utc = absl::UTCTimeZone();
  WeeklyHours hours;
  hours[0].push_back(OpenPeriod{0, 24 * 60});  // Mondays
  std::vector<absl::CivilDay> holidays;
  for (absl::CivilDay day(2026, 1, 1); day < absl::CivilDay(2036, 1, 1); ++day) {
    if (absl::GetWeekday(day) == absl::Weekday::monday) holidays.push_back(day);
  }
  WeeklyCalendar calendar("closed-for-years", utc, hours, holidays);
  EXPECT_EQ(calendar.AddOpenTime(Utc(2026, 1, 1, 0), absl::Hours(1)), absl::InfiniteFuture());
  // Once the holidays end the Mondays count again.
  EXPECT_EQ(calendar.AddOpenTime(Utc(2035, 12, 1, 0), absl::Hours(1)), Utc(2036, 1, 7, 1));
}

TEST(CalendarLimitsTest, ZeroOpenTimeIsTheStart) {
  auto calendar = MustCalendar(kBerlinCare);
  EXPECT_EQ(calendar->AddOpenTime(Utc(2026, 3, 7, 10), absl::ZeroDuration()), Utc(2026, 3, 7, 10));
}

// ---- Selection -----------------------------------------------------------------------------

constexpr char kSelectPolicies[] = R"(
policies:
  dm: {first_response: 1h, next_response: 2h}
  public: {first_response: 4h, next_response: 8h, warn_at: 30m}
  escalation: {first_response: 30m, next_response: 30m, warn_at: 50%, escalate_after: 15m}
select:
  - {queue: escalation, policy: escalation}
  - {platform: [x, instagram], kind: [mention, comment], priority_min: high, policy: public}
)";

RoutedEvent Routed(std::string policy, std::string queue, earshot::v1::Platform platform,
                   earshot::v1::Kind kind, earshot::v1::Priority priority) {
  RoutedEvent r;
  r.mutable_event()->set_platform(platform);
  r.mutable_event()->set_kind(kind);
  r.mutable_decision()->set_sla_policy(std::move(policy));
  r.mutable_decision()->set_queue(std::move(queue));
  r.mutable_decision()->set_priority(priority);
  return r;
}

TEST(SelectTest, ByNameFirst) {
  auto set = MustParse(kSelectPolicies);
  // The name wins even where a select entry would match.
  EXPECT_EQ(set->Select(Routed("dm", "escalation", earshot::v1::PLATFORM_X,
                               earshot::v1::KIND_MENTION, earshot::v1::PRIORITY_URGENT))
                .name,
            "dm");
}

TEST(SelectTest, BySelectEntriesInOrderWhenTheNameIsUnknownOrEmpty) {
  auto set = MustParse(kSelectPolicies);
  EXPECT_EQ(set->Select(Routed("nope", "escalation", earshot::v1::PLATFORM_FACEBOOK,
                               earshot::v1::KIND_REVIEW, earshot::v1::PRIORITY_LOW))
                .name,
            "escalation");
  EXPECT_EQ(set->Select(Routed("", "care-de", earshot::v1::PLATFORM_INSTAGRAM,
                               earshot::v1::KIND_COMMENT, earshot::v1::PRIORITY_HIGH))
                .name,
            "public");
  EXPECT_EQ(set->Select(Routed("", "care-de", earshot::v1::PLATFORM_X, earshot::v1::KIND_MENTION,
                               earshot::v1::PRIORITY_URGENT))
                .name,
            "public");
  // priority below the minimum, another platform, another kind: no entry -> default.
  EXPECT_EQ(set->Select(Routed("", "care-de", earshot::v1::PLATFORM_X, earshot::v1::KIND_MENTION,
                               earshot::v1::PRIORITY_NORMAL))
                .name,
            "default");
  EXPECT_EQ(set->Select(Routed("", "care-de", earshot::v1::PLATFORM_FACEBOOK,
                               earshot::v1::KIND_COMMENT, earshot::v1::PRIORITY_HIGH))
                .name,
            "default");
  EXPECT_EQ(set->Select(Routed("", "care-de", earshot::v1::PLATFORM_X,
                               earshot::v1::KIND_DIRECT_MESSAGE, earshot::v1::PRIORITY_HIGH))
                .name,
            "default");
  // Without a platform on the event, the thread's platform counts.
  RoutedEvent r = Routed("", "care-de", earshot::v1::PLATFORM_UNSPECIFIED,
                         earshot::v1::KIND_COMMENT, earshot::v1::PRIORITY_HIGH);
  r.mutable_thread()->set_platform(earshot::v1::PLATFORM_INSTAGRAM);
  EXPECT_EQ(set->Select(r).name, "public");
}

TEST(SelectTest, BuiltInDefault) {
  auto set = MustParse(kSelectPolicies);
  EXPECT_EQ(set->size(), 4u);  // dm, public, escalation and the built-in default
  const Policy* p = set->Find("default");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->first_response, absl::Hours(1));
  EXPECT_EQ(p->next_response, absl::Hours(1));
  EXPECT_DOUBLE_EQ(p->warn_fraction, 0.75);
  EXPECT_EQ(p->escalate_after, absl::ZeroDuration());
  EXPECT_EQ(p->calendar, nullptr);
  EXPECT_EQ(set->Find("nope"), nullptr);

  auto builtin = PolicySet::Default();
  EXPECT_EQ(builtin->size(), 1u);
  EXPECT_EQ(builtin->Select(RoutedEvent()).name, "default");
  const Deadlines d = ComputeDeadlines(builtin->Select(RoutedEvent()), Utc(2026, 3, 6, 10), true);
  EXPECT_EQ(d.warn, Utc(2026, 3, 6, 10, 45));
  EXPECT_EQ(d.breach, Utc(2026, 3, 6, 11));
  EXPECT_EQ(d.escalate, absl::InfiniteFuture());
}

TEST(SelectTest, ConfiguredDefaultReplacesTheBuiltInOne) {
  auto set = MustParse("policies:\n  default: {first_response: 8h, next_response: 1d}\n");
  EXPECT_EQ(set->size(), 1u);
  EXPECT_EQ(set->Select(RoutedEvent()).first_response, absl::Hours(8));
  EXPECT_EQ(set->Select(RoutedEvent()).next_response, absl::Hours(24));
}

TEST(PolicyFileTest, ParsesEveryField) {
  auto set = MustParse(R"(
calendars:
  care:
    description: the desk
    time_zone: Europe/Berlin
    hours: {mon: ["08:00-12:00"]}
    holidays: [2026-12-25]
policies:
  dm:
    description: private messages
    first_response: 90s
    next_response: 2h30m
    warn_at: 87.5%
    escalate_after: 1d
    business_hours: care
  public: {first_response: 4h, next_response: 8h, warn_at: 15m, business_hours: }
)");
  const Policy* dm = set->Find("dm");
  ASSERT_NE(dm, nullptr);
  EXPECT_EQ(dm->name, "dm");
  EXPECT_EQ(dm->first_response, absl::Seconds(90));
  EXPECT_EQ(dm->next_response, absl::Minutes(150));
  EXPECT_DOUBLE_EQ(dm->warn_fraction, 0.875);
  EXPECT_EQ(dm->warn_before, absl::ZeroDuration());
  EXPECT_EQ(dm->escalate_after, absl::Hours(24));
  ASSERT_NE(dm->calendar, nullptr);
  EXPECT_EQ(dm->calendar->name(), "care");
  EXPECT_EQ(dm->calendar, set->FindCalendar("care"));
  const Policy* pub = set->Find("public");
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(pub->warn_fraction, 0);
  EXPECT_EQ(pub->warn_before, absl::Minutes(15));
  EXPECT_EQ(pub->calendar, nullptr);
  EXPECT_EQ(set->FindCalendar("nope"), nullptr);
}

// ---- Validation ----------------------------------------------------------------------------

TEST(PolicyFileErrorTest, UnknownKeys) {
  EXPECT_EQ(ErrorOf("policies: {}\ntimers: {}\n"),
            "sla.yaml:2: unknown top-level key \"timers\" (expected calendars, policies, select)");
  EXPECT_EQ(ErrorOf("calendars:\n  c:\n    time_zone: UTC\n    hours: {mon: \"08:00-09:00\"}\n"
                    "    timezone: UTC\n"),
            "sla.yaml:5: calendar \"c\": unknown calendar key \"timezone\" (expected time_zone, "
            "hours, holidays, description)");
  EXPECT_EQ(ErrorOf("policies:\n  dm:\n    first_response: 1h\n    next_response: 1h\n"
                    "    warn_after: 75%\n"),
            "sla.yaml:5: policy \"dm\": unknown policy key \"warn_after\" (expected "
            "first_response, next_response, warn_at, escalate_after, business_hours, "
            "description)");
  EXPECT_EQ(ErrorOf("select:\n  - {queue: a, policy: default}\n  - {queue: b, prio: high, "
                    "policy: default}\n"),
            "sla.yaml:3: select #2: unknown select key \"prio\" (expected queue, platform, kind, "
            "priority_min, policy, description)");
  EXPECT_EQ(
      ErrorOf(
          "calendars:\n  c:\n    time_zone: UTC\n    hours:\n      monday: [\"08:00-09:00\"]\n"),
      "sla.yaml:5: calendar \"c\": hours: unknown weekday \"monday\" (expected mon, tue, "
      "wed, thu, fri, sat, sun)");
}

TEST(PolicyFileErrorTest, BadTimeZone) {
  EXPECT_EQ(ErrorOf("calendars:\n  c:\n    time_zone: Europe/Berlinn\n    hours: {mon: "
                    "\"08:00-09:00\"}\n"),
            "sla.yaml:3: calendar \"c\": unknown time zone \"Europe/Berlinn\" (expected an IANA "
            "name like Europe/Berlin or America/New_York)");
  EXPECT_EQ(ErrorOf("calendars:\n  c:\n    hours: {mon: \"08:00-09:00\"}\n"),
            "sla.yaml:2: calendar \"c\": missing time_zone (an IANA name like Europe/Berlin)");
}

TEST(PolicyFileErrorTest, BadPeriods) {
  const std::string error = ErrorOf(R"(calendars:
  c:
    time_zone: UTC
    hours:
      mon: ["8-12"]
      tue: ["08:00-12:60"]
      wed: ["24:00-02:00"]
      thu: ["08:00"]
      fri: [{from: "08:00"}]
)");
  EXPECT_EQ(error,
            "sla.yaml:5: calendar \"c\": hours: bad period \"8-12\" on mon (expected "
            "\"HH:MM-HH:MM\"; an end at or before the start runs past midnight)\n"
            "sla.yaml:6: calendar \"c\": hours: bad period \"08:00-12:60\" on tue (expected "
            "\"HH:MM-HH:MM\"; an end at or before the start runs past midnight)\n"
            "sla.yaml:7: calendar \"c\": hours: bad period \"24:00-02:00\" on wed (expected "
            "\"HH:MM-HH:MM\"; an end at or before the start runs past midnight)\n"
            "sla.yaml:8: calendar \"c\": hours: bad period \"08:00\" on thu (expected "
            "\"HH:MM-HH:MM\"; an end at or before the start runs past midnight)\n"
            "sla.yaml:9: calendar \"c\": fri: expected a period like \"08:00-12:00\", got a map");
}

TEST(PolicyFileErrorTest, OverlappingPeriods) {
  EXPECT_EQ(ErrorOf(R"(calendars:
  c:
    time_zone: UTC
    hours:
      mon: ["08:00-12:00", "11:00-14:00"]
)"),
            "sla.yaml:5: calendar \"c\": hours: period \"11:00-14:00\" on mon overlaps "
            "\"08:00-12:00\" on mon");
  // An overnight period overlaps the next morning's; Sunday's night runs into Monday.
  EXPECT_EQ(ErrorOf(R"(calendars:
  c:
    time_zone: UTC
    hours:
      mon: ["05:00-12:00"]
      tue: ["22:00-06:00"]
      wed: ["05:30-12:00"]
      sun: ["23:00-05:30"]
)"),
            "sla.yaml:7: calendar \"c\": hours: period \"05:30-12:00\" on wed overlaps "
            "\"22:00-06:00\" on tue\n"
            "sla.yaml:8: calendar \"c\": hours: period \"23:00-05:30\" on sun overlaps "
            "\"05:00-12:00\" on mon");
  // Touching periods are fine.
  MustParse(
      "calendars:\n  c:\n    time_zone: UTC\n    hours: {mon: [\"08:00-12:00\", "
      "\"12:00-13:00\", \"22:00-08:00\"], tue: [\"08:00-09:00\"]}\n");
}

TEST(PolicyFileErrorTest, BadDates) {
  EXPECT_EQ(ErrorOf(R"(calendars:
  c:
    time_zone: UTC
    hours: {mon: "08:00-12:00"}
    holidays:
      - 2026-02-30
      - 26-12-25
      - 2026-12-25
)"),
            "sla.yaml:6: calendar \"c\": holidays: bad date \"2026-02-30\" (expected YYYY-MM-DD, "
            "a real date)\n"
            "sla.yaml:7: calendar \"c\": holidays: bad date \"26-12-25\" (expected YYYY-MM-DD, a "
            "real date)");
}

TEST(PolicyFileErrorTest, NeverOpenCalendar) {
  EXPECT_EQ(ErrorOf("calendars:\n  c:\n    time_zone: UTC\n    hours: {mon: [], sun: []}\n"),
            "sla.yaml:2: calendar \"c\": the calendar is never open: hours has no period on any "
            "weekday");
}

TEST(PolicyFileErrorTest, UnknownCalendar) {
  EXPECT_EQ(ErrorOf(R"(calendars:
  care: {time_zone: UTC, hours: {mon: "08:00-12:00"}}
policies:
  dm:
    first_response: 1h
    next_response: 1h
    business_hours: berlin-care
)"),
            "sla.yaml:7: policy \"dm\": business_hours: unknown calendar \"berlin-care\" (known: "
            "care)");
}

TEST(PolicyFileErrorTest, UnknownPolicyInSelect) {
  EXPECT_EQ(ErrorOf(R"(policies:
  dm: {first_response: 1h, next_response: 1h}
select:
  - {queue: escalation, policy: escalation}
  - {queue: escalation}
)"),
            "sla.yaml:4: select #1: unknown policy \"escalation\" (known: default, dm)\n"
            "sla.yaml:5: select #2: missing policy");
  EXPECT_EQ(ErrorOf("select:\n  - {platform: [x, myspace], priority_min: extreme, policy: "
                    "default}\n"),
            "sla.yaml:2: select #1: unknown platform \"myspace\" (expected one of x, facebook, "
            "instagram, messenger, whatsapp, telegram, generic)\n"
            "sla.yaml:2: select #1: unknown priority \"extreme\" (expected one of low, normal, "
            "high, urgent)");
}

TEST(PolicyFileErrorTest, WarnAt) {
  const std::string error = ErrorOf(R"(policies:
  a: {first_response: 1h, next_response: 2h, warn_at: soon}
  b: {first_response: 1h, next_response: 2h, warn_at: 75}
  c: {first_response: 1h, next_response: 2h, warn_at: 100%}
  d: {first_response: 1h, next_response: 2h, warn_at: 0%}
  e: {first_response: 1h, next_response: 2h, warn_at: 1h}
  f: {first_response: 3h, next_response: 2h, warn_at: 2h30m}
  g: {first_response: 1h, next_response: 2h, warn_at: 0m}
)");
  EXPECT_EQ(error,
            "sla.yaml:2: policy \"a\": warn_at: expected a percentage of the target like 75% or "
            "a duration before the deadline like 15m, got \"soon\"\n"
            "sla.yaml:3: policy \"b\": warn_at: expected a percentage of the target like 75% or "
            "a duration before the deadline like 15m, got \"75\"\n"
            "sla.yaml:4: policy \"c\": warn_at: a percentage must lie between 0% and 100% (both "
            "excluded), got \"100%\"\n"
            "sla.yaml:5: policy \"d\": warn_at: a percentage must lie between 0% and 100% (both "
            "excluded), got \"0%\"\n"
            "sla.yaml:6: policy \"e\": warn_at 1h before the deadline must be shorter than "
            "first_response (1h)\n"
            "sla.yaml:7: policy \"f\": warn_at 2h30m before the deadline must be shorter than "
            "next_response (2h)\n"
            "sla.yaml:8: policy \"g\": warn_at must be positive, got \"0m\"");
}

TEST(PolicyFileErrorTest, NonPositiveAndBadDurations) {
  const std::string error = ErrorOf(R"(policies:
  a: {first_response: 0m, next_response: -1h}
  b: {first_response: 1.5h, next_response: 1m1h}
  c: {first_response: 1h, next_response: 1h, escalate_after: 0s}
  d: {first_response: 3600, next_response: 1h}
  e: {next_response: 1h}
)");
  EXPECT_EQ(error,
            "sla.yaml:2: policy \"a\": first_response must be positive, got \"0m\"\n"
            "sla.yaml:2: policy \"a\": next_response must be positive, got \"-1h\"\n"
            "sla.yaml:3: policy \"b\": first_response: expected a duration like 90s, 15m, 1h, "
            "2h30m or 1d, got \"1.5h\"\n"
            "sla.yaml:3: policy \"b\": next_response: expected a duration like 90s, 15m, 1h, "
            "2h30m or 1d, got \"1m1h\"\n"
            "sla.yaml:4: policy \"c\": escalate_after must be positive, got \"0s\"\n"
            "sla.yaml:5: policy \"d\": first_response: expected a duration like 90s, 15m, 1h, "
            "2h30m or 1d, got \"3600\"\n"
            "sla.yaml:6: policy \"e\": missing first_response");
}

TEST(PolicyFileErrorTest, ShapesAndNames) {
  EXPECT_EQ(ErrorOf(""),
            "sla.yaml:1: the policy file is empty (expected calendars, policies, select)");
  EXPECT_THAT(ErrorOf("policies: {dm: [1h\n"), HasSubstr("invalid YAML"));
  EXPECT_EQ(ErrorOf("- policies\n"),
            "sla.yaml:1: the top level must be a map with calendars, policies and select");
  EXPECT_EQ(ErrorOf("policies:\n  \"dm 1h\": {first_response: 1h, next_response: 1h}\n"),
            "sla.yaml:2: policy name \"dm 1h\": use letters, digits, '_', '-' and '.'");
  EXPECT_EQ(ErrorOf("policies:\n  dm: 1h\n"),
            "sla.yaml:2: policy \"dm\": expected a map with first_response, next_response, "
            "warn_at, escalate_after, business_hours, got \"1h\"");
  EXPECT_EQ(ErrorOf("select: {queue: a}\n"),
            "sla.yaml:1: select: expected a list of {queue, platform, kind, priority_min, "
            "policy}");
}

TEST(PolicyFileErrorTest, ReportsEveryErrorOfTheFileAtOnce) {
  const std::string error = ErrorOf(R"(calendars:
  care:
    time_zone: Mars/Olympus
    hours: {mon: ["08:00-12:00"], fri: ["9:00-17:00", "late"]}
policies:
  dm: {first_response: 1h, next_response: soon, business_hours: care}
  public: {first_response: 4h, next_response: 8h, business_hours: elsewhere}
select:
  - {kind: dm, policy: dm}
)");
  EXPECT_EQ(error,
            "sla.yaml:3: calendar \"care\": unknown time zone \"Mars/Olympus\" (expected an IANA "
            "name like Europe/Berlin or America/New_York)\n"
            "sla.yaml:4: calendar \"care\": hours: bad period \"late\" on fri (expected "
            "\"HH:MM-HH:MM\"; an end at or before the start runs past midnight)\n"
            "sla.yaml:6: policy \"dm\": next_response: expected a duration like 90s, 15m, 1h, "
            "2h30m or 1d, got \"soon\"\n"
            "sla.yaml:7: policy \"public\": business_hours: unknown calendar \"elsewhere\" "
            "(known: none)\n"
            "sla.yaml:9: select #1: unknown kind \"dm\" (expected one of mention, comment, reply, "
            "direct_message, review, edit, delete, reaction, control, post, status)");
}

TEST(PolicyFileErrorTest, CalendarAlone) {
  auto bad = ParseCalendar(
      "c", "time_zone: UTC\nhours: {mon: [\"08:00-09:00\", \"08:30-10:00\"]}\n", "calendar.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "calendar.yaml:2: calendar \"c\": hours: period \"08:30-10:00\" on mon overlaps "
            "\"08:00-09:00\" on mon");
  EXPECT_FALSE(ParseCalendar("c", "", "calendar.yaml").ok());
}

TEST(PolicyFileTest, LoadFileReportsAMissingFile) {
  auto set = PolicySet::LoadFile("/nonexistent/sla.yaml");
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kNotFound);
}

// ---- The example file --------------------------------------------------------------------

TEST(ExamplePoliciesTest, Loads) {
  auto set = PolicySet::LoadFile(kExamplePolicies);
  ASSERT_TRUE(set.ok()) << set.status();
  // config/rules.example.yaml names these.
  ASSERT_NE((*set)->Find("public"), nullptr);
  ASSERT_NE((*set)->Find("dm"), nullptr);
  const Policy* escalation = (*set)->Find("escalation");
  ASSERT_NE(escalation, nullptr);
  EXPECT_EQ(escalation->calendar, nullptr);  // 24/7

  // A DM on Maundy Thursday 2026-04-02 at 17:30 CEST (15:30 UTC), German desk open until 18:00;
  // Good Friday and Easter Monday are holidays, Saturday opens 09:00-13:00: 30 min on
  // Thursday, 30 min on Saturday -> Saturday 2026-04-04 09:30 CEST = 07:30 UTC.
  const Policy* dm = (*set)->Find("dm");
  const Deadlines d = ComputeDeadlines(*dm, Utc(2026, 4, 2, 15, 30), true);
  EXPECT_EQ(d.breach, Utc(2026, 4, 4, 7, 30));
  // Escalation 1h of open time later -> Saturday 10:30 CEST.
  EXPECT_EQ(d.escalate, Utc(2026, 4, 4, 8, 30));

  // An urgent event whose rule names no policy goes to the 24/7 policy.
  RoutedEvent r = Routed("", "care-de", earshot::v1::PLATFORM_X, earshot::v1::KIND_MENTION,
                         earshot::v1::PRIORITY_URGENT);
  EXPECT_EQ((*set)->Select(r).name, "escalation");
  r.mutable_decision()->set_priority(earshot::v1::PRIORITY_NORMAL);
  r.mutable_decision()->set_queue("care-en");
  EXPECT_EQ((*set)->Select(r).name, "public-en");
  // The New York desk: Friday 2026-03-06 19:30 EST (00:30 UTC Saturday), 1h DM target: 30 min
  // on Friday, then Saturday 10:00 EST (15:00 UTC) + 30 min.
  r.mutable_event()->set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
  EXPECT_EQ(ComputeDeadlines((*set)->Select(r), Utc(2026, 3, 7, 0, 30), true).breach,
            Utc(2026, 3, 7, 15, 30));
}

}  // namespace
}  // namespace earshot::sla
