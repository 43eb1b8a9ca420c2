#pragma once
// AlertmanagerSink: keeps a configured Alertmanager informed of Earshot's alerts through its
// v2 API (POST /api/v2/alerts). Firing alerts are re-sent before they would expire; a resolution
// is sent with endsAt. Runs its own thread with a bounded queue: Submit() never blocks the SLA
// loop, and while Alertmanager is away the sink retries with exponential back-off. Owned by
// SlaApp; Submit/Restore from the SLA loop thread.
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "earshot/v1/alert.pb.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "services/common/base/clock.h"

namespace earshot::sla {

struct AlertmanagerOptions {
  std::string url;  // "http://127.0.0.1:9093" (a path prefix is kept); empty: disabled
  absl::Duration resend_interval = absl::Minutes(1);
  absl::Duration timeout = absl::Seconds(5);
  absl::Duration max_backoff = absl::Seconds(30);
  size_t queue_limit = 100000;
  std::string generator_url;  // link shown in Alertmanager, e.g. the Grafana dashboard
  // Alertmanager often forwards to chat and paging services outside the brand's control, so by
  // default alerts carry no customer data: the thread is named by `thread_ref`, a digest of its
  // key (which holds a WhatsApp customer's phone number). True adds the `thread` label and the
  // message's excerpt and permalink as annotations.
  bool customer_data = false;
};

// The label naming a thread without its key: the first 16 hex digits of its SHA-256; "" for no
// thread (channel alerts).
std::string ThreadRef(std::string_view thread_key);

class AlertmanagerSink {
 public:
  AlertmanagerSink(AlertmanagerOptions options, prometheus::Registry& registry,
                   const Clock& clock = RealClock::Get());
  ~AlertmanagerSink();

  void Start();
  void Stop();  // tries once more to deliver what is queued
  void Submit(const std::vector<earshot::v1::Alert>& alerts);
  // Alerts firing in state that a new owner takes over (they are re-sent as firing).
  void Restore(const std::vector<earshot::v1::Alert>& firing);
  size_t active() const;

  // The v2 API body for these alerts (exposed for tests).
  static std::string ToJson(const std::vector<earshot::v1::Alert>& alerts, absl::Time now,
                            const AlertmanagerOptions& options);

 private:
  void Run();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); }
  bool Post(const std::string& body);

  AlertmanagerOptions options_;
  const Clock& clock_;
  std::string host_;
  int port_ = 0;
  std::string path_;
  prometheus::Counter* sent_;
  prometheus::Counter* failed_;
  prometheus::Counter* dropped_;

  mutable absl::Mutex mu_;
  std::deque<earshot::v1::Alert> queue_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, earshot::v1::Alert> active_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace earshot::sla
