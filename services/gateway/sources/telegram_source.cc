#include "services/gateway/sources/telegram_source.h"

#include <array>

#include "services/gateway/signature.h"

namespace earshot::gateway {
namespace {

constexpr std::string_view kHeader = "X-Telegram-Bot-Api-Secret-Token";
constexpr std::array<std::string_view, 1> kSignatureHeaders = {"x-telegram-bot-api-secret-token"};

}  // namespace

absl::StatusOr<std::unique_ptr<WebhookSource>> TelegramSource::FromConfig(const Config& config) {
  return std::make_unique<TelegramSource>(
      Options{.secret_tokens = config.GetList("telegram.secret_token"),
              .bot_id = config.GetString("telegram.bot_id", "bot")});
}

bool TelegramSource::MatchPath(std::string_view rest, std::string* account) const {
  if (rest != "telegram" && !rest.starts_with("telegram/")) return false;
  *account = rest.size() > 9 ? std::string(rest.substr(9)) : options_.bot_id;
  return true;
}

std::string TelegramSource::PathFor(std::string_view account) const {
  return account.empty() ? "/webhooks/telegram" : "/webhooks/telegram/" + std::string(account);
}

absl::Status TelegramSource::Verify(const http::Request& request, std::string_view /*account*/,
                                    absl::Time /*now*/) const {
  if (options_.secret_tokens.empty()) {
    return absl::NotFoundError("telegram webhooks are not configured (no token)");
  }
  return VerifyTelegram(request.header("x-telegram-bot-api-secret-token"), options_.secret_tokens);
}

absl::StatusOr<Normalized> TelegramSource::Normalize(std::string_view body,
                                                     const RequestContext& ctx) const {
  return NormalizeTelegram(body, ctx);
}

std::span<const std::string_view> TelegramSource::kept_headers() const { return kSignatureHeaders; }
std::span<const std::string_view> TelegramSource::signature_headers() const {
  return kSignatureHeaders;
}

std::string TelegramSource::MissingSecret(std::string_view /*account*/) const {
  return options_.secret_tokens.empty() ? "telegram.secret_token" : "";
}

absl::StatusOr<HeaderList> TelegramSource::Sign(const SignInput& in) const {
  if (std::string key = MissingSecret(in.account); !key.empty()) return MissingSecretError(key);
  return HeaderList{{std::string(kHeader), options_.secret_tokens.front()}};
}

bool TelegramSource::CarriesSignature(const HeaderList& headers) const {
  return HasHeader(headers, kHeader);
}

}  // namespace earshot::gateway
