#include "services/common/kafka/stateful_consumer.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

#include "librdkafka/rdkafka.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "services/common/base/log.h"
#include "services/common/kafka/errors.h"

namespace earshot::kafka {
namespace {
constexpr char kLogger[] = "kafka.consumer";
constexpr ResumeReason kResetReasons[] = {ResumeReason::kClusterChanged, ResumeReason::kAheadOfLog,
                                          ResumeReason::kLogChanged,
                                          ResumeReason::kDeletedByRetention};
}  // namespace

std::string_view ResumeReasonName(ResumeReason reason) {
  switch (reason) {
    case ResumeReason::kStored:
      return "stored";
    case ResumeReason::kClusterChanged:
      return "cluster_changed";
    case ResumeReason::kAheadOfLog:
      return "ahead_of_log";
    case ResumeReason::kLogChanged:
      return "log_changed";
    case ResumeReason::kDeletedByRetention:
      return "deleted_by_retention";
  }
  return "unknown";
}

Resume DecideResume(const StoredPosition& stored, const LogState& log) {
  const auto& mark = stored.last_record;
  if (mark && !mark->cluster_id().empty() && !log.cluster_id.empty() &&
      mark->cluster_id() != log.cluster_id) {
    return {log.low, ResumeReason::kClusterChanged};
  }
  if (stored.next_offset > log.high) return {log.low, ResumeReason::kAheadOfLog};
  // The marked record must still be there, unchanged, unless retention has deleted it.
  if (mark && mark->offset() >= log.low) {
    const auto& now = log.at_mark;
    if (!now || now->offset() != mark->offset() || now->timestamp_ms() != mark->timestamp_ms() ||
        now->fingerprint() != mark->fingerprint()) {
      return {log.low, ResumeReason::kLogChanged};
    }
  }
  if (stored.next_offset < log.low) return {log.low, ResumeReason::kDeletedByRetention};
  return {stored.next_offset, ResumeReason::kStored};
}

earshot::v1::InputMark MarkRecord(std::string_view cluster_id, int64_t offset, int64_t timestamp_ms,
                                  std::string_view key, std::string_view value) {
  // The key's length goes first, so that no key and value pair hashes like another split.
  const uint64_t key_size = key.size();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, &key_size, sizeof(key_size));
  EVP_DigestUpdate(ctx, key.data(), key.size());
  EVP_DigestUpdate(ctx, value.data(), value.size());
  EVP_DigestFinal_ex(ctx, digest, &digest_size);
  EVP_MD_CTX_free(ctx);
  uint64_t fingerprint = 0;
  std::memcpy(&fingerprint, digest, sizeof(fingerprint));
  earshot::v1::InputMark mark;
  mark.set_cluster_id(std::string(cluster_id));
  mark.set_offset(offset);
  mark.set_timestamp_ms(timestamp_ms);
  mark.set_fingerprint(fingerprint);
  return mark;
}

void MessageDeleter::operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }

int32_t PartitionForKey(std::string_view key, int partition_count) {
  return rd_kafka_msg_partitioner_consistent(nullptr, key.data(), key.size(), partition_count,
                                             nullptr, nullptr);
}

absl::StatusOr<std::unique_ptr<StatefulConsumer>> StatefulConsumer::Create(
    StatefulConsumerOptions options, StatefulConsumerHooks hooks) {
  std::unique_ptr<StatefulConsumer> c(new StatefulConsumer());
  c->options_ = std::move(options);
  c->hooks_ = std::move(hooks);
  const ConsumerOptions& o = c->options_.consumer;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::map<std::string, std::string> settings = {
      {"bootstrap.servers", o.bootstrap},
      {"group.id", o.group_id},
      {"client.id", o.client_id},
      {"partition.assignment.strategy", "cooperative-sticky"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"session.timeout.ms", std::to_string(c->options_.session_timeout_ms)},
      {"heartbeat.interval.ms", "1000"},
      {"fetch.wait.max.ms", "50"},
  };
  if (!c->options_.instance_id.empty()) settings["group.instance.id"] = c->options_.instance_id;
  for (const auto& [k, v] : o.extra) settings[k] = v;
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError("consumer setting " + k + ": " + err);
    }
  }
  rd_kafka_conf_set_opaque(conf, c.get());
  rd_kafka_conf_set_rebalance_cb(
      conf, [](rd_kafka_t* rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t* parts,
               void* opaque) { StatefulConsumer::OnRebalance(rk, e, parts, opaque); });
  c->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (c->rk_ == nullptr) return absl::InvalidArgumentError(std::string("consumer: ") + err);
  rd_kafka_poll_set_consumer(c->rk_);

  rd_kafka_topic_t* rkt = rd_kafka_topic_new(c->rk_, c->options_.topic.c_str(), nullptr);
  for (int attempt = 0; attempt < 30 && c->partition_count_ <= 0; ++attempt) {
    const struct rd_kafka_metadata* md = nullptr;
    if (rd_kafka_metadata(c->rk_, 0, rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      c->partition_count_ = md->topics[0].partition_cnt;
    }
    if (md != nullptr) rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(rkt);
  if (c->partition_count_ <= 0) {
    return absl::UnavailableError("no metadata for topic " + c->options_.topic);
  }
  if (char* id = rd_kafka_clusterid(c->rk_, 5000)) {
    c->cluster_id_ = id;
    rd_kafka_mem_free(c->rk_, id);
  }
  ConsumerOptions verifier = o;
  verifier.group_id = o.group_id + ".verify";  // never joins: assign only, nothing committed
  verifier.client_id = o.client_id + "-verify";
  verifier.auto_offset_reset = "error";
  auto made = Consumer::Create(std::move(verifier));
  if (!made.ok()) return made.status();
  c->verifier_ = std::move(*made);
  if (c->options_.registry != nullptr) {
    auto& family = prometheus::BuildCounter()
                       .Name(c->options_.metrics_prefix + "_input_resets_total")
                       .Help(
                           "Input partitions read from the start of their log because the "
                           "stored offset belonged to another log, by reason")
                       .Register(*c->options_.registry);
    for (ResumeReason r : kResetReasons) {
      c->resets_[r] = &family.Add({{"reason", std::string(ResumeReasonName(r))}});
    }
  }
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, c->options_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t serr = rd_kafka_subscribe(c->rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (serr) return FromKafkaError(serr, "subscribe " + c->options_.topic);
  return c;
}

StatefulConsumer::~StatefulConsumer() {
  Close();
  if (rk_ != nullptr && assigned_once_) rd_kafka_destroy(rk_);
}

void StatefulConsumer::Close() {
  if (closed_ || rk_ == nullptr) return;
  closed_ = true;
  if (!assigned_once_) {
    // librdkafka 2.0.2 (Debian bookworm) aborts when a cooperative-sticky consumer is closed
    // before its first assignment (upstream issue 4312, fixed in 2.3.0). Such a consumer owns
    // nothing and has committed nothing, so its handle is left to the process's exit; the group
    // drops the member after its session time-out.
    log::Warn(kLogger, "consumer stopped before its first assignment; handle left open",
              {{"topic", options_.topic}});
    return;
  }
  rd_kafka_consumer_close(rk_);
}

void StatefulConsumer::OnRebalance(rd_kafka_t* rk, int err, rd_kafka_topic_partition_list_t* parts,
                                   void* opaque) {
  auto* self = static_cast<StatefulConsumer*>(opaque);
  const bool incremental = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->Assign(parts, incremental);
  } else {
    self->Revoke(parts, incremental);
  }
}

void StatefulConsumer::Assign(rd_kafka_topic_partition_list_t* parts, bool incremental) {
  assigned_once_ = true;
  // Partitions whose state cannot be made current are assigned but paused: reading them from
  // any offset would apply input to the wrong state. The service reports itself unready.
  rd_kafka_topic_partition_list_t* held = rd_kafka_topic_partition_list_new(0);
  for (int i = 0; i < parts->cnt; ++i) {
    auto& tp = parts->elems[i];
    if (hooks_.restore) {
      if (auto st = hooks_.restore(tp.partition); !st.ok()) {
        log::Error(kLogger, "cannot restore the partition's state; not reading it",
                   {{"partition", tp.partition}, {"error", st.ToString()}});
        rd_kafka_topic_partition_list_add(held, tp.topic, tp.partition);
        healthy_ = false;
        continue;
      }
    }
    auto stored = hooks_.stored_position(tp.partition);
    if (!stored.ok()) {
      // Without the stored offset the partition cannot be consumed exactly once: leave it.
      log::Error(kLogger, "cannot read the stored offset",
                 {{"partition", tp.partition}, {"error", stored.status().ToString()}});
      rd_kafka_topic_partition_list_add(held, tp.topic, tp.partition);
      healthy_ = false;
      continue;
    }
    int64_t end = -1;
    if (stored->has_value()) {
      tp.offset = ResumeOffset(tp.partition, **stored, &end);
    } else {
      tp.offset = RD_KAFKA_OFFSET_BEGINNING;
      if (auto marks = verifier_->Watermarks(options_.topic, tp.partition, options_.verify_timeout);
          marks.ok()) {
        end = marks->second;
      }
    }
    assigned_end_.erase(tp.partition);
    if (end >= 0) assigned_end_[tp.partition] = end;
    if (hooks_.on_assigned) hooks_.on_assigned(tp.partition);
  }
  if (incremental) {
    if (rd_kafka_error_t* error = rd_kafka_incremental_assign(rk_, parts)) {
      log::Error(kLogger, "assign failed", {{"error", rd_kafka_error_string(error)}});
      rd_kafka_error_destroy(error);
    }
  } else if (rd_kafka_resp_err_t err = rd_kafka_assign(rk_, parts)) {
    log::Error(kLogger, "assign failed", {{"error", rd_kafka_err2str(err)}});
  }
  if (held->cnt > 0) rd_kafka_pause_partitions(rk_, held);
  rd_kafka_topic_partition_list_destroy(held);
  positioned_ = true;
  log::Info(kLogger, "partitions assigned", {{"topic", options_.topic}, {"count", parts->cnt}});
}

absl::StatusOr<LogState> StatefulConsumer::ReadLog(int32_t partition,
                                                   const StoredPosition& stored) {
  LogState log;
  log.cluster_id = cluster_id_;
  auto marks = verifier_->Watermarks(options_.topic, partition, options_.verify_timeout);
  if (!marks.ok()) return marks.status();
  std::tie(log.low, log.high) = *marks;
  const auto& mark = stored.last_record;
  if (!mark || mark->offset() < log.low || mark->offset() >= log.high) return log;
  if (auto st = verifier_->Assign({{options_.topic, partition, mark->offset()}}); !st.ok()) {
    return st;
  }
  // The record is in the log, so it arrives within one fetch; a compacted or transactional log
  // may hand over a later record instead, which DecideResume takes as a changed log.
  const absl::Time deadline = absl::Now() + options_.verify_timeout;
  absl::Status status = absl::DeadlineExceededError("the marked record did not arrive in time");
  while (!log.at_mark && absl::Now() < deadline) {
    auto got = verifier_->Poll(1, std::min(deadline - absl::Now(), absl::Milliseconds(500)));
    if (!got.ok()) {
      status = got.status();
      break;
    }
    for (const Message& m : *got) {
      if (m.partition != partition) continue;  // left from an earlier check
      log.at_mark = MarkRecord(cluster_id_, m.offset, m.timestamp_ms, m.key, m.value);
    }
  }
  verifier_->Assign({}).IgnoreError();  // the next Assign replaces it
  if (!log.at_mark) return status;
  return log;
}

int64_t StatefulConsumer::ResumeOffset(int32_t partition, const StoredPosition& stored,
                                       int64_t* log_end) {
  auto log = ReadLog(partition, stored);
  if (!log.ok()) {
    log::Error(kLogger, "cannot check the stored offset against the log; resuming from it",
               {{"topic", options_.topic},
                {"partition", partition},
                {"stored_offset", stored.next_offset},
                {"error", log.status().ToString()}});
    return stored.next_offset;
  }
  *log_end = log->high;
  const Resume resume = DecideResume(stored, *log);
  if (resume.reason == ResumeReason::kStored) return resume.offset;
  log::Warn(kLogger,
            "stored offset does not belong to the partition's log; reading it from the start",
            {{"topic", options_.topic},
             {"partition", partition},
             {"reason", ResumeReasonName(resume.reason)},
             {"stored_offset", stored.next_offset},
             {"stored_cluster", stored.last_record ? stored.last_record->cluster_id() : ""},
             {"cluster", log->cluster_id},
             {"log_start", log->low},
             {"log_end", log->high},
             {"resume_offset", resume.offset}});
  if (auto it = resets_.find(resume.reason); it != resets_.end()) it->second->Increment();
  return resume.offset;
}

earshot::v1::InputMark StatefulConsumer::Mark(const rd_kafka_message_t* m) const {
  return MarkRecord(
      cluster_id_, m->offset, rd_kafka_message_timestamp(m, nullptr),
      std::string_view(static_cast<const char*>(m->key), m->key != nullptr ? m->key_len : 0),
      std::string_view(static_cast<const char*>(m->payload), m->payload != nullptr ? m->len : 0));
}

void StatefulConsumer::Revoke(rd_kafka_topic_partition_list_t* parts, bool incremental) {
  for (int i = 0; i < parts->cnt; ++i) {
    assigned_end_.erase(parts->elems[i].partition);
    if (hooks_.on_revoked) hooks_.on_revoked(parts->elems[i].partition);
  }
  if (incremental) {
    if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk_, parts)) {
      rd_kafka_error_destroy(error);
    }
  } else {
    rd_kafka_assign(rk_, nullptr);
  }
  log::Info(kLogger, "partitions revoked", {{"topic", options_.topic}, {"count", parts->cnt}});
}

std::vector<MessagePtr> StatefulConsumer::PollBatch(absl::Duration first_wait) {
  std::vector<MessagePtr> out;
  const int first_ms =
      static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(first_wait)));
  absl::Time deadline = absl::InfiniteFuture();
  while (static_cast<int>(out.size()) < options_.batch_max) {
    int wait_ms = out.empty() ? first_ms
                              : static_cast<int>(std::max<int64_t>(
                                    0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, wait_ms);
    if (m == nullptr) break;
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR_INVALID_SESSION_TIMEOUT) {
        // Never joins: say which setting, not only librdkafka's words, at every attempt.
        log::Error(kLogger,
                   "the brokers refuse the consumer group session time-out: set the service's "
                   "session_timeout_ms within their group.min.session.timeout.ms (6 s by "
                   "default) and group.max.session.timeout.ms",
                   {{"topic", options_.topic},
                    {"session_timeout_ms", options_.session_timeout_ms},
                    {"error", rd_kafka_message_errstr(m)}});
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        log::Warn(kLogger, "consume error", {{"error", rd_kafka_message_errstr(m)}});
      }
      rd_kafka_message_destroy(m);
      if (out.empty()) break;
      continue;
    }
    if (out.empty()) deadline = absl::Now() + options_.batch_wait;
    out.emplace_back(m);
  }
  return out;
}

void StatefulConsumer::Rewind(const std::map<int32_t, int64_t>& first_offsets) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(first_offsets.size()));
  for (const auto& [p, off] : first_offsets) {
    rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), p)->offset = off;
  }
  if (rd_kafka_error_t* error = rd_kafka_seek_partitions(rk_, list, 5000)) {
    log::Warn(kLogger, "seek failed", {{"error", rd_kafka_error_string(error)}});
    rd_kafka_error_destroy(error);
  }
  rd_kafka_topic_partition_list_destroy(list);
}

void StatefulConsumer::CommitAsync() {
  // The offset store is off (the service's store is the truth), so commit the positions.
  rd_kafka_topic_partition_list_t* parts = nullptr;
  if (rd_kafka_assignment(rk_, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts->cnt > 0 &&
      rd_kafka_position(rk_, parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_commit(rk_, parts, 1);
  }
  if (parts != nullptr) rd_kafka_topic_partition_list_destroy(parts);
}

int64_t StatefulConsumer::HighWatermark(int32_t partition) {
  int64_t low = 0;
  int64_t high = 0;
  if (rd_kafka_get_watermark_offsets(rk_, options_.topic.c_str(), partition, &low, &high) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  return high;
}

int64_t StatefulConsumer::Lag(int32_t partition, int64_t next_offset) {
  const int64_t high = HighWatermark(partition);
  if (high < 0) return -1;
  const int64_t at = std::max(next_offset, Position(partition));
  return std::max<int64_t>(0, high - at);
}

int64_t StatefulConsumer::AssignedEnd(int32_t partition) const {
  auto it = assigned_end_.find(partition);
  return it == assigned_end_.end() ? -1 : it->second;
}

int64_t StatefulConsumer::Position(int32_t partition) {
  return kafka::Position(rk_, options_.topic, partition);
}

}  // namespace earshot::kafka
