#include "services/gateway/sources/generic_source.h"

#include <openssl/sha.h>

#include <array>

#include "services/common/crypto/encoding.h"
#include "services/gateway/signature.h"

namespace earshot::gateway {
namespace {

constexpr std::array<std::string_view, 3> kKeptHeaders = {"webhook-id", "webhook-timestamp",
                                                          "webhook-signature"};
// What a re-signing sender replaces; the message id stays, so a redelivery keeps it.
constexpr std::array<std::string_view, 4> kSignatureHeaders = {
    "webhook-signature", "webhook-timestamp", "svix-signature", "svix-timestamp"};

// A stable Standard Webhooks message id for a body: the same bytes give the same id.
std::string MessageIdFor(std::string_view body) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  return "msg_" + crypto::HexEncode(std::string_view(reinterpret_cast<char*>(digest), 12));
}

}  // namespace

absl::StatusOr<std::unique_ptr<WebhookSource>> GenericSource::FromConfig(const Config& config) {
  Options o;
  for (const auto& source : config.ChildKeys("generic.sources")) {
    auto secrets = config.GetList("generic.sources." + source + ".secret");
    if (secrets.empty()) {
      return absl::InvalidArgumentError("generic.sources." + source + ".secret is not set");
    }
    o.sources[source] = std::move(secrets);
  }
  o.tolerance = config.GetDuration("generic.tolerance", o.tolerance);
  return std::make_unique<GenericSource>(std::move(o));
}

bool GenericSource::MatchPath(std::string_view rest, std::string* account) const {
  if (!rest.starts_with("generic/") || rest.size() <= 8 ||
      rest.find('/', 8) != std::string_view::npos) {
    return false;
  }
  *account = std::string(rest.substr(8));
  return true;
}

std::string GenericSource::PathFor(std::string_view account) const {
  return "/webhooks/generic/" + std::string(account);
}

absl::Status GenericSource::Verify(const http::Request& request, std::string_view account,
                                   absl::Time now) const {
  auto it = options_.sources.find(std::string(account));
  if (it == options_.sources.end()) {
    return absl::NotFoundError("unknown generic source \"" + std::string(account) + "\"");
  }
  auto h = [&](std::string_view std_name, std::string_view svix_name) {
    std::string_view v = request.header(std_name);
    return v.empty() ? request.header(svix_name) : v;
  };
  return VerifyStandardWebhook(h("webhook-id", "svix-id"), h("webhook-timestamp", "svix-timestamp"),
                               request.body(), h("webhook-signature", "svix-signature"), it->second,
                               now, options_.tolerance);
}

absl::StatusOr<Normalized> GenericSource::Normalize(std::string_view body,
                                                    const RequestContext& ctx) const {
  return NormalizeGeneric(body, ctx);
}

std::span<const std::string_view> GenericSource::kept_headers() const { return kKeptHeaders; }
std::span<const std::string_view> GenericSource::signature_headers() const {
  return kSignatureHeaders;
}

std::vector<std::string> GenericSource::Secrets() const {
  // "name=secret": moving a secret from one source to another is a change too.
  std::vector<std::string> out;
  for (const auto& [source, secrets] : options_.sources) {
    for (const auto& s : secrets) out.push_back(source + "=" + s);
  }
  return out;
}

std::string GenericSource::MissingSecret(std::string_view account) const {
  return options_.sources.contains(std::string(account))
             ? ""
             : "generic.sources." + std::string(account) + ".secret";
}

absl::StatusOr<HeaderList> GenericSource::Sign(const SignInput& in) const {
  if (std::string key = MissingSecret(in.account); !key.empty()) return MissingSecretError(key);
  static const HeaderList kNone;
  const HeaderList& recorded = in.recorded != nullptr ? *in.recorded : kNone;
  HeaderList out;
  std::string id(FindHeader(recorded, "webhook-id"));
  if (id.empty()) {
    id = FindHeader(recorded, "svix-id");
    if (id.empty()) id = MessageIdFor(in.body);
    out.emplace_back("webhook-id", id);
  }
  const std::string ts = std::to_string(absl::ToUnixSeconds(in.now));
  out.emplace_back("webhook-timestamp", ts);
  out.emplace_back(
      "webhook-signature",
      SignStandardWebhook(id, ts, in.body, options_.sources.at(std::string(in.account)).front()));
  return out;
}

bool GenericSource::CarriesSignature(const HeaderList& headers) const {
  return (HasHeader(headers, "webhook-signature") && HasHeader(headers, "webhook-timestamp")) ||
         (HasHeader(headers, "svix-signature") && HasHeader(headers, "svix-timestamp"));
}

}  // namespace earshot::gateway
