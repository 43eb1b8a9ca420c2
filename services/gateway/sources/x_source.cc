#include "services/gateway/sources/x_source.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "services/common/base/status.h"
#include "services/gateway/signature.h"

namespace earshot::gateway {
namespace {

constexpr std::string_view kLegacyHeader = "x-twitter-webhooks-signature";
constexpr std::string_view kOAuth2Header = "X-Twitter-Webhooks-Signature-OAuth2";
constexpr std::array<std::string_view, 2> kSignatureHeaders = {
    "x-twitter-webhooks-signature", "x-twitter-webhooks-signature-oauth2"};

}  // namespace

absl::StatusOr<std::unique_ptr<WebhookSource>> XSource::FromConfig(const Config& config) {
  return std::make_unique<XSource>(Options{.consumer_secrets = config.GetList("x.consumer_secret"),
                                           .client_secrets = config.GetList("x.client_secret")});
}

XSource::XSource(Options options) : options_(std::move(options)) {
  secrets_ = options_.client_secrets;
  secrets_.insert(secrets_.end(), options_.consumer_secrets.begin(),
                  options_.consumer_secrets.end());
  crc_secret_ = !options_.client_secrets.empty() ? options_.client_secrets.front()
                                                 : FirstOf(options_.consumer_secrets);
}

bool XSource::MatchPath(std::string_view rest, std::string* /*account*/) const {
  return rest == "x";
}

std::string XSource::PathFor(std::string_view /*account*/) const { return "/webhooks/x"; }

absl::StatusOr<http::Response> XSource::Handshake(
    const std::map<std::string, std::string>& query) const {
  auto it = query.find("crc_token");
  if (it == query.end() || it->second.empty()) {
    return absl::InvalidArgumentError("missing crc_token query parameter");
  }
  if (crc_secret_.empty()) return absl::NotFoundError("x webhooks are not configured (no secret)");
  return http::Response::Json(
      200, absl::StrCat(
               "{\"response_token\":", JsonQuote(XCrcResponseToken(it->second, crc_secret_)), "}"));
}

absl::Status XSource::Verify(const http::Request& request, std::string_view /*account*/,
                             absl::Time /*now*/) const {
  if (secrets_.empty()) return absl::NotFoundError("x webhooks are not configured (no secret)");
  return VerifyX(request.body(), request.header(kLegacyHeader), request.header(kOAuth2Header),
                 secrets_);
}

absl::StatusOr<Normalized> XSource::Normalize(std::string_view body,
                                              const RequestContext& ctx) const {
  return NormalizeX(body, ctx);
}

std::span<const std::string_view> XSource::kept_headers() const { return kSignatureHeaders; }
std::span<const std::string_view> XSource::signature_headers() const { return kSignatureHeaders; }

std::string XSource::MissingSecret(std::string_view /*account*/) const {
  return secrets_.empty() ? "x.consumer_secret" : "";
}

absl::StatusOr<HeaderList> XSource::Sign(const SignInput& in) const {
  if (std::string key = MissingSecret(in.account); !key.empty()) return MissingSecretError(key);
  HeaderList out;
  if (!options_.consumer_secrets.empty()) {
    out.emplace_back(kLegacyHeader, XSignature(in.body, options_.consumer_secrets.front()));
  }
  if (!options_.client_secrets.empty()) {
    out.emplace_back(kOAuth2Header, XSignature(in.body, options_.client_secrets.front()));
  }
  return out;
}

bool XSource::CarriesSignature(const HeaderList& headers) const {
  return HasHeader(headers, kLegacyHeader) || HasHeader(headers, kOAuth2Header);
}

}  // namespace earshot::gateway
