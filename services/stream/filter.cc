#include "services/stream/filter.h"

#include <algorithm>

namespace earshot::stream {

using earshot::v1::StreamTopic;

absl::StatusOr<Filter> Filter::Create(const earshot::v1::SubscribeRequest& request,
                                      const Access& access) {
  Filter f;
  for (int t : request.topics()) {
    if (t != earshot::v1::STREAM_TOPIC_ROUTED && t != earshot::v1::STREAM_TOPIC_ALERTS) {
      return absl::InvalidArgumentError("unknown topic " + std::to_string(t) +
                                        "; use STREAM_TOPIC_ROUTED or STREAM_TOPIC_ALERTS");
    }
    if (std::find(f.topics_.begin(), f.topics_.end(), t) == f.topics_.end()) {
      f.topics_.push_back(static_cast<StreamTopic>(t));
    }
  }
  if (f.topics_.empty()) {
    f.topics_ = {earshot::v1::STREAM_TOPIC_ROUTED, earshot::v1::STREAM_TOPIC_ALERTS};
  }
  std::sort(f.topics_.begin(), f.topics_.end());

  const auto& filter = request.filter();
  for (const auto& q : filter.queues()) {
    if (!access.all_queues && !access.queues.contains(q)) {
      return absl::PermissionDeniedError("principal " + access.team +
                                         " lacks stream:read on queue " + q);
    }
    f.queues_.insert(q);
  }
  if (!f.queues_.empty()) {
    f.any_queue_ = false;
  } else if (!access.all_queues) {
    f.any_queue_ = false;
    f.queues_ = access.queues;
  }
  for (int p : filter.platforms()) f.platforms_.insert(p);
  for (int k : filter.kinds()) f.kinds_.insert(k);
  f.min_priority_ = filter.min_priority();
  for (const auto& a : filter.accounts()) f.accounts_.insert(a);
  if (request.start_case() == earshot::v1::SubscribeRequest::kTime) {
    f.min_time_ms_ = request.time().seconds() * 1000 + request.time().nanos() / 1000000;
  }
  return f;
}

bool Filter::Wants(StreamTopic topic) const {
  return std::find(topics_.begin(), topics_.end(), topic) != topics_.end();
}

bool Filter::Matches(const Record& r) const {
  if (!r.valid || !Wants(r.tp.topic) || r.timestamp_ms < min_time_ms_) return false;
  if (!any_queue_ && !queues_.contains(r.queue)) return false;
  if (!platforms_.empty() && !platforms_.contains(r.platform)) return false;
  if (!kinds_.empty() && r.tp.topic == earshot::v1::STREAM_TOPIC_ROUTED &&
      !kinds_.contains(r.kind)) {
    return false;
  }
  if (min_priority_ > 0 && static_cast<int>(r.priority) < min_priority_) return false;
  if (!accounts_.empty() && !accounts_.contains(r.account)) return false;
  return true;
}

}  // namespace earshot::stream
