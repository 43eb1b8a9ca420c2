#include "services/earshotctl/format.h"

#include "absl/strings/str_join.h"
#include "fmt/format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/base/proto_time.h"
#include "services/common/names/names.h"

namespace earshot::ctl {
namespace {

using earshot::v1::Alert;
using earshot::v1::RoutedEvent;
using earshot::v1::Thread;

bool IsSet(const google::protobuf::Timestamp& ts) { return ts.seconds() != 0 || ts.nanos() != 0; }

std::string Author(const earshot::v1::Author& a) {
  if (!a.handle().empty()) return "@" + a.handle();
  if (!a.display_name().empty()) return a.display_name();
  if (!a.id().empty()) return a.id();
  return "-";
}

std::string_view LevelName(earshot::v1::AlertLevel level) {
  switch (level) {
    case earshot::v1::ALERT_LEVEL_WARNING:
      return "WARNING";
    case earshot::v1::ALERT_LEVEL_BREACH:
      return "BREACH";
    case earshot::v1::ALERT_LEVEL_ESCALATION:
      return "ESCALATION";
    case earshot::v1::ALERT_LEVEL_SURGE:
      return "SURGE";
    case earshot::v1::ALERT_LEVEL_SILENCE:
      return "SILENCE";
    default:
      return "ALERT";
  }
}

std::string Quoted(std::string_view text, size_t max_chars) {
  if (text.empty()) return "";
  return "\"" + Excerpt(text, max_chars) + "\"";
}

}  // namespace

std::string FormatTime(const google::protobuf::Timestamp& ts, absl::TimeZone tz) {
  if (!IsSet(ts)) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", FromProtoTime(ts), tz);
}

std::string FormatWait(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  const int64_t s = absl::ToInt64Seconds(d);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

std::string Excerpt(std::string_view text, size_t max_chars) {
  std::string out;
  out.reserve(std::min(text.size(), max_chars * 4));
  size_t chars = 0;
  bool space = false;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 1;
    if (i + len > text.size()) len = 1;
    const bool is_space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (is_space) {
      space = !out.empty();
      ++i;
      continue;
    }
    if (chars + (space ? 1 : 0) + 1 > max_chars) {
      out += "…";
      return out;
    }
    if (space) {
      out.push_back(' ');
      ++chars;
      space = false;
    }
    out.append(text.substr(i, len));
    ++chars;
    i += len;
  }
  return out;
}

std::string FormatRouted(const RoutedEvent& routed, absl::TimeZone tz) {
  const auto& e = routed.event();
  const auto& d = routed.decision();
  const auto& when = IsSet(e.created_at()) ? e.created_at() : e.received_at();
  std::string author = Author(e.author());
  if (e.direction() == earshot::v1::DIRECTION_OUTBOUND) author += " (brand)";
  std::string text;
  if (!e.text().empty()) {
    text = Quoted(e.text(), 72);
  } else if (auto it = e.attributes().find("status"); it != e.attributes().end()) {
    text = fmt::format("[{} {}]", names::Kind(e.kind()), it->second);
  } else {
    text = fmt::format("[{}]", names::Kind(e.kind()));
  }
  std::string tags;
  for (const auto& t : d.tags()) tags += " #" + t;
  return fmt::format("{}  {:<9}  {:<11} {:<7} {}  {}  {}{}{}", FormatTime(when, tz),
                     names::Platform(e.platform()), d.queue().empty() ? "-" : d.queue(),
                     names::Priority(d.priority()), e.thread_key(), author, text,
                     d.ignore() ? "  [ignored]" : "", tags.empty() ? "" : " " + tags);
}

std::string FormatAlert(const Alert& a, absl::TimeZone tz) {
  const bool resolved = a.state() == earshot::v1::ALERT_STATE_RESOLVED;
  const auto& when = resolved && IsSet(a.resolved_at()) ? a.resolved_at() : a.fired_at();
  const std::string subject = !a.thread_key().empty() ? a.thread_key() : a.account_id();
  const absl::Duration waited =
      absl::Seconds(a.waited().seconds()) + absl::Nanoseconds(a.waited().nanos());
  std::string detail;
  if (a.level() == earshot::v1::ALERT_LEVEL_SURGE ||
      a.level() == earshot::v1::ALERT_LEVEL_SILENCE) {
    detail = a.summary();
  } else {
    detail = fmt::format("waited {}  policy {}", FormatWait(waited),
                         a.policy().empty() ? "-" : a.policy());
    if (!a.excerpt().empty()) detail += "  " + Quoted(a.excerpt(), 60);
  }
  return fmt::format("{}  {:<10}  {:<8}  {:<11} {}  {}", FormatTime(when, tz), LevelName(a.level()),
                     resolved ? "resolved" : "firing", a.queue().empty() ? "-" : a.queue(), subject,
                     detail);
}

std::string FormatThread(const Thread& t, absl::TimeZone tz, absl::Time now) {
  std::string out;
  auto line = [&](std::string_view key, const std::string& value) {
    if (!value.empty()) out += fmt::format("{:<14}{}\n", key, value);
  };
  line("thread", t.thread_key());
  std::string status(ThreadStatusName(t.status()));
  if (t.status() == earshot::v1::THREAD_STATUS_AWAITING_REPLY && IsSet(t.oldest_unanswered())) {
    status +=
        fmt::format(" for {} ({} unanswered)",
                    FormatWait(now - FromProtoTime(t.oldest_unanswered())), t.unanswered_count());
  }
  if (t.ignored()) status += " [ignored: no clock]";
  if (t.status() == earshot::v1::THREAD_STATUS_RESOLVED && !t.resolve_reason().empty()) {
    status += " (" + t.resolve_reason() + ")";
  }
  line("status", status);
  line("platform", std::string(names::Platform(t.platform())));
  line("account", t.account_id());
  line("queue", t.queue());
  line("priority", std::string(names::Priority(t.priority())));
  line("sla policy", t.sla_policy());
  line("tags", absl::StrJoin(t.tags(), ", "));
  line("language", t.lang());
  line("messages", std::to_string(t.message_count()));
  line("participants", absl::StrJoin(t.participants(), ", "));
  line("first seen", IsSet(t.first_seen()) ? FormatTime(t.first_seen(), tz) : "");
  line("last inbound", IsSet(t.last_inbound()) ? FormatTime(t.last_inbound(), tz) : "");
  line("last outbound", IsSet(t.last_outbound()) ? FormatTime(t.last_outbound(), tz) : "");
  line("waiting since", IsSet(t.oldest_unanswered()) ? FormatTime(t.oldest_unanswered(), tz) : "");
  line("excerpt", t.excerpt().empty() ? "" : Quoted(t.excerpt(), 200));
  line("permalink", t.permalink());
  return out;
}

std::string FormatThreadRow(const Thread& t, absl::Time now) {
  std::string waiting = "-";
  if (t.status() == earshot::v1::THREAD_STATUS_AWAITING_REPLY && IsSet(t.oldest_unanswered())) {
    waiting = FormatWait(now - FromProtoTime(t.oldest_unanswered()));
  }
  return fmt::format("{}  {:<14}  {:<11} {:<7} {:>7}  {}", t.thread_key(),
                     ThreadStatusName(t.status()), t.queue().empty() ? "-" : t.queue(),
                     names::Priority(t.priority()), waiting, Quoted(t.excerpt(), 60));
}

std::string ToJsonLine(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

std::string_view ThreadStatusName(earshot::v1::ThreadStatus status) {
  switch (status) {
    case earshot::v1::THREAD_STATUS_AWAITING_REPLY:
      return "awaiting_reply";
    case earshot::v1::THREAD_STATUS_ANSWERED:
      return "answered";
    case earshot::v1::THREAD_STATUS_RESOLVED:
      return "resolved";
    default:
      return "unknown";
  }
}

bool ParseThreadStatus(std::string_view name, earshot::v1::ThreadStatus* out) {
  for (auto s : {earshot::v1::THREAD_STATUS_AWAITING_REPLY, earshot::v1::THREAD_STATUS_ANSWERED,
                 earshot::v1::THREAD_STATUS_RESOLVED}) {
    if (ThreadStatusName(s) == name) {
      *out = s;
      return true;
    }
  }
  return false;
}

}  // namespace earshot::ctl
