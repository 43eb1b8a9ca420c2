#pragma once
// Peers: the router replicas the Threads API asks for partitions this one does not own.
//
// router.peers lists host:port targets. Each host is resolved to every address it has, again at
// most every resolve_every, so a Kubernetes headless Service name (the chart's default) always
// names every ready replica, whatever the scale. The list may include this replica itself: a
// replica asked with `local` answers from its own partitions only, so nothing loops.
//
// With principals, a replica calls its peers as itself (router.peers_token_file, or its TLS
// certificate) on behalf of its caller (x-earshot-on-behalf-of); the peer decides.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "earshot/v1/threads.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"

namespace earshot::router {

struct PeersOptions {
  std::vector<std::string> targets;  // host:port
  absl::Duration resolve_every = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(5);              // each call to a peer
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // null: plaintext
  std::string tls_target_name;  // the name peers' certificates carry, when TLS
  std::string token;            // this replica's bearer token; empty: none
};

class Peers {
 public:
  explicit Peers(PeersOptions options) : options_(std::move(options)) {}

  bool empty() const { return options_.targets.empty(); }
  absl::Duration timeout() const { return options_.timeout; }
  // A call's deadline, this replica's token, and whom it acts for.
  void Prepare(grpc::ClientContext* ctx, const std::string& on_behalf_of) const;

  struct Peer {
    std::string address;  // ip:port
    std::shared_ptr<earshot::v1::Threads::Stub> stub;
  };
  // A stub for every address the targets resolve to now.
  std::vector<Peer> Current();

 private:
  PeersOptions options_;
  absl::Mutex mu_;
  absl::Time resolved_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::vector<Peer> peers_ ABSL_GUARDED_BY(mu_);
};

// "host:port" -> every "ip:port" the host resolves to (IPv6 in brackets); an unresolvable host
// gives none.
std::vector<std::string> ResolveTarget(const std::string& target);

}  // namespace earshot::router
