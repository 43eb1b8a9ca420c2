#pragma once
// Webhook authentication for every platform, over the exact received bytes. Each verifier takes
// a list of secrets (several during rotation) and accepts a request that any of them signs.
// Comparisons are constant-time (crypto::ConstantTimeEquals). Pure functions; any thread.
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/crypto/encoding.h"

namespace earshot::gateway {

// The primitives live in services/common/crypto (the router's page tokens use them too); they
// are named here as well so that webhook senders (tests, bench) find everything in one header.
using crypto::Base64Decode;
using crypto::Base64Encode;
using crypto::ConstantTimeEquals;
using crypto::HexEncode;
using crypto::HmacSha256;

// X: the CRC answer token, "sha256=" + base64(HMAC-SHA256(secret, crc_token)).
std::string XCrcResponseToken(std::string_view crc_token, std::string_view secret);
// X: the header value "sha256=" + base64(HMAC-SHA256(secret, body)) (senders, tests and
// earshotctl replay use it).
std::string XSignature(std::string_view body, std::string_view secret);
// X: "sha256=" + base64(HMAC-SHA256(secret, body)) in x-twitter-webhooks-signature (consumer
// secret) or X-Twitter-Webhooks-Signature-OAuth2 (client secret); either header valid with any
// configured secret is accepted.
absl::Status VerifyX(std::string_view body, std::string_view legacy_header,
                     std::string_view oauth2_header, const std::vector<std::string>& secrets);

// Meta: X-Hub-Signature-256 = "sha256=" + hex(HMAC-SHA256(app secret, body)).
absl::Status VerifyMeta(std::string_view body, std::string_view header,
                        const std::vector<std::string>& app_secrets);
std::string MetaSignature(std::string_view body, std::string_view app_secret);

// Telegram: X-Telegram-Bot-Api-Secret-Token equals a configured secret_token.
absl::Status VerifyTelegram(std::string_view header, const std::vector<std::string>& tokens);

// Generic signed sources, Standard Webhooks (the Svix scheme):
//   webhook-id, webhook-timestamp (unix seconds), webhook-signature: "v1,<base64>" (several,
//   space-separated), signature = HMAC-SHA256(key, "<id>.<timestamp>.<body>"); a secret
//   "whsec_<base64>" is the base64-decoded key, any other secret is used as it is.
// The timestamp must lie within `tolerance` of `now` (replay window).
absl::Status VerifyStandardWebhook(std::string_view id, std::string_view timestamp,
                                   std::string_view body, std::string_view signature_header,
                                   const std::vector<std::string>& secrets, absl::Time now,
                                   absl::Duration tolerance);
// "v1,<base64>" for the given message (senders, tests and earshotctl replay use it).
std::string SignStandardWebhook(std::string_view id, std::string_view timestamp,
                                std::string_view body, std::string_view secret);

}  // namespace earshot::gateway
