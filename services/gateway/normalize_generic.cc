// Generic sources (blogs, review sites, in-house connectors) that speak Earshot's own canonical
// JSON: one event object, or {"events": [...]}. The format is documented in
// services/gateway/README.md ("Normalisation").
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "services/gateway/normalize.h"
#include "services/gateway/normalize_common.h"

namespace earshot::gateway {
namespace {

using earshot::v1::Event;
using internal::AuthorInfo;
using internal::EpochUnit;
using internal::Get;
using internal::GetBool;
using internal::GetId;
using internal::GetInt;
using internal::GetString;
using internal::Json;
using internal::SetAttribute;

struct KindName {
  std::string_view name;
  earshot::v1::Kind kind;
};

// "control" is deliberately absent: an outside source must not resolve threads.
constexpr KindName kKinds[] = {
    {"mention", earshot::v1::KIND_MENTION}, {"comment", earshot::v1::KIND_COMMENT},
    {"reply", earshot::v1::KIND_REPLY},     {"direct_message", earshot::v1::KIND_DIRECT_MESSAGE},
    {"review", earshot::v1::KIND_REVIEW},   {"edit", earshot::v1::KIND_EDIT},
    {"delete", earshot::v1::KIND_DELETE},   {"reaction", earshot::v1::KIND_REACTION},
    {"post", earshot::v1::KIND_POST},
};

// Returns why the event was refused (".field: problem" or ": problem", to follow the event's
// position), or "" when it was added to `out`.
std::string HandleEvent(Json item, const RequestContext& ctx, Normalized* out) {
  if (!item.is_object()) {
    return ": not an object";
  }
  const std::string& source = ctx.account;
  const std::string id = GetId(item, "id");
  if (id.empty()) {
    return ".id: missing (string or integer required)";
  }
  const std::string thread_id = GetId(item, "thread_id");
  if (thread_id.empty()) {
    return ".thread_id: missing (string or integer required)";
  }

  earshot::v1::Kind kind = earshot::v1::KIND_COMMENT;
  if (std::optional<Json> kind_value = Get(item, "kind")) {
    std::string_view name;
    if (kind_value->get_string().get(name) != simdjson::SUCCESS) {
      return ".kind: not a string";
    }
    kind = earshot::v1::KIND_UNSPECIFIED;
    for (const KindName& known : kKinds) {
      if (known.name == name) {
        kind = known.kind;
      }
    }
    if (kind == earshot::v1::KIND_UNSPECIFIED) {
      return absl::StrCat(".kind: unknown \"", ToAbsl(name), "\"");
    }
  }
  earshot::v1::Direction direction = earshot::v1::DIRECTION_INBOUND;
  if (std::optional<Json> direction_value = Get(item, "direction")) {
    std::string_view name;
    if (direction_value->get_string().get(name) != simdjson::SUCCESS) {
      return ".direction: not a string";
    }
    if (name == "inbound") {
      direction = earshot::v1::DIRECTION_INBOUND;
    } else if (name == "outbound") {
      direction = earshot::v1::DIRECTION_OUTBOUND;
    } else {
      return absl::StrCat(".direction: unknown \"", ToAbsl(name), "\"");
    }
  }
  std::optional<absl::Time> created_at;
  if (std::optional<Json> time_value = Get(item, "created_at")) {
    created_at = internal::TimeOf(*time_value, EpochUnit::kAuto);
    if (!created_at) {
      return ".created_at: neither RFC 3339 nor epoch seconds/milliseconds";
    }
  }

  Event event = internal::NewEvent(earshot::v1::PLATFORM_GENERIC, ctx);
  event.set_event_id(absl::StrCat("gen:", source, ":", id));
  std::string account = GetId(item, "account_id");
  event.set_account_id(account.empty() ? source : account);
  event.set_thread_key(absl::StrCat("gen:", source, ":", thread_id));
  event.set_message_id(id);
  event.set_parent_id(GetId(item, "parent_id"));
  event.set_direction(direction);
  event.set_kind(kind);
  if (std::optional<Json> author_value = Get(item, "author")) {
    AuthorInfo author;
    author.id = GetId(*author_value, "id");
    author.handle = GetString(*author_value, "handle");
    author.display_name = GetString(*author_value, "name");
    if (author.display_name.empty()) {
      author.display_name = GetString(*author_value, "display_name");
    }
    author.follower_count = GetInt(*author_value, "follower_count");
    author.is_bot = GetBool(*author_value, "is_bot").value_or(false);
    internal::SetAuthor(author, &event);
  }
  event.set_text(GetString(item, "text"));
  event.set_lang(GetString(item, "lang"));
  internal::SetCreatedAt(created_at, &event);
  event.set_permalink(GetString(item, "permalink"));
  if (std::optional<simdjson::dom::object> attributes = internal::GetObject(item, "attributes")) {
    for (auto [key, value] : *attributes) {
      SetAttribute(key, internal::ScalarText(value), &event);
    }
  }
  if (std::optional<Json> rating = Get(item, "rating")) {
    SetAttribute("rating", internal::ScalarText(*rating), &event);
  }
  out->events.push_back(std::move(event));
  return "";
}

}  // namespace

absl::StatusOr<Normalized> NormalizeGeneric(std::string_view body, const RequestContext& ctx) {
  internal::JsonParser parser;
  absl::StatusOr<Json> root = parser.ParseObject(body);
  if (!root.ok()) {
    return root.status();
  }
  Normalized out;
  std::optional<Json> events = Get(*root, "events");
  if (!events) {
    std::string reason = HandleEvent(*root, ctx, &out);
    if (!reason.empty()) {
      out.unknown.push_back(absl::StrCat("event", reason));
    }
    return out;
  }
  simdjson::dom::array items;
  if (events->get_array().get(items) != simdjson::SUCCESS) {
    out.unknown.push_back("events: not an array");
    return out;
  }
  if (items.size() == 0) {
    ++out.ignored;
    return out;
  }
  size_t index = 0;
  for (Json item : items) {
    std::string reason = HandleEvent(item, ctx, &out);
    if (!reason.empty()) {
      out.unknown.push_back(absl::StrCat("events[", index, "]", reason));
    }
    ++index;
  }
  return out;
}

}  // namespace earshot::gateway
