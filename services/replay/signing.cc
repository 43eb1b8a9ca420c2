#include "services/replay/signing.h"

#include <openssl/sha.h>

#include <array>

#include "absl/strings/match.h"
#include "fmt/format.h"
#include "services/common/base/strings.h"
#include "services/gateway/signature.h"

namespace earshot::replay {
namespace {

constexpr std::string_view kMetaHeader = "X-Hub-Signature-256";
constexpr std::string_view kXHeader = "x-twitter-webhooks-signature";
constexpr std::string_view kXOAuth2Header = "X-Twitter-Webhooks-Signature-OAuth2";
constexpr std::string_view kTelegramHeader = "X-Telegram-Bot-Api-Secret-Token";

constexpr std::array<std::string_view, 10> kSignatureHeaders = {
    "x-hub-signature-256",
    "x-hub-signature",
    "x-twitter-webhooks-signature",
    "x-twitter-webhooks-signature-oauth2",
    "x-telegram-bot-api-secret-token",
    "webhook-signature",
    "webhook-timestamp",
    "svix-signature",
    "svix-timestamp",
    "tiktok-signature"};

std::string First(const std::vector<std::string>& list) { return list.empty() ? "" : list[0]; }

bool Has(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(ToAbsl(k), ToAbsl(name)) && !v.empty()) return true;
  }
  return false;
}

std::string Find(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(ToAbsl(k), ToAbsl(name))) return v;
  }
  return "";
}

// The recording already carries what its platform's gateway check reads.
bool CarriesSignature(const Recording& r) {
  switch (r.platform) {
    case Platform::kMeta:
      return Has(r.headers, kMetaHeader);
    case Platform::kX:
      return Has(r.headers, kXHeader) || Has(r.headers, kXOAuth2Header);
    case Platform::kTelegram:
      return Has(r.headers, kTelegramHeader);
    case Platform::kGeneric:
      return (Has(r.headers, "webhook-signature") && Has(r.headers, "webhook-timestamp")) ||
             (Has(r.headers, "svix-signature") && Has(r.headers, "svix-timestamp"));
  }
  return false;
}

// A stable Standard Webhooks message id for a body: the same bytes give the same id.
std::string MessageIdFor(std::string_view body) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  return "msg_" + gateway::HexEncode(std::string_view(reinterpret_cast<char*>(digest), 12));
}

}  // namespace

absl::StatusOr<SigningSecrets> SigningSecrets::FromConfig(const Config& config) {
  SigningSecrets s;
  s.x_consumer_secret = First(config.GetList("x.consumer_secret"));
  s.x_client_secret = First(config.GetList("x.client_secret"));
  s.meta_app_secret = First(config.GetList("meta.app_secret"));
  s.telegram_secret_token = First(config.GetList("telegram.secret_token"));
  for (const auto& source : config.ChildKeys("generic.sources")) {
    std::string secret = First(config.GetList("generic.sources." + source + ".secret"));
    if (!secret.empty()) s.generic[source] = std::move(secret);
  }
  if (auto st = config.status(); !st.ok()) return st;
  return s;
}

absl::Status SigningSecrets::CanSign(const Recording& r) const {
  auto missing = [&](std::string_view key) {
    return absl::FailedPreconditionError(
        fmt::format("line {}: cannot sign a {} webhook: {} is not set in the config (or {})",
                    r.line, PlatformName(r.platform), key, Config::EnvName(key)));
  };
  switch (r.platform) {
    case Platform::kMeta:
      if (meta_app_secret.empty()) return missing("meta.app_secret");
      break;
    case Platform::kX:
      if (x_consumer_secret.empty() && x_client_secret.empty()) {
        return missing("x.consumer_secret");
      }
      break;
    case Platform::kTelegram:
      if (telegram_secret_token.empty()) return missing("telegram.secret_token");
      break;
    case Platform::kGeneric:
      if (!generic.contains(r.source)) return missing("generic.sources." + r.source + ".secret");
      break;
  }
  return absl::OkStatus();
}

bool IsSignatureHeader(std::string_view name) {
  for (std::string_view h : kSignatureHeaders) {
    if (absl::EqualsIgnoreCase(ToAbsl(name), ToAbsl(h))) return true;
  }
  return false;
}

absl::StatusOr<Headers> SignRequest(const Recording& r, std::string_view body,
                                    const SigningSecrets& secrets, bool keep_signatures,
                                    absl::Time now) {
  const bool keep = keep_signatures && CarriesSignature(r);
  Headers out;
  bool has_content_type = false;
  for (const auto& [k, v] : r.headers) {
    if (!keep && IsSignatureHeader(k)) continue;
    if (absl::EqualsIgnoreCase(ToAbsl(k), "content-type")) has_content_type = true;
    // The HTTP client sets these from the request itself.
    if (absl::EqualsIgnoreCase(ToAbsl(k), "content-length") ||
        absl::EqualsIgnoreCase(ToAbsl(k), "host") ||
        absl::EqualsIgnoreCase(ToAbsl(k), "transfer-encoding")) {
      continue;
    }
    out.emplace_back(k, v);
  }
  if (!has_content_type) out.emplace_back("Content-Type", "application/json");
  if (keep) return out;
  if (auto st = secrets.CanSign(r); !st.ok()) return st;
  switch (r.platform) {
    case Platform::kMeta:
      out.emplace_back(kMetaHeader, gateway::MetaSignature(body, secrets.meta_app_secret));
      break;
    case Platform::kX:
      if (!secrets.x_consumer_secret.empty()) {
        out.emplace_back(kXHeader, gateway::XSignature(body, secrets.x_consumer_secret));
      }
      if (!secrets.x_client_secret.empty()) {
        out.emplace_back(kXOAuth2Header, gateway::XSignature(body, secrets.x_client_secret));
      }
      break;
    case Platform::kTelegram:
      out.emplace_back(kTelegramHeader, secrets.telegram_secret_token);
      break;
    case Platform::kGeneric: {
      std::string id = Find(r.headers, "webhook-id");
      if (id.empty()) {
        id = Find(r.headers, "svix-id");
        if (id.empty()) id = MessageIdFor(body);
        out.emplace_back("webhook-id", id);
      }
      const std::string ts = std::to_string(absl::ToUnixSeconds(now));
      out.emplace_back("webhook-timestamp", ts);
      out.emplace_back("webhook-signature",
                       gateway::SignStandardWebhook(id, ts, body, secrets.generic.at(r.source)));
      break;
    }
  }
  return out;
}

}  // namespace earshot::replay
