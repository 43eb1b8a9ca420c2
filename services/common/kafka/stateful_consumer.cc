#include "services/common/kafka/stateful_consumer.h"

#include "librdkafka/rdkafka.h"
#include "services/common/base/log.h"
#include "services/common/kafka/errors.h"

namespace earshot::kafka {
namespace {
constexpr char kLogger[] = "kafka.consumer";
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
  for (int i = 0; i < parts->cnt; ++i) {
    auto& tp = parts->elems[i];
    auto stored = hooks_.stored_offset(tp.partition);
    if (!stored.ok()) {
      // Without the stored offset the partition cannot be consumed exactly once: leave it.
      log::Error(kLogger, "cannot read the stored offset",
                 {{"partition", tp.partition}, {"error", stored.status().ToString()}});
      tp.offset = RD_KAFKA_OFFSET_INVALID;
      continue;
    }
    tp.offset = stored->has_value() ? **stored : RD_KAFKA_OFFSET_BEGINNING;
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
  log::Info(kLogger, "partitions assigned", {{"topic", options_.topic}, {"count", parts->cnt}});
}

void StatefulConsumer::Revoke(rd_kafka_topic_partition_list_t* parts, bool incremental) {
  for (int i = 0; i < parts->cnt; ++i) {
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
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
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

}  // namespace earshot::kafka
