#include "services/gateway/gateway_app.h"

#include <map>

#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "services/common/base/log.h"
#include "services/common/kafka/options.h"
#include "services/common/kafka/topics.h"

namespace earshot::gateway {

absl::Status GatewayApp::Start(const ServiceContext& ctx, grpc::ServerBuilder& grpc) {
  const Config& config = ctx.config;
  config_ = &ctx.config;
  reloads_ = &prometheus::BuildCounter()
                  .Name("earshot_gateway_secret_reloads_total")
                  .Help("Reloads of the webhook secrets, by result: rotated, unchanged, failed")
                  .Register(ctx.registry);
  for (const char* result : {"rotated", "unchanged", "failed"}) reloads_->Add({{"result", result}});
  auto options = WebhookOptions::FromConfig(config);
  if (!options.ok()) return options.status();

  http::ServerOptions http_options;
  http_options.name = "gateway.http";
  http_options.addr = config.GetString("http.addr", "0.0.0.0:8080");
  http_options.threads = static_cast<int>(config.GetInt("http.threads", 2));
  http_options.body_limit = static_cast<std::size_t>(kafka::BodyLimitBytes(config));
  http_options.read_timeout = config.GetDuration("http.read_timeout", http_options.read_timeout);
  http_options.idle_timeout = config.GetDuration("http.idle_timeout", http_options.idle_timeout);
  for (int64_t cpu : config.GetIntList("http.cpu_affinity")) {
    http_options.cpu_affinity.push_back(static_cast<int>(cpu));  // range: http::Server::Start
  }
  http_options.max_in_flight =
      static_cast<int>(config.GetInt("http.max_in_flight", http_options.max_in_flight));
  // Requests the HTTP server refuses before they reach the handler (and its
  // earshot_gateway_requests_total): 413 is the one a platform's large delivery meets.
  auto& refused = prometheus::BuildCounter()
                      .Name("earshot_gateway_http_refused_total")
                      .Help(
                          "Requests refused before the webhook handler, by HTTP status: 400 "
                          "malformed, 413 body over http.body_limit_bytes, 431 header too large")
                      .Register(ctx.registry);
  std::map<int, prometheus::Counter*> refused_by_code;
  for (int code : {400, 413, 431}) {
    refused_by_code[code] = &refused.Add({{"code", std::to_string(code)}});
  }
  http_options.on_refused = [refused_by_code = std::move(refused_by_code)](int status) {
    if (auto it = refused_by_code.find(status); it != refused_by_code.end()) {
      it->second->Increment();
    }
  };
  drain_ = config.GetDuration("gateway.drain_timeout", drain_);
  const auto max_batch = static_cast<std::size_t>(config.GetInt("gateway.ingest_max_batch", 1000));

  kafka::ProducerOptions producer_options =
      kafka::ProducerOptionsFromConfig(config, ctx.kafka_bootstrap);
  producer_options.client_id = "earshot-gateway";
  producer_options.metrics_prefix = "earshot_gateway";
  // Kafka's acknowledgements are served on the first HTTP thread, which writes the answers.
  producer_options.external_delivery = true;
  if (auto st = config.status(); !st.ok()) return st;

  auto producer = kafka::Producer::Create(producer_options, &ctx.registry);
  if (!producer.ok()) return producer.status();
  producer_ = std::move(*producer);
  ctx.health.AddReadinessCheck("gateway.kafka", [p = producer_.get()] { return p->reachable(); });

  bool any_configured = false;
  for (const auto& source : options->sources->sources()) any_configured |= source->configured();
  if (!any_configured) {
    log::Warn("gateway", "no platform secret configured: every webhook will be refused");
  }
  Topics topics = options->topics;
  handler_ = std::make_unique<WebhookHandler>(std::move(*options), producer_.get(), ctx.registry);
  ingest_ =
      std::make_unique<IngestService>(producer_.get(), topics, max_batch, ctx.registry, ctx.auth);
  grpc.RegisterService(ingest_.get());

  http_ = std::make_unique<http::Server>(http_options, handler_.get());
  if (auto st = http_->Start(); !st.ok()) return st;
  return http_->Watch(producer_->delivery_fd(), [p = producer_.get()] { p->ServeDeliveries(); });
}

void GatewayApp::Reload() {
  if (handler_ == nullptr) return;
  // A secret file that cannot be read now (a half-done edit) must not unconfigure its source:
  // the reload fails and the secrets in use stay.
  const size_t errors = config_->error_count();
  auto next = SourceRegistry::FromConfig(*config_);
  absl::Status st = next.status();
  if (st.ok() && config_->error_count() > errors) st = config_->status();
  if (!st.ok()) {
    reloads_->Add({{"result", "failed"}}).Increment();
    log::Warn("gateway", "webhook secrets not reloaded; the current ones stay",
              {{"error", st.message()}});
    return;
  }
  const bool rotated =
      handler_->RotateSources(std::make_shared<const SourceRegistry>(*std::move(next)));
  reloads_->Add({{"result", rotated ? "rotated" : "unchanged"}}).Increment();
  if (rotated) {
    log::Info("gateway", "webhook secrets rotated; the previous ones verify for the overlap",
              {{"generation", handler_->secrets_generation()}});
  }
}

void GatewayApp::Stop() {
  // Stop taking requests and answer those waiting for Kafka, then flush what is left.
  if (http_) http_->Stop(drain_);
  producer_.reset();
  http_.reset();
  ingest_.reset();
  handler_.reset();
}

}  // namespace earshot::gateway
