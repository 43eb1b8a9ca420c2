#pragma once
// RotatingSources: the gateway's webhook sources across secret rotations.
//
// A reload (SIGHUP, or a watched secret file changed) builds the sources again from the config,
// which reads EARSHOT_*_FILE secrets again. When their secrets differ, the new sources route,
// verify and sign from then on, and the previous ones still verify for `overlap`: a platform
// that switched to the new secret a little later than the gateway, or retries a request it
// signed before, is not refused in between. One previous generation is kept; a second rotation
// inside the overlap ends the first one's.
//
// Thread-safe: request threads read while a reload rotates.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/http/server.h"
#include "services/gateway/sources/registry.h"

namespace earshot::gateway {

class RotatingSources {
 public:
  RotatingSources(std::shared_ptr<const SourceRegistry> sources, absl::Duration overlap);

  // The sources that route and sign now; kept alive by the caller for its request.
  std::shared_ptr<const SourceRegistry> current() const;

  // The source at `index` of current() verifies the request; when it refuses the signature,
  // the previous generation's source at that index, while the overlap lasts. Every generation
  // has the same sources in the same order (registry.cc), so an index names the same source.
  absl::Status Verify(int index, const http::Request& request, std::string_view account,
                      absl::Time now) const;
  // The GET handshake (Meta's verify token), with the same fallback.
  absl::StatusOr<http::Response> Handshake(int index,
                                           const std::map<std::string, std::string>& query,
                                           absl::Time now) const;

  // `next` becomes current when its secrets differ from current()'s; returns whether it did.
  bool Rotate(std::shared_ptr<const SourceRegistry> next, absl::Time now);
  // 1 at start, one more for every rotation.
  int64_t generation() const;

 private:
  // The previous generation while its overlap lasts, else null.
  std::shared_ptr<const SourceRegistry> Previous(absl::Time now) const;

  const absl::Duration overlap_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const SourceRegistry> current_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const SourceRegistry> previous_ ABSL_GUARDED_BY(mu_);
  absl::Time previous_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 1;
};

// Every secret of every source, in registration order (what Rotate compares).
std::vector<std::string> AllSecrets(const SourceRegistry& sources);

}  // namespace earshot::gateway
