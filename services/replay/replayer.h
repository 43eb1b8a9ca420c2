#pragma once
// Replayer: sends recorded webhooks to a gateway over HTTP/1.1 keep-alive connections, at a
// chosen rate with bounded concurrency, filling placeholders and signing each request just
// before it goes out, and sums up what the gateway answered.
//
// Order: lines are dispatched in file order. With concurrency 1 each request waits for the
// previous answer; with more, up to `concurrency` requests are in flight and may be answered
// out of order. A line with delay_ms is a barrier: it waits until every earlier line was
// answered, then for its delay (the demo's timeline uses this).
//
// Time: placeholders see the line's scheduled time, the run's start plus every delay_ms up to
// and including the line, so a scenario's timestamps follow its own timeline and an exact
// redelivery (the same line again, offsets making up for the delay between) has the same bytes.
//
// Owned by its caller. Run() blocks on the calling thread and uses `concurrency` worker threads
// of its own; progress() and Cancel() may be called from any other thread meanwhile.
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "services/replay/recording.h"
#include "services/replay/signing.h"

namespace earshot::replay {

struct Endpoint {
  std::string host;  // an IP address (names are resolved by ParseGatewayUrl)
  int port = 0;
};

// "http://127.0.0.1:8080", "localhost:8080", "http://gateway" (port 80). https is refused: the
// replay talks plain HTTP to a gateway (or its sidecar) directly.
absl::StatusOr<Endpoint> ParseGatewayUrl(std::string_view url);

struct ReplayOptions {
  Endpoint gateway;
  double rate = 0;      // requests per second in total; 0: as fast as the answers come
  int concurrency = 1;  // requests in flight at most (connections)
  bool keep_signatures = false;
  std::string run_id;                          // {{run}}; empty: the run's start in unix seconds
  absl::Duration timeout = absl::Seconds(30);  // per request
  int max_failures_kept = 20;                  // failures listed in the summary
  // The recorded delays are waited this many times (0: not at all, for tests); placeholders
  // follow the recorded timeline either way.
  double delay_scale = 1.0;
};

struct Failure {
  int line = 0;
  int status = 0;       // 0: no answer (connection, timeout, a placeholder or signing error)
  std::string message;  // the answer's body, or the error
};

struct Summary {
  int64_t total = 0;  // lines in the recording
  int64_t sent = 0;   // requests that got an answer or failed on the wire
  int64_t status_2xx = 0, status_3xx = 0, status_4xx = 0, status_5xx = 0;
  int64_t errors = 0;  // no answer: connection refused, timeout, bad placeholder, no secret
  // From the gateway's 2xx answers ({"accepted":N,"ignored":K,"deadlettered":bool}).
  int64_t events_accepted = 0, parts_ignored = 0, deadlettered = 0;
  std::vector<Failure> failures;  // the first max_failures_kept
  absl::Duration latency_p50, latency_p99, latency_max;
  absl::Duration elapsed;
  bool cancelled = false;

  int64_t failed() const { return sent - status_2xx; }
  double rate() const {
    const double s = absl::ToDoubleSeconds(elapsed);
    return s > 0 ? static_cast<double>(sent) / s : 0;
  }
  // Every line sent and answered 2xx.
  bool ok() const { return !cancelled && sent == total && status_2xx == total; }
};

struct Progress {
  int64_t done = 0;    // answered or failed
  int64_t failed = 0;  // not 2xx
  int64_t total = 0;
};

class Replayer {
 public:
  Replayer(ReplayOptions options, SigningSecrets secrets);
  Replayer(const Replayer&) = delete;
  Replayer& operator=(const Replayer&) = delete;

  // Sends every recording once. Failures of single lines go into the summary; a recording
  // that cannot be signed at all (its platform's secret is not configured) fails the whole run
  // before anything is sent.
  absl::StatusOr<Summary> Run(const std::vector<Recording>& recordings);

  Progress progress() const;
  // Stops dispatching further lines; requests in flight finish. Run() then returns.
  void Cancel();

 private:
  ReplayOptions options_;
  SigningSecrets secrets_;
  std::atomic<int64_t> done_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> total_{0};
  absl::Notification cancel_;
};

}  // namespace earshot::replay
