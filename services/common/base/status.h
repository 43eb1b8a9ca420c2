#pragma once
// One table maps absl::Status codes to HTTP and gRPC codes; every adapter uses it, so a
// failure means the same thing to a webhook sender and to a gRPC client.
#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace earshot {

// 400 InvalidArgument, 401 Unauthenticated, 403 PermissionDenied, 404 NotFound,
// 409 AlreadyExists/Aborted, 413 OutOfRange (body too large), 415 FailedPrecondition
// (wrong content type), 429 ResourceExhausted, 503 Unavailable, 504 DeadlineExceeded, 500 else.
int HttpStatusFromStatus(const absl::Status& status);

grpc::Status ToGrpcStatus(const absl::Status& status);

// True for errors where the same request may succeed later (Kafka away, queue full, time-out).
bool IsRetryable(const absl::Status& status);

// {"error":"<code name>","message":"..."} for HTTP error bodies.
std::string StatusToJson(const absl::Status& status);

// JSON string escaping (quotes included in the result), shared by logs and error bodies.
std::string JsonQuote(std::string_view s);

}  // namespace earshot
