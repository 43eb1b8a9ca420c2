#pragma once
// Normalisation: one verified webhook body in, canonical earshot.v1.Event values out.
//
// Pure functions, no I/O: the HTTP adapter verifies the signature first and hands the exact
// received bytes here. Called from any I/O thread; nothing is shared between calls.
//
// Identity rules (the contract the router's deduplication relies on):
//   event_id   "<platform prefix>:<native id>[:<variant>]", identical for every redelivery of the
//              same webhook, different for an edit or a delete of the same message.
//   thread_key: the conversation, one rule per platform; the table is in
//              services/gateway/README.md.
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "earshot/v1/event.pb.h"

namespace earshot::gateway {

// What the gateway knows about a request besides its body.
struct RequestContext {
  absl::Time received_at;
  // Telegram: the bot id the webhook belongs to (updates do not carry it).
  // Generic: the source name from the route /webhooks/generic/{source}.
  std::string account;
};

struct Normalized {
  std::vector<earshot::v1::Event> events;
  // Parts of a known kind that carry no customer message (typing indicators, read receipts,
  // follows, replay job status, ...). Acknowledged and counted, nothing produced.
  int ignored = 0;
  // Parts whose shape is not known, one reason each ("entry[0].changes[1]: unknown field
  // \"ratings\""). The request is still acknowledged; the raw body goes to the dead-letter topic.
  std::vector<std::string> unknown;
};

// Each returns InvalidArgument when the body is not JSON or not a JSON object (HTTP 400).
// Anything that parses is answered with events, ignored parts or unknown parts.
absl::StatusOr<Normalized> NormalizeX(std::string_view body, const RequestContext& ctx);
absl::StatusOr<Normalized> NormalizeMeta(std::string_view body, const RequestContext& ctx);
absl::StatusOr<Normalized> NormalizeTelegram(std::string_view body, const RequestContext& ctx);
absl::StatusOr<Normalized> NormalizeGeneric(std::string_view body, const RequestContext& ctx);

// "x", "facebook", "instagram", "messenger", "whatsapp", "telegram", "generic".
std::string_view PlatformName(earshot::v1::Platform platform);

}  // namespace earshot::gateway
