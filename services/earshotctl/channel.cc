#include "services/earshotctl/channel.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace earshot::ctl {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(fmt::format("--{}: cannot read {}", flag, path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ConnectArgs& args) {
  if (args.addr.empty()) return absl::InvalidArgumentError("--addr is empty");
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(64 << 20);
  const bool tls = !args.tls_ca.empty() || !args.tls_cert.empty() || !args.tls_key.empty();
  if (!tls) {
    return grpc::CreateCustomChannel(args.addr, grpc::InsecureChannelCredentials(), channel_args);
  }
  if (args.tls_cert.empty() != args.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together (mTLS)");
  }
  grpc::SslCredentialsOptions ssl;
  if (!args.tls_ca.empty()) {
    auto ca = ReadPem("tls-ca", args.tls_ca);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = std::move(*ca);
  }
  if (!args.tls_cert.empty()) {
    auto cert = ReadPem("tls-cert", args.tls_cert);
    if (!cert.ok()) return cert.status();
    auto key = ReadPem("tls-key", args.tls_key);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = std::move(*cert);
    ssl.pem_private_key = std::move(*key);
  }
  if (!args.tls_server_name.empty()) {
    channel_args.SetSslTargetNameOverride(args.tls_server_name);
  }
  return grpc::CreateCustomChannel(args.addr, grpc::SslCredentials(ssl), channel_args);
}

void PrepareContext(const ConnectArgs& args, grpc::ClientContext* context) {
  if (!args.token.empty()) context->AddMetadata("authorization", "Bearer " + args.token);
  if (args.timeout > absl::ZeroDuration()) {
    context->set_deadline(std::chrono::system_clock::now() +
                          absl::ToChronoMilliseconds(args.timeout));
  }
}

std::string DescribeStatus(const grpc::Status& status, const ConnectArgs& args) {
  const std::string name =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  std::string out = fmt::format("{}: {}", name, status.error_message());
  switch (status.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      if (args.token.empty()) out += " (no token: pass --token or set EARSHOT_TOKEN)";
      break;
    case grpc::StatusCode::UNAVAILABLE:
      out += fmt::format(" (is earshot running with gRPC on {}?)", args.addr);
      break;
    default:
      break;
  }
  return out;
}

}  // namespace earshot::ctl
