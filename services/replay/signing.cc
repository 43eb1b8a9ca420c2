#include "services/replay/signing.h"

#include <array>

#include "absl/strings/match.h"
#include "fmt/format.h"
#include "services/common/base/strings.h"

namespace earshot::replay {
namespace {

// Signatures of senders the gateway has no source for yet: a recording captured from one is
// replayed without its stale signature all the same.
constexpr std::array<std::string_view, 1> kOtherSignatureHeaders = {"tiktok-signature"};

}  // namespace

SigningSecrets::SigningSecrets()
    : sources_(std::shared_ptr<const gateway::SourceRegistry>(),
               &gateway::SourceRegistry::Unconfigured()) {}

absl::StatusOr<SigningSecrets> SigningSecrets::FromConfig(const Config& config) {
  auto sources = gateway::SourceRegistry::FromConfig(config);
  if (!sources.ok()) return sources.status();
  return SigningSecrets(std::make_shared<const gateway::SourceRegistry>(*std::move(sources)));
}

absl::Status SigningSecrets::CanSign(const Recording& r) const {
  const gateway::WebhookSource* source = sources_->Find(r.platform);
  if (source == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("line {}: no webhook source \"{}\"", r.line, r.platform));
  }
  const std::string key = source->MissingSecret(r.source);
  if (key.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      fmt::format("line {}: cannot sign a {} webhook: {} is not set in the config (or {})", r.line,
                  r.platform, key, Config::EnvName(key)));
}

bool IsSignatureHeader(std::string_view name) {
  if (gateway::SourceRegistry::Unconfigured().IsSignatureHeader(name)) return true;
  for (std::string_view h : kOtherSignatureHeaders) {
    if (absl::EqualsIgnoreCase(ToAbsl(name), ToAbsl(h))) return true;
  }
  return false;
}

absl::StatusOr<Headers> SignRequest(const Recording& r, std::string_view body,
                                    const SigningSecrets& secrets, bool keep_signatures,
                                    absl::Time now) {
  const gateway::WebhookSource* source = secrets.sources().Find(r.platform);
  if (source == nullptr) return secrets.CanSign(r);  // names the unknown platform
  const bool keep = keep_signatures && source->CarriesSignature(r.headers);
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
  auto signature =
      source->Sign({.account = r.source, .body = body, .now = now, .recorded = &r.headers});
  if (!signature.ok()) return signature.status();
  for (auto& header : *signature) out.push_back(std::move(header));
  return out;
}

}  // namespace earshot::replay
