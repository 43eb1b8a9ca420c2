#pragma once
// Helpers shared by the platform normalisers (normalize_*.cc): tolerant JSON field access on a
// simdjson DOM, time parsing, and building the common parts of an earshot.v1.Event.
//
// Everything here is a pure function of its arguments; the DOM elements point into the
// JsonParser that the calling Normalize* function holds for the length of one call.
// Nothing throws: simdjson is used through its error-code API only.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "earshot/v1/event.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/common/base/strings.h"
#include "services/gateway/normalize.h"
#include "simdjson.h"

namespace earshot::gateway::internal {

using Json = simdjson::dom::element;

// The calling thread's simdjson parser and padded copy of the body, reused from request to
// request: a parser per call allocated its buffers, and the unpadded body a copy, every time.
// One per thread at a time (normalisers do not nest). A parser grown past 1 MiB of input is
// let go at the end of the call, so a rare large batch does not stay resident.
class JsonParser {
 public:
  JsonParser();
  ~JsonParser();
  JsonParser(const JsonParser&) = delete;
  JsonParser& operator=(const JsonParser&) = delete;

  // Parses `body` and returns the root, which must be a JSON object. InvalidArgument when the
  // body is not JSON (or not UTF-8) or its root is not an object.
  absl::StatusOr<Json> ParseObject(std::string_view body);

 private:
  struct State;
  State* state_;
};

// --- Field access. Absent keys, JSON null and a non-object `obj` all read as "not there". ---

std::optional<Json> Get(Json obj, std::string_view key);
// Get(Get(Get(obj, a), b), c) for a path {a, b, c}.
std::optional<Json> GetPath(Json obj, std::initializer_list<std::string_view> path);
std::optional<simdjson::dom::object> GetObject(Json obj, std::string_view key);
std::optional<simdjson::dom::array> GetArray(Json obj, std::string_view key);
// A string field; "" when absent or not a string.
std::string GetString(Json obj, std::string_view key);
std::string GetStringPath(Json obj, std::initializer_list<std::string_view> path);

// An identifier that may be a JSON string or an exact JSON integer (never a double: 64-bit ids
// lose precision there). "" when absent, empty, or of another type.
std::string IdOf(Json value);
std::string GetId(Json obj, std::string_view key);
std::string GetIdPath(Json obj, std::initializer_list<std::string_view> path);

// An integer given as a JSON integer or as a string of decimal digits.
std::optional<int64_t> IntOf(Json value);
std::optional<int64_t> GetInt(Json obj, std::string_view key);

// A boolean given as JSON true/false or as the string "true"/"false".
std::optional<bool> GetBool(Json obj, std::string_view key);

// A scalar rendered as text: strings as is, integers exactly, booleans as "true"/"false",
// doubles in shortest form; objects and arrays as minified JSON; null as "".
std::string ScalarText(Json value);

// --- Time. ---

enum class EpochUnit {
  kSeconds,
  kMillis,
  // Seconds unless the value is above 10^11 (year 5138 in seconds, 1973 in milliseconds).
  kAuto,
};

absl::Time FromEpoch(int64_t value, EpochUnit unit);
// Text time: RFC 3339 ("2025-03-05T08:10:00.000Z", "+00:00" or "+0000") or X's v1.1
// created_at ("Tue Mar 04 09:15:27 +0000 2025").
std::optional<absl::Time> ParseTimeText(std::string_view text);
// A time field given as an epoch number, a string of digits (both in `unit`), or time text.
std::optional<absl::Time> TimeOf(Json value, EpochUnit unit);
std::optional<absl::Time> GetTime(Json obj, std::string_view key, EpochUnit unit);


// --- Event building. ---

// A new event with platform and received_at set and created_at defaulting to received_at.
earshot::v1::Event NewEvent(earshot::v1::Platform platform, const RequestContext& ctx);
// Sets created_at when `time` is known; keeps the received_at default otherwise.
void SetCreatedAt(const std::optional<absl::Time>& time, earshot::v1::Event* event);

struct AuthorInfo {
  std::string id;
  std::string handle;
  std::string display_name;
  std::optional<int64_t> follower_count;
  bool is_bot = false;
};
void SetAuthor(const AuthorInfo& info, earshot::v1::Event* event);

// Sets attributes[key] unless `value` is empty.
void SetAttribute(std::string_view key, std::string_view value, earshot::v1::Event* event);

// "first last", either part may be empty.
std::string JoinName(std::string_view first, std::string_view last);

}  // namespace earshot::gateway::internal
