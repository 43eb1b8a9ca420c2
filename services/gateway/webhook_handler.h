#pragma once
// WebhookHandler: the HTTP side of the gateway. For each request: route, check content type,
// verify the signature over the exact bytes, normalise, write every record to Kafka, and answer
// 2xx only once Kafka acknowledged all of them (503 + Retry-After otherwise). Handshakes (X CRC,
// Meta hub challenge) are answered directly. Bad input gets the answer services/gateway/README.md
// lists ("Answers") and produces nothing.
//
// Owned by GatewayApp; Handle() runs on the HTTP I/O threads, completions on the Kafka poll
// thread. Holds no mutable state besides metrics.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/registry.h"
#include "services/common/base/clock.h"
#include "services/common/base/config.h"
#include "services/common/http/server.h"
#include "services/common/kafka/producer.h"
#include "services/gateway/records.h"

namespace earshot::gateway {

struct WebhookOptions {
  std::vector<std::string> x_secrets;  // consumer and client secrets, all accepted on POST
  std::string x_crc_secret;            // the client secret if set, else the consumer secret
  std::vector<std::string> meta_app_secrets;
  std::vector<std::string> meta_verify_tokens;
  std::vector<std::string> telegram_tokens;
  std::string telegram_bot_id = "bot";
  std::map<std::string, std::vector<std::string>> generic_sources;  // name -> secrets
  absl::Duration generic_tolerance = absl::Minutes(5);
  bool raw_enabled = true;
  absl::Duration retry_after = absl::Seconds(5);
  Topics topics;

  static absl::StatusOr<WebhookOptions> FromConfig(const Config& config);
};

class WebhookHandler final : public http::Handler {
 public:
  WebhookHandler(WebhookOptions options, kafka::RecordSink* sink, prometheus::Registry& registry,
                 const Clock& clock = RealClock::Get());
  ~WebhookHandler() override;

  void Handle(http::Request request, http::Responder respond) override;

 private:
  struct Metrics;
  struct Route;
  void HandleGet(const Route& route, const http::Request& request, http::Responder respond);
  void HandlePost(const Route& route, http::Request request, http::Responder respond);

  WebhookOptions options_;
  kafka::RecordSink* sink_;
  const Clock& clock_;
  std::unique_ptr<Metrics> metrics_;
};

// Decodes application/x-www-form-urlencoded query strings; keeps dotted names ("hub.mode").
std::map<std::string, std::string> ParseQuery(std::string_view query);

}  // namespace earshot::gateway
