#pragma once
// Erasing a customer's data through the Threads API (services/router/README.md, "Erasing a
// customer's data"): who the customer is, which threads are theirs, the control event that
// erases them in order with their other events, and the audit record.
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "earshot/v1/audit.pb.h"
#include "earshot/v1/event.pb.h"
#include "earshot/v1/routing.pb.h"
#include "grpcpp/server_context.h"

namespace earshot::router {

// A customer as the Erase request names them: "<platform>:<author id>".
struct Customer {
  earshot::v1::Platform platform = earshot::v1::PLATFORM_UNSPECIFIED;
  std::string author_id;
  static absl::StatusOr<Customer> Parse(std::string_view text);
};

// Whether the customer takes part in the thread (its participants, on its platform).
bool TakesPart(const Customer& customer, const earshot::v1::Thread& thread);

// The control event that erases the customer from `thread`, published keyed by its thread key.
earshot::v1::Event EraseEvent(const Customer& customer, const earshot::v1::Thread& thread,
                              const std::string& actor, absl::Time now);

// The audit record of one erase: the customer only as the SHA-256 of how the request named them.
earshot::v1::AuditRecord EraseAudit(std::string_view customer, earshot::v1::Platform platform,
                                    const std::string& actor, std::string_view reason, int threads,
                                    absl::Time now);

// A random id: 32 hex digits after `prefix`.
std::string RandomId(std::string_view prefix);

}  // namespace earshot::router
