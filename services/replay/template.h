#pragma once
// Placeholders in recordings, filled just before a request is signed, so that a recorded
// scenario carries fresh timestamps and, per run, fresh ids:
//
//   {{now_unix}}  unix seconds         {{now_ms}}  unix milliseconds
//   {{now_iso}}   RFC 3339, UTC, ms    {{now_x}}   X's created_at ("Tue Mar 04 09:15:27 +0000
//   2025")
//   {{run}}       the run's id (digits; the same for every line of one replay)
//
// A time takes an offset: {{now_unix-120}}, {{now_ms+1500}} (seconds), or with a unit
// {{now_iso-2m}} (s, m, h, d). Inside a JSON string a placeholder is replaced in place
// ("ts": "{{now_ms}}" stays a string); a JSON string that is exactly "{{num:<placeholder>}}"
// becomes a bare number ("date": "{{num:now_unix-30}}" gives "date": 1741173000), so that a
// recording stays valid JSON and the body gets numbers where the platform sends numbers.
//
// Anything else in double braces that does not start with now_, run or num: is left as it is
// (recorded customer text may contain braces); a malformed placeholder of ours is an error.
// Pure functions; any thread.
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace earshot::replay {

struct TemplateValues {
  absl::Time now = absl::UnixEpoch();  // the line's scheduled time
  std::string run;                     // {{run}}
};

absl::StatusOr<std::string> FillPlaceholders(std::string_view text, const TemplateValues& values);

}  // namespace earshot::replay
