#pragma once
// TokenAuth: bearer tokens per team, each allowed a set of queues, from a YAML secrets file
// (`stream.tokens_file`):
//
//   teams:
//     - name: care-de
//       token_file: /var/run/secrets/earshot/care-de   # or `token: ...` (development only)
//       queues: [care-de, escalation]
//     - name: analytics
//       token: dev-analytics-token
//       queues: ["*"]                                  # every queue
//
// Several entries may share a team name (token rotation). Without a tokens file the service is
// open (development): every caller may read every queue, and Start logs a warning. Immutable
// once loaded; a reload builds a new one. Any thread.
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "services/stream/filter.h"

namespace earshot::stream {

class TokenAuth {
 public:
  // Open access: no tokens required.
  static std::unique_ptr<TokenAuth> Open();
  // The file's errors name the line and the reason.
  static absl::StatusOr<std::unique_ptr<TokenAuth>> Load(const std::string& path);

  bool open() const { return open_; }
  size_t size() const { return by_digest_.size(); }
  // `authorization` is the metadata value ("Bearer <token>"). Unauthenticated when missing or
  // unknown.
  absl::StatusOr<Access> Authenticate(std::string_view authorization) const;

 private:
  bool open_ = false;
  absl::flat_hash_map<std::string, Access> by_digest_;  // SHA-256 of the token → access
};

}  // namespace earshot::stream
