#include "services/stream/tail.h"

#include "services/common/base/log.h"

namespace earshot::stream {
namespace {
constexpr char kLogger[] = "stream.tail";
using earshot::v1::StreamTopic;
}  // namespace

earshot::v1::StreamTopic StreamTopicOf(std::string_view kafka_topic) {
  if (kafka_topic == KafkaTopic(earshot::v1::STREAM_TOPIC_ROUTED)) {
    return earshot::v1::STREAM_TOPIC_ROUTED;
  }
  if (kafka_topic == KafkaTopic(earshot::v1::STREAM_TOPIC_ALERTS)) {
    return earshot::v1::STREAM_TOPIC_ALERTS;
  }
  return earshot::v1::STREAM_TOPIC_UNSPECIFIED;
}

absl::StatusOr<std::unique_ptr<Tail>> Tail::Start(TailOptions options) {
  std::unique_ptr<Tail> tail(new Tail(std::move(options)));
  auto consumer = kafka::Consumer::Create(tail->options_.consumer);
  if (!consumer.ok()) return consumer.status();
  tail->consumer_ = std::move(*consumer);
  kafka::ConsumerOptions lookup_options = tail->options_.consumer;
  lookup_options.client_id += "-lookup";
  auto lookup = kafka::Consumer::Create(lookup_options);
  if (!lookup.ok()) return lookup.status();
  tail->lookup_ = std::move(*lookup);
  const absl::Duration timeout = tail->options_.metadata_timeout;
  tail->routed_partitions_ =
      tail->consumer_->PartitionCount(KafkaTopic(earshot::v1::STREAM_TOPIC_ROUTED), timeout);
  tail->alert_partitions_ =
      tail->consumer_->PartitionCount(KafkaTopic(earshot::v1::STREAM_TOPIC_ALERTS), timeout);
  if (tail->routed_partitions_ <= 0 || tail->alert_partitions_ <= 0) {
    return absl::UnavailableError("stream: no metadata for earshot.routed.v1 / earshot.alerts.v1");
  }
  // Start where each partition ends now: the ring then holds everything from these positions.
  std::vector<kafka::PartitionOffset> assignment;
  {
    absl::MutexLock l(&tail->mu_);
    for (StreamTopic topic : {earshot::v1::STREAM_TOPIC_ROUTED, earshot::v1::STREAM_TOPIC_ALERTS}) {
      for (int p = 0; p < tail->partitions(topic); ++p) {
        auto wm = tail->consumer_->Watermarks(KafkaTopic(topic), p, timeout);
        if (!wm.ok()) return wm.status();
        tail->base_[{topic, p}] = wm->second;
        tail->next_[{topic, p}] = wm->second;
        assignment.push_back({KafkaTopic(topic), p, wm->second});
      }
    }
  }
  if (auto st = tail->consumer_->Assign(assignment); !st.ok()) return st;
  tail->healthy_ = true;
  tail->loop_ = std::thread([t = tail.get()] { t->Loop(); });
  return tail;
}

Tail::~Tail() { Stop(); }

void Tail::Stop() {
  stop_ = true;
  if (loop_.joinable()) loop_.join();
}

int Tail::partitions(StreamTopic topic) const {
  return topic == earshot::v1::STREAM_TOPIC_ALERTS ? alert_partitions_ : routed_partitions_;
}

uint64_t Tail::head() const {
  absl::MutexLock l(&mu_);
  return first_seq_ + ring_.size();
}

uint64_t Tail::Snapshot(Positions* positions) const {
  absl::MutexLock l(&mu_);
  *positions = next_;
  return first_seq_ + ring_.size();
}

std::optional<uint64_t> Tail::Join(const Positions& positions) const {
  absl::MutexLock l(&mu_);
  for (const auto& [tp, offset] : positions) {
    auto it = base_.find(tp);
    if (it == base_.end() || offset < it->second) return std::nullopt;
  }
  // Walk back from the newest record until, in every partition, a record the subscriber has
  // seen is passed (offsets grow along the ring within a partition).
  uint64_t seq = first_seq_ + ring_.size();
  size_t settled = 0;
  Positions seen_older;
  for (auto it = ring_.rbegin(); it != ring_.rend() && settled < positions.size(); ++it) {
    const Record& r = **it;
    auto pos = positions.find(r.tp);
    if (pos == positions.end()) continue;  // a partition the subscriber does not read
    if (r.offset < pos->second) {
      if (seen_older.emplace(r.tp, r.offset).second) ++settled;
      continue;
    }
    if (seen_older.contains(r.tp)) continue;
    seq = first_seq_ + static_cast<uint64_t>(ring_.rend() - it) - 1;
  }
  return seq;
}

bool Tail::Read(uint64_t* seq, size_t max, std::vector<RecordPtr>* out) const {
  absl::MutexLock l(&mu_);
  if (*seq < first_seq_) return false;
  const uint64_t end = first_seq_ + ring_.size();
  for (uint64_t s = *seq; s < end && max > 0; ++s, --max) {
    out->push_back(ring_[s - first_seq_]);
    *seq = s + 1;
  }
  return true;
}

bool Tail::Park(uint64_t seq, std::shared_ptr<Waker> waker) {
  absl::MutexLock l(&mu_);
  if (seq < first_seq_ + ring_.size()) return false;
  parked_.push_back(std::move(waker));
  return true;
}

absl::StatusOr<Positions> Tail::Earliest(const std::vector<StreamTopic>& topics) {
  Positions out;
  for (StreamTopic topic : topics) {
    for (int p = 0; p < partitions(topic); ++p) {
      auto wm = lookup_->Watermarks(KafkaTopic(topic), p, options_.metadata_timeout);
      if (!wm.ok()) return wm.status();
      out[{topic, p}] = wm->first;
    }
  }
  return out;
}

absl::StatusOr<Positions> Tail::AtTime(const std::vector<StreamTopic>& topics, int64_t time_ms) {
  Positions out;
  for (StreamTopic topic : topics) {
    auto offsets = lookup_->OffsetsForTime(KafkaTopic(topic), partitions(topic), time_ms,
                                           options_.metadata_timeout);
    if (!offsets.ok()) return offsets.status();
    for (int p = 0; p < partitions(topic); ++p) {
      int64_t offset = (*offsets)[p];
      if (offset < 0) {
        // None found, or the broker cannot look up by time: read the partition from its start;
        // the subscription's filter skips what is older than the time.
        auto wm = lookup_->Watermarks(KafkaTopic(topic), p, options_.metadata_timeout);
        if (!wm.ok()) return wm.status();
        offset = wm->first;
      }
      out[{topic, p}] = offset;
    }
  }
  return out;
}

void Tail::Loop() {
  std::vector<RecordPtr> batch;
  std::vector<std::shared_ptr<Waker>> wake;
  while (!stop_) {
    auto messages = consumer_->Poll(options_.poll_batch, absl::Milliseconds(100));
    if (!messages.ok()) {
      healthy_ = false;
      log::Warn(kLogger, "kafka poll failed", {{"error", messages.status().ToString()}});
      continue;
    }
    healthy_ = true;
    if (messages->empty()) continue;
    batch.clear();
    for (auto& m : *messages) {
      const StreamTopic topic = StreamTopicOf(m.topic);
      RecordPtr record =
          MakeRecord({topic, m.partition}, m.offset, m.timestamp_ms, std::move(m.value));
      if (!record->valid) {
        log::Warn(kLogger, "record skipped: not the topic's protobuf type",
                  {{"topic", m.topic}, {"partition", m.partition}, {"offset", m.offset}});
      }
      batch.push_back(std::move(record));
    }
    {
      absl::MutexLock l(&mu_);
      for (auto& r : batch) {
        next_[r->tp] = r->offset + 1;
        ring_.push_back(std::move(r));
      }
      while (ring_.size() > options_.ring_records) {
        const Record& old = *ring_.front();
        base_[old.tp] = old.offset + 1;
        ring_.pop_front();
        ++first_seq_;
      }
      wake.swap(parked_);
    }
    for (auto& w : wake) (*w)();
    wake.clear();
  }
}

}  // namespace earshot::stream
