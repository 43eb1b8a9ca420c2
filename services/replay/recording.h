#pragma once
// Recordings of webhook deliveries: one JSON object a line (format in README.md), parsed into
// Recording values that Replayer sends. The body is kept as the exact bytes of the file (a JSON
// object body is not re-serialised), so what is signed is what was recorded, placeholders
// filled. Pure functions; any thread.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace earshot::replay {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Recording {
  int line = 0;  // 1-based line in its file, for messages
  // The gateway's webhook source (services/gateway/sources/registry.h): "meta", "x",
  // "telegram", "generic".
  std::string platform = "meta";
  std::string source;  // what the route names, for sources whose route needs it (generic)
  std::string method = "POST";
  std::string path;  // empty: the platform's route (DefaultPath)
  Headers headers;   // as recorded, in order
  std::string body;  // exact bytes, placeholders not yet filled
  // Wait this long before sending the line, after every earlier line was answered.
  absl::Duration delay = absl::ZeroDuration();
};

// The gateway route of the recording's platform, as its webhook source builds it:
// /webhooks/meta, /webhooks/x, /webhooks/telegram, /webhooks/generic/<source>; `path` when the
// recording sets one.
std::string RequestPath(const Recording& recording);

// One line of a recording file. `line_number` goes into error messages.
absl::StatusOr<Recording> ParseRecording(std::string_view line, int line_number);

// A whole file's text: blank lines and lines starting with '#' are skipped; every other line
// must be a recording. Errors name the source and the line ("scenario.jsonl:7: ...") and list
// up to 20 of them at once.
absl::StatusOr<std::vector<Recording>> ParseRecordings(std::string_view text,
                                                       std::string_view source_name);

// Reads and parses a file.
absl::StatusOr<std::vector<Recording>> LoadRecordings(const std::string& path);

}  // namespace earshot::replay
