#include "services/stream/catchup.h"

namespace earshot::stream {

absl::StatusOr<std::unique_ptr<CatchUp>> CatchUp::Start(Tail* tail, Positions from,
                                                        size_t queue_records,
                                                        const std::string& client_id) {
  std::unique_ptr<CatchUp> c(new CatchUp(tail, std::move(from), queue_records));
  kafka::ConsumerOptions options = tail->consumer_options();
  options.client_id = client_id;
  auto consumer = kafka::Consumer::Create(options);
  if (!consumer.ok()) return consumer.status();
  c->consumer_ = std::move(*consumer);
  std::vector<kafka::PartitionOffset> assignment;
  for (const auto& [tp, offset] : c->reached_) {
    assignment.push_back({KafkaTopic(tp.topic), tp.partition, offset});
  }
  if (auto st = c->consumer_->Assign(assignment); !st.ok()) return st;
  c->loop_ = std::thread([p = c.get()] { p->Loop(); });
  return c;
}

CatchUp::~CatchUp() {
  stop_ = true;
  if (loop_.joinable()) loop_.join();
}

void CatchUp::WakeLocked(std::vector<std::shared_ptr<Tail::Waker>>* out) { out->swap(parked_); }

void CatchUp::Loop() {
  std::vector<std::shared_ptr<Tail::Waker>> wake;
  auto wake_all = [&] {
    for (auto& w : wake) (*w)();
    wake.clear();
  };
  while (!stop_) {
    {
      absl::MutexLock l(&mu_);
      // Wait (bounded, to notice stop_) while the subscriber has not taken what is queued.
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](CatchUp* c) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                 return c->queue_.size() < c->queue_records_ || c->stop_.load();
                               },
                               this),
                           absl::Milliseconds(100));
      if (queue_.size() >= queue_records_) continue;
    }
    if (auto seq = tail_->Join(reached_); seq.has_value()) {
      absl::MutexLock l(&mu_);
      joined_ = seq;
      WakeLocked(&wake);
      break;
    }
    auto messages = consumer_->Poll(500, absl::Milliseconds(100));
    if (!messages.ok()) {
      absl::MutexLock l(&mu_);
      error_ = messages.status();
      WakeLocked(&wake);
      break;
    }
    if (messages->empty()) continue;
    std::vector<RecordPtr> records;  // parsed outside the lock the subscriber takes from
    records.reserve(messages->size());
    for (auto& m : *messages) {
      const TopicPartition tp{StreamTopicOf(m.topic), m.partition};
      reached_[tp] = m.offset + 1;
      records.push_back(MakeRecord(tp, m.offset, m.timestamp_ms, std::move(m.value)));
    }
    {
      absl::MutexLock l(&mu_);
      for (auto& r : records) queue_.push_back(std::move(r));
      WakeLocked(&wake);
    }
    wake_all();
  }
  wake_all();
}

CatchUp::Taken CatchUp::Take(size_t max, std::vector<RecordPtr>* out) {
  absl::MutexLock l(&mu_);
  while (max > 0 && !queue_.empty()) {
    out->push_back(std::move(queue_.front()));
    queue_.pop_front();
    --max;
  }
  Taken taken;
  if (queue_.empty()) {
    taken.error = error_;
    taken.joined = joined_;
  }
  return taken;
}

bool CatchUp::Park(std::shared_ptr<Tail::Waker> waker) {
  absl::MutexLock l(&mu_);
  if (!queue_.empty() || joined_.has_value() || !error_.ok()) return false;
  parked_.push_back(std::move(waker));
  return true;
}

}  // namespace earshot::stream
