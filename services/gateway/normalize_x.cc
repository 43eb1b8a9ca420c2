// X (Twitter): Account Activity API envelopes ({"for_user_id", "<kind>_events": [...]}) and
// X Activity API envelopes ({"data": {event_type, filter, payload, includes}}).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/gateway/normalize.h"
#include "services/gateway/normalize_common.h"

namespace earshot::gateway {
namespace {

using earshot::v1::Event;
using internal::AuthorInfo;
using internal::EpochUnit;
using internal::Get;
using internal::GetArray;
using internal::GetBool;
using internal::GetId;
using internal::GetIdPath;
using internal::GetInt;
using internal::GetPath;
using internal::GetString;
using internal::GetStringPath;
using internal::GetTime;
using internal::Json;
using internal::SetAttribute;

// Per-body state: the brand and the side tables that events of this body refer to.
struct XBody {
  const RequestContext* ctx = nullptr;
  Normalized* out = nullptr;
  std::string brand;                     // for_user_id / filter.user_id
  std::optional<bool> user_has_blocked;  // AAA mention events only
  std::optional<Json> users_map;         // legacy DM "users": {"<id>": {...}}
  std::optional<Json> includes_users;    // XAA "includes": {"users": [...]}
  std::string xaa_event_type;            // set for X Activity API bodies
};

// A post (v1.1 tweet or v2 Post) reduced to what the rules look at.
struct XPost {
  std::string id;
  AuthorInfo author;
  std::string text;
  std::string in_reply_to_status;
  std::string in_reply_to_user;
  bool is_retweet = false;
  bool is_quote = false;
  std::string retweeted_id;
  std::string quoted_id;
  std::string lang;
  std::string conversation_id;
  std::optional<absl::Time> created_at;
};

// XAA wraps user objects as {"data": {...}}; AAA does not.
Json Unwrap(Json user) {
  std::optional<Json> inner = Get(user, "data");
  return inner && inner->is_object() ? *inner : user;
}

AuthorInfo AuthorFromUser(Json user) {
  user = Unwrap(user);
  AuthorInfo author;
  author.id = GetId(user, "id_str");
  if (author.id.empty()) {
    author.id = GetId(user, "id");
  }
  author.handle = GetString(user, "screen_name");
  if (author.handle.empty()) {
    author.handle = GetString(user, "username");
  }
  author.display_name = GetString(user, "name");
  author.follower_count = GetInt(user, "followers_count");
  if (!author.follower_count) {
    if (std::optional<Json> metrics = Get(user, "public_metrics")) {
      author.follower_count = GetInt(*metrics, "followers_count");
    }
  }
  return author;
}

// Looks a user up in the body's side tables (DM users map, XAA includes.users).
std::optional<Json> FindUser(const XBody& body, const std::string& id) {
  if (id.empty()) {
    return std::nullopt;
  }
  if (body.users_map) {
    if (std::optional<Json> user = Get(*body.users_map, id)) {
      return user;
    }
  }
  if (body.includes_users) {
    simdjson::dom::array users;
    if (body.includes_users->get_array().get(users) == simdjson::SUCCESS) {
      for (Json user : users) {
        Json inner = Unwrap(user);
        if (GetId(inner, "id") == id || GetId(inner, "id_str") == id) {
          return inner;
        }
      }
    }
  }
  return std::nullopt;
}

AuthorInfo AuthorById(const XBody& body, const std::string& id) {
  AuthorInfo author;
  if (std::optional<Json> user = FindUser(body, id)) {
    author = AuthorFromUser(*user);
  }
  author.id = id;
  return author;
}

std::string Permalink(const XPost& post) {
  if (post.id.empty()) {
    return "";
  }
  if (post.author.handle.empty()) {
    return absl::StrCat("https://x.com/i/status/", post.id);
  }
  return absl::StrCat("https://x.com/", post.author.handle, "/status/", post.id);
}

Event NewXEvent(const XBody& body) {
  Event event = internal::NewEvent(earshot::v1::PLATFORM_X, *body.ctx);
  event.set_account_id(body.brand);
  SetAttribute("for_user_id", body.brand, &event);
  if (body.user_has_blocked) {
    SetAttribute("user_has_blocked", *body.user_has_blocked ? "true" : "false", &event);
  }
  SetAttribute("event_type", body.xaa_event_type, &event);
  return event;
}

// The kind rules, in order: the brand's own non-reply is a post; a retweet is a mention; a reply
// is a reply (the brand's own replies too: they answer inside a conversation); anything else,
// quotes included, is a mention.
earshot::v1::Kind PostKind(bool outbound, bool is_reply, bool is_retweet) {
  if (outbound && !is_reply) {
    return earshot::v1::KIND_POST;
  }
  if (is_reply && !is_retweet) {
    return earshot::v1::KIND_REPLY;
  }
  return earshot::v1::KIND_MENTION;
}

void EmitPost(const XBody& body, const XPost& post) {
  Event event = NewXEvent(body);
  const bool outbound = post.author.id == body.brand;
  const bool is_reply = !post.in_reply_to_status.empty();
  event.set_event_id(absl::StrCat("x:", body.brand, ":", post.id));
  std::string customer = post.author.id;
  if (outbound) {
    customer = post.in_reply_to_user.empty() ? body.brand : post.in_reply_to_user;
  }
  event.set_thread_key(absl::StrCat("x:", body.brand, ":u:", customer));
  event.set_message_id(post.id);
  event.set_parent_id(post.in_reply_to_status);
  event.set_direction(outbound ? earshot::v1::DIRECTION_OUTBOUND : earshot::v1::DIRECTION_INBOUND);
  event.set_kind(PostKind(outbound, is_reply, post.is_retweet));
  internal::SetAuthor(post.author, &event);
  event.set_text(post.text);
  // "und" is X saying it could not tell; leave lang empty rather than pass on a non-language.
  if (post.lang != "und") {
    event.set_lang(post.lang);
  }
  internal::SetCreatedAt(post.created_at, &event);
  event.set_permalink(Permalink(post));
  if (post.is_retweet) {
    SetAttribute("is_retweet", "true", &event);
  }
  if (post.is_quote) {
    SetAttribute("is_quote", "true", &event);
  }
  SetAttribute("retweeted_status_id", post.retweeted_id, &event);
  SetAttribute("quoted_status_id", post.quoted_id, &event);
  SetAttribute("conversation_id", post.conversation_id, &event);
  SetAttribute("in_reply_to_user_id", post.in_reply_to_user, &event);
  body.out->events.push_back(std::move(event));
}

// v1.1 tweet object from tweet_create_events.
void HandleTweet(const XBody& body, Json tweet, const std::string& where) {
  XPost post;
  post.id = GetId(tweet, "id_str");
  if (post.id.empty()) {
    post.id = GetId(tweet, "id");
  }
  std::optional<Json> user = Get(tweet, "user");
  if (user) {
    post.author = AuthorFromUser(*user);
  }
  if (post.id.empty() || post.author.id.empty()) {
    body.out->unknown.push_back(absl::StrCat(where, ": tweet without id_str or user.id_str"));
    return;
  }
  post.text = GetStringPath(tweet, {"extended_tweet", "full_text"});
  if (post.text.empty()) {
    post.text = GetString(tweet, "text");
  }
  // Only the _str forms: the numeric in_reply_to_status_id has lost precision as a double.
  post.in_reply_to_status = GetId(tweet, "in_reply_to_status_id_str");
  post.in_reply_to_user = GetId(tweet, "in_reply_to_user_id_str");
  if (std::optional<Json> retweeted = Get(tweet, "retweeted_status")) {
    post.is_retweet = true;
    post.retweeted_id = GetId(*retweeted, "id_str");
  }
  std::optional<Json> quoted = Get(tweet, "quoted_status");
  post.is_quote = GetBool(tweet, "is_quote_status").value_or(false) || quoted.has_value();
  post.quoted_id = GetId(tweet, "quoted_status_id_str");
  if (post.quoted_id.empty() && quoted) {
    post.quoted_id = GetId(*quoted, "id_str");
  }
  post.lang = GetString(tweet, "lang");
  post.created_at = GetTime(tweet, "timestamp_ms", EpochUnit::kMillis);
  if (!post.created_at) {
    post.created_at = GetTime(tweet, "created_at", EpochUnit::kSeconds);
  }
  EmitPost(body, post);
}

// v2 Post from the X Activity API (post.create, post.mention.create).
void HandleV2Post(const XBody& body, Json payload, const std::string& where) {
  XPost post;
  post.id = GetId(payload, "id");
  std::string author_id = GetId(payload, "author_id");
  if (post.id.empty() || author_id.empty()) {
    body.out->unknown.push_back(absl::StrCat(where, ": post without id or author_id"));
    return;
  }
  post.author = AuthorById(body, author_id);
  post.text = GetStringPath(payload, {"note_tweet", "text"});
  if (post.text.empty()) {
    post.text = GetString(payload, "text");
  }
  post.in_reply_to_user = GetId(payload, "in_reply_to_user_id");
  if (std::optional<simdjson::dom::array> refs = GetArray(payload, "referenced_tweets")) {
    for (Json ref : *refs) {
      std::string type = GetString(ref, "type");
      std::string id = GetId(ref, "id");
      if (type == "replied_to") {
        post.in_reply_to_status = id;
      } else if (type == "quoted") {
        post.is_quote = true;
        post.quoted_id = id;
      } else if (type == "retweeted") {
        post.is_retweet = true;
        post.retweeted_id = id;
      }
    }
  }
  post.lang = GetString(payload, "lang");
  post.conversation_id = GetId(payload, "conversation_id");
  post.created_at = GetTime(payload, "created_at", EpochUnit::kSeconds);
  EmitPost(body, post);
}

void HandleDelete(const XBody& body, const std::string& id, const std::string& user_id,
                  std::optional<absl::Time> time, const std::string& where) {
  if (id.empty() || user_id.empty()) {
    body.out->unknown.push_back(absl::StrCat(where, ": delete without status id or user id"));
    return;
  }
  Event event = NewXEvent(body);
  const bool outbound = user_id == body.brand;
  event.set_event_id(absl::StrCat("x:", body.brand, ":", id, ":delete"));
  event.set_thread_key(absl::StrCat("x:", body.brand, ":u:", user_id));
  event.set_message_id(id);
  event.set_direction(outbound ? earshot::v1::DIRECTION_OUTBOUND : earshot::v1::DIRECTION_INBOUND);
  event.set_kind(earshot::v1::KIND_DELETE);
  internal::SetAuthor(AuthorById(body, user_id), &event);
  internal::SetCreatedAt(time, &event);
  body.out->events.push_back(std::move(event));
}

void HandleTweetDelete(const XBody& body, Json item, const std::string& where) {
  std::string id = GetIdPath(item, {"status", "id_str"});
  if (id.empty()) {
    id = GetIdPath(item, {"status", "id"});
  }
  std::string user_id = GetIdPath(item, {"status", "user_id_str"});
  if (user_id.empty()) {
    user_id = GetIdPath(item, {"status", "user_id"});
  }
  HandleDelete(body, id, user_id, GetTime(item, "timestamp_ms", EpochUnit::kMillis), where);
}

void HandleFavorite(const XBody& body, Json item, const std::string& where) {
  std::string id = GetId(item, "id");
  std::optional<Json> user = Get(item, "user");
  AuthorInfo author = user ? AuthorFromUser(*user) : AuthorInfo{};
  std::string status_id = GetIdPath(item, {"favorited_status", "id_str"});
  if (status_id.empty()) {
    status_id = GetIdPath(item, {"favorited_status", "id"});
  }
  std::string status_author = GetIdPath(item, {"favorited_status", "user", "id_str"});
  if (status_author.empty()) {
    status_author = GetIdPath(item, {"favorited_status", "user", "id"});
  }
  if (id.empty() || author.id.empty()) {
    body.out->unknown.push_back(absl::StrCat(where, ": favorite without id or user.id_str"));
    return;
  }
  Event event = NewXEvent(body);
  const bool outbound = author.id == body.brand;
  std::string customer = outbound ? status_author : author.id;
  if (customer.empty()) {
    customer = body.brand;
  }
  event.set_event_id(absl::StrCat("x:", body.brand, ":fav:", id));
  event.set_thread_key(absl::StrCat("x:", body.brand, ":u:", customer));
  event.set_message_id(id);
  event.set_parent_id(status_id);
  event.set_direction(outbound ? earshot::v1::DIRECTION_OUTBOUND : earshot::v1::DIRECTION_INBOUND);
  event.set_kind(earshot::v1::KIND_REACTION);
  internal::SetAuthor(author, &event);
  std::optional<absl::Time> time = GetTime(item, "timestamp_ms", EpochUnit::kMillis);
  if (!time) {
    time = GetTime(item, "created_at", EpochUnit::kSeconds);
  }
  internal::SetCreatedAt(time, &event);
  body.out->events.push_back(std::move(event));
}

void HandleDirectMessage(const XBody& body, Json item, const std::string& where) {
  std::string type = GetString(item, "type");
  if (type != "message_create") {
    ++body.out->ignored;
    return;
  }
  std::string id = GetId(item, "id");
  std::optional<Json> create = Get(item, "message_create");
  std::string sender = create ? GetId(*create, "sender_id") : "";
  std::string recipient = create ? GetIdPath(*create, {"target", "recipient_id"}) : "";
  if (id.empty() || sender.empty()) {
    body.out->unknown.push_back(absl::StrCat(where, ": message_create without id or sender_id"));
    return;
  }
  Event event = NewXEvent(body);
  const bool outbound = sender == body.brand;
  std::string customer = outbound ? recipient : sender;
  event.set_event_id(absl::StrCat("x:", body.brand, ":dm:", id));
  event.set_thread_key(absl::StrCat("x:", body.brand, ":dm:", customer));
  event.set_message_id(id);
  event.set_direction(outbound ? earshot::v1::DIRECTION_OUTBOUND : earshot::v1::DIRECTION_INBOUND);
  event.set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
  internal::SetAuthor(AuthorById(body, sender), &event);
  event.set_text(GetStringPath(*create, {"message_data", "text"}));
  internal::SetCreatedAt(GetTime(item, "created_timestamp", EpochUnit::kMillis), &event);
  SetAttribute("recipient_id", recipient, &event);
  SetAttribute("source_app_id", GetId(*create, "source_app_id"), &event);
  SetAttribute("attachment_types",
               GetStringPath(*create, {"message_data", "attachment", "media", "type"}), &event);
  body.out->events.push_back(std::move(event));
}

using ItemHandler = void (*)(const XBody&, Json, const std::string&);

// Runs `handler` on every element of an activity array; an empty array counts as ignored.
void ForEachItem(const XBody& body, Json array_value, std::string_view key, ItemHandler handler) {
  simdjson::dom::array items;
  if (array_value.get_array().get(items) != simdjson::SUCCESS) {
    body.out->unknown.push_back(absl::StrCat(ToAbsl(key), ": not an array"));
    return;
  }
  if (items.size() == 0) {
    ++body.out->ignored;
    return;
  }
  size_t index = 0;
  for (Json item : items) {
    handler(body, item, absl::StrCat(ToAbsl(key), "[", index++, "]"));
  }
}

constexpr std::string_view kIgnoredKeys[] = {
    "follow_events",
    "unfollow_events",
    "block_events",
    "unblock_events",
    "mute_events",
    "unmute_events",
    "direct_message_indicate_typing_events",
    "direct_message_mark_read_events",
    "user_event",
    "replay_job_status",
};

void NormalizeAccountActivity(Json root, XBody& body) {
  body.brand = GetId(root, "for_user_id");
  body.user_has_blocked = GetBool(root, "user_has_blocked");
  if (!body.user_has_blocked) {
    body.user_has_blocked = GetBool(root, "is_blocked_by");
  }
  body.users_map = Get(root, "users");

  bool known = false;
  simdjson::dom::object fields;
  if (root.get_object().get(fields) != simdjson::SUCCESS) {
    return;
  }
  for (auto [key, value] : fields) {
    ItemHandler handler = nullptr;
    if (key == "tweet_create_events") {
      handler = HandleTweet;
    } else if (key == "direct_message_events") {
      handler = HandleDirectMessage;
    } else if (key == "tweet_delete_events") {
      handler = HandleTweetDelete;
    } else if (key == "favorite_events") {
      handler = HandleFavorite;
    }
    if (handler != nullptr) {
      known = true;
      if (body.brand.empty()) {
        body.out->unknown.push_back(absl::StrCat(ToAbsl(key), ": envelope without for_user_id"));
        continue;
      }
      ForEachItem(body, value, key, handler);
      continue;
    }
    for (std::string_view ignored : kIgnoredKeys) {
      if (key != ignored) {
        continue;
      }
      known = true;
      simdjson::dom::array items;
      if (value.get_array().get(items) == simdjson::SUCCESS && items.size() > 0) {
        body.out->ignored += static_cast<int>(items.size());
      } else {
        ++body.out->ignored;
      }
    }
  }
  if (!known) {
    body.out->unknown.push_back("x: no known activity key (tweet_create_events, ...)");
  }
}

// X Activity API: {"data": {"event_type", "filter": {"user_id"}, "payload", "includes"}}.
void NormalizeActivityEvent(Json data, const std::string& where, XBody body) {
  body.brand = GetIdPath(data, {"filter", "user_id"});
  body.xaa_event_type = GetString(data, "event_type");
  body.includes_users = GetPath(data, {"includes", "users"});
  std::optional<Json> payload = Get(data, "payload");
  const std::string& type = body.xaa_event_type;
  if (type == "post.create" || type == "post.mention.create" || type == "post.delete" ||
      type == "dm.received" || type == "dm.sent") {
    if (body.brand.empty() || !payload) {
      body.out->unknown.push_back(
          absl::StrCat(where, ": ", type, " without filter.user_id or payload"));
      return;
    }
  }
  if (type == "post.create" || type == "post.mention.create") {
    HandleV2Post(body, *payload, absl::StrCat(where, ".payload"));
  } else if (type == "post.delete") {
    std::string id = GetId(*payload, "id");
    std::string author = GetId(*payload, "author_id");
    HandleDelete(body, id, author, std::nullopt, absl::StrCat(where, ".payload"));
  } else if (type == "dm.received" || type == "dm.sent") {
    body.users_map = Get(*payload, "users");
    std::optional<Json> events = Get(*payload, "direct_message_events");
    if (!events) {
      body.out->unknown.push_back(
          absl::StrCat(where, ": ", type, " without direct_message_events"));
      return;
    }
    ForEachItem(body, *events, absl::StrCat(where, ".payload.direct_message_events"),
                HandleDirectMessage);
  } else if (!type.empty()) {
    // like.create, follow.*, spaces.*, news.*, chat.*, dm.read, ...: nothing to answer.
    ++body.out->ignored;
  } else {
    body.out->unknown.push_back(absl::StrCat(where, ": no event_type"));
  }
}

}  // namespace

absl::StatusOr<Normalized> NormalizeX(std::string_view body_text, const RequestContext& ctx) {
  internal::JsonParser parser;
  absl::StatusOr<Json> root = parser.ParseObject(body_text);
  if (!root.ok()) {
    return root.status();
  }
  Normalized out;
  XBody body;
  body.ctx = &ctx;
  body.out = &out;
  std::optional<Json> data = Get(*root, "data");
  if (data && data->is_object()) {
    NormalizeActivityEvent(*data, "data", body);
  } else if (data && data->is_array()) {
    simdjson::dom::array items;
    size_t index = 0;
    if (data->get_array().get(items) != simdjson::SUCCESS) {
      return out;
    }
    for (Json item : items) {
      NormalizeActivityEvent(item, absl::StrCat("data[", index++, "]"), body);
    }
  } else {
    NormalizeAccountActivity(*root, body);
  }
  return out;
}

}  // namespace earshot::gateway
