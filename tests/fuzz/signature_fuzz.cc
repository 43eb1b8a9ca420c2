// The signature checks on any header and body. The input is split into the header values and
// the body; the secrets are fixed. Beyond not crashing: a check passes only for the value the
// signer computes (a forged header that passes is a crash here).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "services/gateway/signature.h"

namespace gw = earshot::gateway;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const std::vector<std::string> secrets = {"consumer-secret", "whsec_c2VjcmV0LWtleS0xMjM0NTY="};
  std::string h1 = in.ConsumeRandomLengthString(256);
  std::string h2 = in.ConsumeRandomLengthString(256);
  std::string id = in.ConsumeRandomLengthString(64);
  std::string ts = in.ConsumeRandomLengthString(24);
  std::string body = in.ConsumeRemainingBytesAsString();

  if (gw::VerifyX(body, h1, h2, secrets).ok() && h1 != gw::XSignature(body, secrets[0]) &&
      h1 != gw::XSignature(body, secrets[1]) && h2 != gw::XSignature(body, secrets[0]) &&
      h2 != gw::XSignature(body, secrets[1])) {
    std::abort();
  }
  // Hex digits compare without case (the same MAC either way).
  if (gw::VerifyMeta(body, h1, secrets).ok() &&
      !absl::EqualsIgnoreCase(h1, gw::MetaSignature(body, secrets[0])) &&
      !absl::EqualsIgnoreCase(h1, gw::MetaSignature(body, secrets[1]))) {
    std::abort();
  }
  if (gw::VerifyTelegram(h1, secrets).ok() && h1 != secrets[0] && h1 != secrets[1]) std::abort();
  const absl::Time now = absl::FromUnixSeconds(1767225600);
  if (gw::VerifyStandardWebhook(id, ts, body, h1, secrets, now, absl::Minutes(5)).ok()) {
    // Some space-separated entry of the header is the signer's value.
    bool signed_here = false;
    for (const auto& s : secrets) {
      signed_here |= h1.find(gw::SignStandardWebhook(id, ts, body, s)) != std::string::npos;
    }
    if (!signed_here) std::abort();
  }
  return 0;
}
