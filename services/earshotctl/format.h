#pragma once
// How earshotctl shows what it receives: one human-readable line per routed event or alert,
// a block per thread, or protobuf JSON lines (--json). Pure functions; any thread.
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "earshot/v1/alert.pb.h"
#include "earshot/v1/routing.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"

namespace earshot::ctl {

// "2026-11-23 14:03:07" in `tz`; "-" for an unset time.
std::string FormatTime(const google::protobuf::Timestamp& ts, absl::TimeZone tz);

// "45s", "4m05s", "2h03m", "3d04h".
std::string FormatWait(absl::Duration d);

// The text on one line (newlines and tabs as spaces), at most `max_chars` characters (UTF-8
// code points), with "…" when cut.
std::string Excerpt(std::string_view text, size_t max_chars);

// time, platform, queue, priority, thread key, author, excerpt, tags:
// 2026-11-23 14:03:07  x          care-en     high    x:4000000001:u:7777001  @danak_88  "my
// order…"  #question The brand's own messages show "(brand)" after the author; ignored ones
// "[ignored]".
std::string FormatRouted(const earshot::v1::RoutedEvent& routed, absl::TimeZone tz);

// time, level, state, queue, thread key, waited, policy, excerpt:
// 2026-11-23 14:03:52  BREACH      firing    care-en     tg:7000000001:1763900000  waited 31s
// policy dm  "Hi, …"
std::string FormatAlert(const earshot::v1::Alert& alert, absl::TimeZone tz);

// `thread get`: one "key  value" line per field that is set.
std::string FormatThread(const earshot::v1::Thread& thread, absl::TimeZone tz, absl::Time now);

// `thread list`: one line per thread: key, status, queue, priority, waiting, excerpt.
std::string FormatThreadRow(const earshot::v1::Thread& thread, absl::Time now);

// One line of protobuf JSON (lowerCamelCase names, enums by name).
std::string ToJsonLine(const google::protobuf::Message& message);

// "awaiting_reply", "answered", "resolved"; and back (false for an unknown name).
std::string_view ThreadStatusName(earshot::v1::ThreadStatus status);
bool ParseThreadStatus(std::string_view name, earshot::v1::ThreadStatus* out);

}  // namespace earshot::ctl
