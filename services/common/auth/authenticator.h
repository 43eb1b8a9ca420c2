#pragma once
// Authenticator: who calls a gRPC method and what it may do. Principals come from the YAML file
// named by `auth.principals_file`:
//
//   principals:
//     - name: care-de-desk                  # Resolve's actor, the audit's "who"
//       tokens:                             # bearer tokens; several overlap while rotating
//         - file: /var/run/secrets/earshot/care-de-desk/token   # trimmed; re-read on reload
//         - value: dev-care-de-token        # development only
//       certificate:                        # optional: the verified client certificate's
//         dns_name: desk.care-de.example.com  # common_name, dns_name or uri (SPIFFE id)
//       scopes:                             # each on queues, or sources for ingest:publish;
//         threads:read: [care-de]           # "*" = every one
//
// Scopes: kScopes. Sources: platform names (x, facebook, ...) or generic:<account_id>.
// The deprecated `stream.tokens_file` (`teams:` with name, token or token_file, queues) adds
// principals holding stream:read; entries sharing a team name are one principal.
// Without either file the authenticator is open: every call acts as `anonymous`, which may do
// everything (development). Tokens are kept only as SHA-256 digests. Immutable once loaded; a
// reload builds a new one. Any thread.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "services/common/base/strings.h"

namespace earshot::auth {

inline constexpr std::string_view kScopes[] = {
    "stream:read",   "threads:read",   "threads:resolve",
    "threads:erase", "ingest:publish", "threads:forward",
};

// The queues (or sources) a scope covers: every one, or the listed ones.
struct Grant {
  bool all = false;
  absl::flat_hash_set<std::string> names;
  bool Covers(std::string_view name) const { return all || names.contains(ToAbsl(name)); }
};

struct Principal {
  std::string name;
  bool everything = false;  // the open authenticator's `anonymous`
  absl::flat_hash_map<std::string, Grant> scopes;
  // The grant of `scope`; null when the principal holds none.
  const Grant* Find(std::string_view scope) const;
  bool Holds(std::string_view scope, std::string_view resource) const;
};

class Authenticator {
 public:
  static std::shared_ptr<const Authenticator> Open();
  // Either path may be empty, not both. Errors name file:line and the reason.
  static absl::StatusOr<std::shared_ptr<const Authenticator>> Load(
      const std::string& principals_file, const std::string& teams_file);

  bool open() const { return open_; }
  size_t size() const { return principals_.size(); }
  // By `authorization: Bearer <token>`, else by the verified client certificate;
  // UNAUTHENTICATED when neither names a principal.
  absl::StatusOr<const Principal*> Authenticate(const grpc::ServerContextBase& ctx) const;
  // The same from the `authorization` metadata value (empty: none) and the peer.
  absl::StatusOr<const Principal*> Authenticate(std::string_view authorization,
                                                const grpc::AuthContext* peer) const;
  // By name (a forwarded call's x-earshot-on-behalf-of); null when unknown.
  const Principal* Find(std::string_view name) const;
  // The token files the principals name: a process watches them, so that a Secret's update
  // (a rotated token) is taken without a signal.
  const std::vector<std::string>& token_files() const { return token_files_; }

 private:
  class Loader;
  bool open_ = false;
  std::vector<std::unique_ptr<Principal>> principals_;
  absl::flat_hash_map<std::string, const Principal*> by_name_;
  absl::flat_hash_map<std::string, const Principal*> by_digest_;    // SHA-256 of a token
  absl::flat_hash_map<std::string, const Principal*> by_identity_;  // "dns:x", "cn:x", "uri:x"
  std::vector<std::string> token_files_;
};

}  // namespace earshot::auth
