#include "services/common/kafka/consumer.h"

#include <algorithm>

#include "librdkafka/rdkafka.h"
#include "services/common/kafka/errors.h"

namespace earshot::kafka {

std::string Message::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

int64_t Position(rd_kafka_t* consumer, const std::string& topic, int32_t partition) {
  rd_kafka_topic_partition_list_t* pos = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(pos, topic.c_str(), partition);
  rd_kafka_position(consumer, pos);
  const int64_t at = pos->elems[0].offset;
  rd_kafka_topic_partition_list_destroy(pos);
  return at;
}

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(ConsumerOptions options) {
  std::unique_ptr<Consumer> c(new Consumer());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::map<std::string, std::string> settings = {
      {"bootstrap.servers", options.bootstrap},
      {"group.id", options.group_id},
      {"client.id", options.client_id},
      {"auto.offset.reset", options.auto_offset_reset},
      {"enable.auto.commit", "false"},
      {"enable.partition.eof", "false"},
      // Every reader of earshot's topics (SLA monitor, stream, the services' own checks) sees
      // only committed transactions: the router's and SLA monitor's output of a batch that
      // aborted never reaches them (librdkafka's default too; stated, not inherited).
      {"isolation.level", "read_committed"},
  };
  for (const auto& [k, v] : options.extra) settings[k] = v;
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError("kafka consumer setting " + k + ": " + err);
    }
  }
  c->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (c->rk_ == nullptr) return absl::InvalidArgumentError(std::string("kafka consumer: ") + err);
  rd_kafka_poll_set_consumer(c->rk_);
  return c;
}

Consumer::~Consumer() {
  if (rk_ == nullptr) return;
  rd_kafka_consumer_close(rk_);
  rd_kafka_destroy(rk_);
}

absl::Status Consumer::Subscribe(const std::vector<std::string>& topics) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
  for (const auto& t : topics) rd_kafka_topic_partition_list_add(list, t.c_str(), -1);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  return FromKafkaError(err, "kafka subscribe");
}

int Consumer::PartitionCount(const std::string& topic, absl::Duration timeout) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
  const struct rd_kafka_metadata* md = nullptr;
  int count = -1;
  if (rd_kafka_metadata(rk_, 0, rkt, &md, static_cast<int>(absl::ToInt64Milliseconds(timeout))) ==
          RD_KAFKA_RESP_ERR_NO_ERROR &&
      md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    count = md->topics[0].partition_cnt;
  }
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  return count;
}

absl::Status Consumer::AssignAll(const std::string& topic) {
  int n = PartitionCount(topic, absl::Seconds(10));
  if (n <= 0) return absl::UnavailableError("no metadata for topic " + topic);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(n);
  for (int p = 0; p < n; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  return FromKafkaError(err, "kafka assign");
}

absl::Status Consumer::Assign(const std::vector<PartitionOffset>& partitions) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& p : partitions) {
    rd_kafka_topic_partition_list_add(list, p.topic.c_str(), p.partition)->offset = p.offset;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  return FromKafkaError(err, "kafka assign");
}

absl::StatusOr<std::pair<int64_t, int64_t>> Consumer::Watermarks(const std::string& topic,
                                                                 int32_t partition,
                                                                 absl::Duration timeout) {
  int64_t low = 0;
  int64_t high = 0;
  // A partition whose leader is moving, or that was just created, answers "not leader" for a
  // moment: asked again until the time-out.
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    const int wait_ms =
        static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(deadline - absl::Now())));
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk_, topic.c_str(), partition, &low, &high, wait_ms);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return std::make_pair(low, high);
    absl::Status st = FromKafkaError(err, "kafka watermarks " + topic);
    if (!absl::IsUnavailable(st) || absl::Now() + absl::Milliseconds(100) >= deadline) return st;
    absl::SleepFor(absl::Milliseconds(100));
  }
}

absl::StatusOr<std::vector<int64_t>> Consumer::OffsetsForTime(const std::string& topic,
                                                              int partition_count, int64_t time_ms,
                                                              absl::Duration timeout) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partition_count);
  for (int p = 0; p < partition_count; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = time_ms;
  }
  rd_kafka_resp_err_t err =
      rd_kafka_offsets_for_times(rk_, list, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  std::vector<int64_t> out(partition_count, 0);
  for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      err = e.err;
      break;
    }
    out[e.partition] = e.offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return FromKafkaError(err, "kafka offsets for time");
  return out;
}

absl::StatusOr<std::vector<Message>> Consumer::Poll(int max, absl::Duration timeout) {
  std::vector<Message> out;
  int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  while (static_cast<int>(out.size()) < max) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, out.empty() ? wait_ms : 0);
    if (m == nullptr) break;
    if (m->err) {
      rd_kafka_resp_err_t err = m->err;
      rd_kafka_message_destroy(m);
      if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      return FromKafkaError(err, "kafka consume");
    }
    Message msg;
    msg.topic = rd_kafka_topic_name(m->rkt);
    msg.partition = m->partition;
    msg.offset = m->offset;
    if (m->key) msg.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload) msg.value.assign(static_cast<const char*>(m->payload), m->len);
    msg.tombstone = m->payload == nullptr;
    msg.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* value;
      size_t size;
      for (size_t i = 0;
           rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        msg.headers.emplace_back(name, std::string(static_cast<const char*>(value), size));
      }
    }
    rd_kafka_message_destroy(m);
    out.push_back(std::move(msg));
  }
  return out;
}

}  // namespace earshot::kafka
