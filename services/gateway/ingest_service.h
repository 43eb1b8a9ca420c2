#pragma once
// gRPC earshot.v1.Ingest: connectors that poll a platform publish canonical events in batches;
// the call returns only once Kafka acknowledged every event (UNAVAILABLE otherwise, so the
// connector retries). Callback API: no thread waits for Kafka. Owned by GatewayApp.
// Each event's source (platform name, or generic:<account_id>) needs ingest:publish; control
// events are refused whoever calls (they come only from Threads/Resolve). A batch with any
// refused event produces nothing.
#include <cstddef>

#include "earshot/v1/ingest.grpc.pb.h"
#include "prometheus/registry.h"
#include "services/common/auth/guard.h"
#include "services/common/base/clock.h"
#include "services/common/kafka/producer.h"
#include "services/gateway/records.h"

namespace earshot::gateway {

class IngestService final : public earshot::v1::Ingest::CallbackService {
 public:
  IngestService(kafka::RecordSink* sink, Topics topics, std::size_t max_batch,
                prometheus::Registry& registry, const auth::Guard& guard,
                const Clock& clock = RealClock::Get());

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const earshot::v1::PublishRequest* request,
                                    earshot::v1::PublishResponse* response) override;

 private:
  kafka::RecordSink* sink_;
  Topics topics_;
  std::size_t max_batch_;
  const auth::Guard& guard_;
  const Clock& clock_;
  prometheus::Counter* published_;
  prometheus::Counter* rejected_;
};

}  // namespace earshot::gateway
