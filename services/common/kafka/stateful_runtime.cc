#include "services/common/kafka/stateful_runtime.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <utility>

#include "fmt/format.h"
#include "librdkafka/rdkafka.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/common/base/log.h"
#include "services/common/crypto/encoding.h"

namespace earshot::kafka {
namespace {

// Writes each batch in a transaction of its own: how a transactional producer seeds an empty
// changelog (Changelog::Restore), between two batches, where no transaction is open.
class OwnTransactionSink final : public RecordSink {
 public:
  OwnTransactionSink(Producer& producer, absl::Duration timeout)
      : producer_(producer), timeout_(timeout) {}
  void ProduceBatch(std::vector<Record> records, Callback done) override {
    absl::Status st = producer_.BeginTransaction();
    if (st.ok()) {
      st = ProduceAndWait(producer_, std::move(records));
      if (st.ok()) st = producer_.CommitTransaction(timeout_);
      if (!st.ok()) producer_.AbortTransaction(timeout_).IgnoreError();
    }
    std::move(done)(std::move(st));
  }
  bool reachable() const override { return producer_.reachable(); }

 private:
  Producer& producer_;
  absl::Duration timeout_;
};

bool HasWrites(const StatefulBatch& batch) {
  for (const store::OverlayView* v : batch.views) {
    if (!v->writes().empty()) return true;
  }
  return false;
}

}  // namespace

struct StatefulRuntime::Metrics {
  Metrics(prometheus::Registry& r, const std::string& prefix) {
    owned = &prometheus::BuildGauge()
                 .Name(prefix + "_owned_partitions")
                 .Help("Input partitions this replica owns")
                 .Register(r)
                 .Add({});
    standby = &prometheus::BuildGauge()
                   .Name(prefix + "_standby_partitions")
                   .Help("Partitions of other replicas this replica keeps a warm copy of")
                   .Register(r)
                   .Add({});
    standby_lag = &prometheus::BuildGauge()
                       .Name(prefix + "_standby_lag_records")
                       .Help(
                           "Changelog records the standby copies were behind by at their last "
                           "refresh")
                       .Register(r)
                       .Add({});
    auto& family = prometheus::BuildCounter()
                       .Name(prefix + "_batches_total")
                       .Help(
                           "Batches of the stateful loop by result: committed, or retried "
                           "(output, changelog or transaction not acknowledged)")
                       .Register(r);
    committed = &family.Add({{"result", "committed"}});
    retried = &family.Add({{"result", "retried"}});
    auto& stages = prometheus::BuildHistogram()
                       .Name(prefix + "_commit_stage_seconds")
                       .Help(
                           "Time of each stage of a batch's commit: apply (the processor), "
                           "produce (output and changelog acknowledged), offsets (sent to the "
                           "transaction), commit (the transaction's end), write (RocksDB)")
                       .Register(r);
    const prometheus::Histogram::BucketBoundaries buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                          0.1,   0.25,   0.5,   1,    2.5};
    for (const char* stage : {"apply", "produce", "offsets", "commit", "write"}) {
      stage_seconds[stage] = &stages.Add({{"stage", stage}}, buckets);
    }
  }
  void Observe(const char* stage, absl::Time since) {
    stage_seconds.at(stage)->Observe(absl::ToDoubleSeconds(absl::Now() - since));
  }
  std::map<std::string, prometheus::Histogram*> stage_seconds;
  prometheus::Counter* committed;
  prometheus::Counter* retried;
  prometheus::Gauge* owned;
  prometheus::Gauge* standby;
  prometheus::Gauge* standby_lag;
};

absl::StatusOr<std::optional<bool>> ExactlyOnceSetting(std::string_view value) {
  if (value == "auto" || value.empty()) return std::optional<bool>();
  if (value == "true") return std::optional<bool>(true);
  if (value == "false") return std::optional<bool>(false);
  return absl::InvalidArgumentError(
      fmt::format("kafka.exactly_once: \"{}\" is not auto, true or false", value));
}

bool IsMockCluster(std::string_view cluster_id) { return cluster_id.starts_with("mockCluster"); }

absl::Status RuntimeSettingsFromConfig(const Config& config, const std::string& service,
                                       prometheus::Registry* registry, StatefulRuntimeOptions* o) {
  const std::string client = "earshot-" + service;
  const std::string metrics = "earshot_" + service;
  o->consumer.consumer.client_id = client;
  o->consumer.session_timeout_ms = static_cast<int>(
      config.GetInt(service + ".session_timeout_ms", o->consumer.session_timeout_ms));
  o->consumer.instance_id = config.GetString(service + ".instance_id", "");
  o->consumer.registry = registry;
  o->consumer.metrics_prefix = metrics;
  o->changelog.revoked_ttl =
      config.GetDuration(service + ".revoked_state_ttl", o->changelog.revoked_ttl);
  o->changelog.registry = registry;
  o->changelog.metrics_prefix = metrics;
  o->producer.client_id = client;
  o->producer.metrics_prefix = metrics;
  o->producer.transaction_timeout =
      config.GetDuration("kafka.transaction_timeout", o->producer.transaction_timeout);
  o->standby_replicas = static_cast<int>(config.GetInt(service + ".standby_replicas", 0));
  o->standby_interval = config.GetDuration(service + ".standby_interval", o->standby_interval);
  o->liveness_grace = config.GetDuration(service + ".liveness_grace", o->liveness_grace);
  o->stall_timeout = config.GetDuration(service + ".stall_timeout", o->stall_timeout);
  o->logger = service;
  o->registry = registry;
  o->metrics_prefix = metrics;
  auto exactly_once = ExactlyOnceSetting(config.GetString("kafka.exactly_once", "auto"));
  if (!exactly_once.ok()) return exactly_once.status();
  o->exactly_once = *exactly_once;
  return config.status();
}

std::string TransactionalId(const std::string& group_id, const std::string& instance_id,
                            const std::string& state_dir) {
  if (!instance_id.empty()) return fmt::format("{}.{}", group_id, instance_id);
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::error_code ec;
  const std::string dir = std::filesystem::absolute(state_dir, ec).lexically_normal().string();
  return fmt::format("{}.{}.{}", group_id, host,
                     crypto::HexEncode(crypto::Sha256(dir)).substr(0, 16));
}

absl::Status StatefulProcessor::WriteViews(StatefulBatch& batch) {
  for (store::OverlayView* v : batch.views) {
    if (auto st = v->Commit(); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<StatefulRuntime>> StatefulRuntime::Create(
    StatefulRuntimeOptions options, store::Store* store, StatefulProcessor* processor) {
  std::unique_ptr<StatefulRuntime> rt(new StatefulRuntime());
  rt->options_ = std::move(options);
  rt->processor_ = processor;
  rt->store_ = store;
  auto& o = rt->options_;
  if (o.registry != nullptr)
    rt->metrics_ = std::make_unique<Metrics>(*o.registry, o.metrics_prefix);

  StatefulRuntime* self = rt.get();
  StatefulConsumerHooks hooks;
  hooks.restore = [self](int32_t p) { return self->changelog_->Restore(p); };
  hooks.stored_position = [self](int32_t p) { return self->processor_->Position(p); };
  hooks.on_assigned = [self](int32_t p) {
    self->changelog_->Assigned(p);
    {
      absl::MutexLock lock(&self->mu_);
      self->owned_.insert(p);
    }
    self->processor_->OnAssigned(p);
  };
  hooks.on_revoked = [self](int32_t p) {
    self->changelog_->Revoked(p);
    {
      absl::MutexLock lock(&self->mu_);
      self->owned_.erase(p);
    }
    self->processor_->OnRevoked(p);
  };
  // Joins the group only at the first poll; reads the cluster id now.
  auto consumer = StatefulConsumer::Create(o.consumer, std::move(hooks));
  if (!consumer.ok()) return consumer.status();
  rt->consumer_ = std::move(*consumer);

  rt->exactly_once_ = o.exactly_once.value_or(!IsMockCluster(rt->consumer_->cluster_id()));
  if (rt->exactly_once_ && o.producer.transactional_id.empty()) {
    o.producer.transactional_id =
        TransactionalId(o.consumer.consumer.group_id, o.consumer.instance_id, store->path());
  }
  if (!rt->exactly_once_) o.producer.transactional_id.clear();
  auto producer = Producer::Create(o.producer, o.registry);
  if (!producer.ok()) return producer.status();
  rt->producer_ = std::move(*producer);
  if (rt->exactly_once_) {
    // Fences an earlier incarnation with the same id and aborts what it left open.
    if (auto st = rt->producer_->InitTransactions(o.commit_timeout); !st.ok()) {
      return absl::UnavailableError(
          fmt::format("kafka transactions (kafka.exactly_once) cannot start: {}; a cluster without "
                      "transactions needs kafka.exactly_once: false",
                      std::string(st.message())));
    }
    rt->seed_sink_ = std::make_unique<OwnTransactionSink>(*rt->producer_, o.commit_timeout);
  }
  if (o.standby_replicas > 0 && IsMockCluster(rt->consumer_->cluster_id())) {
    // librdkafka's mock cluster does not answer DescribeConsumerGroups (2.0 aborts on it).
    log::Info(o.logger, "standby replicas off: the embedded broker cannot describe the group",
              {{"standby_replicas", o.standby_replicas}});
    o.standby_replicas = 0;
  }
  log::Info(o.logger, "delivery guarantee",
            {{"exactly_once", rt->exactly_once_},
             {"transactional_id", o.producer.transactional_id},
             {"cluster", rt->consumer_->cluster_id()}});

  // Made before the first poll, where the hooks above first run.
  ChangelogOptions changelog = o.changelog;
  changelog.partitions = rt->consumer_->partition_count();
  changelog.consumer = o.consumer.consumer;
  // The changelog of an aborted transaction is never applied.
  changelog.consumer.extra["isolation.level"] = "read_committed";
  changelog.transactional = rt->exactly_once_;
  changelog.on_progress = [self] { self->progress_ns_ = absl::ToUnixNanos(absl::Now()); };
  RecordSink* seed =
      rt->seed_sink_ ? rt->seed_sink_.get() : static_cast<RecordSink*>(rt->producer_.get());
  auto made = Changelog::Create(std::move(changelog), store, seed, rt->consumer_->cluster_id());
  if (!made.ok()) return made.status();
  rt->changelog_ = std::move(*made);
  return rt;
}

StatefulRuntime::~StatefulRuntime() { Stop(); }

void StatefulRuntime::Start() {
  loop_ = std::thread([this] { Loop(); });
  if (options_.standby_replicas > 0) standby_ = std::thread([this] { StandbyLoop(); });
}

std::set<int32_t> PlanStandbys(std::vector<GroupMember> members, const std::string& self,
                               int standbys) {
  auto name = [](const GroupMember& m) -> const std::string& {
    return m.instance_id.empty() ? m.member_id : m.instance_id;
  };
  std::sort(members.begin(), members.end(),
            [&](const GroupMember& a, const GroupMember& b) { return name(a) < name(b); });
  const int n = static_cast<int>(members.size());
  int me = -1;
  for (int i = 0; i < n; ++i) {
    if (members[i].member_id == self) me = i;
  }
  std::set<int32_t> out;
  if (me < 0) return out;
  for (int k = 0; k < n; ++k) {
    if (k == me) continue;
    // Member k's standbys are the members after it, in turn.
    const int distance = (me - k + n) % n;
    if (distance >= 1 && distance <= standbys) {
      out.insert(members[k].partitions.begin(), members[k].partitions.end());
    }
  }
  for (int32_t p : members[me].partitions) out.erase(p);
  return out;
}

absl::StatusOr<std::vector<GroupMember>> StatefulRuntime::DescribeGroup() {
  rd_kafka_t* rk = consumer_->handle();
  const char* group = options_.consumer.consumer.group_id.c_str();
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* admin = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ANY);
  char err[256];
  rd_kafka_AdminOptions_set_request_timeout(admin, 5000, err, sizeof(err));
  rd_kafka_DescribeConsumerGroups(rk, &group, 1, admin, queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, 10000);
  absl::StatusOr<std::vector<GroupMember>> out = absl::DeadlineExceededError("describe group");
  if (ev != nullptr && rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    out = absl::UnavailableError(rd_kafka_event_error_string(ev));
  } else if (ev != nullptr) {
    const rd_kafka_DescribeConsumerGroups_result_t* result =
        rd_kafka_event_DescribeConsumerGroups_result(ev);
    size_t count = 0;
    const rd_kafka_ConsumerGroupDescription_t** groups =
        rd_kafka_DescribeConsumerGroups_result_groups(result, &count);
    if (count != 1) {
      out = absl::InternalError("describe group: no answer for the group");
    } else if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(groups[0])) {
      out = absl::UnavailableError(rd_kafka_error_string(e));
    } else {
      std::vector<GroupMember> members;
      const size_t n = rd_kafka_ConsumerGroupDescription_member_count(groups[0]);
      for (size_t i = 0; i < n; ++i) {
        const rd_kafka_MemberDescription_t* m =
            rd_kafka_ConsumerGroupDescription_member(groups[0], i);
        GroupMember member;
        member.member_id = rd_kafka_MemberDescription_consumer_id(m);
        if (const char* id = rd_kafka_MemberDescription_group_instance_id(m)) {
          member.instance_id = id;
        }
        const rd_kafka_topic_partition_list_t* parts =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
        for (int j = 0; parts != nullptr && j < parts->cnt; ++j) {
          if (options_.consumer.topic == parts->elems[j].topic) {
            member.partitions.push_back(parts->elems[j].partition);
          }
        }
        members.push_back(std::move(member));
      }
      out = std::move(members);
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(admin);
  rd_kafka_queue_destroy(queue);
  return out;
}

void StatefulRuntime::StandbyLoop() {
  absl::Time next_warning = absl::InfinitePast();
  while (!stop_standby_.WaitForNotificationWithTimeout(options_.standby_interval)) {
    auto members = DescribeGroup();
    char* self = rd_kafka_memberid(consumer_->handle());
    const std::string me = self != nullptr ? self : "";
    if (self != nullptr) rd_kafka_mem_free(consumer_->handle(), self);
    if (!members.ok()) {
      if (absl::Now() >= next_warning) {
        log::Warn(options_.logger, "cannot describe the consumer group; standby copies wait",
                  {{"error", members.status().ToString()}});
        next_warning = absl::Now() + absl::Minutes(1);
      }
      continue;
    }
    const std::set<int32_t> standby = PlanStandbys(*members, me, options_.standby_replicas);
    changelog_->SetStandby(standby);
    int64_t lag = 0;
    for (int32_t p : standby) {
      if (stop_standby_.HasBeenNotified()) break;
      auto behind = changelog_->Warm(p);
      if (!behind.ok()) {
        log::Warn(options_.logger, "standby copy not refreshed",
                  {{"partition", p}, {"error", behind.status().ToString()}});
        continue;
      }
      lag += *behind;
    }
    if (metrics_) {
      metrics_->standby->Set(static_cast<double>(standby.size()));
      metrics_->standby_lag->Set(static_cast<double>(lag));
    }
  }
}

void StatefulRuntime::Stop() {
  if (!consumer_) return;
  stop_ = true;
  stop_standby_.Notify();
  if (standby_.joinable()) standby_.join();
  if (loop_.joinable()) loop_.join();  // finishes the batch in hand: produced and committed
  consumer_->Close();                  // leaves the group; revokes through the hooks
  consumer_.reset();
  changelog_.reset();
  seed_sink_.reset();
  producer_.reset();
}

std::set<int32_t> StatefulRuntime::Owned() const {
  absl::MutexLock lock(&mu_);
  return owned_;
}

bool StatefulRuntime::ready() const {
  return healthy_.load() && consumer_ != nullptr && consumer_->positioned() && consumer_->healthy();
}

void StatefulRuntime::Loop() {
  absl::Time next_periodic = absl::InfinitePast();
  while (!stop_.load()) {
    if (!Step()) absl::SleepFor(absl::Milliseconds(500));  // Kafka away: back off
    if (absl::Now() >= next_periodic) {
      if (metrics_) metrics_->owned->Set(static_cast<double>(Owned().size()));
      processor_->Periodic();
      changelog_->DropStale(absl::Now());
      next_periodic = absl::Now() + options_.periodic_interval;
    }
  }
}

bool StatefulRuntime::alive() const {
  const int64_t now = absl::ToUnixNanos(absl::Now());
  const int64_t grace = absl::ToInt64Nanoseconds(options_.liveness_grace);
  if (const int64_t at = fatal_ns_.load(); at != 0) return now - at < grace;
  if (const int64_t at = failing_since_ns_.load(); at != 0 && now - at >= grace) return false;
  const int64_t progress = progress_ns_.load();
  return progress == 0 || now - progress < absl::ToInt64Nanoseconds(options_.stall_timeout);
}

void StatefulRuntime::AddHealthChecks(Health& health, const std::string& service) {
  health.AddReadinessCheck(service + ".state", [this] { return healthy(); });
  health.AddLivenessCheck(service + ".loop", [this] { return alive(); });
  health.AddReadinessCheck(service + ".kafka", [this] { return producer_->reachable(); });
  health.AddReadinessCheck(service + ".partitions", [this] { return ready(); });
}

bool StatefulRuntime::Step() {
  progress_ns_ = absl::ToUnixNanos(absl::Now());
  StatefulBatch batch;
  batch.records = consumer_->PollBatch(processor_->PollWait());
  {
    // A partition revoked during the poll is another replica's now: its records are not ours
    // to apply.
    absl::MutexLock lock(&mu_);
    std::erase_if(batch.records,
                  [&](const MessagePtr& m) { return !owned_.contains(m->partition); });
  }
  for (const auto& m : batch.records) {
    batch.first_offset.emplace(m->partition, m->offset);
    batch.next_offset[m->partition] = m->offset + 1;
  }
  const absl::Time applying = absl::Now();
  const absl::Status applied = processor_->Apply(batch);
  if (metrics_) metrics_->Observe("apply", applying);
  if (!applied.ok()) {
    // A batch that fails again and again (a poisoned record, a state read that fails) keeps
    // the loop turning without progress: liveness (alive()) ends after liveness_grace.
    int64_t none = 0;
    failing_since_ns_.compare_exchange_strong(none, absl::ToUnixNanos(absl::Now()));
    if (absl::IsDataLoss(applied)) {
      // The local state returned what it cannot use (a checksum failure, a stored value that
      // does not parse): retrying reads the same. Stop; the restart rebuilds it.
      Fatal(applied);
      return false;
    }
    log::Error(options_.logger, "batch not applied; retried", {{"error", applied.ToString()}});
    consumer_->Rewind(batch.first_offset);
    processor_->Failed(batch);
    if (metrics_) metrics_->retried->Increment();
    return false;
  }
  failing_since_ns_ = 0;
  if (batch.records.empty() && batch.output.empty() && !HasWrites(batch)) return true;
  if (auto st = Commit(batch); !st.ok()) {
    consumer_->Rewind(batch.first_offset);  // nothing of it is committed
    processor_->Failed(batch);
    if (metrics_) metrics_->retried->Increment();
    return false;
  }
  processor_->Committed(batch);
  if (metrics_) metrics_->committed->Increment();
  return true;
}

absl::Status StatefulRuntime::Commit(StatefulBatch& batch) {
  return exactly_once_ ? CommitTransaction(batch) : CommitAtLeastOnce(batch);
}

absl::Status StatefulRuntime::CommitAtLeastOnce(StatefulBatch& batch) {
  const absl::Time produced = absl::Now();
  // Output first: a crash after this and before the local write replays the batch, giving the
  // same records again (stable ids) and the same state.
  if (auto st = ProduceAndWait(*producer_, std::move(batch.output)); !st.ok()) {
    log::Warn(options_.logger, "output not acknowledged by Kafka; batch retried",
              {{"error", st.ToString()}});
    return st;
  }
  // Then the state's changes to the changelog, and only then the local write with the
  // checkpoint: the changelog never holds state whose output was not acknowledged.
  std::vector<std::map<int32_t, int64_t>> counts(batch.views.size());
  std::vector<Record> changelog;
  for (size_t i = 0; i < batch.views.size(); ++i) {
    auto r = changelog_->Records(*batch.views[i], &counts[i]);
    std::move(r.begin(), r.end(), std::back_inserter(changelog));
  }
  if (auto st = ProduceAndWait(*producer_, std::move(changelog)); !st.ok()) {
    log::Warn(options_.logger, "changelog records not acknowledged by Kafka; batch retried",
              {{"error", st.ToString()}});
    for (const auto& c : counts) changelog_->Resync(c);
    return st;
  }
  if (metrics_) metrics_->Observe("produce", produced);
  if (auto st = WriteLocal(batch, counts, /*markers=*/0); !st.ok()) return st;
  if (!batch.records.empty()) consumer_->CommitAsync();  // for lag tools; the store is the truth
  return absl::OkStatus();
}

absl::Status StatefulRuntime::WriteLocal(StatefulBatch& batch,
                                         const std::vector<std::map<int32_t, int64_t>>& counts,
                                         int64_t markers) {
  const absl::Time writing = absl::Now();
  for (size_t i = 0; i < batch.views.size(); ++i) {
    changelog_->Checkpoint(counts[i], *batch.views[i], markers);
  }
  if (auto st = processor_->WriteViews(batch); !st.ok()) {
    Fatal(st);
    return st;
  }
  if (metrics_) metrics_->Observe("write", writing);
  return absl::OkStatus();
}

absl::Status StatefulRuntime::CommitTransaction(StatefulBatch& batch) {
  if (auto st = producer_->BeginTransaction(); !st.ok()) {
    if (absl::IsFailedPrecondition(st)) Fatal(st);
    return st;
  }
  std::vector<std::map<int32_t, int64_t>> counts(batch.views.size());
  std::vector<Record> records = std::move(batch.output);
  for (size_t i = 0; i < batch.views.size(); ++i) {
    auto r = changelog_->Records(*batch.views[i], &counts[i]);
    std::move(r.begin(), r.end(), std::back_inserter(records));
  }
  absl::Time stage = absl::Now();
  auto done = [&](const char* name) {
    if (metrics_) metrics_->Observe(name, stage);
    stage = absl::Now();
  };
  absl::Status st = ProduceAndWait(*producer_, std::move(records));
  done("produce");
  if (st.ok()) {
    st = producer_->SendOffsetsToTransaction(consumer_->handle(), options_.consumer.topic,
                                             batch.next_offset, options_.commit_timeout);
    done("offsets");
  }
  if (st.ok()) {
    st = producer_->CommitTransaction(options_.commit_timeout);
    if (absl::IsUnavailable(st)) st = producer_->CommitTransaction(options_.commit_timeout);
    done("commit");
  }
  if (!st.ok()) {
    log::Warn(options_.logger, "transaction not committed; aborted and retried",
              {{"error", st.ToString()}});
    if (absl::IsFailedPrecondition(st)) {
      Fatal(st);
      return st;
    }
    AbortTransaction(counts);
    return st;
  }
  // Each partition the transaction wrote ends with its commit marker, which takes an offset.
  return WriteLocal(batch, counts, /*markers=*/1);
}

void StatefulRuntime::AbortTransaction(const std::vector<std::map<int32_t, int64_t>>& counts) {
  if (auto st = producer_->AbortTransaction(options_.commit_timeout); !st.ok()) {
    log::Warn(options_.logger, "transaction abort failed", {{"error", st.ToString()}});
    if (absl::IsFailedPrecondition(st)) Fatal(st);
  }
  for (const auto& c : counts) changelog_->Resync(c);
}

void StatefulRuntime::Fatal(const absl::Status& status) {
  if (absl::IsDataLoss(status) && store_ != nullptr) store_->MarkCorrupt(status);
  log::Error(options_.logger,
             absl::IsFailedPrecondition(status)
                 ? "the batch producer is fenced or failed for good (another replica with the "
                   "same instance id?); stopping"
             : absl::IsDataLoss(status)
                 ? "state store corrupt; stopping (it is rebuilt from the changelog at the next "
                   "start)"
                 : "state write failed; stopping",
             {{"error", status.ToString()}});
  fatal_ns_ = absl::ToUnixNanos(absl::Now());
  healthy_ = false;
  stop_ = true;
}

}  // namespace earshot::kafka
