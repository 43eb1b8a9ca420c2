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
// Thread-safe: request threads read while a reload rotates. The request path takes no lock and
// copies no shared pointer (both showed in the gateway's benchmark): every generation is kept
// for the process's life, a few kilobytes per rotation, so a pointer read once stays valid.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

  // The sources that route and sign now.
  const SourceRegistry* current() const { return current_.load(std::memory_order_acquire); }

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
  const SourceRegistry* Previous(absl::Time now) const;

  const absl::Duration overlap_;
  std::atomic<const SourceRegistry*> current_;
  std::atomic<const SourceRegistry*> previous_{nullptr};
  std::atomic<int64_t> previous_until_ns_{0};  // Unix nanoseconds
  std::atomic<int64_t> generation_{1};
  absl::Mutex mu_;  // Rotate against Rotate
  std::vector<std::shared_ptr<const SourceRegistry>> generations_ ABSL_GUARDED_BY(mu_);
};

// Every secret of every source, in registration order (what Rotate compares).
std::vector<std::string> AllSecrets(const SourceRegistry& sources);

}  // namespace earshot::gateway
