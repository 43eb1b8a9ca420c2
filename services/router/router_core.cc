#include "services/router/router_core.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rocksdb/db.h"
#include "services/common/base/log.h"
#include "services/common/base/proto_time.h"
#include "services/common/store/store.h"
#include "services/common/store/stored_proto.h"

namespace earshot::router {
namespace {

using earshot::v1::Event;
using earshot::v1::Thread;

// A message reference unique within a partition: Telegram ids are unique per chat only.
std::string MessageRef(const Event& e, std::string_view message_id) {
  if (e.platform() == earshot::v1::PLATFORM_TELEGRAM) {
    return e.thread_key() + "#" + std::string(message_id);
  }
  return std::to_string(e.platform()) + ":" + e.account_id() + ":" + std::string(message_id);
}

// The thread's queue-index key, under its queue. One key, not a second one for "all queues":
// a thread whose status or sort time moves then costs a delete and a put in the index's skip
// list instead of two of each (about 10% of an event's CPU, bench/README.md).
std::string IndexKey(int32_t partition, const Thread& t) {
  return QueueIndexKey(partition, t.queue(), t.status(), ThreadSortTime(t), t.thread_key());
}

// Moves the thread's index entry from `before` (none for a new thread) to `after`. Most events
// leave it where it was (another message to a thread that already waits keeps its status and
// sort time): then nothing is written.
void Reindex(const std::optional<std::string>& before, const std::string& after, StateView& view) {
  if (before == after) return;
  if (before) view.Delete(CfName(Cf::kQueueIndex), *before);
  view.Put(CfName(Cf::kQueueIndex), after, "");
}

}  // namespace

const char* CfName(Cf cf) {
  switch (cf) {
    case Cf::kDedup:
      return "dedup";
    case Cf::kThreads:
      return "threads";
    case Cf::kMessages:
      return "messages";
    case Cf::kQueueIndex:
      return "queue_index";
    case Cf::kPartitions:
      return "partitions";
  }
  return "default";
}

std::vector<store::ColumnFamily> ColumnFamilies(
    std::shared_ptr<rocksdb::CompactionFilterFactory> dedup_filter) {
  return {
      {CfName(Cf::kDedup), std::move(dedup_filter), /*point_lookups=*/true},
      {CfName(Cf::kThreads), nullptr, /*point_lookups=*/true},
      {CfName(Cf::kMessages), nullptr, /*point_lookups=*/true},
      {CfName(Cf::kQueueIndex), nullptr, /*point_lookups=*/false},
      {CfName(Cf::kPartitions), nullptr, /*point_lookups=*/true},
  };
}

std::string PartitionKey(int32_t partition, std::string_view key) {
  std::string out = PartitionPrefix(partition);
  out.append(key);
  return out;
}

std::string QueueIndexPrefix(int32_t partition, std::string_view queue,
                             earshot::v1::ThreadStatus status) {
  std::string out = PartitionPrefix(partition);
  out.append(queue);
  out.push_back('\0');
  out.push_back(static_cast<char>(status));
  return out;
}

std::string QueueIndexKey(int32_t partition, std::string_view queue,
                          earshot::v1::ThreadStatus status, absl::Time sort_time,
                          std::string_view thread_key) {
  return QueueIndexPrefix(partition, queue, status) +
         store::TimedKey{partition, sort_time, std::string(thread_key)}.EncodeSuffix();
}

std::optional<QueueIndexEntry> QueueIndexEntry::Decode(std::string_view key) {
  if (key.size() < 4) return std::nullopt;
  const size_t end = key.find('\0', 4);
  if (end == std::string_view::npos || end + 1 >= key.size()) return std::nullopt;
  auto suffix = store::TimedKey::DecodeSuffix(key.substr(end + 2));
  if (!suffix) return std::nullopt;
  QueueIndexEntry e;
  e.partition = static_cast<int32_t>(store::ReadBigEndian32(key.substr(0, 4)));
  e.queue = std::string(key.substr(4, end - 4));
  e.status = static_cast<earshot::v1::ThreadStatus>(static_cast<unsigned char>(key[end + 1]));
  e.sort_time = suffix->at;
  e.thread_key = std::move(suffix->id);
  return e;
}

absl::Time ThreadSortTime(const Thread& t) {
  if (t.status() == earshot::v1::THREAD_STATUS_AWAITING_REPLY && t.has_oldest_unanswered()) {
    return FromProtoTime(t.oldest_unanswered());
  }
  return FromProtoTime(t.updated_at());
}

bool DedupExpired(std::string_view value, absl::Time now) {
  return value.size() == 8 &&
         absl::FromUnixMicros(static_cast<int64_t>(store::ReadBigEndian64(value))) <= now;
}

ApplyResult RouterCore::Apply(int32_t partition, int64_t offset, const Event& event,
                              const RuleSet& rules, StateView& view,
                              PartitionStates& partitions) const {
  ApplyResult result;
  // The partition's offset and thread counts move in the same batch as the state.
  earshot::v1::RouterPartitionState& pstate = *partitions.Load(partition, view);
  pstate.set_next_offset(offset + 1);

  // Deduplication, on the gateway's receive time so a replay decides exactly as the first run.
  const absl::Time received = FromProtoTime(event.received_at());
  const std::string dkey = PartitionKey(partition, event.event_id());
  if (auto v = view.Get(CfName(Cf::kDedup), dkey); v && !DedupExpired(*v, received)) {
    result.duplicate = true;
    return result;
  }
  std::string expiry;
  store::AppendBigEndian64(
      static_cast<uint64_t>(absl::ToUnixMicros(received + options_.dedup_window)), &expiry);
  view.Put(CfName(Cf::kDedup), dkey, expiry);

  earshot::v1::RoutingDecision decision;
  if (event.kind() != earshot::v1::KIND_CONTROL) decision = rules.Decide(event);

  // Deletes, edits and receipts refer to an earlier message: apply them to that message's
  // thread when the index knows it (it lives on this partition by construction).
  std::string thread_key = event.thread_key();
  const std::string tkey_given = PartitionKey(partition, thread_key);
  std::optional<std::string> stored = view.Get(CfName(Cf::kThreads), tkey_given);
  if (!stored && !IsMessage(event) && !event.message_id().empty()) {
    if (auto indexed = view.Get(CfName(Cf::kMessages),
                                PartitionKey(partition, MessageRef(event, event.message_id())))) {
      if (auto s = view.Get(CfName(Cf::kThreads), PartitionKey(partition, *indexed))) {
        thread_key = *indexed;
        stored = std::move(s);
      }
    }
  }
  const std::string tkey = PartitionKey(partition, thread_key);

  Thread thread;
  std::optional<std::string> indexed_before;
  if (stored && store::ParseStored(&thread, *stored, "thread " + thread_key)) {
    indexed_before = IndexKey(partition, thread);
  }
  result.old_status = thread.status();

  Event applied = event;
  applied.set_thread_key(thread_key);
  ApplyEvent(applied, decision, options_.limits, &thread);

  Reindex(indexed_before, IndexKey(partition, thread), view);
  view.Put(CfName(Cf::kThreads), tkey, thread.SerializeAsString());
  if (IsMessage(event) && !event.message_id().empty()) {
    view.Put(CfName(Cf::kMessages), PartitionKey(partition, MessageRef(event, event.message_id())),
             thread_key);
  }
  auto& counts = *pstate.mutable_threads_by_status();
  if (result.old_status != earshot::v1::THREAD_STATUS_UNSPECIFIED) {
    counts[result.old_status] -= 1;
  }
  counts[thread.status()] += 1;

  earshot::v1::RoutedEvent routed;
  *routed.mutable_event() = std::move(applied);
  *routed.mutable_thread() = std::move(thread);
  *routed.mutable_decision() = std::move(decision);
  result.routed = std::move(routed);
  return result;
}

absl::Status UpgradeQueueIndex(store::Store& store) {
  constexpr std::string_view kMarker = "router.queue_index.one_entry_per_thread";
  auto done = store.Get(rocksdb::kDefaultColumnFamilyName, kMarker);
  if (!done.ok()) return done.status();
  if (done->has_value()) return absl::OkStatus();

  // Each partition's "" entries come first in its range (the queue name ends with a 0 byte):
  // read them, then go on from the next partition.
  rocksdb::ColumnFamilyHandle* index = store.cf(CfName(Cf::kQueueIndex));
  rocksdb::WriteBatch batch;
  uint64_t removed = 0;
  std::string from;
  while (true) {
    std::optional<int32_t> done_with;  // the partition whose "" entries ended
    absl::Status failed;
    absl::Status scanned =
        store.Scan(CfName(Cf::kQueueIndex), "", from, [&](std::string_view key, auto) {
          auto entry = QueueIndexEntry::Decode(key);
          if (!entry || !entry->queue.empty()) {
            done_with = static_cast<int32_t>(store::ReadBigEndian32(key.substr(0, 4)));
            return false;
          }
          auto thread =
              store.Get(CfName(Cf::kThreads), PartitionKey(entry->partition, entry->thread_key));
          if (!thread.ok()) {
            failed = thread.status();
            return false;
          }
          Thread t;
          if (!thread->has_value() || !t.ParseFromString(**thread) || !t.queue().empty()) {
            batch.Delete(index, rocksdb::Slice(key.data(), key.size()));
            ++removed;
          }
          if (batch.Count() >= 10000) {
            failed = store.Write(&batch);
            batch.Clear();
          }
          return failed.ok();
        });
    if (!failed.ok()) return failed;
    if (!scanned.ok()) return scanned;
    if (!done_with || *done_with == INT32_MAX) break;
    from = PartitionPrefix(*done_with + 1);
  }
  batch.Put(store.cf(rocksdb::kDefaultColumnFamilyName), kMarker, "");
  if (auto w = store.Write(&batch); !w.ok()) return w;
  if (removed > 0) {
    log::Info("router", "queue index upgraded: one entry per thread",
              {{"removed_all_queue_entries", removed}});
  }
  return absl::OkStatus();
}

}  // namespace earshot::router
