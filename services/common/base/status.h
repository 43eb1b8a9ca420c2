#pragma once
// One table maps absl::Status codes to HTTP and gRPC codes, so a failure means the same thing to
// a webhook sender and to a gRPC client. The codes keep their canonical meaning everywhere; an
// HTTP answer finer than the canonical code (413 body too large, 415 wrong content type) is
// chosen explicitly by the adapter that refuses the request, never by this table.
#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace earshot {

// The google.rpc.Code mapping: 400 InvalidArgument/FailedPrecondition/OutOfRange,
// 401 Unauthenticated, 403 PermissionDenied, 404 NotFound, 409 AlreadyExists/Aborted,
// 429 ResourceExhausted, 501 Unimplemented, 503 Unavailable, 504 DeadlineExceeded, 500 else.
int HttpStatusFromStatus(const absl::Status& status);

grpc::Status ToGrpcStatus(const absl::Status& status);

// True for errors where the same request may succeed later (Kafka away, queue full, time-out).
bool IsRetryable(const absl::Status& status);

// {"error":"<code name>","message":"..."} for HTTP error bodies.
std::string StatusToJson(const absl::Status& status);

// JSON string escaping (quotes included in the result), shared by logs and error bodies.
std::string JsonQuote(std::string_view s);

}  // namespace earshot
