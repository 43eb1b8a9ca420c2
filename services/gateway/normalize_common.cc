#include "services/gateway/normalize_common.h"

#include <cassert>
#include <charconv>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "fmt/format.h"
#include "services/common/base/proto_time.h"
#include "services/common/names/names.h"

namespace earshot::gateway {

std::string_view PlatformName(earshot::v1::Platform platform) {
  return names::NameOf(names::kPlatforms, platform, "unspecified");
}

namespace internal {

using simdjson::dom::element_type;

struct JsonParser::State {
  static constexpr size_t kKeptCapacity = 1 << 20;
  simdjson::dom::parser parser;
  std::string padded;  // the body, then SIMDJSON_PADDING bytes simdjson may read past its end
  bool in_use = false;
};

JsonParser::JsonParser() {
  thread_local State state;
  state_ = &state;
  assert(!state_->in_use && "normalisers do not nest");
  state_->in_use = true;
}

JsonParser::~JsonParser() {
  if (state_->padded.capacity() > State::kKeptCapacity) {
    state_->parser = simdjson::dom::parser();
    std::string().swap(state_->padded);
  }
  state_->in_use = false;
}

absl::StatusOr<Json> JsonParser::ParseObject(std::string_view body) {
  state_->padded.assign(body);
  state_->padded.append(simdjson::SIMDJSON_PADDING, '\0');
  Json root;
  simdjson::error_code error =
      state_->parser.parse(state_->padded.data(), body.size(), false).get(root);
  if (error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("body is not valid JSON: ", simdjson::error_message(error)));
  }
  if (root.type() != element_type::OBJECT) {
    return absl::InvalidArgumentError("body is not a JSON object");
  }
  return root;
}

std::optional<Json> Get(Json obj, std::string_view key) {
  if (obj.type() != element_type::OBJECT) {
    return std::nullopt;
  }
  Json value;
  if (obj[key].get(value) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  if (value.is_null()) {
    return std::nullopt;
  }
  return value;
}

std::optional<Json> GetPath(Json obj, std::initializer_list<std::string_view> path) {
  std::optional<Json> current = obj;
  for (std::string_view key : path) {
    current = Get(*current, key);
    if (!current) {
      return std::nullopt;
    }
  }
  return current;
}

std::optional<simdjson::dom::object> GetObject(Json obj, std::string_view key) {
  std::optional<Json> value = Get(obj, key);
  simdjson::dom::object result;
  if (!value || value->get_object().get(result) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return result;
}

std::optional<simdjson::dom::array> GetArray(Json obj, std::string_view key) {
  std::optional<Json> value = Get(obj, key);
  simdjson::dom::array result;
  if (!value || value->get_array().get(result) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return result;
}

namespace {

std::string StringOf(std::optional<Json> value) {
  std::string_view text;
  if (!value || value->get_string().get(text) != simdjson::SUCCESS) {
    return "";
  }
  return std::string(text);
}

}  // namespace

std::string GetString(Json obj, std::string_view key) { return StringOf(Get(obj, key)); }

std::string GetStringPath(Json obj, std::initializer_list<std::string_view> path) {
  return StringOf(GetPath(obj, path));
}

std::string IdOf(Json value) {
  switch (value.type()) {
    case element_type::STRING: {
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS) {
        return "";
      }
      return std::string(text);
    }
    case element_type::INT64: {
      int64_t number = 0;
      if (value.get_int64().get(number) != simdjson::SUCCESS) {
        return "";
      }
      return absl::StrCat(number);
    }
    case element_type::UINT64: {
      uint64_t number = 0;
      if (value.get_uint64().get(number) != simdjson::SUCCESS) {
        return "";
      }
      return absl::StrCat(number);
    }
    default:
      return "";
  }
}

std::string GetId(Json obj, std::string_view key) {
  std::optional<Json> value = Get(obj, key);
  return value ? IdOf(*value) : "";
}

std::string GetIdPath(Json obj, std::initializer_list<std::string_view> path) {
  std::optional<Json> value = GetPath(obj, path);
  return value ? IdOf(*value) : "";
}

std::optional<int64_t> IntOf(Json value) {
  switch (value.type()) {
    case element_type::INT64: {
      int64_t number = 0;
      if (value.get_int64().get(number) != simdjson::SUCCESS) {
        return std::nullopt;
      }
      return number;
    }
    case element_type::UINT64: {
      // Above INT64_MAX: not a value any platform sends for counts or times.
      return std::nullopt;
    }
    case element_type::STRING: {
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS || text.empty()) {
        return std::nullopt;
      }
      int64_t number = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
      }
      return number;
    }
    default:
      return std::nullopt;
  }
}

std::optional<int64_t> GetInt(Json obj, std::string_view key) {
  std::optional<Json> value = Get(obj, key);
  return value ? IntOf(*value) : std::nullopt;
}

std::optional<bool> GetBool(Json obj, std::string_view key) {
  std::optional<Json> value = Get(obj, key);
  if (!value) {
    return std::nullopt;
  }
  if (value->type() == element_type::BOOL) {
    bool result = false;
    if (value->get_bool().get(result) != simdjson::SUCCESS) {
      return std::nullopt;
    }
    return result;
  }
  std::string text = absl::AsciiStrToLower(StringOf(value));
  if (text == "true") {
    return true;
  }
  if (text == "false") {
    return false;
  }
  return std::nullopt;
}

std::string ScalarText(Json value) {
  switch (value.type()) {
    case element_type::STRING:
    case element_type::INT64:
    case element_type::UINT64:
      return IdOf(value);
    case element_type::BOOL: {
      bool result = false;
      if (value.get_bool().get(result) != simdjson::SUCCESS) {
        return "";
      }
      return result ? "true" : "false";
    }
    case element_type::DOUBLE: {
      double number = 0;
      if (value.get_double().get(number) != simdjson::SUCCESS) {
        return "";
      }
      return fmt::format("{}", number);
    }
    case element_type::NULL_VALUE:
      return "";
    default:
      return simdjson::minify(value);
  }
}

absl::Time FromEpoch(int64_t value, EpochUnit unit) {
  switch (unit) {
    case EpochUnit::kSeconds:
      return absl::FromUnixSeconds(value);
    case EpochUnit::kMillis:
      return absl::FromUnixMillis(value);
    case EpochUnit::kAuto:
    default:
      return value > 100'000'000'000 ? absl::FromUnixMillis(value) : absl::FromUnixSeconds(value);
  }
}

std::optional<absl::Time> ParseTimeText(std::string_view text) {
  // RFC3339_full also accepts "Z" and "+0000" offsets with absl's parser.
  static constexpr const char* kFormats[] = {
      absl::RFC3339_full,         // 2025-03-05T08:10:00.000Z
      "%a %b %d %H:%M:%S %z %Y",  // Tue Mar 04 09:15:27 +0000 2025 (X v1.1)
      "%Y-%m-%dT%H:%M:%E*S%z",    // 2025-03-05T08:10:00+0000 (Graph API)
  };
  for (const char* format : kFormats) {
    absl::Time time;
    std::string error;
    if (absl::ParseTime(format, ToAbsl(text), &time, &error)) {
      return time;
    }
  }
  return std::nullopt;
}

std::optional<absl::Time> TimeOf(Json value, EpochUnit unit) {
  if (std::optional<int64_t> number = IntOf(value)) {
    return FromEpoch(*number, unit);
  }
  if (value.type() == element_type::DOUBLE) {
    double number = 0;
    if (value.get_double().get(number) != simdjson::SUCCESS) {
      return std::nullopt;
    }
    // Fractional epochs (1741171000.5): whole units are exact enough for a timestamp. A number
    // beyond int64 is no time at all (and its conversion would be undefined).
    if (!(number > -9.2e18 && number < 9.2e18)) return std::nullopt;
    return FromEpoch(static_cast<int64_t>(number), unit);
  }
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return ParseTimeText(text);
}

std::optional<absl::Time> GetTime(Json obj, std::string_view key, EpochUnit unit) {
  std::optional<Json> value = Get(obj, key);
  return value ? TimeOf(*value, unit) : std::nullopt;
}

earshot::v1::Event NewEvent(earshot::v1::Platform platform, const RequestContext& ctx) {
  earshot::v1::Event event;
  event.set_platform(platform);
  SetProtoTime(ctx.received_at, event.mutable_received_at());
  SetProtoTime(ctx.received_at, event.mutable_created_at());
  return event;
}

void SetCreatedAt(const std::optional<absl::Time>& time, earshot::v1::Event* event) {
  if (time) {
    SetProtoTime(*time, event->mutable_created_at());
  }
}

void SetAuthor(const AuthorInfo& info, earshot::v1::Event* event) {
  earshot::v1::Author* author = event->mutable_author();
  author->set_id(info.id);
  author->set_handle(info.handle);
  author->set_display_name(info.display_name);
  if (info.follower_count) {
    author->set_follower_count(*info.follower_count);
  }
  author->set_is_bot(info.is_bot);
}

void SetAttribute(std::string_view key, std::string_view value, earshot::v1::Event* event) {
  if (value.empty()) {
    return;
  }
  (*event->mutable_attributes())[std::string(key)] = std::string(value);
}

std::string JoinName(std::string_view first, std::string_view last) {
  if (first.empty()) {
    return std::string(last);
  }
  if (last.empty()) {
    return std::string(first);
  }
  return absl::StrCat(ToAbsl(first), " ", ToAbsl(last));
}

}  // namespace internal
}  // namespace earshot::gateway
