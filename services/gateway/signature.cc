#include "services/gateway/signature.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fmt/format.h"
#include "services/common/base/strings.h"

namespace earshot::gateway {

std::string XSignature(std::string_view body, std::string_view secret) {
  return "sha256=" + Base64Encode(HmacSha256(secret, body));
}

std::string XCrcResponseToken(std::string_view crc_token, std::string_view secret) {
  return XSignature(crc_token, secret);
}

absl::Status VerifyX(std::string_view body, std::string_view legacy_header,
                     std::string_view oauth2_header, const std::vector<std::string>& secrets) {
  if (legacy_header.empty() && oauth2_header.empty()) {
    return absl::UnauthenticatedError("missing x-twitter-webhooks-signature header");
  }
  for (const auto& secret : secrets) {
    const std::string expected = XSignature(body, secret);
    // The OAuth 2.0 header first, as X recommends; the legacy one as a fall-back.
    if (ConstantTimeEquals(oauth2_header, expected) ||
        ConstantTimeEquals(legacy_header, expected)) {
      return absl::OkStatus();
    }
  }
  return absl::UnauthenticatedError("x webhook signature does not match");
}

std::string MetaSignature(std::string_view body, std::string_view app_secret) {
  return "sha256=" + HexEncode(HmacSha256(app_secret, body));
}

absl::Status VerifyMeta(std::string_view body, std::string_view header,
                        const std::vector<std::string>& app_secrets) {
  if (header.empty()) return absl::UnauthenticatedError("missing X-Hub-Signature-256 header");
  const std::string given = absl::AsciiStrToLower(ToAbsl(header));
  for (const auto& secret : app_secrets) {
    if (ConstantTimeEquals(given, MetaSignature(body, secret))) return absl::OkStatus();
  }
  return absl::UnauthenticatedError("X-Hub-Signature-256 does not match");
}

absl::Status VerifyTelegram(std::string_view header, const std::vector<std::string>& tokens) {
  if (header.empty()) {
    return absl::UnauthenticatedError("missing X-Telegram-Bot-Api-Secret-Token header");
  }
  bool match = false;
  for (const auto& token : tokens) match |= ConstantTimeEquals(header, token);
  if (match) return absl::OkStatus();
  return absl::UnauthenticatedError("X-Telegram-Bot-Api-Secret-Token does not match");
}

namespace {

std::string StandardWebhookKey(std::string_view secret) {
  if (secret.starts_with("whsec_")) {
    std::string key;
    if (Base64Decode(secret.substr(6), &key)) return key;
  }
  return std::string(secret);
}

}  // namespace

std::string SignStandardWebhook(std::string_view id, std::string_view timestamp,
                                std::string_view body, std::string_view secret) {
  const std::string message = fmt::format("{}.{}.{}", id, timestamp, body);
  return "v1," + Base64Encode(HmacSha256(StandardWebhookKey(secret), message));
}

absl::Status VerifyStandardWebhook(std::string_view id, std::string_view timestamp,
                                   std::string_view body, std::string_view signature_header,
                                   const std::vector<std::string>& secrets, absl::Time now,
                                   absl::Duration tolerance) {
  if (id.empty() || timestamp.empty() || signature_header.empty()) {
    return absl::UnauthenticatedError(
        "missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  int64_t ts;
  if (!absl::SimpleAtoi(ToAbsl(timestamp), &ts)) {
    return absl::UnauthenticatedError("webhook-timestamp is not unix seconds");
  }
  if (absl::AbsDuration(now - absl::FromUnixSeconds(ts)) > tolerance) {
    return absl::UnauthenticatedError("webhook-timestamp outside the replay window of " +
                                      absl::FormatDuration(tolerance));
  }
  const std::string message = fmt::format("{}.{}.{}", id, timestamp, body);
  for (const auto& secret : secrets) {
    const std::string expected = Base64Encode(HmacSha256(StandardWebhookKey(secret), message));
    for (absl::string_view sig : absl::StrSplit(ToAbsl(signature_header), ' ', absl::SkipEmpty())) {
      if (absl::ConsumePrefix(&sig, "v1,") && ConstantTimeEquals(ToStd(sig), expected)) {
        return absl::OkStatus();
      }
    }
  }
  return absl::UnauthenticatedError("webhook-signature does not match");
}

}  // namespace earshot::gateway
