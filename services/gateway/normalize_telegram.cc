// Telegram Bot API: one Update per request. The bot id is not in the update; the HTTP adapter
// passes it as ctx.account.
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
using internal::GetString;
using internal::GetStringPath;
using internal::GetTime;
using internal::Json;
using internal::SetAttribute;

// The six update fields that carry a Message, and what they say about it.
struct MessageField {
  std::string_view name;
  bool edited;
  bool channel;
  bool business;
};

constexpr MessageField kMessageFields[] = {
    {"message", false, false, false},         {"edited_message", true, false, false},
    {"channel_post", false, true, false},     {"edited_channel_post", true, true, false},
    {"business_message", false, false, true}, {"edited_business_message", true, false, true},
};

// Update fields that never carry a customer message.
constexpr std::string_view kIgnoredFields[] = {
    "callback_query",       "my_chat_member",
    "chat_member",          "chat_join_request",
    "business_connection",  "inline_query",
    "chosen_inline_result", "shipping_query",
    "pre_checkout_query",   "poll",
    "poll_answer",          "message_reaction_count",
    "chat_boost",           "removed_chat_boost",
    "purchased_paid_media",
};

// Media kinds a Message can carry instead of (or besides) text.
constexpr std::string_view kAttachmentFields[] = {
    "photo",     "video",      "document", "audio",   "voice", "sticker",
    "animation", "video_note", "location", "contact", "poll",  "venue",
};

AuthorInfo UserAuthor(Json user) {
  AuthorInfo author;
  author.id = GetId(user, "id");
  author.handle = GetString(user, "username");
  author.display_name =
      internal::JoinName(GetString(user, "first_name"), GetString(user, "last_name"));
  author.is_bot = GetBool(user, "is_bot").value_or(false);
  return author;
}

AuthorInfo ChatAuthor(Json chat) {
  AuthorInfo author;
  author.id = GetId(chat, "id");
  author.handle = GetString(chat, "username");
  author.display_name = GetString(chat, "title");
  if (author.display_name.empty()) {
    author.display_name =
        internal::JoinName(GetString(chat, "first_name"), GetString(chat, "last_name"));
  }
  return author;
}

struct TgUpdate {
  const RequestContext* ctx = nullptr;
  Normalized* out = nullptr;
  std::string bot;
  std::string update_id;
};

Event NewTgEvent(const TgUpdate& update) {
  Event event = internal::NewEvent(earshot::v1::PLATFORM_TELEGRAM, *update.ctx);
  event.set_account_id(update.bot);
  SetAttribute("update_id", update.update_id, &event);
  return event;
}

void HandleMessage(const TgUpdate& update, const MessageField& field, Json message) {
  const std::string chat_id = GetIdPath(message, {"chat", "id"});
  const std::string message_id = GetId(message, "message_id");
  if (chat_id.empty() || message_id.empty()) {
    update.out->unknown.push_back(
        absl::StrCat(ToAbsl(field.name), ": message without chat.id or message_id"));
    return;
  }
  const std::string chat_type = GetStringPath(message, {"chat", "type"});
  const std::string from_id = GetIdPath(message, {"from", "id"});
  const bool channel = field.channel || chat_type == "channel";

  bool outbound = !from_id.empty() && from_id == update.bot;
  if (channel) {
    outbound = true;
  }
  if (field.business) {
    if ((chat_type == "private" && !from_id.empty() && from_id != chat_id) ||
        Get(message, "sender_business_bot")) {
      outbound = true;
    }
  }

  // In forum topics every message "replies" to the topic's creation message; that is not a
  // reply to anyone.
  std::string parent_id = GetIdPath(message, {"reply_to_message", "message_id"});
  const std::string thread_id = GetId(message, "message_thread_id");
  if (GetBool(message, "is_topic_message").value_or(false) && parent_id == thread_id) {
    parent_id.clear();
  }

  Event event = NewTgEvent(update);
  std::string event_id = absl::StrCat("tg:", update.bot, ":", chat_id, ":", message_id);
  if (field.edited) {
    absl::StrAppend(&event_id, ":edit:", GetId(message, "edit_date"));
  }
  event.set_event_id(event_id);
  event.set_thread_key(absl::StrCat("tg:", update.bot, ":", chat_id));
  event.set_message_id(message_id);
  event.set_parent_id(parent_id);
  event.set_direction(outbound ? earshot::v1::DIRECTION_OUTBOUND : earshot::v1::DIRECTION_INBOUND);
  if (field.edited) {
    event.set_kind(earshot::v1::KIND_EDIT);
  } else if (channel) {
    event.set_kind(earshot::v1::KIND_POST);
  } else if (chat_type == "private") {
    event.set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
  } else {
    event.set_kind(parent_id.empty() ? earshot::v1::KIND_MENTION : earshot::v1::KIND_REPLY);
  }
  // sender_chat is the real author when present (channel posts, anonymous group admins, posts
  // on behalf of a channel); `from` then holds a placeholder bot.
  if (std::optional<Json> sender_chat = Get(message, "sender_chat")) {
    internal::SetAuthor(ChatAuthor(*sender_chat), &event);
  } else if (std::optional<Json> from = Get(message, "from")) {
    internal::SetAuthor(UserAuthor(*from), &event);
  }
  std::string text = GetString(message, "text");
  if (text.empty()) {
    text = GetString(message, "caption");
  }
  event.set_text(text);
  internal::SetCreatedAt(GetTime(message, "date", EpochUnit::kSeconds), &event);
  // A private chat's username is the user's, and t.me/<user>/<id> is not a message link.
  const std::string chat_username = GetStringPath(message, {"chat", "username"});
  if (!chat_username.empty() && chat_type != "private") {
    event.set_permalink(absl::StrCat("https://t.me/", chat_username, "/", message_id));
  }
  SetAttribute("chat_type", chat_type, &event);
  SetAttribute("message_thread_id", thread_id, &event);
  SetAttribute("business_connection_id", GetString(message, "business_connection_id"), &event);
  SetAttribute("media_group_id", GetString(message, "media_group_id"), &event);
  SetAttribute("sender_business_bot_id", GetIdPath(message, {"sender_business_bot", "id"}), &event);
  if (field.edited) {
    SetAttribute("edit_date", GetId(message, "edit_date"), &event);
  }
  std::vector<absl::string_view> attachments;
  for (std::string_view key : kAttachmentFields) {
    if (Get(message, key)) {
      attachments.push_back(ToAbsl(key));
    }
  }
  SetAttribute("attachment_types", absl::StrJoin(attachments, ","), &event);
  update.out->events.push_back(std::move(event));
}

void HandleDeletedBusinessMessages(const TgUpdate& update, Json deleted) {
  const std::string chat_id = GetIdPath(deleted, {"chat", "id"});
  std::optional<simdjson::dom::array> ids = GetArray(deleted, "message_ids");
  if (chat_id.empty() || !ids) {
    update.out->unknown.push_back("deleted_business_messages: without chat.id or message_ids");
    return;
  }
  if (ids->size() == 0) {
    ++update.out->ignored;
    return;
  }
  for (Json id_value : *ids) {
    const std::string message_id = internal::IdOf(id_value);
    if (message_id.empty()) {
      continue;
    }
    Event event = NewTgEvent(update);
    event.set_event_id(absl::StrCat("tg:", update.bot, ":", chat_id, ":", message_id, ":delete"));
    event.set_thread_key(absl::StrCat("tg:", update.bot, ":", chat_id));
    event.set_message_id(message_id);
    event.set_direction(earshot::v1::DIRECTION_INBOUND);
    event.set_kind(earshot::v1::KIND_DELETE);
    SetAttribute("chat_type", GetStringPath(deleted, {"chat", "type"}), &event);
    SetAttribute("business_connection_id", GetString(deleted, "business_connection_id"), &event);
    update.out->events.push_back(std::move(event));
  }
}

// "👍,🔥" from a ReactionType array (emoji, custom_emoji:<id>, paid).
std::string ReactionList(Json reactions_parent, std::string_view key) {
  std::vector<std::string> parts;
  if (std::optional<simdjson::dom::array> reactions = GetArray(reactions_parent, key)) {
    for (Json reaction : *reactions) {
      std::string type = GetString(reaction, "type");
      if (type == "emoji") {
        parts.push_back(GetString(reaction, "emoji"));
      } else if (type == "custom_emoji") {
        parts.push_back(absl::StrCat("custom_emoji:", GetString(reaction, "custom_emoji_id")));
      } else if (!type.empty()) {
        parts.push_back(type);
      }
    }
  }
  return absl::StrJoin(parts, ",");
}

void HandleMessageReaction(const TgUpdate& update, Json reaction) {
  const std::string chat_id = GetIdPath(reaction, {"chat", "id"});
  const std::string message_id = GetId(reaction, "message_id");
  if (chat_id.empty() || message_id.empty()) {
    update.out->unknown.push_back("message_reaction: without chat.id or message_id");
    return;
  }
  AuthorInfo author;
  if (std::optional<Json> user = Get(reaction, "user")) {
    author = UserAuthor(*user);
  } else if (std::optional<Json> actor = Get(reaction, "actor_chat")) {
    author = ChatAuthor(*actor);
  }
  const std::string date = GetId(reaction, "date");
  Event event = NewTgEvent(update);
  event.set_event_id(absl::StrCat("tg:", update.bot, ":", chat_id, ":", message_id,
                                  ":reaction:", author.id, ":", date));
  event.set_thread_key(absl::StrCat("tg:", update.bot, ":", chat_id));
  event.set_parent_id(message_id);
  event.set_direction(!author.id.empty() && author.id == update.bot
                          ? earshot::v1::DIRECTION_OUTBOUND
                          : earshot::v1::DIRECTION_INBOUND);
  event.set_kind(earshot::v1::KIND_REACTION);
  internal::SetAuthor(author, &event);
  internal::SetCreatedAt(GetTime(reaction, "date", EpochUnit::kSeconds), &event);
  SetAttribute("chat_type", GetStringPath(reaction, {"chat", "type"}), &event);
  SetAttribute("reaction", ReactionList(reaction, "new_reaction"), &event);
  SetAttribute("old_reaction", ReactionList(reaction, "old_reaction"), &event);
  update.out->events.push_back(std::move(event));
}

}  // namespace

absl::StatusOr<Normalized> NormalizeTelegram(std::string_view body, const RequestContext& ctx) {
  internal::JsonParser parser;
  absl::StatusOr<Json> root = parser.ParseObject(body);
  if (!root.ok()) {
    return root.status();
  }
  Normalized out;
  TgUpdate update;
  update.ctx = &ctx;
  update.out = &out;
  update.bot = ctx.account;
  update.update_id = GetId(*root, "update_id");

  for (const MessageField& field : kMessageFields) {
    if (std::optional<Json> message = Get(*root, field.name)) {
      HandleMessage(update, field, *message);
      return out;
    }
  }
  if (std::optional<Json> deleted = Get(*root, "deleted_business_messages")) {
    HandleDeletedBusinessMessages(update, *deleted);
    return out;
  }
  if (std::optional<Json> reaction = Get(*root, "message_reaction")) {
    HandleMessageReaction(update, *reaction);
    return out;
  }
  for (std::string_view key : kIgnoredFields) {
    if (Get(*root, key)) {
      ++out.ignored;
      return out;
    }
  }
  out.unknown.push_back("update: no known field (message, edited_message, channel_post, ...)");
  return out;
}

}  // namespace earshot::gateway
