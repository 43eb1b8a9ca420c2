#pragma once
// StatefulConsumer: the input side of a service that keeps per-partition state in its own
// store (router, SLA monitor). A cooperative-sticky consumer group member that, on every
// assignment, starts each partition at the offset the service's store says (so state and
// offsets move together, exactly once), and hands out batches of records. Polled by one thread;
// the hooks run on that thread, inside PollBatch().
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/kafka/consumer.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_message_s rd_kafka_message_t;
typedef struct rd_kafka_topic_partition_list_s rd_kafka_topic_partition_list_t;

namespace earshot::kafka {

struct StatefulConsumerOptions {
  ConsumerOptions consumer;  // bootstrap, group, client id, extra settings
  std::string topic;
  int batch_max = 1000;
  absl::Duration batch_wait = absl::Milliseconds(5);
  int session_timeout_ms = 10000;
};

struct StatefulConsumerHooks {
  // The next offset to read for a partition, from the service's store; nullopt: from the start.
  std::function<absl::StatusOr<std::optional<int64_t>>(int32_t partition)> stored_offset;
  std::function<void(int32_t partition)> on_assigned;
  std::function<void(int32_t partition)> on_revoked;
};

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const;
};
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

class StatefulConsumer {
 public:
  static absl::StatusOr<std::unique_ptr<StatefulConsumer>> Create(StatefulConsumerOptions options,
                                                                  StatefulConsumerHooks hooks);
  ~StatefulConsumer();

  // Waits up to `first_wait` for a record, then takes what arrives within batch_wait, up to
  // batch_max. Errors other than end-of-partition are logged and skipped.
  std::vector<MessagePtr> PollBatch(absl::Duration first_wait);
  // Reads again from these offsets (a batch that could not be committed).
  void Rewind(const std::map<int32_t, int64_t>& first_offsets);
  // Commits the consumed positions to Kafka, only so that lag tools see progress.
  void CommitAsync();
  // Cached high watermark of a partition (no network round-trip); -1 when unknown.
  int64_t HighWatermark(int32_t partition);
  int partition_count() const { return partition_count_; }
  // Leaves the group (revokes through the hooks). Called by the owner's Stop.
  void Close();

 private:
  StatefulConsumer() = default;
  static void OnRebalance(rd_kafka_t* rk, int err, rd_kafka_topic_partition_list_t* parts,
                          void* opaque);
  void Assign(rd_kafka_topic_partition_list_t* parts, bool incremental);
  void Revoke(rd_kafka_topic_partition_list_t* parts, bool incremental);

  StatefulConsumerOptions options_;
  StatefulConsumerHooks hooks_;
  rd_kafka_t* rk_ = nullptr;
  int partition_count_ = 0;
  bool closed_ = false;
  bool assigned_once_ = false;
};

// The partition librdkafka's default partitioner gives a key (CRC32 modulo the partition
// count): where the gateway wrote it.
int32_t PartitionForKey(std::string_view key, int partition_count);

}  // namespace earshot::kafka
