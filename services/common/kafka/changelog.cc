#include "services/common/kafka/changelog.h"

#include <utility>

#include "fmt/format.h"
#include "librdkafka/rdkafka.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "rocksdb/iterator.h"
#include "rocksdb/write_batch.h"
#include "services/common/base/log.h"

namespace earshot::kafka {
namespace {
constexpr char kLogger[] = "kafka.changelog";

// The input partition a state key belongs to: its first 4 bytes, big endian.
int32_t KeyPartition(std::string_view key) {
  return key.size() < 4 ? -1 : static_cast<int32_t>(store::ReadBigEndian32(key.substr(0, 4)));
}

// The key of the record that ends a batch's records of a partition: no family, the partition.
std::string MarkerKey(int32_t partition) {
  std::string key(1, '\0');
  key.append(store::PartitionPrefix(partition));
  return key;
}
}  // namespace

struct Changelog::Metrics {
  explicit Metrics(prometheus::Registry& r, const std::string& prefix) {
    restored = &prometheus::BuildCounter()
                    .Name(prefix + "_state_restored_records_total")
                    .Help("Changelog records applied to the local state by restores")
                    .Register(r)
                    .Add({});
    restore_seconds = &prometheus::BuildCounter()
                           .Name(prefix + "_state_restore_seconds_total")
                           .Help("Time spent restoring partitions from the changelog")
                           .Register(r)
                           .Add({});
    restores = &prometheus::BuildCounter()
                    .Name(prefix + "_state_restores_total")
                    .Help("Partition restores at assignment, by where the local copy stood")
                    .Register(r);
    restoring = &prometheus::BuildGauge()
                     .Name(prefix + "_state_restoring_partitions")
                     .Help("Partitions being restored from the changelog now")
                     .Register(r)
                     .Add({});
    dropped = &prometheus::BuildCounter()
                   .Name(prefix + "_state_dropped_partitions_total")
                   .Help(
                       "Local copies of partitions dropped (stale after a revocation, or "
                       "replaced by a full restore)")
                   .Register(r)
                   .Add({});
    warmed = &prometheus::BuildCounter()
                  .Name(prefix + "_state_standby_records_total")
                  .Help("Changelog records applied to standby copies of other replicas' partitions")
                  .Register(r)
                  .Add({});
  }
  prometheus::Counter* restored;
  prometheus::Counter* restore_seconds;
  prometheus::Family<prometheus::Counter>* restores;
  prometheus::Gauge* restoring;
  prometheus::Counter* dropped;
  prometheus::Counter* warmed;
};

std::string EncodeCheckpoint(const ChangelogCheckpoint& c) {
  std::string out;
  store::AppendBigEndian64(static_cast<uint64_t>(c.offset), &out);
  out.append(c.cluster_id);
  return out;
}

std::optional<ChangelogCheckpoint> DecodeCheckpoint(std::string_view encoded) {
  if (encoded.size() < 8) return std::nullopt;
  ChangelogCheckpoint c;
  c.offset = static_cast<int64_t>(store::ReadBigEndian64(encoded.substr(0, 8)));
  c.cluster_id = std::string(encoded.substr(8));
  return c;
}

RestorePlan PlanRestore(const std::optional<ChangelogCheckpoint>& local,
                        std::string_view cluster_id, int64_t low, int64_t high) {
  if (!local) {
    // Nothing in the changelog either: a new partition (nothing to seed), or state kept from
    // before the service wrote changelogs, which is seeded.
    if (low == high) return {false, true, high, "empty"};
    return {true, false, low, "no_local_copy"};
  }
  const char* reason = nullptr;
  if (!local->cluster_id.empty() && !cluster_id.empty() && local->cluster_id != cluster_id) {
    reason = "cluster_changed";
  } else if (local->offset > high) {
    reason = "ahead_of_changelog";
  } else if (local->offset < low) {
    reason = "behind_changelog_start";
  }
  if (reason != nullptr) {
    // An empty changelog has nothing better than the local copy: keep and seed it.
    if (low == high) return {false, true, high, reason};
    return {true, false, low, reason};
  }
  return {false, false, local->offset, local->offset == high ? "current" : "behind"};
}

absl::StatusOr<std::unique_ptr<Changelog>> Changelog::Create(ChangelogOptions options,
                                                             store::Store* store, RecordSink* sink,
                                                             std::string cluster_id) {
  std::unique_ptr<Changelog> c(new Changelog());
  c->options_ = std::move(options);
  c->store_ = store;
  c->sink_ = sink;
  c->cluster_id_ = std::move(cluster_id);
  c->state_cfs_.insert(c->options_.state_cfs.begin(), c->options_.state_cfs.end());
  ConsumerOptions reader = c->options_.consumer;
  reader.group_id += ".changelog";  // never joins: assign only, nothing committed
  reader.client_id += "-changelog";
  reader.auto_offset_reset = "earliest";
  auto made = Consumer::Create(std::move(reader));
  if (!made.ok()) return made.status();
  c->reader_ = std::move(*made);
  if (c->options_.partitions > 0) {
    const int n = c->reader_->PartitionCount(c->options_.topic, c->options_.read_timeout);
    if (n != c->options_.partitions) {
      return absl::FailedPreconditionError(fmt::format(
          "state changelog {} has {} partitions, its input {}: they must be equal (partition p "
          "of the changelog holds the state of input partition p)",
          c->options_.topic, n, c->options_.partitions));
    }
  }
  if (c->options_.registry != nullptr) {
    c->metrics_ = std::make_unique<Metrics>(*c->options_.registry, c->options_.metrics_prefix);
  }
  return c;
}

Changelog::~Changelog() = default;

std::vector<Record> Changelog::Records(const store::OverlayView& view,
                                       std::map<int32_t, int64_t>* counts) const {
  std::vector<Record> out;
  out.reserve(view.writes().size());
  for (const auto& [cf_key, value] : view.writes()) {
    const auto sep = cf_key.find('\0');
    if (sep == std::string::npos || !state_cfs_.contains(std::string_view(cf_key).substr(0, sep))) {
      continue;
    }
    const int32_t partition = KeyPartition(std::string_view(cf_key).substr(sep + 1));
    if (partition < 0) continue;
    Record r;
    r.topic = options_.topic;
    r.partition = partition;
    r.key = cf_key;
    if (value) {
      r.value = *value;
    } else {
      r.tombstone = true;
    }
    ++(*counts)[partition];
    out.push_back(std::move(r));
  }
  // Each partition's marker after its records (one producer keeps a partition's order).
  for (auto& [p, n] : *counts) {
    Record marker;
    marker.topic = options_.topic;
    marker.partition = p;
    marker.key = MarkerKey(p);
    out.push_back(std::move(marker));
    ++n;
  }
  return out;
}

void Changelog::Checkpoint(const std::map<int32_t, int64_t>& counts, store::OverlayView& view,
                           int64_t markers) {
  absl::MutexLock lock(&mu_);
  for (const auto& [p, n] : counts) {
    int64_t& end = end_[p];
    end += n + markers;
    view.Put(options_.checkpoint_cf, store::PartitionPrefix(p),
             EncodeCheckpoint({end, cluster_id_}));
  }
}

void Changelog::Resync(const std::map<int32_t, int64_t>& counts) {
  for (const auto& [p, _] : counts) {
    auto marks = reader_->Watermarks(options_.topic, p, options_.read_timeout);
    absl::MutexLock lock(&mu_);
    if (marks.ok()) {
      end_[p] = marks->second;
    } else {
      // Unknown: a checkpoint too low only makes the next restore apply records again.
      log::Warn(
          kLogger, "changelog end unknown after a failed write",
          {{"topic", options_.topic}, {"partition", p}, {"error", marks.status().ToString()}});
    }
  }
}

absl::StatusOr<std::optional<ChangelogCheckpoint>> Changelog::ReadCheckpoint(int32_t partition) {
  auto raw = store_->Get(options_.checkpoint_cf, store::PartitionPrefix(partition));
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<ChangelogCheckpoint>();
  auto c = DecodeCheckpoint(**raw);
  if (!c) return absl::DataLossError(fmt::format("partition {}: unreadable checkpoint", partition));
  return c;
}

absl::Status Changelog::Restore(int32_t partition) {
  absl::MutexLock restoring(&restore_mu_);
  {
    absl::MutexLock lock(&mu_);
    owned_.insert(partition);
  }
  const absl::Time started = absl::Now();
  auto local = ReadCheckpoint(partition);
  if (!local.ok()) return local.status();
  auto marks = reader_->Watermarks(options_.topic, partition, options_.read_timeout);
  if (!marks.ok()) return marks.status();
  const auto [low, high] = *marks;
  const RestorePlan plan = PlanRestore(*local, cluster_id_, low, high);
  if (metrics_) metrics_->restores->Add({{"reason", plan.reason}}).Increment();
  if (plan.drop_local) {
    if (auto st = Drop(partition); !st.ok()) return st;
  }
  int64_t applied = 0;
  int64_t end = high;
  if (plan.seed) {
    auto seeded = Seed(partition);
    if (!seeded.ok()) return seeded.status();
    if (*seeded > 0) {
      auto after = reader_->Watermarks(options_.topic, partition, options_.read_timeout);
      if (!after.ok()) return after.status();
      end = after->second;
      log::Info(kLogger, "seeded an empty changelog with the local copy of a partition",
                {{"topic", options_.topic},
                 {"partition", partition},
                 {"reason", plan.reason},
                 {"records", *seeded}});
    }
  }
  if (plan.from < high) {
    log::Info(kLogger, "restoring a partition from the changelog",
              {{"topic", options_.topic},
               {"partition", partition},
               {"reason", plan.reason},
               {"from", plan.from},
               {"to", high}});
    if (metrics_) metrics_->restoring->Increment();
    auto n = Apply(*reader_, partition, plan.from, high, &end);
    if (metrics_) metrics_->restoring->Decrement();
    if (!n.ok()) return n.status();
    applied = *n;
  } else if (!*local || plan.drop_local || plan.seed) {
    rocksdb::WriteBatch batch;
    batch.Put(store_->cf(options_.checkpoint_cf), store::PartitionPrefix(partition),
              EncodeCheckpoint({end, cluster_id_}));
    if (auto st = store_->Write(&batch); !st.ok()) return st;
  }
  {
    absl::MutexLock lock(&mu_);
    end_[partition] = end;
    revoked_at_.erase(partition);
  }
  const absl::Duration took = absl::Now() - started;
  if (metrics_) {
    metrics_->restored->Increment(static_cast<double>(applied));
    metrics_->restore_seconds->Increment(absl::ToDoubleSeconds(took));
  }
  if (plan.from < high) {
    log::Info(kLogger, "partition restored",
              {{"topic", options_.topic},
               {"partition", partition},
               {"records", applied},
               {"seconds", absl::ToDoubleSeconds(took)}});
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Changelog::Apply(Consumer& reader, int32_t partition, int64_t from,
                                         int64_t high, int64_t* reached) {
  if (auto st = reader.Assign({{options_.topic, partition, from}}); !st.ok()) return st;
  struct Op {
    std::string cf;
    std::string key;
    std::optional<std::string> value;  // nullopt: delete
  };
  auto position = [&] { return Position(reader.handle(), options_.topic, partition); };
  int64_t applied = 0;
  int64_t next = from;
  int64_t complete = from;  // the offset after the last marker
  int64_t target = high;
  bool waited_for_open = false;
  std::vector<Op> pending;  // since the last marker: applied only when the next one arrives
  rocksdb::WriteBatch whole;
  // The pending records into the next write; the log is complete up to `next`.
  auto take_pending = [&] {
    for (Op& op : pending) {
      if (op.value) {
        whole.Put(store_->cf(op.cf), op.key, *op.value);
      } else {
        whole.Delete(store_->cf(op.cf), op.key);
      }
    }
    applied += static_cast<int64_t>(pending.size());
    pending.clear();
    complete = next;
  };
  absl::Status status;
  absl::Time give_up = absl::Now() + options_.read_timeout;
  while (true) {
    if (std::max(next, position()) >= target) {
      // read_committed reads up to the last stable offset only: a transaction a dead replica
      // left open holds it below the high watermark until the coordinator aborts the
      // transaction (transaction.timeout.ms). The restore waits for that outcome once, so
      // that it never resumes from input whose output may still commit.
      int64_t low = 0;
      int64_t hw = 0;
      if (!waited_for_open &&
          rd_kafka_get_watermark_offsets(reader.handle(), options_.topic.c_str(), partition, &low,
                                         &hw) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          hw > target) {
        waited_for_open = true;
        target = hw;
        continue;
      }
      break;
    }
    if (absl::Now() >= give_up) {
      status = absl::DeadlineExceededError(fmt::format(
          "changelog {} partition {}: no records between offset {} and {} within {}",
          options_.topic, partition, next, target, absl::FormatDuration(options_.read_timeout)));
      break;
    }
    // Only a restore (reader_, on the owner's loop) is the loop's progress; a standby's catch-up
    // runs on its own thread.
    if (options_.on_progress && &reader == reader_.get()) options_.on_progress();
    auto got = reader.Poll(options_.restore_batch, absl::Milliseconds(100));
    if (!got.ok()) {
      status = got.status();
      break;
    }
    if (!got->empty()) give_up = absl::Now() + options_.read_timeout;
    for (Message& m : *got) {
      if (m.partition != partition || m.offset < next) continue;
      next = m.offset + 1;
      const auto sep = m.key.find('\0');
      if (sep == std::string::npos) continue;
      if (sep == 0) {  // a marker: the records before it are a whole batch
        take_pending();
        continue;
      }
      std::string cf = m.key.substr(0, sep);
      if (!state_cfs_.contains(cf)) continue;  // a family this version no longer has
      pending.push_back(
          {std::move(cf), m.key.substr(sep + 1),
           m.tombstone ? std::nullopt : std::optional<std::string>(std::move(m.value))});
    }
    if (options_.transactional) take_pending();  // what read_committed hands out is whole
    if (whole.Count() > 0) {
      whole.Put(store_->cf(options_.checkpoint_cf), store::PartitionPrefix(partition),
                EncodeCheckpoint({complete, cluster_id_}));
      if (status = store_->Write(&whole); !status.ok()) break;
      whole.Clear();
    }
  }
  high = target;
  *reached = target;
  reader.Assign({}).IgnoreError();  // the next Assign replaces it
  if (!status.ok()) return status;
  // Records after the last marker are a batch a crash left half written: not applied. The
  // checkpoint stays at the marker, so a later restore reads them again, followed by then by
  // the whole batch that replaced them. A compacted log may also have lost markers whose
  // records were all overwritten later; reaching the end read at the start is then enough.
  const int64_t checkpoint = pending.empty() ? high : complete;
  rocksdb::WriteBatch batch;
  batch.Put(store_->cf(options_.checkpoint_cf), store::PartitionPrefix(partition),
            EncodeCheckpoint({checkpoint, cluster_id_}));
  if (auto st = store_->Write(&batch); !st.ok()) return st;
  if (!pending.empty()) {
    log::Warn(kLogger, "a half-written batch at the changelog's end was not applied",
              {{"topic", options_.topic},
               {"partition", partition},
               {"records", static_cast<int64_t>(pending.size())},
               {"from", complete}});
  }
  return applied;
}

absl::StatusOr<int64_t> Changelog::Seed(int32_t partition) {
  if (sink_ == nullptr) return absl::FailedPreconditionError("changelog without a producer");
  const std::string prefix = store::PartitionPrefix(partition);
  int64_t written = 0;
  std::vector<Record> records;
  auto flush = [&](bool last) -> absl::Status {
    if (last && written + static_cast<int64_t>(records.size()) > 0) {
      Record marker;
      marker.topic = options_.topic;
      marker.partition = partition;
      marker.key = MarkerKey(partition);
      records.push_back(std::move(marker));
    }
    written += static_cast<int64_t>(records.size());
    return ProduceAndWait(*sink_, std::exchange(records, {}));
  };
  for (const std::string& cf : options_.state_cfs) {
    absl::Status sent;
    absl::Status scanned =
        store_->Scan(cf, prefix, "", [&](std::string_view key, std::string_view value) {
          Record r;
          r.topic = options_.topic;
          r.partition = partition;
          r.key = cf + '\0' + std::string(key);
          r.value = std::string(value);
          records.push_back(std::move(r));
          if (static_cast<int>(records.size()) >= options_.restore_batch) sent = flush(false);
          return sent.ok();
        });
    if (!sent.ok()) return sent;
    if (!scanned.ok()) return scanned;
  }
  if (auto st = flush(true); !st.ok()) return st;
  return written;
}

absl::Status Changelog::Drop(int32_t partition) {
  const std::string begin = store::PartitionPrefix(partition);
  const std::string end = store::PartitionPrefix(partition + 1);
  for (const std::string& cf : options_.state_cfs) {
    if (auto st = store_->DeleteRange(cf, begin, end); !st.ok()) return st;
  }
  if (auto st = store_->DeleteRange(options_.checkpoint_cf, begin, end); !st.ok()) return st;
  if (metrics_) metrics_->dropped->Increment();
  return absl::OkStatus();
}

void Changelog::Revoked(int32_t partition) {
  absl::MutexLock lock(&mu_);
  owned_.erase(partition);
  revoked_at_[partition] = absl::Now();
}

void Changelog::SetStandby(const std::set<int32_t>& partitions) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  for (int32_t p : standby_) {
    // No longer a standby: dropped after revoked_ttl like any partition owned elsewhere.
    if (!partitions.contains(p) && !owned_.contains(p)) revoked_at_.emplace(p, now);
  }
  for (int32_t p : partitions) revoked_at_.erase(p);
  standby_ = partitions;
}

std::set<int32_t> Changelog::standby() const {
  absl::MutexLock lock(&mu_);
  return standby_;
}

absl::StatusOr<int64_t> Changelog::Warm(int32_t partition) {
  absl::MutexLock warming(&restore_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (owned_.contains(partition) || !standby_.contains(partition)) return 0;
  }
  if (standby_reader_ == nullptr) {
    ConsumerOptions o = options_.consumer;
    o.group_id += ".changelog";
    o.client_id += "-standby";
    o.auto_offset_reset = "earliest";
    auto made = Consumer::Create(std::move(o));
    if (!made.ok()) return made.status();
    standby_reader_ = std::move(*made);
  }
  auto local = ReadCheckpoint(partition);
  if (!local.ok()) return local.status();
  auto marks = standby_reader_->Watermarks(options_.topic, partition, options_.read_timeout);
  if (!marks.ok()) return marks.status();
  const auto [low, high] = *marks;
  const RestorePlan plan = PlanRestore(*local, cluster_id_, low, high);
  if (plan.seed) return 0;  // nothing in the changelog to warm from; the owner seeds it
  if (plan.drop_local) {
    if (auto st = Drop(partition); !st.ok()) return st;
  }
  if (plan.from >= high) return 0;
  if (plan.drop_local || !*local) {
    log::Info(kLogger, "building a standby copy of a partition from the changelog",
              {{"topic", options_.topic},
               {"partition", partition},
               {"reason", plan.reason},
               {"from", plan.from},
               {"to", high}});
  }
  int64_t reached = high;
  auto n = Apply(*standby_reader_, partition, plan.from, high, &reached);
  if (!n.ok()) return n.status();
  if (metrics_) metrics_->warmed->Increment(static_cast<double>(*n));
  return high - plan.from;
}

void Changelog::Assigned(int32_t partition) {
  absl::MutexLock lock(&mu_);
  revoked_at_.erase(partition);
}

int Changelog::DropStale(absl::Time now) {
  std::vector<int32_t> stale;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = revoked_at_.begin(); it != revoked_at_.end();) {
      if (now - it->second >= options_.revoked_ttl && !standby_.contains(it->first)) {
        stale.push_back(it->first);
        it = revoked_at_.erase(it);
      } else {
        ++it;
      }
    }
  }
  int dropped = 0;
  for (int32_t p : stale) {
    if (auto st = Drop(p); st.ok()) {
      ++dropped;
      log::Info(kLogger, "dropped the local copy of a partition owned elsewhere",
                {{"topic", options_.topic}, {"partition", p}});
    } else {
      log::Warn(kLogger, "cannot drop a revoked partition's copy",
                {{"partition", p}, {"error", st.ToString()}});
    }
  }
  return dropped;
}

}  // namespace earshot::kafka
