#include "services/sla/sla_app.h"

#include <algorithm>

#include "absl/synchronization/notification.h"
#include "fmt/format.h"
#include "librdkafka/rdkafka.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "services/common/base/log.h"
#include "services/common/kafka/cloud_event.h"
#include "services/common/kafka/options.h"
#include "services/common/kafka/topics.h"
#include "services/common/names/names.h"
#include "services/common/store/kv_view.h"
#include "services/common/store/store_metrics.h"
#include "services/common/store/stored_proto.h"
#include "services/router/rules.h"

namespace earshot::sla {
namespace {

constexpr char kLogger[] = "sla";
// The checkpoints of the changelog (kafka/changelog.h); its own writes are not changelogged.
constexpr char kChangelogCf[] = "changelog";

kafka::Record AlertRecord(const earshot::v1::Alert& a, const std::string& topic) {
  const bool firing = a.state() == earshot::v1::ALERT_STATE_FIRING;
  return kafka::ProtoRecord(
      topic, a.thread_key(), a,
      {fmt::format("{}|{}", a.alert_id(), firing ? "firing" : "resolved"), "/earshot/sla",
       "earshot.v1.Alert",
       a.state() == earshot::v1::ALERT_STATE_RESOLVED ? a.resolved_at() : a.fired_at()});
}

// The queues the routing rules name (router.rules_file, which a whole stack's config shares), for
// the per-queue series exported at 0; the default rules' queue when the file is not here.
std::vector<std::string> KnownQueues(const Config& config) {
  const std::string file = config.GetString("router.rules_file", "");
  if (!file.empty()) {
    if (auto rules = router::RuleSet::LoadFile(file); rules.ok()) return (*rules)->queues();
  }
  return router::RuleSet::Default()->queues();
}

prometheus::Histogram::BucketBoundaries ResponseBuckets() {
  return {30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800};
}

}  // namespace

struct SlaApp::Metrics {
  explicit Metrics(prometheus::Registry& r) : rocksdb(r, "sla") {
    waiting = &prometheus::BuildGauge()
                   .Name("earshot_sla_waiting_conversations")
                   .Help(
                       "Conversations waiting for the brand's answer, by queue, platform, "
                       "priority")
                   .Register(r);
    oldest = &prometheus::BuildGauge()
                  .Name("earshot_sla_oldest_wait_seconds")
                  .Help("Age of the oldest unanswered customer message")
                  .Register(r)
                  .Add({});
    open_clocks = &prometheus::BuildGauge()
                       .Name("earshot_sla_open_clocks")
                       .Help("Open response-time clocks in the partitions this instance owns")
                       .Register(r)
                       .Add({});
    timers = &prometheus::BuildGauge()
                  .Name("earshot_sla_timers_in_memory")
                  .Help("Timers due within the horizon, held in memory")
                  .Register(r)
                  .Add({});
    first_response = &prometheus::BuildHistogram()
                          .Name("earshot_sla_first_response_seconds")
                          .Help(
                              "Time from a customer's first message to the brand's first "
                              "answer, by queue")
                          .Register(r);
    next_response = &prometheus::BuildHistogram()
                         .Name("earshot_sla_next_response_seconds")
                         .Help(
                             "Time from the oldest unanswered message after an answer to the "
                             "next answer, by queue")
                         .Register(r);
    answered = &prometheus::BuildCounter()
                    .Name("earshot_sla_answered_total")
                    .Help("Answered waits, by queue and result (within_target, breached)")
                    .Register(r);
    alerts = &prometheus::BuildCounter()
                  .Name("earshot_sla_alerts_total")
                  .Help("Alerts published to earshot.alerts.v1, by name and state")
                  .Register(r);
    auto& sent = prometheus::BuildCounter()
                     .Name("earshot_sla_alerts_sent_total")
                     .Help("Alerts delivered, by sink")
                     .Register(r);
    auto& failed = prometheus::BuildCounter()
                       .Name("earshot_sla_alerts_failed_total")
                       .Help("Alert deliveries that failed (retried), by sink")
                       .Register(r);
    kafka_sent = &sent.Add({{"sink", "kafka"}});
    kafka_failed = &failed.Add({{"sink", "kafka"}});
    delay = &prometheus::BuildHistogram()
                 .Name("earshot_sla_alert_delay_seconds")
                 .Help("Time from a level's due time to its alert")
                 .Register(r)
                 .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                  1, 2.5, 5, 10, 60});
    lag = &prometheus::BuildGauge()
               .Name("earshot_sla_consumer_lag")
               .Help("Records of earshot.routed.v1 not yet applied, by partition")
               .Register(r);
    watch_leader = &prometheus::BuildGauge()
                        .Name("earshot_sla_channel_watch_leader")
                        .Help(
                            "1 on the replica that runs the channel watch (surges, silence): "
                            "the owner of input partition 0")
                        .Register(r)
                        .Add({});
    watch_events = &prometheus::BuildCounter()
                        .Name("earshot_sla_channel_watch_events_total")
                        .Help("Routed events the channel watch observed, from every partition")
                        .Register(r)
                        .Add({});
    policies = &prometheus::BuildGauge()
                    .Name("earshot_sla_policies")
                    .Help("Policies in the loaded policy file")
                    .Register(r)
                    .Add({});
  }

  // Every label set known before traffic, at 0: the queues the routing rules name, each with
  // every platform, priority and result, and every alert name and state. Dashboards and rules
  // then show 0 instead of "no data".
  void Known(const std::vector<std::string>& queues) {
    for (const std::string& q : queues) {
      Cached(first_by_queue, *first_response, {{"queue", q}}, q, ResponseBuckets());
      Cached(next_by_queue, *next_response, {{"queue", q}}, q, ResponseBuckets());
      for (const char* result : {"within_target", "breached"}) {
        Cached(answered_by, *answered, {{"queue", q}, {"result", result}}, q + "|" + result);
      }
      for (const auto& platform : names::kPlatforms) {
        for (const auto& priority : names::kPriorities)
          Waiting({q, platform.value, priority.value});
      }
    }
    for (int level = earshot::v1::ALERT_LEVEL_WARNING; level <= earshot::v1::AlertLevel_MAX;
         ++level) {
      const std::string name = AlertName(static_cast<earshot::v1::AlertLevel>(level));
      for (const char* state : {"firing", "resolved"}) {
        Cached(alerts_by, *alerts, {{"name", name}, {"state", state}}, name + state);
      }
    }
  }

  // The waiting-conversations gauge of one queue, platform and priority.
  prometheus::Gauge& Waiting(const WaitingKey& k) {
    return Cached(waiting_by, *waiting,
                  {{"queue", k.queue},
                   {"platform", std::string(names::Platform(k.platform))},
                   {"priority", std::string(names::Priority(k.priority))}},
                  k.Encode());
  }

  template <typename T>
  static T& Cached(std::map<std::string, T*>& cache, prometheus::Family<T>& family,
                   const std::map<std::string, std::string>& labels, const std::string& key,
                   auto&&... extra) {
    auto it = cache.find(key);
    if (it == cache.end()) it = cache.emplace(key, &family.Add(labels, extra...)).first;
    return *it->second;
  }

  prometheus::Family<prometheus::Gauge>* waiting;
  std::map<std::string, prometheus::Gauge*> waiting_by;
  prometheus::Gauge* oldest;
  prometheus::Gauge* open_clocks;
  prometheus::Gauge* timers;
  prometheus::Family<prometheus::Histogram>* first_response;
  prometheus::Family<prometheus::Histogram>* next_response;
  std::map<std::string, prometheus::Histogram*> first_by_queue, next_by_queue;
  prometheus::Family<prometheus::Counter>* answered;
  std::map<std::string, prometheus::Counter*> answered_by;
  prometheus::Family<prometheus::Counter>* alerts;
  std::map<std::string, prometheus::Counter*> alerts_by;
  prometheus::Counter* kafka_sent;
  prometheus::Counter* kafka_failed;
  prometheus::Histogram* delay;
  prometheus::Family<prometheus::Gauge>* lag;
  std::map<std::string, prometheus::Gauge*> lag_by;
  prometheus::Gauge* watch_leader;
  prometheus::Counter* watch_events;
  prometheus::Gauge* policies;
  store::StoreMetrics rocksdb;
};

SlaApp::SlaApp() = default;
SlaApp::~SlaApp() { Stop(); }

absl::Status SlaApp::Start(const ServiceContext& ctx, grpc::ServerBuilder& grpc) {
  const Config& config = ctx.config;
  clock_ = &ctx.clock;
  policies_file_ = config.GetString("sla.policies_file", "");
  alerts_topic_ = config.GetString("kafka.topics.alerts", alerts_topic_);
  horizon_ = config.GetDuration("sla.horizon", horizon_);

  kafka::StatefulRuntimeOptions runtime;
  runtime.consumer.consumer = kafka::ConsumerOptionsFromConfig(
      config, ctx.kafka_bootstrap, config.GetString("sla.group_id", "earshot-sla"));
  runtime.consumer.topic = config.GetString("kafka.topics.routed", "earshot.routed.v1");
  runtime.consumer.batch_max = static_cast<int>(config.GetInt("sla.batch_max", 1000));
  runtime.consumer.batch_wait = config.GetDuration("sla.batch_wait", absl::Milliseconds(5));
  routed_topic_ = runtime.consumer.topic;
  watch_consumer_ = runtime.consumer.consumer;
  watch_consumer_.client_id = "earshot-sla-watch";

  store::StoreOptions store_options;
  store_options.path = config.GetString("sla.state_dir", ctx.data_dir + "/sla");
  // The changelog holds the state: a corrupt local copy is moved aside and restored from it.
  store_options.rebuild_if_corrupt = config.GetBool("sla.rebuild_corrupt_state", true);
  store_options.block_cache_bytes =
      static_cast<size_t>(config.GetInt("sla.block_cache_bytes", 64 << 20));
  store_options.write_buffer_bytes =
      static_cast<size_t>(config.GetInt("sla.write_buffer_bytes", 16 << 20));
  store_options.column_families = ColumnFamilies();
  store_options.column_families.push_back({kChangelogCf});
  runtime.changelog.topic = kafka::SlaStateTopic(config);
  runtime.changelog.checkpoint_cf = kChangelogCf;
  for (const auto& cf : ColumnFamilies()) runtime.changelog.state_cfs.push_back(cf.name);

  AlertmanagerOptions am;
  am.url = config.GetString("alertmanager.url", "");
  am.resend_interval = config.GetDuration("alertmanager.resend_interval", am.resend_interval);
  am.timeout = config.GetDuration("alertmanager.timeout", am.timeout);
  am.max_backoff = config.GetDuration("alertmanager.max_backoff", am.max_backoff);
  am.generator_url = config.GetString("alertmanager.generator_url", "");
  am.customer_data = config.GetBool("alertmanager.customer_data", am.customer_data);

  ChannelWatchOptions& watch = watch_options_;
  watch.surge_window = config.GetDuration("sla.surge.window", watch.surge_window);
  watch.surge_baseline = config.GetDuration("sla.surge.baseline", watch.surge_baseline);
  watch.surge_factor = config.GetDouble("sla.surge.factor", watch.surge_factor);
  watch.surge_min_count =
      static_cast<int>(config.GetInt("sla.surge.min_count", watch.surge_min_count));
  watch.silence_min_events =
      static_cast<int>(config.GetInt("sla.silence.min_events", watch.silence_min_events));
  watch.silence_factor = config.GetDouble("sla.silence.factor", watch.silence_factor);
  watch.silence_min = config.GetDuration("sla.silence.min_silence", watch.silence_min);
  watch_read_max_ = static_cast<int>(config.GetInt("sla.channel_watch.read_max", watch_read_max_));
  watch_checkpoint_interval_ =
      config.GetDuration("sla.channel_watch.checkpoint_interval", watch_checkpoint_interval_);

  kafka::ProducerOptions producer_options =
      kafka::ProducerOptionsFromConfig(config, ctx.kafka_bootstrap);
  producer_options.client_id = "earshot-sla";
  producer_options.metrics_prefix = "earshot_sla";
  // A batch's alerts must fit in the producer's queue with room to spare.
  fire_max_ = static_cast<size_t>(std::clamp(producer_options.queue_max_messages / 4, 1, 10000));
  if (auto st = config.status(); !st.ok()) return st;

  std::shared_ptr<const PolicySet> policies;
  if (policies_file_.empty()) {
    policies = PolicySet::Default();
  } else {
    auto loaded = PolicySet::LoadFile(policies_file_);
    if (!loaded.ok()) return loaded.status();
    policies = std::move(*loaded);
  }
  {
    absl::MutexLock lock(&mu_);
    policies_ = policies;
  }

  auto store = store::Store::Open(store_options);
  if (!store.ok()) return store.status();
  store_ = std::move(*store);
  metrics_ = std::make_unique<Metrics>(ctx.registry);
  metrics_->Known(KnownQueues(config));
  metrics_->policies->Set(static_cast<double>(policies->size()));
  alertmanager_ = std::make_unique<AlertmanagerSink>(am, ctx.registry, *clock_);

  loaded_until_ = clock_->Now() + horizon_;
  runtime.producer = producer_options;
  if (auto st = kafka::RuntimeSettingsFromConfig(config, "sla", &ctx.registry, &runtime);
      !st.ok()) {
    return st;
  }
  auto made = kafka::StatefulRuntime::Create(std::move(runtime), store_.get(), this);
  if (!made.ok()) return made.status();
  runtime_ = std::move(*made);

  runtime_->AddHealthChecks(ctx.health, "sla");
  alertmanager_->Start();
  runtime_->Start();
  log::Info(kLogger, "started",
            {{"policies", static_cast<int64_t>(policies->size())},
             {"state_dir", store_options.path},
             {"alertmanager", am.url}});
  return absl::OkStatus();
}

void SlaApp::Stop() {
  if (!store_) return;
  // Finishes the batch in hand (committed), then leaves the group (revokes through OnRevoked).
  if (runtime_) runtime_->Stop();
  runtime_.reset();
  DropWatch();
  if (alertmanager_) alertmanager_->Stop();
  store_.reset();
  log::Info(kLogger, "stopped", {{"applied", applied_.load()}});
}

void SlaApp::Reload() {
  if (policies_file_.empty()) return;
  auto loaded = PolicySet::LoadFile(policies_file_);
  if (!loaded.ok()) {
    log::Error(kLogger, "policies not reloaded; the old ones stay in force",
               {{"error", loaded.status().ToString()}});
    return;
  }
  const auto count = static_cast<int64_t>((*loaded)->size());
  {
    absl::MutexLock lock(&mu_);
    policies_ = std::move(*loaded);
  }
  metrics_->policies->Set(static_cast<double>(count));
  log::Info(kLogger, "policies reloaded; they apply to waits that start from now on",
            {{"policies", count}});
}

std::shared_ptr<const PolicySet> SlaApp::policies() const {
  absl::MutexLock lock(&mu_);
  return policies_;
}

std::set<int32_t> SlaApp::OwnedPartitions() const {
  absl::MutexLock lock(&mu_);
  std::set<int32_t> out;
  for (const auto& [p, _] : owned_) out.insert(p);
  return out;
}

size_t SlaApp::timers_in_memory() const { return timers_size_.load(); }

void SlaApp::LoadTimers(int32_t partition, absl::Time until) {
  const std::string end = TimerKey(partition, until, "\xff");
  const absl::Status st =
      store_->Scan(kTimers, PartitionPrefix(partition), "", [&](std::string_view key, auto) {
        if (key >= end) return false;
        if (auto t = store::TimedKey::Decode(key)) {
          timers_.emplace(t->at, partition, std::move(t->id));
        }
        return true;
      });
  timers_size_ = timers_.size();
  if (!st.ok()) {
    // Missing timers would be missed alerts: every owned partition is loaded again with the
    // next batch (the timers already in memory stay; a set holds each once).
    log::Error(kLogger, "timers not loaded; loading them again",
               {{"partition", partition}, {"error", st.ToString()}});
    timers_failed_ = true;
  }
}

void SlaApp::Refill() {
  const absl::Time until = clock_->Now() + horizon_;
  timers_failed_ = false;
  for (int32_t p : OwnedPartitions()) LoadTimers(p, until);
  loaded_until_ = until;
}

absl::StatusOr<std::optional<kafka::StoredPosition>> SlaApp::Position(int32_t p) {
  auto v = store_->Get(kPartitions, PartitionPrefix(p));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<kafka::StoredPosition>();
  earshot::v1::SlaPartitionState state;
  if (!state.ParseFromString(**v)) {
    return absl::DataLossError(fmt::format("partition {}: unreadable partition record", p));
  }
  kafka::StoredPosition position;
  position.next_offset = state.next_offset();
  if (state.has_last_record()) position.last_record = state.last_record();
  return std::optional<kafka::StoredPosition>(std::move(position));
}

void SlaApp::OnAssigned(int32_t p) {
  // Its lag is known from now on (Periodic sets it): 0 until then, not absent.
  Metrics::Cached(metrics_->lag_by, *metrics_->lag, {{"partition", std::to_string(p)}},
                  std::to_string(p));
  earshot::v1::SlaPartitionState state;
  if (auto v = store_->Get(kPartitions, PartitionPrefix(p)); v.ok() && v->has_value()) {
    store::ParseStored(&state, **v, "SLA partition record");
  }
  {
    absl::MutexLock lock(&mu_);
    owned_[p] = state;
  }
  // Deadlines that passed while nobody owned the partition fire as soon as the routed events
  // written meanwhile are applied.
  if (const int64_t end = runtime_->AssignedEnd(p); end > state.next_offset()) {
    catching_up_[p] = end;
  } else {
    catching_up_.erase(p);
  }
  LoadTimers(p, clock_->Now() + horizon_);
  // Alerts still firing are re-sent to Alertmanager by their new owner.
  std::vector<earshot::v1::Alert> firing;
  const absl::Status st =
      store_->Scan(kFiring, PartitionPrefix(p), "", [&](std::string_view key, std::string_view v) {
        earshot::v1::Alert a;
        if (a.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          firing.push_back(std::move(a));
        } else {
          log::Warn(kLogger, "skipping an unreadable firing alert",
                    {{"partition", p}, {"alert_id", std::string(key.substr(4))}});
        }
        return true;
      });
  if (!st.ok()) {
    log::Error(kLogger, "firing alerts not read; Alertmanager gets them when they change",
               {{"partition", p}, {"error", st.ToString()}});
  }
  alertmanager_->Restore(firing);
}

void SlaApp::OnRevoked(int32_t p) {
  if (p == kWatchPartition) DropWatch();
  catching_up_.erase(p);
  {
    absl::MutexLock lock(&mu_);
    owned_.erase(p);
  }
  for (auto it = timers_.begin(); it != timers_.end();) {
    it = std::get<1>(*it) == p ? timers_.erase(it) : std::next(it);
  }
  timers_size_ = timers_.size();
}

absl::Duration SlaApp::PollWait() {
  // The far future moves into memory as it becomes near.
  if (timers_failed_ || clock_->Now() + horizon_ / 2 >= loaded_until_) Refill();
  // Sleep in the consumer until the next timer is due (at most 100 ms); while a partition
  // catches up, its due timers wait for its records, which end the poll early.
  absl::Duration wait = absl::Milliseconds(100);
  if (!timers_.empty() && catching_up_.empty()) {
    wait = std::clamp(std::get<0>(*timers_.begin()) - clock_->Now(), absl::ZeroDuration(), wait);
  }
  return wait;
}

absl::Status SlaApp::Apply(kafka::StatefulBatch& batch) {
  std::shared_ptr<const PolicySet> policies = this->policies();
  view_.emplace(store_.get());
  store::OverlayView& view = *view_;
  out_ = Outcome();
  fired_.clear();
  PartitionStates partitions;  // each partition's record written once per batch
  std::map<int32_t, const rd_kafka_message_t*> last;  // per partition, the last record applied
  absl::Time now = clock_->Now();
  for (const auto& m : batch.records) {
    last[m->partition] = m.get();
    earshot::v1::RoutedEvent routed;
    if (!routed.ParseFromArray(m->payload, static_cast<int>(m->len))) {
      log::Warn(kLogger, "skipping a record that is not a RoutedEvent",
                {{"partition", m->partition}, {"offset", m->offset}});
      partitions.Load(m->partition, view)->set_next_offset(m->offset + 1);  // consumed
      continue;
    }
    core_.Apply(m->partition, m->offset, routed, *policies, now, view, &out_, partitions);
  }
  for (const auto& [p, m] : last) {
    *partitions.Load(p, view)->mutable_last_record() = runtime_->Mark(m);
  }
  partitions.Flush(view);

  // A partition fires again once its committed state holds every record written before its
  // assignment. With none in this batch, the consumer's position counts too: it passes the
  // transaction markers the router's output ends with. (This batch's records are not committed
  // yet: it may fail, and they are then read again.)
  for (auto it = catching_up_.begin(); it != catching_up_.end();) {
    int64_t at = 0;
    {
      absl::MutexLock lock(&mu_);
      if (auto o = owned_.find(it->first); o != owned_.end()) at = o->second.next_offset();
    }
    if (!batch.next_offset.contains(it->first)) at = std::max(at, runtime_->Position(it->first));
    it = at >= it->second ? catching_up_.erase(it) : std::next(it);
  }
  // Fire what is due, at most fire_max_ timers a batch; the rest fire in the next batches, in
  // order. After an outage many deadlines are due at once, and a batch of alerts larger than the
  // producer's queue fails as a whole, every time it is retried (bench/README.md, SLA).
  now = clock_->Now();
  for (auto it = timers_.begin();
       it != timers_.end() && std::get<0>(*it) <= now && fired_.size() < fire_max_;) {
    if (catching_up_.contains(std::get<1>(*it))) {
      ++it;
      continue;
    }
    auto node = timers_.extract(it++);
    core_.Fire(std::get<1>(node.value()), std::get<2>(node.value()), now, view, &out_);
    fired_.push_back(std::move(node.value()));
  }
  if (auto st = WatchStep(now, view); !st.ok()) return st;
  if (!view.error().ok()) return view.error();
  // Alerts go out with (exactly once) or before (at least once) the state that records them.
  batch.output.reserve(out_.alerts.size());
  for (const auto& a : out_.alerts) batch.output.push_back(AlertRecord(a, alerts_topic_));
  batch.views.push_back(&view);
  return absl::OkStatus();
}

void SlaApp::Failed(kafka::StatefulBatch& batch) {
  // The watch goes back to its last committed checkpoint and reads on from there.
  DropWatch();
  if (!batch.output.empty())
    metrics_->kafka_failed->Increment(static_cast<double>(batch.output.size()));
  for (auto& t : fired_) timers_.insert(std::move(t));
  fired_.clear();
  timers_size_ = timers_.size();
}

void SlaApp::Committed(const kafka::StatefulBatch& batch) {
  for (auto& t : out_.scheduled) {
    // Later ones come in with Refill() when they are near.
    if (std::get<0>(t) <= loaded_until_) timers_.insert(std::move(t));
  }
  timers_size_ = timers_.size();
  fired_.clear();
  if (!batch.first_offset.empty()) {
    absl::MutexLock lock(&mu_);
    for (const auto& [p, _] : batch.first_offset) {
      if (auto value = view_->Written(kPartitions, PartitionPrefix(p));
          value && owned_.count(p) > 0) {
        store::ParseStored(&owned_[p], *value, "SLA partition record");
      }
    }
  }
  applied_ += static_cast<int64_t>(batch.records.size());

  metrics_->kafka_sent->Increment(static_cast<double>(out_.alerts.size()));
  for (const auto& a : out_.alerts) {
    const std::string state = a.state() == earshot::v1::ALERT_STATE_FIRING ? "firing" : "resolved";
    Metrics::Cached(metrics_->alerts_by, *metrics_->alerts, {{"name", a.name()}, {"state", state}},
                    a.name() + state)
        .Increment();
  }
  for (absl::Duration d : out_.delays) metrics_->delay->Observe(absl::ToDoubleSeconds(d));
  for (const auto& ans : out_.answered) {
    auto& family = ans.first_response ? metrics_->first_response : metrics_->next_response;
    auto& cache = ans.first_response ? metrics_->first_by_queue : metrics_->next_by_queue;
    Metrics::Cached(cache, *family, {{"queue", ans.queue}}, ans.queue, ResponseBuckets())
        .Observe(absl::ToDoubleSeconds(ans.waited));
    const std::string result = ans.within_target ? "within_target" : "breached";
    Metrics::Cached(metrics_->answered_by, *metrics_->answered,
                    {{"queue", ans.queue}, {"result", result}}, ans.queue + "|" + result)
        .Increment();
  }
  alertmanager_->Submit(out_.alerts);
}

std::string SlaApp::WatchKey() { return PartitionPrefix(kWatchPartition) + "channel_watch"; }

void SlaApp::DropWatch() {
  watch_.reset();
  watch_reader_.reset();
  if (metrics_) metrics_->watch_leader->Set(0);
}

absl::Status SlaApp::LoadWatch() {
  watch_state_.Clear();
  auto stored = store_->Get(kPartitions, WatchKey());
  if (!stored.ok()) return stored.status();
  if (stored->has_value() && !watch_state_.ParseFromString(**stored)) {
    return absl::DataLossError("unreadable channel watch checkpoint");
  }
  auto reader = kafka::Consumer::Create(watch_consumer_);
  if (!reader.ok()) return reader.status();
  const int partitions = runtime_->partition_count();
  std::vector<kafka::PartitionOffset> from;
  for (int32_t p = 0; p < partitions; ++p) {
    auto it = watch_state_.next_offsets().find(p);
    int64_t offset = 0;
    if (it != watch_state_.next_offsets().end()) {
      offset = it->second;
    } else {
      // A watch without a checkpoint starts with what is routed from now on, at an offset
      // known now (a lazily resolved end could skip what arrives meanwhile).
      auto marks = (*reader)->Watermarks(routed_topic_, p, absl::Seconds(10));
      if (!marks.ok()) return marks.status();
      offset = marks->second;
    }
    (*watch_state_.mutable_next_offsets())[p] = offset;
    from.push_back({routed_topic_, p, offset});
  }
  if (auto st = (*reader)->Assign(from); !st.ok()) return st;
  watch_reader_ = std::move(*reader);
  watch_ = std::make_unique<ChannelWatch>(watch_options_);
  watch_->Load(watch_state_);
  watch_saved_ = absl::InfinitePast();  // the first turn records where it starts
  metrics_->watch_leader->Set(1);
  log::Info(kLogger, "channel watch started",
            {{"checkpoint", stored->has_value()},
             {"channels", static_cast<int64_t>(watch_->channels())}});
  return absl::OkStatus();
}

absl::Status SlaApp::WatchStep(absl::Time now, store::KvView& view) {
  {
    absl::MutexLock lock(&mu_);
    if (!owned_.contains(kWatchPartition)) return absl::OkStatus();
  }
  if (!watch_) {
    if (auto st = LoadWatch(); !st.ok()) {
      DropWatch();
      log::Warn(kLogger, "channel watch not started; tried again with the next batch",
                {{"error", st.ToString()}});
      return absl::OkStatus();  // the clocks go on; the watch catches up when it starts
    }
  }
  auto polled = watch_reader_->Poll(watch_read_max_, absl::ZeroDuration());
  if (!polled.ok()) {
    // The clocks go on; the watch starts again from its checkpoint with the next batch.
    DropWatch();
    log::Warn(kLogger, "channel watch read failed", {{"error", polled.status().ToString()}});
    return absl::OkStatus();
  }
  for (const auto& m : *polled) {
    (*watch_state_.mutable_next_offsets())[m.partition] = m.offset + 1;
    earshot::v1::RoutedEvent routed;
    if (routed.ParseFromString(m.value)) watch_->Observe(routed, now);
  }
  metrics_->watch_events->Increment(static_cast<double>(polled->size()));
  auto alerts = watch_->Check(now);
  // An alert is checkpointed with the state that records it, so the next owner of partition 0
  // does not fire it again; counts alone are checkpointed every checkpoint_interval, and a new
  // owner reads again what came after the checkpoint.
  if (!alerts.empty() || (!polled->empty() && now - watch_saved_ >= watch_checkpoint_interval_) ||
      watch_saved_ == absl::InfinitePast()) {
    watch_->Save(&watch_state_);
    view.Put(kPartitions, WatchKey(), watch_state_.SerializeAsString());
    watch_saved_ = now;
  }
  for (auto& a : alerts) out_.alerts.push_back(std::move(a));
  return absl::OkStatus();
}

void SlaApp::Periodic() {
  metrics_->rocksdb.Update(store_->Stats());

  std::map<int32_t, earshot::v1::SlaPartitionState> owned;
  {
    absl::MutexLock lock(&mu_);
    owned = owned_;
  }
  // A partition that moved away is another replica's to report.
  for (auto it = metrics_->lag_by.begin(); it != metrics_->lag_by.end();) {
    if (owned.contains(std::stoi(it->first))) {
      ++it;
    } else {
      metrics_->lag->Remove(it->second);
      it = metrics_->lag_by.erase(it);
    }
  }
  std::map<std::string, int64_t> waiting;
  int64_t open = 0;
  absl::Time oldest = absl::InfiniteFuture();
  for (const auto& [p, state] : owned) {
    for (const auto& [k, n] : state.waiting()) {
      waiting[k] += n;
      open += n;
    }
    // The partition's first wait is its oldest (waits sort by their start).
    store_
        ->Scan(kWaits, PartitionPrefix(p), "",
               [&](std::string_view key, auto) {
                 if (auto w = store::TimedKey::Decode(key)) oldest = std::min(oldest, w->at);
                 return false;
               })
        .IgnoreError();  // a metric: the next turn reads it again
    if (const int64_t lag = runtime_->Lag(p, state.next_offset()); lag >= 0) {
      Metrics::Cached(metrics_->lag_by, *metrics_->lag, {{"partition", std::to_string(p)}},
                      std::to_string(p))
          .Set(static_cast<double>(lag));
    }
  }
  // Every label set seen so far is updated, so a queue that emptied shows 0.
  for (auto& [k, g] : metrics_->waiting_by) g->Set(0);
  for (const auto& [k, n] : waiting) {
    metrics_->Waiting(WaitingKey::Decode(k)).Set(static_cast<double>(n));
  }
  metrics_->open_clocks->Set(static_cast<double>(open));
  metrics_->oldest->Set(oldest == absl::InfiniteFuture()
                            ? 0
                            : std::max(0.0, absl::ToDoubleSeconds(clock_->Now() - oldest)));
  metrics_->timers->Set(static_cast<double>(timers_size_.load()));
}

}  // namespace earshot::sla
