#include "services/gateway/sources/webhook_source.h"

#include "absl/strings/match.h"
#include "services/common/base/strings.h"

namespace earshot::gateway {

absl::StatusOr<http::Response> WebhookSource::Handshake(
    const std::map<std::string, std::string>& /*query*/) const {
  return absl::UnimplementedError(std::string(name()) + " webhooks have no GET handshake");
}

std::string_view FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(ToAbsl(k), ToAbsl(name))) return v;
  }
  return "";
}

bool HasHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(ToAbsl(k), ToAbsl(name)) && !v.empty()) return true;
  }
  return false;
}

absl::Status MissingSecretError(std::string_view key) {
  return absl::FailedPreconditionError("cannot sign: " + std::string(key) + " is not set");
}

std::string FirstOf(const std::vector<std::string>& list) {
  return list.empty() ? "" : list.front();
}

}  // namespace earshot::gateway
