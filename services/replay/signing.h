#pragma once
// Signs replayed webhooks the way each platform does, with the secrets of the same YAML config
// (and EARSHOT_* environment) the gateway verifies with. Signing is the gateway's own webhook
// sources' (services/gateway/sources/), so a replayed request passes exactly the check a
// platform's would. Immutable after FromConfig; any thread.
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/base/config.h"
#include "services/gateway/sources/registry.h"
#include "services/replay/recording.h"

namespace earshot::replay {

// The gateway's webhook sources built from a config, for signing: each signs with the first of
// its configured secrets (during a rotation the gateway accepts every listed secret, so any of
// them will do). Default-constructed: no secrets, nothing can be signed.
class SigningSecrets {
 public:
  SigningSecrets();
  // The gateway's own config keys (x.consumer_secret, x.client_secret, meta.app_secret,
  // telegram.secret_token, generic.sources.<name>.secret).
  static absl::StatusOr<SigningSecrets> FromConfig(const Config& config);

  // OK when the recording can be signed (its platform's secret, or its generic source's, is
  // there); otherwise FAILED_PRECONDITION naming the config key to set.
  absl::Status CanSign(const Recording& recording) const;

  const gateway::SourceRegistry& sources() const { return *sources_; }

 private:
  explicit SigningSecrets(std::shared_ptr<const gateway::SourceRegistry> sources)
      : sources_(std::move(sources)) {}

  std::shared_ptr<const gateway::SourceRegistry> sources_;
};

// Is `name` a header that carries a platform signature (any platform, case-insensitive)?
bool IsSignatureHeader(std::string_view name);

// The headers to send for one recording whose body (placeholders filled) is `body`:
//   - the recorded headers, minus every signature header (unless keep_signatures is set and the
//     recording carries its platform's signature, which is then sent as recorded);
//   - Content-Type: application/json when the recording has none;
//   - the platform's signature, from its webhook source's Sign: X-Hub-Signature-256 (meta),
//     x-twitter-webhooks-signature and/or X-Twitter-Webhooks-Signature-OAuth2 (x),
//     X-Telegram-Bot-Api-Secret-Token (telegram), webhook-id / webhook-timestamp (`now`) /
//     webhook-signature (generic; the id is the recorded one, else derived from the body, so an
//     exact redelivery keeps its id).
absl::StatusOr<Headers> SignRequest(const Recording& recording, std::string_view body,
                                    const SigningSecrets& secrets, bool keep_signatures,
                                    absl::Time now);

}  // namespace earshot::replay
