#include "services/common/kafka/producer.h"

#include "absl/synchronization/notification.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "fmt/format.h"
#include "librdkafka/rdkafka.h"
#include "services/common/base/log.h"
#include "services/common/base/metrics.h"
#include "services/common/kafka/errors.h"

namespace earshot::kafka {
namespace {

constexpr char kLogger[] = "kafka.producer";

// Shared by the records of one ProduceBatch call; the last delivery report runs the callback.
struct BatchState {
  BatchState(std::vector<Record> r, Producer::Callback cb)
      : records(std::move(r)), remaining(static_cast<int>(records.size())), done(std::move(cb)) {}
  // The records' values stay here until every report is in: librdkafka sends them from where
  // they are instead of copying each (RD_KAFKA_MSG_F_COPY).
  std::vector<Record> records;
  std::atomic<int> remaining;
  absl::Mutex mu;
  absl::Status first_error ABSL_GUARDED_BY(mu);
  Producer::Callback done;

  void Finish(absl::Status st, int count) {
    if (!st.ok()) {
      absl::MutexLock lock(&mu);
      if (first_error.ok()) first_error = std::move(st);
    }
    if (remaining.fetch_sub(count) == count) {
      absl::Status result;
      {
        absl::MutexLock lock(&mu);
        result = first_error;
      }
      std::move(done)(std::move(result));
      delete this;
    }
  }
};

void OnError(rd_kafka_t* rk, int err, const char* reason, void*) {
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_fatal_error(rk, buf, sizeof(buf));
    log::Error(kLogger, "fatal producer error", {{"error", std::string_view(buf)}});
    return;
  }
  log::Warn(kLogger, "kafka error", {{"error", rd_kafka_err2name(code)}, {"reason", reason}});
}

void OnLog(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  if (level <= 3) log::Warn(kLogger, buf, {{"facility", fac}});
}

}  // namespace

struct Producer::Metrics {
  Metrics(prometheus::Registry& r, const std::string& p)
      : delivered(prometheus::BuildCounter()
                      .Name(p + "_kafka_produced_records_total")
                      .Help("Records acknowledged by Kafka, by topic")
                      .Register(r)),
        failed(prometheus::BuildCounter()
                   .Name(p + "_kafka_produce_errors_total")
                   .Help("Records Kafka did not acknowledge (time-out, queue full, ...)")
                   .Register(r)
                   .Add({})),
        latency(prometheus::BuildHistogram()
                    .Name(p + "_kafka_delivery_latency_seconds")
                    .Help("Time from produce to acknowledgement by Kafka")
                    .Register(r)
                    .Add({}, LatencyBuckets())),
        queue_depth(prometheus::BuildGauge()
                        .Name(p + "_kafka_producer_queue_depth")
                        .Help("Records waiting in the producer for acknowledgement")
                        .Register(r)
                        .Add({})),
        reachable(prometheus::BuildGauge()
                      .Name(p + "_kafka_reachable")
                      .Help("1 when the last metadata round-trip to Kafka succeeded")
                      .Register(r)
                      .Add({})) {}

  prometheus::Family<prometheus::Counter>& delivered;
  prometheus::Counter& failed;
  prometheus::Histogram& latency;
  prometheus::Gauge& queue_depth;
  prometheus::Gauge& reachable;
  absl::Mutex mu;
  // By librdkafka's topic handle, which lives as long as the producer: no string per report.
  absl::flat_hash_map<const rd_kafka_topic_t*, prometheus::Counter*> by_topic ABSL_GUARDED_BY(mu);

  prometheus::Counter& Topic(const rd_kafka_topic_t* rkt) {
    absl::MutexLock lock(&mu);
    auto& c = by_topic[rkt];
    if (c == nullptr) c = &delivered.Add({{"topic", rd_kafka_topic_name(rkt)}});
    return *c;
  }
};

Producer::Producer(ProducerOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(ProducerOptions options,
                                                           prometheus::Registry* registry) {
  std::unique_ptr<Producer> p(new Producer(std::move(options)));
  if (registry != nullptr)
    p->metrics_ = std::make_unique<Metrics>(*registry, p->options_.metrics_prefix);
  const auto& o = p->options_;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::map<std::string, std::string> settings = {
      {"bootstrap.servers", o.bootstrap},
      {"client.id", o.client_id},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", std::to_string(absl::ToInt64Milliseconds(o.delivery_timeout))},
      {"linger.ms", std::to_string(absl::ToDoubleMilliseconds(o.linger))},
      {"queue.buffering.max.messages", std::to_string(o.queue_max_messages)},
      {"socket.connection.setup.timeout.ms", "3000"},
      {"reconnect.backoff.max.ms", "1000"},
  };
  if (o.max_message_bytes > 0) {
    settings["message.max.bytes"] = std::to_string(o.max_message_bytes);
  }
  if (!o.transactional_id.empty()) {
    settings["transactional.id"] = o.transactional_id;
    // librdkafka wants a record's delivery time-out within its transaction's.
    settings["transaction.timeout.ms"] = std::to_string(
        absl::ToInt64Milliseconds(std::max(o.transaction_timeout, o.delivery_timeout)));
  }
  for (const auto& [k, v] : o.extra) settings[k] = v;
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError("kafka producer setting " + k + ": " + err);
    }
  }
  rd_kafka_conf_set_opaque(conf, p.get());
  rd_kafka_conf_set_dr_msg_cb(
      conf, [](rd_kafka_t* rk, const rd_kafka_message_t* m, void* op) { OnDelivery(rk, m, op); });
  rd_kafka_conf_set_error_cb(conf, OnError);
  rd_kafka_conf_set_log_cb(conf, OnLog);
  p->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (p->rk_ == nullptr) {
    return absl::InvalidArgumentError(std::string("kafka producer: ") + err);
  }
  if (o.external_delivery) {
    // librdkafka writes a byte when the reports queue turns non-empty (once until served).
    if (pipe2(p->delivery_pipe_, O_NONBLOCK | O_CLOEXEC) != 0) {
      return absl::InternalError(std::string("kafka producer: pipe: ") + std::strerror(errno));
    }
    rd_kafka_queue_t* main_queue = rd_kafka_queue_get_main(p->rk_);
    rd_kafka_queue_io_event_enable(main_queue, p->delivery_pipe_[1], "r", 1);
    rd_kafka_queue_destroy(main_queue);
  } else {
    p->poll_thread_ = std::thread([raw = p.get()] { raw->PollLoop(); });
  }
  p->probe_thread_ = std::thread([raw = p.get()] { raw->ProbeLoop(); });
  return p;
}

Producer::~Producer() {
  if (rk_ == nullptr) return;
  stop_probe_.Notify();
  probe_thread_.join();
  if (auto st = Flush(options_.flush_timeout); !st.ok()) {
    log::Warn(kLogger, "records left unacknowledged at shutdown", {{"count", queue_depth()}});
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  }
  stop_ = true;
  if (poll_thread_.joinable()) poll_thread_.join();
  rd_kafka_poll(rk_, 0);  // purged records report their failure here
  if (delivery_pipe_[1] >= 0) {
    rd_kafka_queue_t* main_queue = rd_kafka_queue_get_main(rk_);
    rd_kafka_queue_io_event_enable(main_queue, -1, nullptr, 0);
    rd_kafka_queue_destroy(main_queue);
  }
  rd_kafka_destroy(rk_);
  for (int fd : delivery_pipe_) {
    if (fd >= 0) close(fd);
  }
}

void Producer::OnDelivery(rd_kafka_t*, const void* msg, void* opaque) {
  const auto* m = static_cast<const rd_kafka_message_t*>(msg);
  auto* self = static_cast<Producer*>(opaque);
  auto* batch = static_cast<BatchState*>(m->_private);
  absl::Status st = FromKafkaError(m->err, "kafka delivery");
  if (self->metrics_) {
    if (st.ok()) {
      self->metrics_->Topic(m->rkt).Increment();
      self->metrics_->latency.Observe(static_cast<double>(rd_kafka_message_latency(m)) / 1e6);
    } else {
      self->metrics_->failed.Increment();
    }
  }
  if (batch != nullptr) batch->Finish(std::move(st), 1);
}

void Producer::ProduceBatch(std::vector<Record> records, Callback done) {
  if (records.empty()) {
    std::move(done)(absl::OkStatus());
    return;
  }
  const int n = static_cast<int>(records.size());
  auto* batch = new BatchState(std::move(records), std::move(done));
  for (int i = 0; i < n; ++i) {
    Record& r = batch->records[i];
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(r.headers.size());
    for (const auto& [k, v] : r.headers) {
      rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(),
                          static_cast<ssize_t>(v.size()));
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(r.topic.c_str()),
        RD_KAFKA_V_KEY(r.key.empty() ? nullptr : r.key.data(), r.key.size()),
        RD_KAFKA_V_VALUE(r.tombstone ? nullptr : r.value.data(), r.tombstone ? 0 : r.value.size()),
        RD_KAFKA_V_PARTITION(r.partition < 0 ? RD_KAFKA_PARTITION_UA : r.partition),
        RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(batch), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(hdrs);  // not taken over on failure
      if (metrics_) metrics_->failed.Increment(n - i);
      batch->Finish(FromKafkaError(err, "kafka produce"), n - i);
      return;
    }
  }
}

absl::Status ProduceAndWait(RecordSink& sink, std::vector<Record> records) {
  absl::Notification done;
  absl::Status status;
  sink.ProduceBatch(std::move(records), [&](absl::Status st) {
    status = std::move(st);
    done.Notify();
  });
  done.WaitForNotification();  // the callback refers to this frame
  return status;
}

absl::Status Producer::Flush(absl::Duration timeout) {
  return FromKafkaError(rd_kafka_flush(rk_, static_cast<int>(absl::ToInt64Milliseconds(timeout))),
                        "kafka flush");
}

namespace {
// A transaction call's error: the kind decides what the caller does next (producer.h).
absl::Status FromTxnError(rd_kafka_error_t* error, std::string_view what) {
  if (error == nullptr) return absl::OkStatus();
  std::string msg = fmt::format("kafka {}: {}", what, rd_kafka_error_string(error));
  absl::Status st;
  if (rd_kafka_error_is_fatal(error)) {
    st = absl::FailedPreconditionError(msg);
  } else if (rd_kafka_error_txn_requires_abort(error)) {
    st = absl::AbortedError(msg);
  } else if (rd_kafka_error_is_retriable(error)) {
    st = absl::UnavailableError(msg);
  } else {
    st = absl::InternalError(msg);
  }
  rd_kafka_error_destroy(error);
  return st;
}

int TimeoutMs(absl::Duration d) {
  return static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(d)));
}
}  // namespace

absl::Status Producer::InitTransactions(absl::Duration timeout) {
  return FromTxnError(rd_kafka_init_transactions(rk_, TimeoutMs(timeout)), "init transactions");
}

absl::Status Producer::BeginTransaction() {
  return FromTxnError(rd_kafka_begin_transaction(rk_), "begin transaction");
}

absl::Status Producer::SendOffsetsToTransaction(rd_kafka_t* consumer, const std::string& topic,
                                                const std::map<int32_t, int64_t>& next_offsets,
                                                absl::Duration timeout) {
  if (next_offsets.empty()) return absl::OkStatus();
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(next_offsets.size()));
  for (const auto& [p, off] : next_offsets) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = off;
  }
  rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(consumer);
  absl::Status st =
      FromTxnError(rd_kafka_send_offsets_to_transaction(rk_, list, group, TimeoutMs(timeout)),
                   "send offsets to transaction");
  rd_kafka_consumer_group_metadata_destroy(group);
  rd_kafka_topic_partition_list_destroy(list);
  return st;
}

absl::Status Producer::CommitTransaction(absl::Duration timeout) {
  return FromTxnError(rd_kafka_commit_transaction(rk_, TimeoutMs(timeout)), "commit transaction");
}

absl::Status Producer::AbortTransaction(absl::Duration timeout) {
  return FromTxnError(rd_kafka_abort_transaction(rk_, TimeoutMs(timeout)), "abort transaction");
}

int Producer::queue_depth() const { return rd_kafka_outq_len(rk_); }

void Producer::PollLoop() {
  while (!stop_.load()) {
    rd_kafka_poll(rk_, 50);
    if (metrics_) metrics_->queue_depth.Set(queue_depth());
  }
}

void Producer::ServeDeliveries() {
  // Empty the pipe first: a report queued after this point writes a new byte.
  char buf[256];
  while (read(delivery_pipe_[0], buf, sizeof(buf)) > 0) {
  }
  rd_kafka_poll(rk_, 0);
  if (metrics_) metrics_->queue_depth.Set(queue_depth());
}

void Producer::ProbeLoop() {
  const int timeout_ms =
      static_cast<int>(std::max<int64_t>(200, absl::ToInt64Milliseconds(options_.probe_interval)));
  int failures = 0;
  do {
    const struct rd_kafka_metadata* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, nullptr, &md, timeout_ms);
    const bool answered = err == RD_KAFKA_RESP_ERR_NO_ERROR && md != nullptr && md->broker_cnt > 0;
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    // One unanswered probe is not an outage: while a node of a real cluster fails over, a
    // metadata request sent its way times out though the others take writes. Unreachable is
    // several probes in a row (a whole cluster down), or never reached since the start.
    failures = answered ? 0 : failures + 1;
    const bool ok = answered || (reachable_.load() && failures < options_.probe_failures);
    if (ok != reachable_.exchange(ok)) {
      log::Info(kLogger, ok ? "kafka reachable" : "kafka unreachable",
                {{"bootstrap", options_.bootstrap}, {"error", rd_kafka_err2str(err)}});
    }
    if (metrics_) metrics_->reachable.Set(ok ? 1 : 0);
  } while (!stop_probe_.WaitForNotificationWithTimeout(options_.probe_interval));
}

}  // namespace earshot::kafka
