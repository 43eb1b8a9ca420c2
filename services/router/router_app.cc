#include "services/router/router_app.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "boost/asio/post.hpp"
#include "boost/asio/thread_pool.hpp"
#include "fmt/format.h"
#include "librdkafka/rdkafka.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "services/common/base/log.h"
#include "services/common/base/status.h"
#include "services/common/base/strings.h"
#include "services/common/kafka/cloud_event.h"
#include "services/common/kafka/errors.h"
#include "services/common/kafka/options.h"
#include "services/common/kafka/topics.h"
#include "services/common/names/names.h"
#include "services/common/store/kv_view.h"
#include "services/common/store/store_metrics.h"
#include "services/common/store/stored_proto.h"
#include "services/router/threads_service.h"

namespace earshot::router {

// The receive time each input partition has reached: the newest `received_at` this process
// has written there. The loop thread advances it after each batch; RocksDB's compaction
// threads read it through the dedup filter.
class DedupClock {
 public:
  // How far `received_at` may go back within one partition (gateway replicas' clocks, producer
  // retries); keys are kept this much longer.
  static constexpr absl::Duration kSkew = absl::Hours(1);

  void Advance(int32_t partition, absl::Time received) {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = newest_.emplace(partition, received);
    if (!inserted && received > it->second) it->second = received;
  }

  // Per partition, the time up to which a key may have expired: no record still to come is
  // received before it. Partitions this process has not written yet keep every key.
  std::map<int32_t, absl::Time> Horizons() const {
    const absl::Time now = absl::Now();
    absl::MutexLock lock(&mu_);
    std::map<int32_t, absl::Time> out;
    for (const auto& [p, t] : newest_) out[p] = std::min(t - kSkew, now);
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<int32_t, absl::Time> newest_ ABSL_GUARDED_BY(mu_);
};

namespace {

constexpr char kLogger[] = "router";
// How often a batch looks for threads past router.thread_ttl: often enough that an expired
// thread goes within minutes, rarely enough that the index scans cost nothing.
constexpr absl::Duration kExpireEvery = absl::Minutes(1);
// The checkpoints of the changelog (kafka/changelog.h); its own writes are not changelogged.
constexpr char kChangelogCf[] = "changelog";

// Drops deduplication keys whose window has passed, so expiry costs no scans. "Passed" is
// judged on the receive time the key's partition has reached, as RouterCore::Apply judges a
// redelivery, never on the wall clock: otherwise a replay or a catch-up of records older than
// the window loses keys it still needs, and the state depends on when RocksDB compacted (each
// restart after a crash flushes the recovered WAL, so a crashed router compacts sooner).
class DedupFilter : public rocksdb::CompactionFilter {
 public:
  explicit DedupFilter(std::map<int32_t, absl::Time> horizons) : horizons_(std::move(horizons)) {}
  bool Filter(int, const rocksdb::Slice& key, const rocksdb::Slice& value, std::string*,
              bool*) const override {
    if (key.size() < 4) return false;
    auto it = horizons_.find(
        static_cast<int32_t>(store::ReadBigEndian32(std::string_view(key.data(), 4))));
    return it != horizons_.end() &&
           DedupExpired(std::string_view(value.data(), value.size()), it->second);
  }
  const char* Name() const override { return "earshot.DedupFilter"; }

 private:
  const std::map<int32_t, absl::Time> horizons_;  // taken when the compaction starts
};

class DedupFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  explicit DedupFilterFactory(std::shared_ptr<const DedupClock> clock) : clock_(std::move(clock)) {}
  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context&) override {
    return std::make_unique<DedupFilter>(clock_->Horizons());
  }
  const char* Name() const override { return "earshot.DedupFilterFactory"; }

 private:
  std::shared_ptr<const DedupClock> clock_;
};

}  // namespace

kafka::Record RoutedRecord(const earshot::v1::RoutedEvent& routed, const std::string& topic) {
  const auto& e = routed.event();
  return kafka::ProtoRecord(topic, e.thread_key(), routed,
                            {e.event_id(), "/earshot/router", "earshot.v1.RoutedEvent",
                             e.has_created_at() ? e.created_at() : e.received_at()});
}

struct RouterApp::Metrics {
  explicit Metrics(prometheus::Registry& r) : registry(r), rocksdb(r, "router") {
    auto& events = prometheus::BuildCounter()
                       .Name("earshot_router_events_total")
                       .Help("Events consumed, by result (routed, duplicate, invalid)")
                       .Register(r);
    routed = &events.Add({{"result", "routed"}});
    duplicates = &events.Add({{"result", "duplicate"}});
    invalid = &events.Add({{"result", "invalid"}});
    by_queue = &prometheus::BuildCounter()
                    .Name("earshot_router_routed_events_total")
                    .Help("Routed events by queue and priority")
                    .Register(r);
    auto& threads_f = prometheus::BuildGauge()
                          .Name("earshot_router_threads")
                          .Help("Threads in the partitions this instance owns, by status")
                          .Register(r);
    for (auto s : {earshot::v1::THREAD_STATUS_AWAITING_REPLY, earshot::v1::THREAD_STATUS_ANSWERED,
                   earshot::v1::THREAD_STATUS_RESOLVED}) {
      std::string name = earshot::v1::ThreadStatus_Name(s).substr(14);  // after THREAD_STATUS_
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      threads[s] = &threads_f.Add({{"status", name}});
    }
    lag = &prometheus::BuildGauge()
               .Name("earshot_router_consumer_lag")
               .Help("Records of earshot.events.v1 not yet applied, by partition")
               .Register(r);
    batch = &prometheus::BuildHistogram()
                 .Name("earshot_router_batch_duration_seconds")
                 .Help("Time to apply, produce and commit one batch")
                 .Register(r)
                 .Add({}, LatencyBuckets());
    auto gauge = [&r](const char* name, const char* help) {
      return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
    };
    rules = gauge("earshot_router_rules", "Rules in the loaded rule set");
    auto& erased_f = prometheus::BuildCounter()
                         .Name("earshot_router_threads_erased_total")
                         .Help(
                             "Threads whose customer data was erased (reason erase: on "
                             "request; expired: idle past router.thread_ttl)")
                         .Register(r);
    erased = &erased_f.Add({{"reason", "erase"}});
    expired = &erased_f.Add({{"reason", "expired"}});
  }

  prometheus::Counter& Queue(const std::string& queue, earshot::v1::Priority p) {
    auto key = std::make_pair(queue, static_cast<int>(p));
    auto it = queue_counters.find(key);
    if (it == queue_counters.end()) {
      it = queue_counters
               .emplace(key, &by_queue->Add(
                                 {{"queue", queue}, {"priority", std::string(names::Priority(p))}}))
               .first;
    }
    return *it->second;
  }

  prometheus::Registry& registry;
  prometheus::Counter* routed;
  prometheus::Counter* duplicates;
  prometheus::Counter* invalid;
  prometheus::Family<prometheus::Counter>* by_queue;
  std::map<std::pair<std::string, int>, prometheus::Counter*> queue_counters;  // loop thread
  std::map<int, prometheus::Gauge*> threads;
  prometheus::Family<prometheus::Gauge>* lag;
  std::map<int32_t, prometheus::Gauge*> lag_by_partition;
  prometheus::Histogram* batch;
  prometheus::Gauge* rules;
  prometheus::Counter* erased;
  prometheus::Counter* expired;
  store::StoreMetrics rocksdb;
};

// router.peers: the replicas the Threads API asks for threads of other partitions. With gRPC
// TLS, peers are called over TLS with this replica's own certificate (it is every replica's),
// trusting router.peers_ca_file (default grpc.tls.client_ca_file) and expecting the name
// router.peers_tls_name on the peers' certificates. With principals, peers are called with the
// token in router.peers_token_file (read at start), of a principal holding threads:forward.
static absl::StatusOr<std::unique_ptr<Peers>> PeersFromConfig(const Config& config) {
  PeersOptions o;
  o.targets = config.GetList("router.peers");
  o.timeout = config.GetDuration("router.peer_timeout", o.timeout);
  if (const std::string path = config.GetString("router.peers_token_file", ""); !path.empty()) {
    std::ifstream in(path);
    if (!in) return absl::InvalidArgumentError("cannot read router.peers_token_file " + path);
    o.token = std::string(std::istreambuf_iterator<char>(in), {});
    o.token = std::string(ToStd(absl::StripAsciiWhitespace(o.token)));
  }
  const std::string cert = config.GetString("grpc.tls.cert_file", "");
  if (!o.targets.empty() && !cert.empty()) {
    auto read = [](const std::string& path) -> absl::StatusOr<std::string> {
      std::ifstream in(path);
      if (!in) return absl::InvalidArgumentError("cannot read " + path);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    grpc::SslCredentialsOptions ssl;
    const std::string ca =
        config.GetString("router.peers_ca_file", config.GetString("grpc.tls.client_ca_file", ""));
    if (!ca.empty()) {
      auto pem = read(ca);
      if (!pem.ok()) return pem.status();
      ssl.pem_root_certs = *pem;
    }
    auto chain = read(cert);
    if (!chain.ok()) return chain.status();
    auto key = read(config.GetString("grpc.tls.key_file", ""));
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *chain;
    ssl.pem_private_key = *key;
    o.credentials = grpc::SslCredentials(ssl);
    o.tls_target_name = config.GetString("router.peers_tls_name", "");
  }
  if (auto st = config.status(); !st.ok()) return st;
  return std::make_unique<Peers>(std::move(o));
}

// The part of a batch on the partitions one thread applies (partition % lanes): its own view
// over RocksDB, partition records and output. Lanes touch disjoint keys, since every key starts
// with its partition, and each lane writes its partitions' state and offsets in one RocksDB
// write, so a partition's state and offset still commit together. Defined before the
// constructor, which needs it whole for lanes_.
struct RouterApp::Lane {
  explicit Lane(store::Store* store) : view(store) {}

  std::vector<const rd_kafka_message_t*> msgs;
  std::vector<int32_t> expire;  // partitions to expire idle threads of, this batch
  store::OverlayView view;
  PartitionStates partitions;
  std::vector<kafka::Record> records;
  std::map<int32_t, absl::Time> newest_received;
  std::map<int32_t, const rd_kafka_message_t*> last;  // per partition, the last record applied
  int duplicates = 0;
  int invalid = 0;
  int erased = 0;
  int expired = 0;
  std::vector<std::pair<std::string, earshot::v1::Priority>> queues;
  absl::Status commit_status;
};

RouterApp::RouterApp() : dedup_clock_(std::make_shared<DedupClock>()) {}
RouterApp::~RouterApp() { Stop(); }

absl::Status RouterApp::Start(const ServiceContext& ctx, grpc::ServerBuilder& grpc) {
  const Config& config = ctx.config;
  options_.events_topic = config.GetString("kafka.topics.events", options_.events_topic);
  options_.routed_topic = config.GetString("kafka.topics.routed", options_.routed_topic);
  options_.audit_topic = config.GetString("kafka.topics.audit", options_.audit_topic);
  options_.group_id = config.GetString("router.group_id", options_.group_id);
  options_.rules_file = config.GetString("router.rules_file", "");
  options_.batch_max = static_cast<int>(config.GetInt("router.batch_max", options_.batch_max));
  options_.batch_wait = config.GetDuration("router.batch_wait", options_.batch_wait);
  options_.apply_threads =
      static_cast<int>(config.GetInt("router.apply_threads", options_.apply_threads));
  options_.core.dedup_window =
      config.GetDuration("router.dedup_window", options_.core.dedup_window);
  options_.core.thread_ttl = config.GetDuration("router.thread_ttl", options_.core.thread_ttl);
  clock_ = &ctx.clock;
  options_.changelog_topic = kafka::RouterStateTopic(config);
  store::StoreOptions store_options;
  store_options.path = config.GetString("router.state_dir", ctx.data_dir + "/router");
  // The changelog holds the state: a corrupt local copy is moved aside and restored from it.
  store_options.rebuild_if_corrupt = config.GetBool("router.rebuild_corrupt_state", true);
  store_options.block_cache_bytes =
      static_cast<size_t>(config.GetInt("router.block_cache_bytes", 64 << 20));
  store_options.write_buffer_bytes =
      static_cast<size_t>(config.GetInt("router.write_buffer_bytes", 16 << 20));
  store_options.sync_writes = config.GetBool("router.sync_writes", false);
  kafka::ProducerOptions producer_options =
      kafka::ProducerOptionsFromConfig(config, ctx.kafka_bootstrap);
  producer_options.client_id = "earshot-router";
  producer_options.metrics_prefix = "earshot_router";
  kafka::ConsumerOptions consumer_options =
      kafka::ConsumerOptionsFromConfig(config, ctx.kafka_bootstrap, options_.group_id);
  if (auto st = config.status(); !st.ok()) return st;
  if (options_.core.thread_ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("router.thread_ttl: must not be negative (0 disables)");
  }
  if (options_.apply_threads < 1 || options_.apply_threads > 64) {
    return absl::InvalidArgumentError(
        fmt::format("router.apply_threads: {} is not in 1..64", options_.apply_threads));
  }

  std::shared_ptr<const RuleSet> rules;
  if (options_.rules_file.empty()) {
    rules = RuleSet::Default();
  } else {
    auto loaded = RuleSet::LoadFile(options_.rules_file);
    if (!loaded.ok()) return loaded.status();
    rules = std::move(*loaded);
  }
  {
    absl::MutexLock lock(&mu_);
    rules_ = rules;
  }

  store_options.column_families =
      ColumnFamilies(std::make_shared<DedupFilterFactory>(dedup_clock_));
  store_options.column_families.push_back({kChangelogCf});
  auto store = store::Store::Open(store_options);
  if (!store.ok()) return store.status();
  store_ = std::move(*store);
  if (auto upgraded = UpgradeQueueIndex(*store_); !upgraded.ok()) return upgraded;

  kafka::ProducerOptions control = producer_options;
  control.client_id = "earshot-router-control";
  control.metrics_prefix = "earshot_router_control";
  auto producer = kafka::Producer::Create(control, &ctx.registry);
  if (!producer.ok()) return producer.status();
  producer_ = std::move(*producer);
  core_ = std::make_unique<RouterCore>(options_.core);
  if (options_.apply_threads > 1) {
    lane_pool_ = std::make_unique<boost::asio::thread_pool>(options_.apply_threads - 1);
  }
  metrics_ = std::make_unique<Metrics>(ctx.registry);
  metrics_->rules->Set(static_cast<double>(rules->rule_count()));
  // Every queue the rules name, at 0 before its first event (dashboards show 0, not "no data");
  // before the loop starts, the only other user of these counters.
  for (const std::string& queue : rules->queues()) {
    for (const auto& p : names::kPriorities) metrics_->Queue(queue, p.value);
  }

  // The stateful loop: cooperative-sticky, state restored from the changelog and offsets read
  // from RocksDB on every assignment.
  kafka::StatefulRuntimeOptions runtime;
  runtime.consumer.consumer = consumer_options;
  runtime.consumer.topic = options_.events_topic;
  runtime.consumer.batch_max = options_.batch_max;
  runtime.consumer.batch_wait = options_.batch_wait;
  runtime.changelog.topic = options_.changelog_topic;
  runtime.changelog.checkpoint_cf = kChangelogCf;
  for (const auto& cf : ColumnFamilies(nullptr)) runtime.changelog.state_cfs.push_back(cf.name);
  runtime.producer = producer_options;
  if (auto st = kafka::RuntimeSettingsFromConfig(config, "router", &ctx.registry, &runtime);
      !st.ok()) {
    return st;
  }
  auto made = kafka::StatefulRuntime::Create(std::move(runtime), store_.get(), this);
  if (!made.ok()) return made.status();
  runtime_ = std::move(*made);
  partition_count_ = runtime_->partition_count();

  auto peers = PeersFromConfig(config);
  if (!peers.ok()) return peers.status();
  ThreadsBackend backend;
  backend.store = store_.get();
  backend.producer = producer_.get();
  backend.events_topic = options_.events_topic;
  backend.audit_topic = options_.audit_topic;
  backend.partition_count = partition_count_;
  backend.owned_partitions = [this] { return OwnedPartitions(); };
  threads_service_ =
      std::make_unique<ThreadsService>(std::move(backend), std::move(*peers), ctx.auth);
  grpc.RegisterService(threads_service_.get());
  runtime_->AddHealthChecks(ctx.health, "router");
  runtime_->Start();
  log::Info(kLogger, "started",
            {{"rules", static_cast<int64_t>(rules->rule_count())},
             {"state_dir", store_options.path},
             {"partitions", partition_count_}});
  return absl::OkStatus();
}

void RouterApp::Stop() {
  if (!store_) return;
  // Finishes the batch in hand (committed), then leaves the group (revokes through OnRevoked).
  if (runtime_) runtime_->Stop();
  runtime_.reset();
  lane_pool_.reset();  // idle: every batch waits for its lanes
  lanes_.clear();
  producer_.reset();
  threads_service_.reset();
  store_.reset();
  log::Info(kLogger, "stopped", {{"applied", applied_.load()}});
}

void RouterApp::Reload() {
  if (options_.rules_file.empty()) return;
  auto loaded = RuleSet::LoadFile(options_.rules_file);
  if (!loaded.ok()) {
    log::Error(kLogger, "rules not reloaded; the old rules stay in force",
               {{"error", loaded.status().ToString()}});
    return;
  }
  const auto count = static_cast<int64_t>((*loaded)->rule_count());
  {
    absl::MutexLock lock(&mu_);
    rules_ = std::move(*loaded);
  }
  metrics_->rules->Set(static_cast<double>(count));
  log::Info(kLogger, "rules reloaded", {{"rules", count}, {"file", options_.rules_file}});
}

std::shared_ptr<const RuleSet> RouterApp::rules() const {
  absl::MutexLock lock(&mu_);
  return rules_;
}

std::set<int32_t> RouterApp::OwnedPartitions() const {
  absl::MutexLock lock(&mu_);
  std::set<int32_t> out;
  for (const auto& [p, _] : owned_) out.insert(p);
  return out;
}

absl::StatusOr<std::optional<kafka::StoredPosition>> RouterApp::Position(int32_t p) {
  auto stored = store_->Get(CfName(Cf::kPartitions), PartitionPrefix(p));
  if (!stored.ok()) return stored.status();
  earshot::v1::RouterPartitionState state;
  if (stored->has_value() && !state.ParseFromString(**stored)) {
    return absl::DataLossError(fmt::format("partition {}: unreadable partition record", p));
  }
  {
    absl::MutexLock lock(&mu_);
    owned_[p] = state;
  }
  if (!stored->has_value()) return std::optional<kafka::StoredPosition>();
  kafka::StoredPosition position;
  position.next_offset = state.next_offset();  // right after the last applied record
  if (state.has_last_record()) position.last_record = state.last_record();
  return std::optional<kafka::StoredPosition>(std::move(position));
}

void RouterApp::OnAssigned(int32_t p) {
  // Its lag is known from now on (Periodic sets it): 0 until then, not absent. Loop thread.
  auto& g = metrics_->lag_by_partition[p];
  if (g == nullptr) g = &metrics_->lag->Add({{"partition", std::to_string(p)}});
}

void RouterApp::OnRevoked(int32_t p) {
  absl::MutexLock lock(&mu_);
  owned_.erase(p);
}

void RouterApp::ForEachLane(std::vector<Lane>& lanes, absl::FunctionRef<void(Lane&)> body) {
  // Lanes without events have nothing to apply or write (a light load's batch of one event).
  std::vector<Lane*> busy;
  for (Lane& lane : lanes) {
    if (!lane.msgs.empty() || !lane.expire.empty()) busy.push_back(&lane);
  }
  if (busy.empty()) return;
  absl::BlockingCounter done(static_cast<int>(busy.size()) - 1);
  for (size_t i = 1; i < busy.size(); ++i) {
    boost::asio::post(*lane_pool_, [&, i] {
      body(*busy[i]);
      done.DecrementCount();
    });
  }
  body(*busy[0]);
  done.Wait();
}

void RouterApp::ApplyLane(Lane& lane, const RuleSet& rules, absl::Time now) {
  for (const rd_kafka_message_t* m : lane.msgs) {
    earshot::v1::Event event;
    if (!event.ParseFromArray(m->payload, static_cast<int>(m->len)) || event.event_id().empty()) {
      ++lane.invalid;
      lane.partitions.Load(m->partition, lane.view)->set_next_offset(m->offset + 1);  // consumed
      lane.last[m->partition] = m;
      continue;
    }
    const absl::Time received = absl::FromUnixSeconds(event.received_at().seconds()) +
                                absl::Nanoseconds(event.received_at().nanos());
    if (auto [it, inserted] = lane.newest_received.emplace(m->partition, received);
        !inserted && received > it->second) {
      it->second = received;
    }
    ApplyResult result =
        core_->Apply(m->partition, m->offset, event, rules, lane.view, lane.partitions);
    lane.last[m->partition] = m;
    if (result.duplicate) {
      ++lane.duplicates;
    } else if (result.routed) {
      if (result.erased) {
        ++lane.erased;
      } else {
        lane.queues.emplace_back(result.routed->decision().queue(),
                                 result.routed->decision().priority());
      }
      lane.records.push_back(RoutedRecord(*result.routed, options_.routed_topic));
    }
  }
  for (int32_t p : lane.expire) {
    for (const auto& routed : core_->Expire(p, now, lane.view, lane.partitions)) {
      ++lane.expired;
      lane.records.push_back(RoutedRecord(routed, options_.routed_topic));
    }
  }
  for (const auto& [p, m] : lane.last) {
    *lane.partitions.Load(p, lane.view)->mutable_last_record() = runtime_->Mark(m);
  }
  lane.partitions.Flush(lane.view);
}

absl::Status RouterApp::Apply(kafka::StatefulBatch& batch) {
  lanes_.clear();
  const absl::Time now = clock_->Now();
  const bool expire = options_.core.thread_ttl > absl::ZeroDuration() && now >= next_expiry_;
  if (batch.records.empty() && !expire) return absl::OkStatus();
  batch_started_ = absl::Now();
  std::shared_ptr<const RuleSet> rules = this->rules();
  lanes_.reserve(options_.apply_threads);
  for (int i = 0; i < options_.apply_threads; ++i) lanes_.emplace_back(store_.get());
  for (const auto& m : batch.records) lanes_[m->partition % lanes_.size()].msgs.push_back(m.get());
  if (expire) {
    next_expiry_ = now + kExpireEvery;
    for (int32_t p : OwnedPartitions()) lanes_[p % lanes_.size()].expire.push_back(p);
  }
  ForEachLane(lanes_, [&](Lane& lane) { ApplyLane(lane, *rules, now); });
  for (Lane& lane : lanes_) {
    if (!lane.view.error().ok()) return lane.view.error();
    std::move(lane.records.begin(), lane.records.end(), std::back_inserter(batch.output));
    if (!lane.msgs.empty() || !lane.expire.empty()) batch.views.push_back(&lane.view);
  }
  return absl::OkStatus();
}

absl::Status RouterApp::WriteViews(kafka::StatefulBatch&) {
  // RocksDB groups the lanes' writes into one log write (the hash memtables take one writer at a
  // time, so the memtable inserts are serial).
  ForEachLane(lanes_, [](Lane& lane) { lane.commit_status = lane.view.Commit(); });
  for (const Lane& lane : lanes_) {
    if (!lane.commit_status.ok()) return lane.commit_status;
  }
  return absl::OkStatus();
}

void RouterApp::Committed(const kafka::StatefulBatch& batch) {
  int duplicates = 0;
  int invalid = 0;
  int erased = 0;
  int expired = 0;
  size_t routed = 0;
  for (const Lane& lane : lanes_) {
    for (const auto& [p, received] : lane.newest_received) dedup_clock_->Advance(p, received);
    duplicates += lane.duplicates;
    invalid += lane.invalid;
    erased += lane.erased;
    expired += lane.expired;
    routed += lane.queues.size();
  }
  {
    // Keep the in-memory copy of each partition's counts current for the metrics.
    std::set<int32_t> written;
    for (const auto& [p, _] : batch.first_offset) written.insert(p);
    for (const Lane& lane : lanes_) written.insert(lane.expire.begin(), lane.expire.end());
    absl::MutexLock lock(&mu_);
    for (int32_t p : written) {
      const Lane& lane = lanes_[p % lanes_.size()];
      if (auto value = lane.view.Written(CfName(Cf::kPartitions), PartitionPrefix(p));
          value && owned_.count(p) > 0) {
        store::ParseStored(&owned_[p], *value, "router partition record");
      }
    }
  }
  applied_ += static_cast<int64_t>(batch.records.size());
  metrics_->routed->Increment(static_cast<double>(routed));
  metrics_->duplicates->Increment(duplicates);
  metrics_->invalid->Increment(invalid);
  metrics_->erased->Increment(erased);
  metrics_->expired->Increment(expired);
  for (const Lane& lane : lanes_) {
    for (const auto& [q, p] : lane.queues) metrics_->Queue(q, p).Increment();
  }
  metrics_->batch->Observe(absl::ToDoubleSeconds(absl::Now() - batch_started_));
  lanes_.clear();
}

void RouterApp::Periodic() {
  std::map<int32_t, earshot::v1::RouterPartitionState> owned;
  {
    absl::MutexLock lock(&mu_);
    owned = owned_;
  }
  // A partition that moved away is another replica's to report.
  for (auto it = metrics_->lag_by_partition.begin(); it != metrics_->lag_by_partition.end();) {
    if (owned.contains(it->first)) {
      ++it;
    } else {
      metrics_->lag->Remove(it->second);
      it = metrics_->lag_by_partition.erase(it);
    }
  }
  std::map<int, int64_t> totals;
  for (const auto& [p, state] : owned) {
    for (const auto& [status, count] : state.threads_by_status()) totals[status] += count;
    if (const int64_t lag = runtime_->Lag(p, state.next_offset()); lag >= 0) {
      auto& g = metrics_->lag_by_partition[p];
      if (g == nullptr) g = &metrics_->lag->Add({{"partition", std::to_string(p)}});
      g->Set(static_cast<double>(lag));
    }
  }
  for (auto& [status, gauge] : metrics_->threads) gauge->Set(static_cast<double>(totals[status]));
  metrics_->rocksdb.Update(store_->Stats());
}

}  // namespace earshot::router
