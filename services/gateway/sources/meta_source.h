#pragma once
// Meta on /webhooks/meta, one endpoint for Facebook Pages, Messenger, Instagram and WhatsApp
// (the body's `object` tells them apart, normalize_meta.cc): the hub.challenge handshake on GET,
// X-Hub-Signature-256 on POST (signature.h: VerifyMeta).
#include <memory>
#include <string>
#include <vector>

#include "services/gateway/sources/webhook_source.h"

namespace earshot::gateway {

class MetaSource final : public WebhookSource {
 public:
  static constexpr std::string_view kName = "meta";

  struct Options {
    std::vector<std::string> app_secrets;    // meta.app_secret: X-Hub-Signature-256
    std::vector<std::string> verify_tokens;  // meta.verify_token: the GET handshake
  };

  static absl::StatusOr<std::unique_ptr<WebhookSource>> FromConfig(const Config& config);
  explicit MetaSource(Options options) : options_(std::move(options)) {}

  std::string_view name() const override { return kName; }
  // Events name their own platform (facebook, instagram, messenger, whatsapp).
  earshot::v1::Platform platform() const override { return earshot::v1::PLATFORM_FACEBOOK; }
  bool configured() const override { return !options_.app_secrets.empty(); }
  std::vector<std::string> Secrets() const override;
  bool MatchPath(std::string_view rest, std::string* account) const override;
  std::string PathFor(std::string_view account) const override;
  bool has_handshake() const override { return true; }
  // The challenge as plain text when hub.mode is subscribe and hub.verify_token matches.
  absl::StatusOr<http::Response> Handshake(
      const std::map<std::string, std::string>& query) const override;
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
