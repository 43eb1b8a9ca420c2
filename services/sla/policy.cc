#include "services/sla/policy.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "fmt/format.h"
#include "services/common/base/strings.h"
#include "services/common/base/yaml_errors.h"
#include "services/common/names/names.h"
#include "services/sla/calendar.h"
#include "yaml-cpp/yaml.h"

namespace earshot::sla {
namespace {

using names::EnumName;
using names::kKinds;
using names::kPlatforms;
using names::kPriorities;

using earshot::v1::Kind;
using earshot::v1::Platform;
using earshot::v1::Priority;
using earshot::v1::RoutedEvent;

constexpr char kDefaultPolicyName[] = "default";

// `hours` keys, in absl::Weekday order (Monday first).
constexpr std::string_view kWeekdays[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

template <typename E, size_t N>
std::string EnumNames(const EnumName<E> (&names)[N]) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n.name;
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "90s", "15m", "1h", "2h30m", "1d", "1d12h": whole numbers with units d, h, m, s, largest
// first, each unit at most once. A leading '-' is accepted so that a negative target can be
// refused as such. Returns nullopt when the text is not a duration.
std::optional<absl::Duration> ParseDuration(std::string_view text) {
  std::string_view s = Trim(text);
  bool negative = false;
  if (!s.empty() && s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  constexpr std::string_view kUnits = "dhms";
  const absl::Duration kUnitLength[] = {absl::Hours(24), absl::Hours(1), absl::Minutes(1),
                                        absl::Seconds(1)};
  absl::Duration total = absl::ZeroDuration();
  size_t next_unit = 0;  // units must come in the order of kUnits
  while (!s.empty()) {
    int64_t n = 0;
    size_t digits = 0;
    while (digits < s.size() && IsDigit(s[digits])) {
      if (digits == 9) return std::nullopt;  // far beyond any sensible target
      n = n * 10 + (s[digits] - '0');
      ++digits;
    }
    if (digits == 0 || digits == s.size()) return std::nullopt;
    const size_t unit = kUnits.find(s[digits]);
    if (unit == std::string_view::npos || unit < next_unit) return std::nullopt;
    total += n * kUnitLength[unit];
    next_unit = unit + 1;
    s.remove_prefix(digits + 1);
  }
  return negative ? -total : total;
}

// Shows a duration the way the file writes them: "1h30m", "45m", "1d2h", "0s".
std::string ShowDuration(absl::Duration d) {
  if (d < absl::ZeroDuration()) return "-" + ShowDuration(-d);
  int64_t seconds = absl::ToInt64Seconds(d);
  std::string out;
  const std::pair<int64_t, char> units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  for (const auto& [length, unit] : units) {
    if (seconds >= length) {
      out += fmt::format("{}{}", seconds / length, unit);
      seconds %= length;
    }
  }
  return out.empty() ? "0s" : out;
}

// "HH:MM" with 1 or 2 hour digits; minutes after midnight, or nullopt. "24:00" is allowed
// only where `allow_24` (the end of a period).
std::optional<int> ParseClock(std::string_view s, bool allow_24) {
  s = Trim(s);
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || s.size() != colon + 3) {
    return std::nullopt;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != colon && !IsDigit(s[i])) return std::nullopt;
  }
  const int h = colon == 1 ? s[0] - '0' : (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[colon + 1] - '0') * 10 + (s[colon + 2] - '0');
  if (m > 59) return std::nullopt;
  if (h == 24 && m == 0 && allow_24) return 24 * 60;
  if (h > 23) return std::nullopt;
  return h * 60 + m;
}

// "HH:MM-HH:MM". An end at or before the start runs past midnight into the next day, so
// "22:00-06:00" is 8 h and "08:00-08:00" 24 h; "00:00-24:00" is the whole day.
std::optional<OpenPeriod> ParsePeriod(std::string_view s) {
  const size_t dash = s.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::optional<int> start = ParseClock(s.substr(0, dash), /*allow_24=*/false);
  const std::optional<int> end = ParseClock(s.substr(dash + 1), /*allow_24=*/true);
  if (!start || !end) return std::nullopt;
  OpenPeriod p;
  p.start_minute = *start;
  p.length_minutes = *end > *start ? *end - *start : *end + 24 * 60 - *start;
  return p;
}

std::string FormatPeriod(const OpenPeriod& p) {
  const int end = (p.start_minute + p.length_minutes) % (24 * 60);
  return fmt::format("{:02}:{:02}-{:02}:{:02}", p.start_minute / 60, p.start_minute % 60, end / 60,
                     end % 60);
}

// "YYYY-MM-DD", a real date.
std::optional<absl::CivilDay> ParseDate(std::string_view s) {
  s = Trim(s);
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!IsDigit(s[i])) return std::nullopt;
  }
  const int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  const int m = (s[5] - '0') * 10 + (s[6] - '0');
  const int d = (s[8] - '0') * 10 + (s[9] - '0');
  const absl::CivilDay day(y, m, d);
  // CivilDay normalises 2026-02-30 to 2026-03-02; a real date stays as written.
  if (day.year() != y || day.month() != m || day.day() != d) return std::nullopt;
  return day;
}

absl::Duration RoundToSecond(absl::Duration d) {
  return absl::Floor(d + absl::Milliseconds(500), absl::Seconds(1));
}

// One entry of `select`, resolved to its policy.
struct Selector {
  std::set<std::string> queues;  // empty: any
  std::set<int> platforms;       // empty: any
  std::set<int> kinds;           // empty: any
  Priority priority_min = earshot::v1::PRIORITY_UNSPECIFIED;
  std::string policy_name;
  const Policy* policy = nullptr;

  bool Matches(const RoutedEvent& routed) const {
    const auto& decision = routed.decision();
    if (!queues.empty() && queues.count(decision.queue()) == 0) return false;
    if (!platforms.empty()) {
      const Platform platform = routed.event().platform() != earshot::v1::PLATFORM_UNSPECIFIED
                                    ? routed.event().platform()
                                    : routed.thread().platform();
      if (platforms.count(platform) == 0) return false;
    }
    if (!kinds.empty() && kinds.count(routed.event().kind()) == 0) return false;
    return decision.priority() >= priority_min;
  }
};

Policy BuiltinDefault() {
  Policy p;
  p.name = kDefaultPolicyName;
  return p;  // the struct's defaults: 1 h, 1 h, 75%, no escalation, calendar time
}

// The policies of one file. Built by Parser (or Default()), owned by the SLA monitor through a
// pointer it swaps on reload, never changed afterwards: Select() runs on any thread.
class CompiledPolicySet final : public PolicySet {
 public:
  CompiledPolicySet(std::map<std::string, Policy, std::less<>> policies,
                    std::vector<Selector> select,
                    std::map<std::string, std::shared_ptr<const Calendar>, std::less<>> calendars)
      : policies_(std::move(policies)),
        select_(std::move(select)),
        calendars_(std::move(calendars)) {
    policies_.try_emplace(kDefaultPolicyName, BuiltinDefault());
    default_ = &policies_.find(kDefaultPolicyName)->second;
    for (Selector& s : select_) s.policy = &policies_.find(s.policy_name)->second;
  }

  const Policy& Select(const RoutedEvent& routed) const override {
    if (const std::string& name = routed.decision().sla_policy(); !name.empty()) {
      if (const Policy* p = Find(name)) return *p;
    }
    for (const Selector& s : select_) {
      if (s.Matches(routed)) return *s.policy;
    }
    return *default_;
  }

  const Policy* Find(std::string_view name) const override {
    auto it = policies_.find(name);
    return it == policies_.end() ? nullptr : &it->second;
  }

  std::shared_ptr<const Calendar> FindCalendar(std::string_view name) const override {
    auto it = calendars_.find(name);
    return it == calendars_.end() ? nullptr : it->second;
  }

  size_t size() const override { return policies_.size(); }

 private:
  std::map<std::string, Policy, std::less<>> policies_;  // node-based: pointers stay valid
  std::vector<Selector> select_;
  const std::map<std::string, std::shared_ptr<const Calendar>, std::less<>> calendars_;
  const Policy* default_ = nullptr;
};

using Entry = YamlEntry;

// Turns one YAML document into a CompiledPolicySet, collecting every error with its line so
// that a user fixes a file in one go. Used once per load, on the loading thread.
class Parser : private YamlErrors {
 public:
  explicit Parser(std::string_view source) : YamlErrors(source) {}

  absl::StatusOr<std::unique_ptr<PolicySet>> Parse(std::string_view yaml) {
    YAML::Node root;
    if (absl::Status s = Load(yaml, &root); !s.ok()) return s;
    try {
      return Build(root);
    } catch (const YAML::Exception& e) {
      // Not expected: every node is type-checked before it is read.
      return absl::InvalidArgumentError(fmt::format("{}:{}: {}", source_, e.mark.line + 1, e.msg));
    }
  }

  absl::StatusOr<std::shared_ptr<const Calendar>> ParseOneCalendar(std::string_view name,
                                                                   std::string_view yaml) {
    YAML::Node root;
    if (absl::Status s = Load(yaml, &root); !s.ok()) return s;
    try {
      if (!root.IsDefined() || root.IsNull()) {
        return absl::InvalidArgumentError(fmt::format(
            "{}:1: the calendar is empty (expected time_zone, hours, holidays)", source_));
      }
      std::shared_ptr<const Calendar> calendar = ParseCalendar(std::string(name), root, root);
      if (error_count() > 0) return Result();
      return calendar;
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: {}", source_, e.mark.line + 1, e.msg));
    }
  }

 private:
  absl::Status Load(std::string_view yaml, YAML::Node* root) {
    try {
      *root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: invalid YAML: {}", source_, e.mark.line + 1, e.msg));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<PolicySet>> Build(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) {
      return absl::InvalidArgumentError(fmt::format(
          "{}:1: the policy file is empty (expected calendars, policies, select)", source_));
    }
    if (!root.IsMap()) {
      Error(root, "the top level must be a map with calendars, policies and select");
      return Result();
    }
    YAML::Node calendars, policies, select;
    for (const Entry& e : Entries(root)) {
      if (e.key == "calendars") {
        calendars = e.value;
      } else if (e.key == "policies") {
        policies = e.value;
      } else if (e.key == "select") {
        select = e.value;
      } else {
        Error(e.key_node,
              fmt::format("unknown top-level key \"{}\" (expected calendars, policies, select)",
                          e.key));
      }
    }
    // Calendars first and select last: each refers to what comes before it, wherever it
    // stands in the file. An empty section means none.
    if (calendars && !calendars.IsNull()) ParseCalendars(calendars);
    if (policies && !policies.IsNull()) ParsePolicies(policies);
    if (select && !select.IsNull()) ParseSelect(select);
    if (error_count() > 0) return Result();
    return std::unique_ptr<PolicySet>(
        new CompiledPolicySet(std::move(policies_), std::move(select_), std::move(calendars_)));
  }

  // ---- YAML shapes -------------------------------------------------------------------------

  // The items of a value given as one scalar or a list of scalars; an empty list or nothing
  // gives no items. nullopt (reported) when an item is not a scalar.
  std::optional<std::vector<YAML::Node>> ScalarItems(const Entry& e, std::string_view what) {
    if (e.value.IsNull()) return std::vector<YAML::Node>();
    auto given = OneOrList(e.value);
    if (!given) {
      Error(At(e),
            fmt::format("{}: expected {} or a list of them, got {}", e.key, what, Shown(e.value)));
      return std::nullopt;
    }
    std::vector<YAML::Node> items;
    bool ok = true;
    for (const YAML::Node& item : *given) {
      if (!item.IsScalar()) {
        Error(item.IsNull() ? At(e) : item,
              fmt::format("{}: expected {}, got {}", e.key, what, Shown(item)));
        ok = false;
        continue;
      }
      items.push_back(item);
    }
    if (!ok) return std::nullopt;
    return items;
  }

  // A target or escalation: a positive duration.
  std::optional<absl::Duration> PositiveDuration(const Entry& e) {
    std::optional<absl::Duration> d;
    if (e.value.IsScalar()) d = ParseDuration(e.value.Scalar());
    if (!d) {
      Error(At(e), fmt::format("{}: expected a duration like 90s, 15m, 1h, 2h30m or 1d, got {}",
                               e.key, Shown(e.value)));
      return std::nullopt;
    }
    if (*d <= absl::ZeroDuration()) {
      Error(At(e), fmt::format("{} must be positive, got {}", e.key, Shown(e.value)));
      return std::nullopt;
    }
    return d;
  }

  template <typename E, size_t N>
  std::optional<E> EnumValue(const YAML::Node& node, std::string_view kind,
                             const EnumName<E> (&names)[N], const YAML::Node& blame) {
    if (node.IsScalar()) {
      for (const auto& n : names) {
        if (n.name == node.Scalar()) return n.value;
      }
    }
    Error(node.IsNull() || Line(node) == 0 ? blame : node,
          fmt::format("unknown {} {} (expected one of {})", kind, Shown(node), EnumNames(names)));
    return std::nullopt;
  }

  template <typename E, size_t N>
  std::optional<std::set<int>> EnumSet(const Entry& e, std::string_view kind,
                                       const EnumName<E> (&names)[N]) {
    auto items = ScalarItems(e, fmt::format("a {}", kind));
    if (!items) return std::nullopt;
    if (items->empty()) {
      Error(At(e), fmt::format("{}: expected one {} or a list of them", e.key, kind));
      return std::nullopt;
    }
    std::set<int> out;
    bool ok = true;
    for (const YAML::Node& item : *items) {
      if (auto v = EnumValue(item, kind, names, e.key_node)) {
        out.insert(static_cast<int>(*v));
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // Policy and calendar names end up in alert labels and metrics.
  bool CheckName(const Entry& e, std::string_view what) {
    const bool ok = !e.key.empty() && std::all_of(e.key.begin(), e.key.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_' ||
             c == '-' || c == '.';
    });
    if (!ok) {
      Error(e.key_node,
            fmt::format("{} name \"{}\": use letters, digits, '_', '-' and '.'", what, e.key));
    }
    return ok;
  }

  template <typename Map>
  static std::string Names(const Map& map) {
    std::string out;
    for (const auto& [name, unused] : map) {
      if (!out.empty()) out += ", ";
      out += name;
    }
    return out.empty() ? "none" : out;
  }

  // ---- calendars ---------------------------------------------------------------------------

  void ParseCalendars(const YAML::Node& node) {
    if (!node.IsMap()) {
      Error(node, "calendars: expected a map of calendar names to calendars");
      return;
    }
    for (const Entry& e : Entries(node)) {
      if (!CheckName(e, "calendar")) continue;
      if (auto calendar = ParseCalendar(e.key, e.value, e.key_node)) {
        calendars_.emplace(e.key, std::move(calendar));
      } else {
        failed_calendars_.insert(e.key);
      }
    }
  }

  // Null (reported) when the calendar has an error.
  std::shared_ptr<const Calendar> ParseCalendar(const std::string& name, const YAML::Node& node,
                                                const YAML::Node& owner) {
    set_context(fmt::format("calendar \"{}\"", name));
    const size_t errors_before = error_count();
    std::shared_ptr<const Calendar> out;
    if (!node.IsMap()) {
      Error(Line(node) > 0 ? node : owner,
            fmt::format("expected a map with time_zone, hours, holidays, got {}", Shown(node)));
      set_context("");
      return out;
    }
    std::optional<absl::TimeZone> zone;
    bool has_zone = false;
    bool has_hours = false;
    WeeklyHours hours;
    std::vector<absl::CivilDay> holidays;
    for (const Entry& e : Entries(node)) {
      if (e.key == "time_zone") {
        has_zone = true;
        zone = ParseZone(e);
      } else if (e.key == "hours") {
        has_hours = true;
        ParseHours(e, &hours);
      } else if (e.key == "holidays") {
        ParseHolidays(e, &holidays);
      } else if (e.key != "description") {
        Error(e.key_node,
              fmt::format("unknown calendar key \"{}\" (expected time_zone, hours, holidays, "
                          "description)",
                          e.key));
      }
    }
    if (!has_zone) Error(owner, "missing time_zone (an IANA name like Europe/Berlin)");
    if (!has_hours) Error(owner, "missing hours (open periods per weekday)");
    if (error_count() == errors_before) {
      const bool never_open =
          std::all_of(hours.begin(), hours.end(), [](const auto& day) { return day.empty(); });
      if (never_open) {
        Error(owner, "the calendar is never open: hours has no period on any weekday");
      } else {
        out = std::make_shared<WeeklyCalendar>(name, *zone, std::move(hours), std::move(holidays));
      }
    }
    set_context("");
    return out;
  }

  std::optional<absl::TimeZone> ParseZone(const Entry& e) {
    absl::TimeZone zone;
    if (!e.value.IsScalar() || e.value.Scalar().empty()) {
      Error(At(e), fmt::format("time_zone: expected an IANA time zone name like Europe/Berlin, "
                               "got {}",
                               Shown(e.value)));
      return std::nullopt;
    }
    if (!absl::LoadTimeZone(ToAbsl(e.value.Scalar()), &zone)) {
      Error(e.value, fmt::format("unknown time zone {} (expected an IANA name like "
                                 "Europe/Berlin or America/New_York)",
                                 Shown(e.value)));
      return std::nullopt;
    }
    return zone;
  }

  void ParseHours(const Entry& hours_entry, WeeklyHours* hours) {
    if (hours_entry.value.IsNull()) return;
    if (!hours_entry.value.IsMap()) {
      Error(At(hours_entry), fmt::format("hours: expected a map of weekdays (mon ... sun) to "
                                         "lists of periods, got {}",
                                         Shown(hours_entry.value)));
      return;
    }
    // Each period with its weekday and node, to check overlaps across the whole week.
    struct Placed {
      int weekday;
      OpenPeriod period;
      YAML::Node node;
    };
    std::vector<Placed> placed;
    for (const Entry& e : Entries(hours_entry.value)) {
      const auto* day = std::find(std::begin(kWeekdays), std::end(kWeekdays), e.key);
      if (day == std::end(kWeekdays)) {
        Error(e.key_node, fmt::format("hours: unknown weekday \"{}\" (expected mon, tue, wed, "
                                      "thu, fri, sat, sun)",
                                      e.key));
        continue;
      }
      const int weekday = static_cast<int>(day - std::begin(kWeekdays));
      auto items = ScalarItems(e, "a period like \"08:00-12:00\"");
      if (!items) continue;
      for (const YAML::Node& item : *items) {
        std::optional<OpenPeriod> p = ParsePeriod(item.Scalar());
        if (!p) {
          Error(item, fmt::format("hours: bad period {} on {} (expected \"HH:MM-HH:MM\"; an end "
                                  "at or before the start runs past midnight)",
                                  Shown(item), e.key));
          continue;
        }
        placed.push_back(Placed{weekday, *p, item});
      }
    }
    // Two periods overlap when they share a minute of the week, overnight parts included
    // (Sunday's overnight period runs into Monday). Touching periods are fine.
    constexpr int kWeek = 7 * 24 * 60;
    for (size_t i = 0; i < placed.size(); ++i) {
      bool overlaps = false;
      for (size_t j = 0; j < i && !overlaps; ++j) {
        const int a = placed[j].weekday * 24 * 60 + placed[j].period.start_minute;
        const int b = placed[i].weekday * 24 * 60 + placed[i].period.start_minute;
        // Distance from one start to the other around the week.
        const int a_to_b = ((b - a) % kWeek + kWeek) % kWeek;
        const int b_to_a = ((a - b) % kWeek + kWeek) % kWeek;
        if (a_to_b < placed[j].period.length_minutes || b_to_a < placed[i].period.length_minutes) {
          overlaps = true;
          Error(placed[i].node,
                fmt::format("hours: period \"{}\" on {} overlaps \"{}\" on {}",
                            FormatPeriod(placed[i].period), kWeekdays[placed[i].weekday],
                            FormatPeriod(placed[j].period), kWeekdays[placed[j].weekday]));
        }
      }
      if (!overlaps) (*hours)[placed[i].weekday].push_back(placed[i].period);
    }
  }

  void ParseHolidays(const Entry& e, std::vector<absl::CivilDay>* holidays) {
    auto items = ScalarItems(e, "a date like \"2026-12-25\"");
    if (!items) return;
    for (const YAML::Node& item : *items) {
      if (std::optional<absl::CivilDay> day = ParseDate(item.Scalar())) {
        holidays->push_back(*day);
      } else {
        Error(item,
              fmt::format("holidays: bad date {} (expected YYYY-MM-DD, a real date)", Shown(item)));
      }
    }
  }

  // ---- policies ----------------------------------------------------------------------------

  void ParsePolicies(const YAML::Node& node) {
    if (!node.IsMap()) {
      Error(node, "policies: expected a map of policy names to policies");
      return;
    }
    for (const Entry& e : Entries(node)) {
      if (!CheckName(e, "policy")) continue;
      set_context(fmt::format("policy \"{}\"", e.key));
      if (std::optional<Policy> p = ParsePolicy(e)) {
        policies_.emplace(e.key, *std::move(p));
      } else {
        failed_policies_.insert(e.key);
      }
      set_context("");
    }
  }

  std::optional<Policy> ParsePolicy(const Entry& entry) {
    if (!entry.value.IsMap()) {
      Error(At(entry), fmt::format("expected a map with first_response, next_response, warn_at, "
                                   "escalate_after, business_hours, got {}",
                                   Shown(entry.value)));
      return std::nullopt;
    }
    const size_t errors_before = error_count();
    Policy p;
    p.name = entry.key;
    std::optional<absl::Duration> first, next;
    std::optional<Entry> warn_at;
    for (const Entry& e : Entries(entry.value)) {
      if (e.key == "first_response") {
        first = PositiveDuration(e);
        if (!first) first = absl::ZeroDuration();  // reported; not missing
      } else if (e.key == "next_response") {
        next = PositiveDuration(e);
        if (!next) next = absl::ZeroDuration();
      } else if (e.key == "warn_at") {
        warn_at = e;
      } else if (e.key == "escalate_after") {
        p.escalate_after = PositiveDuration(e).value_or(absl::ZeroDuration());
      } else if (e.key == "business_hours") {
        if (e.value.IsNull()) continue;  // explicitly calendar time
        if (!e.value.IsScalar()) {
          Error(At(e),
                fmt::format("business_hours: expected a calendar name, got {}", Shown(e.value)));
          continue;
        }
        auto it = calendars_.find(e.value.Scalar());
        if (it == calendars_.end()) {
          // A calendar refused for its own errors is not reported again here.
          if (failed_calendars_.count(e.value.Scalar()) == 0) {
            Error(e.value, fmt::format("business_hours: unknown calendar {} (known: {})",
                                       Shown(e.value), Names(calendars_)));
          }
          continue;
        }
        p.calendar = it->second;
      } else if (e.key != "description") {
        Error(e.key_node,
              fmt::format("unknown policy key \"{}\" (expected first_response, next_response, "
                          "warn_at, escalate_after, business_hours, description)",
                          e.key));
      }
    }
    if (!first) Error(entry.key_node, "missing first_response");
    if (!next) Error(entry.key_node, "missing next_response");
    // Zero where missing or refused: warn_at is then checked against the other target only.
    p.first_response = first.value_or(absl::ZeroDuration());
    p.next_response = next.value_or(absl::ZeroDuration());
    if (warn_at) ParseWarnAt(*warn_at, &p);
    if (error_count() != errors_before) return std::nullopt;
    return p;
  }

  // "75%": that fraction of the target; "15m": that long before the deadline. Checked against
  // the targets, so the policy's targets are parsed already.
  void ParseWarnAt(const Entry& e, Policy* p) {
    const std::string text = e.value.IsScalar() ? std::string(Trim(e.value.Scalar())) : "";
    if (!text.empty() && text.back() == '%') {
      const std::string number = text.substr(0, text.size() - 1);
      char* end = nullptr;
      errno = 0;
      const double percent = std::strtod(number.c_str(), &end);
      const bool numeric = !number.empty() && end == number.c_str() + number.size() && errno == 0 &&
                           std::isfinite(percent) &&
                           (IsDigit(number.front()) || number.front() == '.');
      if (numeric) {
        if (percent <= 0 || percent >= 100) {
          Error(e.value, fmt::format("warn_at: a percentage must lie between 0% and 100% "
                                     "(both excluded), got {}",
                                     Shown(e.value)));
          return;
        }
        p->warn_fraction = percent / 100;
        p->warn_before = absl::ZeroDuration();
        return;
      }
    }
    std::optional<absl::Duration> before = text.empty() ? std::nullopt : ParseDuration(text);
    if (!before) {
      Error(At(e), fmt::format("warn_at: expected a percentage of the target like 75% or a "
                               "duration before the deadline like 15m, got {}",
                               Shown(e.value)));
      return;
    }
    if (*before <= absl::ZeroDuration()) {
      Error(e.value, fmt::format("warn_at must be positive, got {}", Shown(e.value)));
      return;
    }
    // Checked only against targets that parsed; a bad target is reported already.
    const std::pair<const char*, absl::Duration> targets[] = {{"first_response", p->first_response},
                                                              {"next_response", p->next_response}};
    for (const auto& [key, target] : targets) {
      if (target > absl::ZeroDuration() && *before >= target) {
        Error(e.value, fmt::format("warn_at {} before the deadline must be shorter than "
                                   "{} ({})",
                                   ShowDuration(*before), key, ShowDuration(target)));
        return;
      }
    }
    p->warn_fraction = 0;
    p->warn_before = *before;
  }

  // ---- select ------------------------------------------------------------------------------

  void ParseSelect(const YAML::Node& node) {
    if (!node.IsSequence()) {
      Error(node, "select: expected a list of {queue, platform, kind, priority_min, policy}");
      return;
    }
    int index = 0;
    for (const YAML::Node& item : node) {
      ++index;
      set_context(fmt::format("select #{}", index));
      if (!item.IsMap()) {
        Error(item, fmt::format("expected a map with queue, platform, kind, priority_min, "
                                "policy, got {}",
                                Shown(item)));
        continue;
      }
      const size_t errors_before = error_count();
      Selector s;
      bool has_policy = false;
      for (const Entry& e : Entries(item)) {
        if (e.key == "queue") {
          if (auto items = ScalarItems(e, "a queue name")) {
            for (const YAML::Node& q : *items) s.queues.insert(q.Scalar());
            if (items->empty()) Error(At(e), "queue: expected a queue name or a list of them");
          }
        } else if (e.key == "platform") {
          if (auto set = EnumSet(e, "platform", kPlatforms)) s.platforms = *set;
        } else if (e.key == "kind") {
          if (auto set = EnumSet(e, "kind", kKinds)) s.kinds = *set;
        } else if (e.key == "priority_min") {
          if (auto v = EnumValue(e.value, "priority", kPriorities, e.key_node)) {
            s.priority_min = *v;
          }
        } else if (e.key == "policy") {
          has_policy = true;
          if (!e.value.IsScalar() || e.value.Scalar().empty()) {
            Error(At(e), fmt::format("policy: expected a policy name, got {}", Shown(e.value)));
            continue;
          }
          s.policy_name = e.value.Scalar();
          const bool known =
              policies_.count(s.policy_name) > 0 || s.policy_name == kDefaultPolicyName;
          if (!known && !failed_policies_.count(s.policy_name)) {
            std::map<std::string, Policy, std::less<>> shown = policies_;
            shown.try_emplace(kDefaultPolicyName);
            Error(e.value,
                  fmt::format("unknown policy {} (known: {})", Shown(e.value), Names(shown)));
          }
        } else if (e.key != "description") {
          Error(e.key_node, fmt::format("unknown select key \"{}\" (expected queue, platform, "
                                        "kind, priority_min, policy, description)",
                                        e.key));
        }
      }
      if (!has_policy) Error(item, "missing policy");
      if (error_count() == errors_before) select_.push_back(std::move(s));
    }
    set_context("");
  }

  std::map<std::string, std::shared_ptr<const Calendar>, std::less<>> calendars_;
  std::set<std::string> failed_calendars_;  // refused for their own errors
  std::map<std::string, Policy, std::less<>> policies_;
  std::set<std::string> failed_policies_;
  std::vector<Selector> select_;
};

}  // namespace

Deadlines ComputeDeadlines(const Policy& policy, absl::Time wait_start, bool first_response) {
  const absl::Duration target = first_response ? policy.first_response : policy.next_response;
  // How much counted time (calendar or open) after the start of the wait the warning fires.
  absl::Duration warn_after = target;
  if (policy.warn_fraction > 0) {
    warn_after = RoundToSecond(target * policy.warn_fraction);
  } else if (policy.warn_before > absl::ZeroDuration()) {
    warn_after = std::max(absl::ZeroDuration(), target - policy.warn_before);
  }
  const bool escalates = policy.escalate_after > absl::ZeroDuration();
  Deadlines out;
  if (policy.calendar) {
    const Calendar& calendar = *policy.calendar;
    out.breach = calendar.AddOpenTime(wait_start, target);
    out.warn = calendar.AddOpenTime(wait_start, warn_after);
    out.escalate = escalates ? calendar.AddOpenTime(out.breach, policy.escalate_after)
                             : absl::InfiniteFuture();
  } else {
    out.breach = wait_start + target;
    out.warn = wait_start + warn_after;
    out.escalate = escalates ? out.breach + policy.escalate_after : absl::InfiniteFuture();
  }
  return out;
}

absl::StatusOr<std::unique_ptr<PolicySet>> PolicySet::Parse(std::string_view yaml,
                                                            std::string_view source_name) {
  return Parser(source_name).Parse(yaml);
}

absl::StatusOr<std::unique_ptr<PolicySet>> PolicySet::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        fmt::format("cannot read SLA policy file {}: {}", path, std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

std::unique_ptr<PolicySet> PolicySet::Default() {
  return std::make_unique<CompiledPolicySet>(
      std::map<std::string, Policy, std::less<>>{}, std::vector<Selector>{},
      std::map<std::string, std::shared_ptr<const Calendar>, std::less<>>{});
}

absl::StatusOr<std::shared_ptr<const Calendar>> ParseCalendar(std::string_view name,
                                                              std::string_view yaml,
                                                              std::string_view source_name) {
  return Parser(source_name).ParseOneCalendar(name, yaml);
}

}  // namespace earshot::sla
