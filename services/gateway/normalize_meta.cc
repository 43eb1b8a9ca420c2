// Meta Graph API webhooks: Facebook Page feed, Messenger, Instagram (comments, mentions, DMs) and
// the WhatsApp Cloud API. One body holds up to 1000 updates across entry[] and their
// changes[] / messaging[] / standby[] items; each item is normalised on its own.
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
using earshot::v1::Platform;
using internal::AuthorInfo;
using internal::EpochUnit;
using internal::Get;
using internal::GetArray;
using internal::GetBool;
using internal::GetId;
using internal::GetIdPath;
using internal::GetPath;
using internal::GetString;
using internal::GetStringPath;
using internal::GetTime;
using internal::Json;
using internal::SetAttribute;

// Everything an item handler needs to know about the entry it came from.
struct MetaEntry {
  const RequestContext* ctx = nullptr;
  Normalized* out = nullptr;
  std::string account;  // entry.id: page id, IG account id, WABA id
  std::optional<absl::Time> time;
};

earshot::v1::Direction DirectionOf(bool outbound) {
  return outbound ? earshot::v1::DIRECTION_OUTBOUND : earshot::v1::DIRECTION_INBOUND;
}

// Feed verbs: what happened to the item.
enum class Verb { kAdd, kEdit, kRemove, kIgnore, kUnknown };

Verb ParseVerb(std::string_view verb) {
  if (verb.empty() || verb == "add") {
    return Verb::kAdd;
  }
  if (verb == "edited" || verb == "edit") {
    return Verb::kEdit;
  }
  if (verb == "remove" || verb == "delete") {
    return Verb::kRemove;
  }
  // Moderation and relationship changes carry no customer message.
  if (verb == "hide" || verb == "unhide" || verb == "block" || verb == "unblock" ||
      verb == "mute" || verb == "unmute" || verb == "follow" || verb == "update") {
    return Verb::kIgnore;
  }
  return Verb::kUnknown;
}

// Seconds of the change for event ids: value.created_time, else entry.time, else receipt.
int64_t ChangeSeconds(const std::optional<absl::Time>& time, const MetaEntry& entry) {
  if (time) {
    return absl::ToUnixSeconds(*time);
  }
  if (entry.time) {
    return absl::ToUnixSeconds(*entry.time);
  }
  return absl::ToUnixSeconds(entry.ctx->received_at);
}

AuthorInfo AuthorFrom(Json value) {
  AuthorInfo author;
  author.id = GetIdPath(value, {"from", "id"});
  author.display_name = GetStringPath(value, {"from", "name"});
  author.handle = GetStringPath(value, {"from", "username"});
  if (author.id.empty()) {
    // `mention` changes name the author with sender_id / sender_name.
    author.id = GetId(value, "sender_id");
    author.display_name = GetString(value, "sender_name");
  }
  return author;
}

Event NewMetaEvent(Platform platform, const MetaEntry& entry) {
  Event event = internal::NewEvent(platform, *entry.ctx);
  event.set_account_id(entry.account);
  return event;
}

// --- Facebook Page feed ------------------------------------------------------------------------

// Thread of a comment: itself when top-level (no parent, or the parent is the post), otherwise
// its parent, which Facebook guarantees to be top-level (one level of nesting).
std::string CommentThreadRoot(const std::string& comment_id, const std::string& parent_id,
                              const std::string& post_id) {
  if (parent_id.empty() || parent_id == post_id || parent_id == comment_id) {
    return comment_id;
  }
  return parent_id;
}

void HandleFeed(const MetaEntry& entry, Json value, const std::string& where) {
  const std::string item = GetString(value, "item");
  const std::string verb_text = GetString(value, "verb");
  const Verb verb = ParseVerb(verb_text);
  if (verb == Verb::kIgnore) {
    ++entry.out->ignored;
    return;
  }
  if (verb == Verb::kUnknown) {
    entry.out->unknown.push_back(absl::StrCat(where, ": unknown verb \"", verb_text, "\""));
    return;
  }
  const std::string post_id = GetId(value, "post_id");
  const std::string comment_id = GetId(value, "comment_id");
  const std::string parent_id = GetId(value, "parent_id");
  const AuthorInfo author = AuthorFrom(value);
  std::optional<absl::Time> created = GetTime(value, "created_time", EpochUnit::kSeconds);
  if (!created) {
    created = entry.time;
  }
  const std::string page_prefix = absl::StrCat("fb:", entry.account, ":c:");

  Event event = NewMetaEvent(earshot::v1::PLATFORM_FACEBOOK, entry);
  event.set_direction(DirectionOf(!author.id.empty() && author.id == entry.account));
  internal::SetAuthor(author, &event);
  internal::SetCreatedAt(created, &event);
  SetAttribute("post_id", post_id, &event);
  SetAttribute("verb", verb_text, &event);
  SetAttribute("item", item, &event);

  auto id_with_verb = [&](const std::string& base) {
    switch (verb) {
      case Verb::kEdit:
        return absl::StrCat(base, ":edited:", ChangeSeconds(created, entry));
      case Verb::kRemove:
        return absl::StrCat(base, ":remove");
      default:
        return base;
    }
  };
  auto kind_with_verb = [&](earshot::v1::Kind add_kind) {
    switch (verb) {
      case Verb::kEdit:
        return earshot::v1::KIND_EDIT;
      case Verb::kRemove:
        return earshot::v1::KIND_DELETE;
      default:
        return add_kind;
    }
  };

  if (item == "comment") {
    if (comment_id.empty()) {
      entry.out->unknown.push_back(absl::StrCat(where, ": comment without comment_id"));
      return;
    }
    const std::string root = CommentThreadRoot(comment_id, parent_id, post_id);
    const bool top_level = root == comment_id;
    event.set_event_id(id_with_verb(absl::StrCat("fb:", comment_id)));
    event.set_kind(kind_with_verb(top_level ? earshot::v1::KIND_COMMENT : earshot::v1::KIND_REPLY));
    event.set_thread_key(absl::StrCat(page_prefix, root));
    event.set_message_id(comment_id);
    event.set_parent_id(parent_id);
    event.set_text(GetString(value, "message"));
    event.set_permalink(absl::StrCat("https://www.facebook.com/", comment_id));
  } else if (item == "post" || item == "status" || item == "photo" || item == "video" ||
             item == "share") {
    if (post_id.empty()) {
      entry.out->unknown.push_back(absl::StrCat(where, ": ", item, " without post_id"));
      return;
    }
    event.set_event_id(id_with_verb(absl::StrCat("fb:", post_id)));
    event.set_kind(kind_with_verb(earshot::v1::KIND_POST));
    event.set_thread_key(absl::StrCat(page_prefix, post_id));
    event.set_message_id(post_id);
    event.set_text(GetString(value, "message"));
    event.set_permalink(absl::StrCat("https://www.facebook.com/", post_id));
    SetAttribute("link", GetString(value, "link"), &event);
    SetAttribute("photo_id", GetId(value, "photo_id"), &event);
    SetAttribute("video_id", GetId(value, "video_id"), &event);
  } else if (item == "reaction" || item == "like") {
    const std::string target = comment_id.empty() ? post_id : comment_id;
    if (target.empty()) {
      // A like of the page itself: a follow, not a message.
      ++entry.out->ignored;
      return;
    }
    const std::string root =
        comment_id.empty() ? post_id : CommentThreadRoot(comment_id, parent_id, post_id);
    event.set_event_id(absl::StrCat("fb:", target, ":reaction:", author.id, ":", verb_text, ":",
                                    ChangeSeconds(created, entry)));
    event.set_kind(earshot::v1::KIND_REACTION);
    event.set_thread_key(absl::StrCat(page_prefix, root));
    event.set_parent_id(target);
    SetAttribute("reaction_type", GetString(value, "reaction_type"), &event);
    SetAttribute("comment_id", comment_id, &event);
  } else {
    entry.out->unknown.push_back(absl::StrCat(where, ": unknown feed item \"", item, "\""));
    return;
  }
  entry.out->events.push_back(std::move(event));
}

// Page `mention` field: the page was @mentioned in a post or a comment elsewhere.
void HandlePageMention(const MetaEntry& entry, Json value, const std::string& where) {
  const std::string verb_text = GetString(value, "verb");
  const Verb verb = ParseVerb(verb_text);
  if (verb == Verb::kIgnore) {
    ++entry.out->ignored;
    return;
  }
  const std::string post_id = GetId(value, "post_id");
  const std::string comment_id = GetId(value, "comment_id");
  const std::string target = comment_id.empty() ? post_id : comment_id;
  if (target.empty() || verb == Verb::kUnknown) {
    entry.out->unknown.push_back(absl::StrCat(where, ": mention without post_id or known verb"));
    return;
  }
  std::optional<absl::Time> created = GetTime(value, "created_time", EpochUnit::kSeconds);
  if (!created) {
    created = entry.time;
  }
  const AuthorInfo author = AuthorFrom(value);
  Event event = NewMetaEvent(earshot::v1::PLATFORM_FACEBOOK, entry);
  std::string event_id = absl::StrCat("fb:mention:", target);
  event.set_kind(earshot::v1::KIND_MENTION);
  if (verb == Verb::kEdit) {
    absl::StrAppend(&event_id, ":edited:", ChangeSeconds(created, entry));
    event.set_kind(earshot::v1::KIND_EDIT);
  } else if (verb == Verb::kRemove) {
    absl::StrAppend(&event_id, ":remove");
    event.set_kind(earshot::v1::KIND_DELETE);
  }
  event.set_event_id(event_id);
  event.set_thread_key(
      absl::StrCat("fb:", entry.account, ":c:", post_id.empty() ? comment_id : post_id));
  event.set_message_id(target);
  event.set_direction(DirectionOf(!author.id.empty() && author.id == entry.account));
  internal::SetAuthor(author, &event);
  event.set_text(GetString(value, "message"));
  internal::SetCreatedAt(created, &event);
  event.set_permalink(absl::StrCat("https://www.facebook.com/", target));
  SetAttribute("post_id", post_id, &event);
  SetAttribute("comment_id", comment_id, &event);
  SetAttribute("verb", verb_text, &event);
  SetAttribute("item", GetString(value, "item"), &event);
  entry.out->events.push_back(std::move(event));
}

// --- Messenger and Instagram messaging ---------------------------------------------------------

// Messenger ("fbm") or Instagram ("igm") direct messages share one shape.
struct Messaging {
  Platform platform;
  std::string_view prefix;
};

constexpr std::string_view kIgnoredMessagingKeys[] = {
    "delivery",
    "read",
    "optin",
    "referral",
    "account_linking",
    "pass_thread_control",
    "take_thread_control",
    "request_thread_control",
    "app_roles",
    "policy_enforcement",
    "messaging_feedback",
    "response_feedback",
    "game_play",
    "checkout_update",
    "payment",
    "handover",
    "messaging_handovers",
};

std::string AttachmentTypes(Json message) {
  std::vector<std::string> types;
  if (std::optional<simdjson::dom::array> attachments = GetArray(message, "attachments")) {
    for (Json attachment : *attachments) {
      std::string type = GetString(attachment, "type");
      if (!type.empty()) {
        types.push_back(std::move(type));
      }
    }
  }
  return absl::StrJoin(types, ",");
}

void HandleMessaging(const MetaEntry& entry, const Messaging& kind, Json item,
                     const std::string& where) {
  const std::string sender = GetIdPath(item, {"sender", "id"});
  const std::string recipient = GetIdPath(item, {"recipient", "id"});
  std::optional<absl::Time> time = GetTime(item, "timestamp", EpochUnit::kMillis);
  if (!time) {
    time = entry.time;
  }
  const int64_t millis = absl::ToUnixMillis(time.value_or(entry.ctx->received_at));

  auto new_event = [&](bool outbound) {
    Event event = NewMetaEvent(kind.platform, entry);
    const std::string& psid = outbound ? recipient : sender;
    event.set_thread_key(absl::StrCat(ToAbsl(kind.prefix), ":", entry.account, ":", psid));
    event.set_direction(DirectionOf(outbound));
    AuthorInfo author;
    author.id = sender;
    internal::SetAuthor(author, &event);
    internal::SetCreatedAt(time, &event);
    return event;
  };

  if (std::optional<Json> message = Get(item, "message")) {
    const std::string mid = GetId(*message, "mid");
    if (mid.empty() || sender.empty()) {
      entry.out->unknown.push_back(absl::StrCat(where, ": message without mid or sender"));
      return;
    }
    const bool echo = GetBool(*message, "is_echo").value_or(false);
    Event event = new_event(echo || sender == entry.account);
    event.set_message_id(mid);
    if (GetBool(*message, "is_deleted").value_or(false)) {
      event.set_event_id(absl::StrCat(ToAbsl(kind.prefix), ":", mid, ":delete"));
      event.set_kind(earshot::v1::KIND_DELETE);
    } else {
      event.set_event_id(absl::StrCat(ToAbsl(kind.prefix), ":", mid));
      event.set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
      event.set_text(GetString(*message, "text"));
    }
    event.set_parent_id(GetIdPath(*message, {"reply_to", "mid"}));
    SetAttribute("attachment_types", AttachmentTypes(*message), &event);
    SetAttribute("quick_reply_payload", GetStringPath(*message, {"quick_reply", "payload"}),
                 &event);
    SetAttribute("story_id", GetIdPath(*message, {"reply_to", "story", "id"}), &event);
    if (echo) {
      SetAttribute("is_echo", "true", &event);
      SetAttribute("app_id", GetId(*message, "app_id"), &event);
    }
    if (GetBool(*message, "is_unsupported").value_or(false)) {
      SetAttribute("is_unsupported", "true", &event);
    }
    entry.out->events.push_back(std::move(event));
    return;
  }
  if (std::optional<Json> reaction = Get(item, "reaction")) {
    const std::string mid = GetId(*reaction, "mid");
    const std::string action = GetString(*reaction, "action");
    if (mid.empty() || sender.empty()) {
      entry.out->unknown.push_back(absl::StrCat(where, ": reaction without mid or sender"));
      return;
    }
    Event event = new_event(sender == entry.account);
    event.set_event_id(absl::StrCat(ToAbsl(kind.prefix), ":", mid, ":reaction:", sender, ":",
                                    action, ":", millis));
    event.set_kind(earshot::v1::KIND_REACTION);
    event.set_parent_id(mid);
    SetAttribute("action", action, &event);
    SetAttribute("reaction", GetString(*reaction, "reaction"), &event);
    SetAttribute("emoji", GetString(*reaction, "emoji"), &event);
    entry.out->events.push_back(std::move(event));
    return;
  }
  if (std::optional<Json> postback = Get(item, "postback")) {
    if (sender.empty()) {
      entry.out->unknown.push_back(absl::StrCat(where, ": postback without sender"));
      return;
    }
    const bool outbound = sender == entry.account;
    Event event = new_event(outbound);
    const std::string mid = GetId(*postback, "mid");
    const std::string& psid = outbound ? recipient : sender;
    event.set_event_id(mid.empty()
                           ? absl::StrCat(ToAbsl(kind.prefix), ":", psid, ":postback:", millis)
                           : absl::StrCat(ToAbsl(kind.prefix), ":", mid));
    event.set_message_id(mid);
    event.set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
    event.set_text(GetString(*postback, "title"));
    SetAttribute("postback_payload", GetString(*postback, "payload"), &event);
    entry.out->events.push_back(std::move(event));
    return;
  }
  if (std::optional<Json> edit = Get(item, "message_edit")) {
    const std::string mid = GetId(*edit, "mid");
    if (mid.empty() || sender.empty()) {
      entry.out->unknown.push_back(absl::StrCat(where, ": message_edit without mid or sender"));
      return;
    }
    Event event = new_event(sender == entry.account);
    std::string num_edit = GetId(*edit, "num_edit");
    event.set_event_id(absl::StrCat(ToAbsl(kind.prefix), ":", mid,
                                    ":edit:", num_edit.empty() ? absl::StrCat(millis) : num_edit));
    event.set_message_id(mid);
    event.set_kind(earshot::v1::KIND_EDIT);
    event.set_text(GetString(*edit, "text"));
    entry.out->events.push_back(std::move(event));
    return;
  }
  for (std::string_view key : kIgnoredMessagingKeys) {
    if (Get(item, key)) {
      ++entry.out->ignored;
      return;
    }
  }
  entry.out->unknown.push_back(absl::StrCat(where, ": unknown messaging event"));
}

// --- Instagram changes -------------------------------------------------------------------------

void HandleInstagramComment(const MetaEntry& entry, std::string_view field, Json value,
                            const std::string& where) {
  std::string id = GetId(value, "id");
  if (id.empty()) {
    id = GetId(value, "comment_id");
  }
  if (id.empty()) {
    entry.out->unknown.push_back(absl::StrCat(where, ": comment without id"));
    return;
  }
  const std::string parent_id = GetId(value, "parent_id");
  AuthorInfo author = AuthorFrom(value);
  Event event = NewMetaEvent(earshot::v1::PLATFORM_INSTAGRAM, entry);
  event.set_event_id(absl::StrCat("ig:", id));
  event.set_kind(parent_id.empty() ? earshot::v1::KIND_COMMENT : earshot::v1::KIND_REPLY);
  event.set_thread_key(
      absl::StrCat("fb:", entry.account, ":c:", parent_id.empty() ? id : parent_id));
  event.set_message_id(id);
  event.set_parent_id(parent_id);
  event.set_direction(DirectionOf(!author.id.empty() && author.id == entry.account));
  internal::SetAuthor(author, &event);
  event.set_text(GetString(value, "text"));
  std::optional<absl::Time> created = GetTime(value, "created_time", EpochUnit::kAuto);
  internal::SetCreatedAt(created ? created : entry.time, &event);
  std::string media_id = GetIdPath(value, {"media", "id"});
  if (media_id.empty()) {
    media_id = GetId(value, "media_id");
  }
  SetAttribute("media_id", media_id, &event);
  SetAttribute("media_product_type", GetStringPath(value, {"media", "media_product_type"}), &event);
  SetAttribute("ad_id", GetIdPath(value, {"media", "ad_id"}), &event);
  SetAttribute("field", field, &event);
  entry.out->events.push_back(std::move(event));
}

void HandleInstagramMention(const MetaEntry& entry, Json value, const std::string& where) {
  const std::string comment_id = GetId(value, "comment_id");
  const std::string media_id = GetId(value, "media_id");
  const std::string target = comment_id.empty() ? media_id : comment_id;
  if (target.empty()) {
    entry.out->unknown.push_back(absl::StrCat(where, ": mention without comment_id or media_id"));
    return;
  }
  Event event = NewMetaEvent(earshot::v1::PLATFORM_INSTAGRAM, entry);
  event.set_event_id(absl::StrCat("ig:mention:", target));
  event.set_kind(earshot::v1::KIND_MENTION);
  event.set_thread_key(absl::StrCat("fb:", entry.account, ":c:", target));
  event.set_message_id(target);
  event.set_direction(earshot::v1::DIRECTION_INBOUND);
  internal::SetCreatedAt(entry.time, &event);
  SetAttribute("media_id", media_id, &event);
  SetAttribute("comment_id", comment_id, &event);
  SetAttribute("field", "mentions", &event);
  entry.out->events.push_back(std::move(event));
}

constexpr Messaging kMessenger{earshot::v1::PLATFORM_MESSENGER, "fbm"};
constexpr Messaging kInstagramDm{earshot::v1::PLATFORM_INSTAGRAM, "igm"};

void HandleInstagramChange(const MetaEntry& entry, std::string_view field, Json value,
                           const std::string& where) {
  if (field == "comments" || field == "live_comments") {
    HandleInstagramComment(entry, field, value, where);
  } else if (field == "mentions") {
    HandleInstagramMention(entry, value, where);
  } else if (field == "messages" || field == "messaging_postbacks" ||
             field == "message_reactions" || field == "message_edit" || field == "messaging_seen" ||
             field == "messaging_referral" || field == "messaging_optins" ||
             field == "messaging_handover") {
    // Test deliveries from the app dashboard put a messaging item under changes[].value.
    HandleMessaging(entry, kInstagramDm, value, where);
  } else if (field == "story_insights") {
    ++entry.out->ignored;
  } else {
    entry.out->unknown.push_back(absl::StrCat(where, ": unknown field \"", ToAbsl(field), "\""));
  }
}

// --- WhatsApp ----------------------------------------------------------------------------------

// Text of an inbound WhatsApp message by type; empty for media without caption, stickers, ...
std::string WhatsAppText(Json message, const std::string& type) {
  if (type == "text") {
    return GetStringPath(message, {"text", "body"});
  }
  if (type == "button") {
    return GetStringPath(message, {"button", "text"});
  }
  if (type == "interactive") {
    std::string title = GetStringPath(message, {"interactive", "button_reply", "title"});
    if (title.empty()) {
      title = GetStringPath(message, {"interactive", "list_reply", "title"});
    }
    if (title.empty()) {
      title = GetStringPath(message, {"interactive", "nfm_reply", "body"});
    }
    return title;
  }
  if (type == "image" || type == "video" || type == "document") {
    return GetStringPath(message, {type, "caption"});
  }
  if (type == "location") {
    std::string name = GetStringPath(message, {"location", "name"});
    std::string address = GetStringPath(message, {"location", "address"});
    if (!name.empty() && !address.empty()) {
      return absl::StrCat(name, ", ", address);
    }
    return name.empty() ? address : name;
  }
  return "";
}

void HandleWhatsAppMessages(const MetaEntry& entry, Json value, const std::string& where) {
  const std::string phone_id = GetIdPath(value, {"metadata", "phone_number_id"});
  if (phone_id.empty()) {
    entry.out->unknown.push_back(absl::StrCat(where, ": messages without phone_number_id"));
    return;
  }
  std::optional<simdjson::dom::array> messages = GetArray(value, "messages");
  std::optional<simdjson::dom::array> statuses = GetArray(value, "statuses");
  if (!messages && !statuses) {
    entry.out->unknown.push_back(absl::StrCat(where, ": value without messages or statuses"));
    return;
  }
  const std::string display_phone = GetStringPath(value, {"metadata", "display_phone_number"});
  std::optional<simdjson::dom::array> contacts = GetArray(value, "contacts");
  auto contact_name = [&](const std::string& wa_id) -> std::string {
    if (!contacts) {
      return "";
    }
    for (Json contact : *contacts) {
      if (GetId(contact, "wa_id") == wa_id) {
        return GetStringPath(contact, {"profile", "name"});
      }
    }
    return "";
  };
  auto new_event = [&]() {
    Event event = NewMetaEvent(earshot::v1::PLATFORM_WHATSAPP, entry);
    event.set_account_id(phone_id);
    SetAttribute("waba_id", entry.account, &event);
    SetAttribute("display_phone_number", display_phone, &event);
    return event;
  };

  size_t index = 0;
  if (messages) {
    for (Json message : *messages) {
      const std::string item_where = absl::StrCat(where, ".messages[", index++, "]");
      const std::string id = GetId(message, "id");
      const std::string from = GetId(message, "from");
      const std::string type = GetString(message, "type");
      if (id.empty() || from.empty()) {
        entry.out->unknown.push_back(absl::StrCat(item_where, ": message without id or from"));
        continue;
      }
      if (type == "system") {
        // "customer changed their number" notices: nothing to answer.
        ++entry.out->ignored;
        continue;
      }
      Event event = new_event();
      const std::string group_id = GetId(message, "group_id");
      event.set_event_id(absl::StrCat("wa:", id));
      event.set_thread_key(group_id.empty() ? absl::StrCat("wa:", phone_id, ":", from)
                                            : absl::StrCat("wa:", phone_id, ":g:", group_id));
      event.set_message_id(id);
      event.set_direction(earshot::v1::DIRECTION_INBOUND);
      AuthorInfo author;
      author.id = from;
      author.display_name = contact_name(from);
      internal::SetAuthor(author, &event);
      internal::SetCreatedAt(GetTime(message, "timestamp", EpochUnit::kSeconds), &event);
      if (type == "reaction") {
        event.set_kind(earshot::v1::KIND_REACTION);
        event.set_parent_id(GetIdPath(message, {"reaction", "message_id"}));
        SetAttribute("emoji", GetStringPath(message, {"reaction", "emoji"}), &event);
      } else {
        event.set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
        event.set_parent_id(GetIdPath(message, {"context", "id"}));
        event.set_text(WhatsAppText(message, type));
      }
      SetAttribute("message_type", type, &event);
      SetAttribute("wa_group_id", group_id, &event);
      if (type == "image" || type == "video" || type == "document" || type == "audio" ||
          type == "sticker") {
        SetAttribute("media_id", GetIdPath(message, {type, "id"}), &event);
        SetAttribute("mime_type", GetStringPath(message, {type, "mime_type"}), &event);
      }
      if (type == "interactive") {
        SetAttribute("interactive_type", GetStringPath(message, {"interactive", "type"}), &event);
      }
      if (type == "button") {
        SetAttribute("button_payload", GetStringPath(message, {"button", "payload"}), &event);
      }
      if (GetBool(message, "forwarded").value_or(false) ||
          GetPath(message, {"context", "forwarded"})) {
        SetAttribute("forwarded", "true", &event);
      }
      entry.out->events.push_back(std::move(event));
    }
  }
  index = 0;
  if (statuses) {
    for (Json status : *statuses) {
      const std::string item_where = absl::StrCat(where, ".statuses[", index++, "]");
      const std::string id = GetId(status, "id");
      const std::string state = GetString(status, "status");
      const std::string recipient = GetId(status, "recipient_id");
      if (id.empty() || state.empty()) {
        entry.out->unknown.push_back(absl::StrCat(item_where, ": status without id or status"));
        continue;
      }
      Event event = new_event();
      event.set_event_id(absl::StrCat("wa:", id, ":", state));
      const bool group = GetString(status, "recipient_type") == "group";
      event.set_thread_key(group ? absl::StrCat("wa:", phone_id, ":g:", recipient)
                                 : absl::StrCat("wa:", phone_id, ":", recipient));
      event.set_message_id(id);
      event.set_direction(earshot::v1::DIRECTION_OUTBOUND);
      event.set_kind(earshot::v1::KIND_STATUS);
      AuthorInfo author;
      author.id = phone_id;
      internal::SetAuthor(author, &event);
      internal::SetCreatedAt(GetTime(status, "timestamp", EpochUnit::kSeconds), &event);
      SetAttribute("status", state, &event);
      SetAttribute("recipient_id", recipient, &event);
      SetAttribute("conversation_id", GetIdPath(status, {"conversation", "id"}), &event);
      SetAttribute("pricing_category", GetStringPath(status, {"pricing", "category"}), &event);
      if (std::optional<simdjson::dom::array> errors = GetArray(status, "errors")) {
        std::vector<std::string> titles;
        std::vector<std::string> codes;
        for (Json error : *errors) {
          std::string title = GetString(error, "title");
          if (title.empty()) {
            title = GetString(error, "message");
          }
          if (!title.empty()) {
            titles.push_back(std::move(title));
          }
          std::string code = GetId(error, "code");
          if (!code.empty()) {
            codes.push_back(std::move(code));
          }
        }
        SetAttribute("error_titles", absl::StrJoin(titles, "; "), &event);
        SetAttribute("error_codes", absl::StrJoin(codes, ","), &event);
      }
      entry.out->events.push_back(std::move(event));
    }
  }
}

// --- Dispatch ----------------------------------------------------------------------------------

enum class MetaObject { kPage, kInstagram, kWhatsApp };

void HandleEntry(MetaObject object, const MetaEntry& entry, Json raw, const std::string& where) {
  bool any = false;
  if (std::optional<simdjson::dom::array> changes = GetArray(raw, "changes")) {
    any = true;
    size_t index = 0;
    for (Json change : *changes) {
      const std::string change_where = absl::StrCat(where, ".changes[", index++, "]");
      const std::string field = GetString(change, "field");
      std::optional<Json> value = Get(change, "value");
      if (!value) {
        entry.out->unknown.push_back(absl::StrCat(change_where, ": change without value"));
        continue;
      }
      switch (object) {
        case MetaObject::kPage:
          if (field == "feed") {
            HandleFeed(entry, *value, change_where);
          } else if (field == "mention") {
            HandlePageMention(entry, *value, change_where);
          } else {
            entry.out->unknown.push_back(
                absl::StrCat(change_where, ": unknown field \"", ToAbsl(field), "\""));
          }
          break;
        case MetaObject::kInstagram:
          HandleInstagramChange(entry, field, *value, change_where);
          break;
        case MetaObject::kWhatsApp:
          if (field == "messages") {
            HandleWhatsAppMessages(entry, *value, change_where);
          } else {
            // account_update, message_template_status_update, phone_number_quality_update, ...
            ++entry.out->ignored;
          }
          break;
      }
    }
  }
  for (std::string_view key : {std::string_view("messaging"), std::string_view("standby")}) {
    std::optional<simdjson::dom::array> items = GetArray(raw, key);
    if (!items) {
      continue;
    }
    any = true;
    if (object == MetaObject::kWhatsApp) {
      entry.out->unknown.push_back(absl::StrCat(where, ": ", ToAbsl(key), " in a WhatsApp entry"));
      continue;
    }
    const Messaging& kind = object == MetaObject::kPage ? kMessenger : kInstagramDm;
    size_t index = 0;
    for (Json item : *items) {
      HandleMessaging(entry, kind, item, absl::StrCat(where, ".", ToAbsl(key), "[", index++, "]"));
    }
  }
  if (!any) {
    entry.out->unknown.push_back(absl::StrCat(where, ": no changes or messaging"));
  }
}

}  // namespace

absl::StatusOr<Normalized> NormalizeMeta(std::string_view body, const RequestContext& ctx) {
  internal::JsonParser parser;
  absl::StatusOr<Json> root = parser.ParseObject(body);
  if (!root.ok()) {
    return root.status();
  }
  Normalized out;
  const std::string object_name = GetString(*root, "object");
  MetaObject object;
  if (object_name == "page") {
    object = MetaObject::kPage;
  } else if (object_name == "instagram") {
    object = MetaObject::kInstagram;
  } else if (object_name == "whatsapp_business_account") {
    object = MetaObject::kWhatsApp;
  } else {
    out.unknown.push_back(absl::StrCat("object: unknown value \"", object_name, "\""));
    return out;
  }
  std::optional<simdjson::dom::array> entries = GetArray(*root, "entry");
  if (!entries) {
    out.unknown.push_back("entry: missing or not an array");
    return out;
  }
  if (entries->size() == 0) {
    ++out.ignored;
    return out;
  }
  size_t index = 0;
  for (Json raw : *entries) {
    const std::string where = absl::StrCat("entry[", index++, "]");
    MetaEntry entry;
    entry.ctx = &ctx;
    entry.out = &out;
    entry.account = GetId(raw, "id");
    // Graph sends seconds, Messenger and Instagram messaging milliseconds.
    entry.time = GetTime(raw, "time", EpochUnit::kAuto);
    if (entry.account.empty()) {
      out.unknown.push_back(absl::StrCat(where, ": entry without id"));
      continue;
    }
    HandleEntry(object, entry, raw, where);
  }
  return out;
}

}  // namespace earshot::gateway
