#pragma once
// Ends a running command from another thread (the signal thread on Ctrl-C or SIGTERM): cancels
// the gRPC call or stops the replay attached at that moment, or the one attached later.
// Attach and Cancel may be called from any thread.
#include <functional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace earshot::ctl {

class Canceller {
 public:
  // `stop` ends what runs now; nullptr detaches. Runs at once when Cancel() came first.
  void Attach(std::function<void()> stop) {
    absl::MutexLock lock(&mu_);
    stop_ = std::move(stop);
    if (stop_ && cancelled_) stop_();
  }
  void Cancel() {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (stop_) stop_();
  }
  bool cancelled() const {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

 private:
  mutable absl::Mutex mu_;
  std::function<void()> stop_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace earshot::ctl
