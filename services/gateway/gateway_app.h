#pragma once
// GatewayApp: builds the gateway's parts in order (producer, webhook handler, HTTP server,
// gRPC Ingest) and stops them in reverse: stop accepting, answer what is in flight, flush Kafka.
#include <memory>

#include "prometheus/counter.h"

#include "services/common/base/service.h"
#include "services/common/http/server.h"
#include "services/common/kafka/producer.h"
#include "services/gateway/ingest_service.h"
#include "services/gateway/webhook_handler.h"

namespace earshot::gateway {

class GatewayApp final : public Service {
 public:
  std::string_view name() const override { return "gateway"; }
  absl::Status Start(const ServiceContext& ctx, grpc::ServerBuilder& grpc) override;
  void Stop() override;
  // The webhook secrets read again (EARSHOT_*_FILE files, environment); rotated when changed.
  void Reload() override;
  int http_port() const { return http_ ? http_->port() : 0; }

 private:
  const Config* config_ = nullptr;
  prometheus::Family<prometheus::Counter>* reloads_ = nullptr;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<WebhookHandler> handler_;
  std::unique_ptr<IngestService> ingest_;
  std::unique_ptr<http::Server> http_;
  absl::Duration drain_ = absl::Seconds(15);
};

}  // namespace earshot::gateway
