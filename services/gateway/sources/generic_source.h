#pragma once
// Generic signed sources (blogs, review sites, in-house connectors) on
// /webhooks/generic/{source}: Standard Webhooks signatures (webhook-id, webhook-timestamp,
// webhook-signature; the svix-* names too) with that source's secret (signature.h:
// VerifyStandardWebhook), Earshot's own JSON format (normalize_generic.cc).
//
// The worked example of services/gateway/README.md, "Adding a webhook source".
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/gateway/sources/webhook_source.h"

namespace earshot::gateway {

class GenericSource final : public WebhookSource {
 public:
  static constexpr std::string_view kName = "generic";

  struct Options {
    // generic.sources.<name>.secret: each source's secrets (several during a rotation).
    std::map<std::string, std::vector<std::string>> sources;
    // generic.tolerance: how far webhook-timestamp may be from now (the replay window).
    absl::Duration tolerance = absl::Minutes(5);
  };

  // INVALID_ARGUMENT for a configured source without a secret.
  static absl::StatusOr<std::unique_ptr<WebhookSource>> FromConfig(const Config& config);
  explicit GenericSource(Options options) : options_(std::move(options)) {}

  std::string_view name() const override { return kName; }
  earshot::v1::Platform platform() const override { return earshot::v1::PLATFORM_GENERIC; }
  bool configured() const override { return !options_.sources.empty(); }
  std::vector<std::string> Secrets() const override;
  // "generic/<source>": the account is the source's name.
  bool MatchPath(std::string_view rest, std::string* account) const override;
  std::string PathFor(std::string_view account) const override;
  bool route_needs_account() const override { return true; }
  // NOT_FOUND for a source that is not configured.
  absl::Status Verify(const http::Request& request, std::string_view account,
                      absl::Time now) const override;
  absl::StatusOr<Normalized> Normalize(std::string_view body,
                                       const RequestContext& ctx) const override;
  std::string RawSource(std::string_view account) const override { return std::string(account); }
  std::span<const std::string_view> kept_headers() const override;
  std::span<const std::string_view> signature_headers() const override;
  std::string MissingSecret(std::string_view account) const override;
  // webhook-timestamp (now) and webhook-signature; webhook-id too unless the recorded headers
  // have one (a recorded svix-id, else an id derived from the body's bytes, is sent as it).
  absl::StatusOr<HeaderList> Sign(const SignInput& in) const override;
  bool CarriesSignature(const HeaderList& headers) const override;

 private:
  Options options_;
};

}  // namespace earshot::gateway
