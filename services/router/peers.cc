#include "services/router/peers.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <map>
#include <set>

#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"
#include "services/common/auth/guard.h"
#include "services/common/base/log.h"

namespace earshot::router {

std::vector<std::string> ResolveTarget(const std::string& target) {
  const auto colon = target.rfind(':');
  if (colon == std::string::npos) return {};
  std::string host = target.substr(0, colon);
  const std::string port = target.substr(colon + 1);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return {};
  std::set<std::string> out;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char ip[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, ip, sizeof(ip));
      out.insert(std::string(ip) + ":" + port);
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, ip, sizeof(ip));
      out.insert("[" + std::string(ip) + "]:" + port);
    }
  }
  freeaddrinfo(found);
  return {out.begin(), out.end()};
}

void Peers::Prepare(grpc::ClientContext* ctx, const std::string& on_behalf_of) const {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  if (!options_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + options_.token);
  ctx->AddMetadata(auth::kOnBehalfOf, on_behalf_of);
}

std::vector<Peers::Peer> Peers::Current() {
  absl::MutexLock lock(&mu_);
  if (absl::Now() - resolved_at_ < options_.resolve_every) return peers_;
  std::map<std::string, std::shared_ptr<earshot::v1::Threads::Stub>> kept;
  for (auto& p : peers_) kept[p.address] = std::move(p.stub);
  std::vector<Peer> now;
  for (const std::string& target : options_.targets) {
    for (std::string& address : ResolveTarget(target)) {
      auto stub = kept[address];
      if (stub == nullptr) {
        grpc::ChannelArguments args;
        if (!options_.tls_target_name.empty()) {
          args.SetSslTargetNameOverride(options_.tls_target_name);
        }
        auto credentials =
            options_.credentials ? options_.credentials : grpc::InsecureChannelCredentials();
        stub = earshot::v1::Threads::NewStub(grpc::CreateCustomChannel(address, credentials, args));
      }
      now.push_back({std::move(address), std::move(stub)});
    }
  }
  if (now.empty()) {
    log::Warn("router.peers", "no router peer resolved; the Threads API answers for this replica",
              {{"targets", static_cast<int64_t>(options_.targets.size())}});
  }
  peers_ = std::move(now);
  resolved_at_ = absl::Now();
  return peers_;
}

}  // namespace earshot::router
