#pragma once
// Changelog: the Kafka copy of a partitioned service's RocksDB state, as Kafka Streams backs its
// state stores with changelog topics. RocksDB stays the working copy; the changelog is what lets
// any replica take over a partition without reading its input again.
//
// - Every write a batch makes to input partition p's keys (each key starts with p, 4 bytes big
//   endian) is also a record of changelog partition p: key "cf\0key", the value, or no value
//   for a delete. The topic is compacted, so it holds the latest value of every key.
// - A batch's records of a partition end with a marker record (key "\0" and the partition).
//   Without transactions a crash can leave a batch's records half written; a restore applies
//   records only up to the last marker, so it never applies half a batch. (The input of a batch
//   that left such a tail is applied again, which writes the same keys with the same values
//   and a marker.)
// - With the state, RocksDB keeps a checkpoint per partition: the changelog offset its copy
//   includes, and the cluster it was counted in. The checkpoint moves in the same RocksDB write
//   as the state, once the changelog records of that write are acknowledged.
// - Restore(p), at every assignment and before any input is read: a missing copy is rebuilt
//   from the start of the changelog; a copy that is behind (the partition was owned elsewhere
//   meanwhile) reads only the changelog's tail. A copy counted in another cluster, or ahead of
//   a recreated changelog, is dropped and rebuilt when the changelog holds the partition's
//   state; when the changelog is empty (a new cluster, the embedded broker started anew, state
//   kept from before changelogs existed) the local copy is all there is: it is kept and written
//   to the changelog whole (seeded). The input position is part of the state, so the partition
//   resumes where its last owner committed.
// - A revoked partition's copy stays for a sticky return (its tail is all it then reads) and is
//   dropped once it has been away longer than revoked_ttl.
//
// Without Kafka transactions a batch's output is acknowledged before its changelog records are
// written, and those before the local write: a crash in between repeats output (at-least-once,
// stable ids), never loses it, and the state of a partition is exactly once wherever it moves.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/kafka/consumer.h"
#include "services/common/kafka/producer.h"
#include "services/common/store/kv_view.h"
#include "services/common/store/store.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace earshot::kafka {

struct ChangelogOptions {
  std::string topic;         // compacted, with as many partitions as the input topic
  int partitions = 0;        // the input topic's partition count, checked at Create; 0: not
  ConsumerOptions consumer;  // bootstrap and client settings, to read the changelog back
  // The store's family for checkpoints; not itself written to the changelog.
  std::string checkpoint_cf = "changelog";
  // The families whose writes the changelog carries and a drop clears.
  std::vector<std::string> state_cfs;
  // Written in Kafka transactions and read read_committed: every record read belongs to a
  // whole batch, so a restore applies records as it reads them. Otherwise it holds the records
  // after the last marker until the next one (a batch a crash left half written is never
  // applied), and a compacted log, which keeps only each partition's last marker, is held
  // whole in memory up to it: the embedded broker's small logs only.
  bool transactional = false;
  int restore_batch = 10000;                        // records a RocksDB write during a restore
  absl::Duration read_timeout = absl::Seconds(30);  // longest wait for the next records
  absl::Duration revoked_ttl = absl::Minutes(30);   // a revoked partition's copy, kept for
                                                    // a return, is dropped after it
  prometheus::Registry* registry = nullptr;         // may be null: no metrics
  std::string metrics_prefix = "earshot";
  // Called while a restore reads (each poll), so that a long restore counts as progress for
  // the owner's liveness; may be empty.
  std::function<void()> on_progress;
};

// A partition's checkpoint, as stored.
struct ChangelogCheckpoint {
  int64_t offset = 0;      // the changelog offset the local copy includes records up to
  std::string cluster_id;  // the cluster that offset counts in
};
std::string EncodeCheckpoint(const ChangelogCheckpoint& c);
std::optional<ChangelogCheckpoint> DecodeCheckpoint(std::string_view encoded);

// Where a restore starts, and why. Pure, for tests.
struct RestorePlan {
  bool drop_local = false;  // clear the local copy first
  bool seed = false;        // write the local copy to the (empty) changelog
  int64_t from = 0;         // first changelog offset to apply
  std::string reason;       // current, behind, no_local_copy, cluster_changed, ahead_of_changelog,
                            // behind_changelog_start, empty
};
RestorePlan PlanRestore(const std::optional<ChangelogCheckpoint>& local,
                        std::string_view cluster_id, int64_t low, int64_t high);

class Changelog {
 public:
  // `sink` writes seeded copies (the service's producer).
  static absl::StatusOr<std::unique_ptr<Changelog>> Create(ChangelogOptions options,
                                                           store::Store* store, RecordSink* sink,
                                                           std::string cluster_id);
  ~Changelog();

  // The changelog records of a batch's writes, each to the partition its key starts with;
  // `counts` gets the number of records per partition, for Checkpoint().
  std::vector<Record> Records(const store::OverlayView& view,
                              std::map<int32_t, int64_t>* counts) const;
  // Once those records are acknowledged (committed): each partition's checkpoint moves past
  // them, and past `markers` offsets more (1 for a transaction's commit marker), as a write of
  // `view`, so that it commits with the state. A checkpoint that falls short of the changelog's
  // end (another writer's records in between) only makes a later restore read more.
  void Checkpoint(const std::map<int32_t, int64_t>& counts, store::OverlayView& view,
                  int64_t markers = 0);
  // Once they failed: some may be in the changelog, so its ends are read again.
  void Resync(const std::map<int32_t, int64_t>& counts);

  // Brings the local copy of `partition` to the changelog's end (see above).
  absl::Status Restore(int32_t partition);
  // Deletes the local copy of `partition` and its checkpoint.
  absl::Status Drop(int32_t partition);
  // Ownership changes, for keeping and dropping revoked partitions' copies.
  void Revoked(int32_t partition);
  void Assigned(int32_t partition);
  // Drops the copies of partitions revoked longer than revoked_ttl ago (standbys excepted);
  // returns how many.
  int DropStale(absl::Time now);

  // Standby copies (Kafka Streams' standby replicas): partitions another replica owns whose
  // local copy this replica keeps warm by reading the changelog's tail, so that it can take
  // them over within seconds. SetStandby names them (the others lose their standby status and
  // are dropped after revoked_ttl); Warm(p), from a thread of its own, brings one up to the
  // changelog's end, unless this replica owns it. Warm and Restore never run at once, and a
  // partition this replica owns is never warmed, so the owner's writes are never overwritten.
  void SetStandby(const std::set<int32_t>& partitions);
  // The changelog records the copy was behind by, or an error.
  absl::StatusOr<int64_t> Warm(int32_t partition);
  std::set<int32_t> standby() const;

  const std::string& topic() const { return options_.topic; }

 private:
  struct Metrics;
  Changelog() = default;
  absl::StatusOr<std::optional<ChangelogCheckpoint>> ReadCheckpoint(int32_t partition);
  // Applies whole batches from `from` until the reader reaches `high` (or, past an open
  // transaction, the high watermark); `reached` gets where it stopped.
  absl::StatusOr<int64_t> Apply(Consumer& reader, int32_t partition, int64_t from, int64_t high,
                                int64_t* reached);
  // Writes every key of the partition's local copy to the changelog; returns how many.
  absl::StatusOr<int64_t> Seed(int32_t partition);

  ChangelogOptions options_;
  store::Store* store_ = nullptr;
  RecordSink* sink_ = nullptr;
  std::string cluster_id_;
  std::unique_ptr<Consumer> reader_;          // no group: assigned one partition at a time
  std::unique_ptr<Consumer> standby_reader_;  // Warm's, made on first use
  absl::Mutex restore_mu_;                    // held by Restore and Warm: one at a time
  std::unique_ptr<Metrics> metrics_;
  std::set<std::string, std::less<>> state_cfs_;

  mutable absl::Mutex mu_;
  std::map<int32_t, int64_t> end_ ABSL_GUARDED_BY(mu_);  // the changelog's next offset
  std::map<int32_t, absl::Time> revoked_at_ ABSL_GUARDED_BY(mu_);
  std::set<int32_t> owned_ ABSL_GUARDED_BY(mu_);  // from Restore until Revoked
  std::set<int32_t> standby_ ABSL_GUARDED_BY(mu_);
};

}  // namespace earshot::kafka
