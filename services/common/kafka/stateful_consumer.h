#pragma once
// StatefulConsumer: the input side of a service that keeps per-partition state in its own
// store (router, SLA monitor). A cooperative-sticky consumer group member that, on every
// assignment, starts each partition at the offset the service's store says (so state and
// offsets move together, exactly once), and hands out batches of records. Polled by one thread;
// the hooks run on that thread, inside PollBatch().
//
// A stored offset counts records of one particular log. Before resuming from it, the consumer
// checks that the partition's log is still that log: the same cluster id, the stored offset
// within the log's range, and the record the state ends with (InputMark) still at its offset,
// unchanged. When any of these fails (a new or rebuilt cluster, the embedded broker started
// anew, a recreated topic, a mirrored cluster whose offsets differ, retention past the stored
// offset) the partition is read from the start of its current log, which loses nothing (the
// router's dedup window absorbs what was already applied), with a warning and a counter
// `<metrics_prefix>_input_resets_total{reason}`. Kafka's topic ids would name the log more
// directly, but librdkafka 2.0 (Debian bookworm) does not expose them.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "earshot/v1/input_mark.pb.h"
#include "services/common/kafka/consumer.h"

namespace prometheus {
class Counter;
class Registry;
}  // namespace prometheus

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
  // Static membership (group.instance.id): a member that restarts within the session time-out
  // gets its partitions back without a rebalance, so a rolling update moves no partition. Must
  // be unique in the group and stable across restarts (a StatefulSet pod's name); "": dynamic.
  std::string instance_id;
  // How long the check of a stored position may take at an assignment (watermarks and one
  // fetch per partition); past it the stored offset is used as it is, with an error log.
  absl::Duration verify_timeout = absl::Seconds(10);
  prometheus::Registry* registry = nullptr;  // may be null: no metrics
  std::string metrics_prefix = "earshot";
};

// Where a service's state stands in one input partition, as its store has it.
struct StoredPosition {
  int64_t next_offset = 0;  // the record after the last one applied
  // The last record applied; unset in state written before marks were kept.
  std::optional<earshot::v1::InputMark> last_record;
};

struct StatefulConsumerHooks {
  // Brings the partition's local state up to date (Changelog::Restore) before its stored
  // position is read; an error leaves the partition unread.
  std::function<absl::Status(int32_t partition)> restore;
  // The stored position of a partition; nullopt: no state, read from the start.
  std::function<absl::StatusOr<std::optional<StoredPosition>>(int32_t partition)> stored_position;
  std::function<void(int32_t partition)> on_assigned;
  std::function<void(int32_t partition)> on_revoked;
};

// What a partition's log looks like now, as far as the check of a stored position needs it.
struct LogState {
  std::string cluster_id;  // "" when the cluster did not say
  int64_t low = 0;         // the first offset still in the log
  int64_t high = 0;        // the offset the next record will get
  // The record now at the stored mark's offset; nullopt when there is none.
  std::optional<earshot::v1::InputMark> at_mark;
};

enum class ResumeReason {
  kStored,             // the stored offset, in the log it was counted in
  kClusterChanged,     // another cluster id
  kAheadOfLog,         // the stored offset is past the log's end: a new or truncated log
  kLogChanged,         // another record (or none) at the stored mark's offset
  kDeletedByRetention  // records after the stored offset were deleted before they were read
};
std::string_view ResumeReasonName(ResumeReason reason);

struct Resume {
  int64_t offset = 0;
  ResumeReason reason = ResumeReason::kStored;
};

// Where to resume a partition: the stored offset when `log` is the log it was counted in, else
// the start of the log. Pure, for tests; StatefulConsumer gathers `log` from the cluster.
Resume DecideResume(const StoredPosition& stored, const LogState& log);

// The mark of one record: cluster id, offset, Kafka timestamp and a fingerprint of key and value.
earshot::v1::InputMark MarkRecord(std::string_view cluster_id, int64_t offset, int64_t timestamp_ms,
                                  std::string_view key, std::string_view value);

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
  // Records of a partition not yet consumed, from the cached high watermark and the later of
  // `next_offset` (the state's) and the consumer's position, which passes transaction markers
  // (a transactional input ends in one); -1 when unknown. The polling thread only.
  int64_t Lag(int32_t partition, int64_t next_offset);
  // The end of a partition's log when it was last assigned (the offset the next record was to
  // get), or -1 when it could not be read: the records written before the assignment, which a
  // service that acts on time (the SLA monitor's deadlines) applies before it acts. The polling
  // thread only.
  int64_t AssignedEnd(int32_t partition) const;
  // The consumer's position in a partition (kafka::Position); negative when it has none. The
  // polling thread only.
  int64_t Position(int32_t partition);
  int partition_count() const { return partition_count_; }
  // Leaves the group (revokes through the hooks). Called by the owner's Stop.
  void Close();
  // The mark a service stores with the state that includes record `m`.
  earshot::v1::InputMark Mark(const rd_kafka_message_t* m) const;
  // True once the group has handed this member its partitions (none is a valid share) and each
  // was positioned: a readiness check of the stateful services.
  bool positioned() const { return positioned_.load(); }
  // False once a partition could not be restored or positioned (it is then held, unread).
  bool healthy() const { return healthy_.load(); }
  const std::string& cluster_id() const { return cluster_id_; }
  // The group member, for the consumer group metadata a transaction commits offsets with.
  rd_kafka_t* handle() { return rk_; }

 private:
  StatefulConsumer() = default;
  static void OnRebalance(rd_kafka_t* rk, int err, rd_kafka_topic_partition_list_t* parts,
                          void* opaque);
  void Assign(rd_kafka_topic_partition_list_t* parts, bool incremental);
  void Revoke(rd_kafka_topic_partition_list_t* parts, bool incremental);
  // The offset to start `partition` at, from its stored position and its log; the log's end in
  // `log_end` when it was read (else left as it is).
  int64_t ResumeOffset(int32_t partition, const StoredPosition& stored, int64_t* log_end);
  absl::StatusOr<LogState> ReadLog(int32_t partition, const StoredPosition& stored);

  StatefulConsumerOptions options_;
  StatefulConsumerHooks hooks_;
  rd_kafka_t* rk_ = nullptr;
  int partition_count_ = 0;
  bool closed_ = false;
  bool assigned_once_ = false;
  std::atomic<bool> positioned_{false};
  std::atomic<bool> healthy_{true};
  std::string cluster_id_;
  std::unique_ptr<Consumer> verifier_;  // reads watermarks and marked records; no group
  // The end of each assigned partition's log at its assignment, when it could be read.
  std::map<int32_t, int64_t> assigned_end_;
  std::map<ResumeReason, prometheus::Counter*> resets_;
};

// The partition librdkafka's default partitioner gives a key (CRC32 modulo the partition
// count): where the gateway wrote it.
int32_t PartitionForKey(std::string_view key, int partition_count);

}  // namespace earshot::kafka
