#pragma once
// The gRPC connection of earshotctl: plain, TLS (--tls-ca) or mTLS (--tls-cert, --tls-key),
// the bearer token on every call, and one way to report a failed call: the gRPC status name and
// its message ("PERMISSION_DENIED: principal care-de lacks stream:read on queue legal"). Main
// thread.
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "services/earshotctl/args.h"

namespace earshot::ctl {

// A channel to args.addr. Missing or unreadable PEM files, or a cert without its key, are
// InvalidArgument (usage).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ConnectArgs& args);

// Sets the bearer token (when there is one) and the deadline (when args.timeout is set).
void PrepareContext(const ConnectArgs& args, grpc::ClientContext* context);

// "UNAVAILABLE: failed to connect to all addresses ..." and a hint where one helps.
std::string DescribeStatus(const grpc::Status& status, const ConnectArgs& args);

}  // namespace earshot::ctl
