#pragma once
// Telegram Bot API on /webhooks/telegram[/{bot_id}]: X-Telegram-Bot-Api-Secret-Token on POST
// (signature.h: VerifyTelegram), normalize_telegram.cc. Updates do not name their bot, so the
// path does, else telegram.bot_id.
#include <memory>
#include <string>
#include <vector>

#include "services/gateway/sources/webhook_source.h"

namespace earshot::gateway {

class TelegramSource final : public WebhookSource {
 public:
  static constexpr std::string_view kName = "telegram";

  struct Options {
    std::vector<std::string> secret_tokens;  // telegram.secret_token
    std::string bot_id = "bot";              // telegram.bot_id: the account of /webhooks/telegram
  };

  static absl::StatusOr<std::unique_ptr<WebhookSource>> FromConfig(const Config& config);
  explicit TelegramSource(Options options) : options_(std::move(options)) {}

  std::string_view name() const override { return kName; }
  earshot::v1::Platform platform() const override { return earshot::v1::PLATFORM_TELEGRAM; }
  bool configured() const override { return !options_.secret_tokens.empty(); }
  std::vector<std::string> Secrets() const override { return options_.secret_tokens; }
  bool MatchPath(std::string_view rest, std::string* account) const override;
  std::string PathFor(std::string_view account) const override;
  absl::Status Verify(const http::Request& request, std::string_view account,
                      absl::Time now) const override;
  absl::StatusOr<Normalized> Normalize(std::string_view body,
                                       const RequestContext& ctx) const override;
  std::span<const std::string_view> kept_headers() const override;
  std::span<const std::string_view> signature_headers() const override;
  std::string MissingSecret(std::string_view account) const override;
  absl::StatusOr<HeaderList> Sign(const SignInput& in) const override;
  bool CarriesSignature(const HeaderList& headers) const override;

 private:
  Options options_;
};

}  // namespace earshot::gateway
