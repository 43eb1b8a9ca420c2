#include "services/gateway/sources/meta_source.h"

#include <array>

#include "services/gateway/signature.h"

namespace earshot::gateway {
namespace {

constexpr std::string_view kHeader = "X-Hub-Signature-256";
// x-hub-signature (SHA-1) is not checked, but kept and dropped like the SHA-256 one.
constexpr std::array<std::string_view, 2> kSignatureHeaders = {"x-hub-signature-256",
                                                               "x-hub-signature"};

std::string_view Get(const std::map<std::string, std::string>& query, const std::string& key) {
  auto it = query.find(key);
  return it == query.end() ? std::string_view() : std::string_view(it->second);
}

}  // namespace

absl::StatusOr<std::unique_ptr<WebhookSource>> MetaSource::FromConfig(const Config& config) {
  return std::make_unique<MetaSource>(
      Options{.app_secrets = config.GetList("meta.app_secret"),
              .verify_tokens = config.GetList("meta.verify_token")});
}

bool MetaSource::MatchPath(std::string_view rest, std::string* /*account*/) const {
  return rest == "meta";
}

std::string MetaSource::PathFor(std::string_view /*account*/) const { return "/webhooks/meta"; }

absl::StatusOr<http::Response> MetaSource::Handshake(
    const std::map<std::string, std::string>& query) const {
  const std::string_view mode = Get(query, "hub.mode");
  const std::string_view token = Get(query, "hub.verify_token");
  const std::string_view challenge = Get(query, "hub.challenge");
  bool token_ok = false;
  for (const auto& t : options_.verify_tokens) token_ok |= ConstantTimeEquals(token, t);
  if (mode != "subscribe" || !token_ok || challenge.empty()) {
    return absl::PermissionDeniedError(
        "hub.mode must be subscribe and hub.verify_token must match");
  }
  return http::Response::Text(200, std::string(challenge));
}

absl::Status MetaSource::Verify(const http::Request& request, std::string_view /*account*/,
                                absl::Time /*now*/) const {
  if (options_.app_secrets.empty()) {
    return absl::NotFoundError("meta webhooks are not configured (no app secret)");
  }
  return VerifyMeta(request.body(), request.header("x-hub-signature-256"), options_.app_secrets);
}

absl::StatusOr<Normalized> MetaSource::Normalize(std::string_view body,
                                                 const RequestContext& ctx) const {
  return NormalizeMeta(body, ctx);
}

std::span<const std::string_view> MetaSource::kept_headers() const { return kSignatureHeaders; }
std::span<const std::string_view> MetaSource::signature_headers() const {
  return kSignatureHeaders;
}

std::vector<std::string> MetaSource::Secrets() const {
  std::vector<std::string> out = options_.app_secrets;
  out.insert(out.end(), options_.verify_tokens.begin(), options_.verify_tokens.end());
  return out;
}

std::string MetaSource::MissingSecret(std::string_view /*account*/) const {
  return options_.app_secrets.empty() ? "meta.app_secret" : "";
}

absl::StatusOr<HeaderList> MetaSource::Sign(const SignInput& in) const {
  if (std::string key = MissingSecret(in.account); !key.empty()) return MissingSecretError(key);
  return HeaderList{{std::string(kHeader), MetaSignature(in.body, options_.app_secrets.front())}};
}

bool MetaSource::CarriesSignature(const HeaderList& headers) const {
  return HasHeader(headers, kHeader);
}

}  // namespace earshot::gateway
