#pragma once
// Consumer: a librdkafka consumer that hands out owned Message values. Used by the services'
// input loops and by tests that read what a service wrote. One thread polls it.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace earshot::kafka {

struct Message {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timestamp_ms = 0;
  bool tombstone = false;  // a record without a value (a deleted key of a compacted topic)
  // The first header with that name, or "".
  std::string header(std::string_view name) const;
};

// A partition and the offset to start reading it from.
struct PartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
};

struct ConsumerOptions {
  std::string bootstrap;
  std::string group_id = "earshot";
  std::string client_id = "earshot";
  std::string auto_offset_reset = "earliest";
  std::map<std::string, std::string> extra;
};

// A consumer's position in one partition: past the last record it handed out, and past the
// control records (transaction markers) and compaction gaps it never hands out; negative when it
// has none yet.
int64_t Position(rd_kafka_t* consumer, const std::string& topic, int32_t partition);

class Consumer {
 public:
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(ConsumerOptions options);
  ~Consumer();

  absl::Status Subscribe(const std::vector<std::string>& topics);
  // Reads every partition of `topic` from the start, without a consumer group.
  absl::Status AssignAll(const std::string& topic);
  // Reads exactly these partitions from these offsets, without a consumer group.
  absl::Status Assign(const std::vector<PartitionOffset>& partitions);
  // Low and high watermark (the next offset to be written) of one partition.
  absl::StatusOr<std::pair<int64_t, int64_t>> Watermarks(const std::string& topic,
                                                         int32_t partition, absl::Duration timeout);
  // For each partition, the first offset whose record time is at or after `time_ms`, or -1 when
  // the broker found none (or, like librdkafka's mock cluster, cannot look up by time).
  absl::StatusOr<std::vector<int64_t>> OffsetsForTime(const std::string& topic, int partition_count,
                                                      int64_t time_ms, absl::Duration timeout);
  // Up to `max` messages; waits at most `timeout` for the first one.
  absl::StatusOr<std::vector<Message>> Poll(int max, absl::Duration timeout);
  int PartitionCount(const std::string& topic, absl::Duration timeout);

  rd_kafka_t* handle() { return rk_; }

 private:
  Consumer() = default;
  rd_kafka_t* rk_ = nullptr;
};

}  // namespace earshot::kafka
