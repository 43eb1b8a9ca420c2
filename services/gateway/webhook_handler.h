#pragma once
// WebhookHandler: the HTTP side of the gateway. For each request: route to its webhook source
// (sources/registry.h), check content type, have the source verify the signature over the exact
// bytes and normalise the body, write every record to Kafka, and answer 2xx only once Kafka
// acknowledged all of them (503 + Retry-After otherwise). Handshakes (X CRC, Meta hub challenge)
// are answered directly by their source. Bad input gets the answer services/gateway/README.md
// lists ("Answers") and produces nothing. Which HTTP status answers which error is decided
// here, at the edge, and nowhere else in the gateway.
//
// Owned by GatewayApp; Handle() runs on the HTTP I/O threads, completions on the Kafka poll
// thread. Holds no mutable state besides metrics and the sources, which a reload rotates.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/common/base/clock.h"
#include "services/common/base/config.h"
#include "services/common/http/server.h"
#include "services/common/kafka/producer.h"
#include "services/gateway/records.h"
#include "services/gateway/sources/registry.h"
#include "services/gateway/sources/rotation.h"

namespace earshot::gateway {

struct WebhookOptions {
  // The webhook sources with their secrets (sources/registry.h); shared, since it is immutable.
  std::shared_ptr<const SourceRegistry> sources;
  bool raw_enabled = true;
  absl::Duration retry_after = absl::Seconds(5);
  // How long the previous secrets still verify after a rotation (rotation.h).
  absl::Duration secret_overlap = absl::Hours(1);
  Topics topics;

  static absl::StatusOr<WebhookOptions> FromConfig(const Config& config);
};

class WebhookHandler final : public http::Handler {
 public:
  WebhookHandler(WebhookOptions options, kafka::RecordSink* sink, prometheus::Registry& registry,
                 const Clock& clock = RealClock::Get());
  ~WebhookHandler() override;

  void Handle(http::Request request, http::Responder respond) override;

  // The sources built again from the config after a reload; they serve from now on when their
  // secrets changed (returns whether they did), the previous keep verifying for the overlap.
  bool RotateSources(std::shared_ptr<const SourceRegistry> next);
  int64_t secrets_generation() const { return sources_->generation(); }

 private:
  struct Metrics;
  struct Route;
  void HandleGet(const Route& route, const http::Request& request, http::Responder respond);
  void HandlePost(const Route& route, http::Request request, http::Responder respond);

  WebhookOptions options_;
  std::vector<std::string> route_labels_;  // each source's name, then "other"
  kafka::RecordSink* sink_;
  const Clock& clock_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<RotatingSources> sources_;
  prometheus::Gauge* secrets_generation_ = nullptr;
};

// Decodes application/x-www-form-urlencoded query strings; keeps dotted names ("hub.mode").
std::map<std::string, std::string> ParseQuery(std::string_view query);

}  // namespace earshot::gateway
