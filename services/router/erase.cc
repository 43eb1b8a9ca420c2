#include "services/router/erase.h"

#include <algorithm>

#include "absl/random/random.h"
#include "absl/strings/str_join.h"
#include "fmt/format.h"
#include "services/common/base/proto_time.h"
#include "services/common/crypto/encoding.h"
#include "services/common/names/names.h"

namespace earshot::router {

absl::StatusOr<Customer> Customer::Parse(std::string_view text) {
  const size_t colon = text.find(':');
  Customer c;
  if (colon != std::string_view::npos) {
    for (const auto& p : names::kPlatforms) {
      if (p.name == text.substr(0, colon)) c.platform = p.value;
    }
    c.author_id = std::string(text.substr(colon + 1));
  }
  if (c.platform == earshot::v1::PLATFORM_UNSPECIFIED || c.author_id.empty()) {
    std::vector<std::string> platforms;
    for (const auto& p : names::kPlatforms) platforms.emplace_back(p.name);
    return absl::InvalidArgumentError(
        fmt::format("customer \"{}\" is not <platform>:<author id> (platforms: {}), e.g. "
                    "whatsapp:4915112345678",
                    text, absl::StrJoin(platforms, ", ")));
  }
  return c;
}

bool TakesPart(const Customer& customer, const earshot::v1::Thread& thread) {
  return thread.platform() == customer.platform &&
         std::find(thread.participants().begin(), thread.participants().end(),
                   customer.author_id) != thread.participants().end();
}

earshot::v1::Event EraseEvent(const Customer& customer, const earshot::v1::Thread& thread,
                              const std::string& actor, absl::Time now) {
  earshot::v1::Event e;
  e.set_event_id(RandomId("ctl:erase:"));
  e.set_platform(thread.platform());
  e.set_account_id(thread.account_id());
  e.set_thread_key(thread.thread_key());
  e.set_kind(earshot::v1::KIND_CONTROL);
  e.mutable_control()->set_action(earshot::v1::Control::ACTION_ERASE);
  e.mutable_control()->set_actor(actor);
  e.mutable_author()->set_id(customer.author_id);
  SetProtoTime(now, e.mutable_received_at());
  *e.mutable_created_at() = e.received_at();
  return e;
}

earshot::v1::AuditRecord EraseAudit(std::string_view customer, earshot::v1::Platform platform,
                                    const std::string& actor, std::string_view reason, int threads,
                                    absl::Time now) {
  earshot::v1::AuditRecord a;
  a.set_audit_id(RandomId("erase-"));
  SetProtoTime(now, a.mutable_time());
  a.set_actor(actor);
  a.set_action("erase");
  a.set_customer_sha256(crypto::HexEncode(crypto::Sha256(customer)));
  a.set_platform(platform);
  a.set_threads(threads);
  a.set_reason(std::string(reason));
  return a;
}

std::string RandomId(std::string_view prefix) {
  thread_local absl::BitGen gen;
  return fmt::format("{}{:016x}{:016x}", prefix, absl::Uniform<uint64_t>(gen),
                     absl::Uniform<uint64_t>(gen));
}

}  // namespace earshot::router
