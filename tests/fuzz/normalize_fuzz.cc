// One platform's normaliser on any body (the gateway hands it whatever passed the signature
// check, and a signing party can send anything). Built once per platform with
// EARSHOT_FUZZ_NORMALIZER set to NormalizeX, NormalizeMeta, NormalizeTelegram or
// NormalizeGeneric (the generic sources' envelope).
//
// Beyond not crashing, every event produced must keep the identity contract the router's
// deduplication relies on (services/gateway/normalize.h): an event id and a thread key, a
// platform, and a form that serialises.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/gateway/normalize.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  earshot::gateway::RequestContext ctx;
  ctx.received_at = absl::FromUnixSeconds(1767225600);
  ctx.account = "7001";
  auto out = earshot::gateway::EARSHOT_FUZZ_NORMALIZER(body, ctx);
  if (!out.ok()) return 0;
  for (const auto& e : out->events) {
    if (e.event_id().empty() || e.thread_key().empty() ||
        e.platform() == earshot::v1::PLATFORM_UNSPECIFIED || !e.IsInitialized()) {
      std::abort();
    }
    std::string wire;
    if (!e.SerializeToString(&wire)) std::abort();
  }
  return 0;
}
