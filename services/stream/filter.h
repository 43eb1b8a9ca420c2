#pragma once
// Filter: what one subscriber asked for (topics, queues, platforms, kinds, minimum priority,
// accounts), narrowed to the queues its team may read. Built once per subscription, then
// evaluated for every record on the subscriber's thread; immutable.
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "earshot/v1/stream.pb.h"
#include "services/stream/record.h"

namespace earshot::stream {

// What a principal may read (its stream:read grant): every queue, or the listed ones.
struct Access {
  std::string team;  // the principal's name
  bool all_queues = true;
  absl::flat_hash_set<std::string> queues;
};

class Filter {
 public:
  // PermissionDenied when the request names a queue outside `access`; InvalidArgument for an
  // unknown topic.
  static absl::StatusOr<Filter> Create(const earshot::v1::SubscribeRequest& request,
                                       const Access& access);

  bool Wants(earshot::v1::StreamTopic topic) const;
  bool Matches(const Record& record) const;
  const std::vector<earshot::v1::StreamTopic>& topics() const { return topics_; }

 private:
  std::vector<earshot::v1::StreamTopic> topics_;
  bool any_queue_ = true;
  absl::flat_hash_set<std::string> queues_;
  absl::flat_hash_set<int> platforms_;
  absl::flat_hash_set<int> kinds_;
  int min_priority_ = 0;
  absl::flat_hash_set<std::string> accounts_;
  int64_t min_time_ms_ = 0;  // a start at a time: records written before it are skipped
};

}  // namespace earshot::stream
