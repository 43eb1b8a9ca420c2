#pragma once
// X (Account Activity API and X Activity API webhooks) on /webhooks/x: the CRC handshake on GET,
// HMAC-SHA256 signatures on POST (signature.h: VerifyX), normalize_x.cc.
#include <memory>
#include <string>
#include <vector>

#include "services/gateway/sources/webhook_source.h"

namespace earshot::gateway {

class XSource final : public WebhookSource {
 public:
  static constexpr std::string_view kName = "x";

  struct Options {
    // x.consumer_secret: signs x-twitter-webhooks-signature.
    std::vector<std::string> consumer_secrets;
    // x.client_secret: signs X-Twitter-Webhooks-Signature-OAuth2.
    std::vector<std::string> client_secrets;
  };

  static absl::StatusOr<std::unique_ptr<WebhookSource>> FromConfig(const Config& config);
  explicit XSource(Options options);

  std::string_view name() const override { return kName; }
  earshot::v1::Platform platform() const override { return earshot::v1::PLATFORM_X; }
  bool configured() const override { return !secrets_.empty(); }
  std::vector<std::string> Secrets() const override { return secrets_; }
  bool MatchPath(std::string_view rest, std::string* account) const override;
  std::string PathFor(std::string_view account) const override;
  bool has_handshake() const override { return true; }
  // {"response_token":"sha256=<base64 HMAC of crc_token>"}, keyed with the client secret if set,
  // else the consumer secret.
  absl::StatusOr<http::Response> Handshake(
      const std::map<std::string, std::string>& query) const override;
  // Either header, valid with any configured secret (consumer or client).
  absl::Status Verify(const http::Request& request, std::string_view account,
                      absl::Time now) const override;
  absl::StatusOr<Normalized> Normalize(std::string_view body,
                                       const RequestContext& ctx) const override;
  std::span<const std::string_view> kept_headers() const override;
  std::span<const std::string_view> signature_headers() const override;
  std::string MissingSecret(std::string_view account) const override;
  // x-twitter-webhooks-signature with the first consumer secret and/or
  // X-Twitter-Webhooks-Signature-OAuth2 with the first client secret.
  absl::StatusOr<HeaderList> Sign(const SignInput& in) const override;
  bool CarriesSignature(const HeaderList& headers) const override;

 private:
  Options options_;
  std::vector<std::string> secrets_;  // client and consumer secrets: any signs a POST
  std::string crc_secret_;
};

}  // namespace earshot::gateway
