#pragma once
// SourceRegistry: the webhook sources the gateway serves, built from the config. The list of
// sources is registry.cc's kSources (one line each); the webhook handler routes over it and
// earshotctl replay signs and addresses recordings with it.
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/base/config.h"
#include "services/gateway/sources/webhook_source.h"

namespace earshot::gateway {

class SourceRegistry {
 public:
  // Every registered source, each from its own config keys (x.*, meta.*, telegram.*,
  // generic.*). A source with no secret is still there: its route answers 404.
  static absl::StatusOr<SourceRegistry> FromConfig(const Config& config);

  explicit SourceRegistry(std::vector<std::unique_ptr<WebhookSource>> sources);
  SourceRegistry(SourceRegistry&&) = default;
  SourceRegistry& operator=(SourceRegistry&&) = default;

  // The registered sources with no secrets: their names, routes and header names, for code that
  // addresses requests without signing them (replay recordings). Verify and Sign refuse.
  static const SourceRegistry& Unconfigured();
  // The names of the registered sources, in registration order ("meta, x, telegram, generic").
  static std::span<const std::string_view> Names();

  const std::vector<std::unique_ptr<WebhookSource>>& sources() const { return sources_; }
  // The index in sources() of the source whose route `path` is ("/webhooks/…"), with the
  // account the path names; -1 for none.
  int Route(std::string_view path, std::string* account) const;
  // The source called `name`, or null.
  const WebhookSource* Find(std::string_view name) const;

  // Lower-case names of the headers kept with a raw request: content-type, user-agent,
  // x-request-id, x-forwarded-for and every source's kept_headers().
  const std::vector<std::string>& kept_headers() const { return kept_headers_; }
  // Whether `name` (any case) is a signature header of any source.
  bool IsSignatureHeader(std::string_view name) const;

 private:
  std::vector<std::unique_ptr<WebhookSource>> sources_;
  std::vector<std::string> kept_headers_;
};

}  // namespace earshot::gateway
