#include "services/router/router_core.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

// When the thread last saw an event: the gateway's receive time (threads stored before it was
// kept: the event's own time).
absl::Time LastActivity(const Thread& t) {
  return FromProtoTime(t.has_last_received() ? t.last_received() : t.updated_at());
}

// A thread's refs: partition, thread key, a 0 byte, then 'd' and an event id (its dedup key)
// or 'm' and a message reference (its messages key).
constexpr char kDedupRef = 'd';
constexpr char kMessageRef = 'm';
std::string RefsPrefix(int32_t partition, std::string_view thread_key) {
  std::string out = PartitionKey(partition, thread_key);
  out.push_back('\0');
  return out;
}
std::string RefKey(int32_t partition, std::string_view thread_key, char kind,
                   std::string_view ref) {
  std::string out = RefsPrefix(partition, thread_key);
  out.push_back(kind);
  out.append(ref);
  return out;
}

// Deletes the thread and every key kept for it: its queue-index entry, the dedup and messages
// keys of its events, its refs. Deletes, so the changelog gets tombstones. A failed read fails
// the batch through the view.
void DeleteThread(int32_t partition, const Thread& t, StateView& view,
                  earshot::v1::RouterPartitionState& pstate) {
  const std::string prefix = RefsPrefix(partition, t.thread_key());
  std::vector<std::string> refs;
  (void)view.Scan(CfName(Cf::kRefs), prefix, "", [&](std::string_view key, std::string_view) {
    refs.emplace_back(key);
    return true;
  });
  for (const std::string& ref : refs) {
    const std::string_view r = std::string_view(ref).substr(prefix.size());
    if (r.empty()) continue;
    view.Delete(CfName(r[0] == kDedupRef ? Cf::kDedup : Cf::kMessages),
                PartitionKey(partition, r.substr(1)));
    view.Delete(CfName(Cf::kRefs), ref);
  }
  view.Delete(CfName(Cf::kQueueIndex), IndexKey(partition, t));
  view.Delete(CfName(Cf::kThreads), PartitionKey(partition, t.thread_key()));
  (*pstate.mutable_threads_by_status())[t.status()] -= 1;
}

// The routed event of a deleted thread: its key, platform and account, nothing of the customer.
earshot::v1::RoutedEvent DeletedRouted(const Thread& t, std::string event_id,
                                       std::string_view reason, absl::Time at) {
  earshot::v1::RoutedEvent routed;
  Event& e = *routed.mutable_event();
  e.set_event_id(std::move(event_id));
  e.set_platform(t.platform());
  e.set_account_id(t.account_id());
  e.set_thread_key(t.thread_key());
  e.set_kind(earshot::v1::KIND_CONTROL);
  e.mutable_control()->set_action(earshot::v1::Control::ACTION_ERASE);
  e.mutable_control()->set_reason(std::string(reason));
  SetProtoTime(at, e.mutable_received_at());
  *e.mutable_created_at() = e.received_at();
  Thread& out = *routed.mutable_thread();
  out.set_thread_key(t.thread_key());
  out.set_platform(t.platform());
  out.set_account_id(t.account_id());
  out.set_status(earshot::v1::THREAD_STATUS_RESOLVED);
  out.set_resolve_reason(std::string(reason));
  *out.mutable_updated_at() = e.received_at();
  return routed;
}

// Applies an erase control event. A thread the customer started (its first participant) goes
// whole; in one someone else started, only their place among the participants goes, with the
// excerpt and permalink, which may be of their message (the thread does not say whose they
// are; the next customer message sets them again). nullopt: nothing of theirs there.
std::optional<earshot::v1::RoutedEvent> ApplyErase(int32_t partition, const Event& e,
                                                   StateView& view,
                                                   earshot::v1::RouterPartitionState& pstate) {
  const std::string tkey = PartitionKey(partition, e.thread_key());
  auto stored = view.Get(CfName(Cf::kThreads), tkey);
  Thread t;
  if (!stored || !store::ParseStored(&t, *stored, "thread " + e.thread_key())) return std::nullopt;
  auto& participants = *t.mutable_participants();
  auto it = std::find(participants.begin(), participants.end(), e.author().id());
  if (e.author().id().empty() || t.platform() != e.platform() || it == participants.end()) {
    return std::nullopt;
  }
  if (it == participants.begin()) {
    DeleteThread(partition, t, view, pstate);
    return DeletedRouted(t, e.event_id(), "erased", EventTime(e));
  }
  participants.erase(it);
  t.clear_excerpt();
  t.clear_permalink();
  view.Put(CfName(Cf::kThreads), tkey, t.SerializeAsString());
  earshot::v1::RoutedEvent routed;
  *routed.mutable_event() = e;
  routed.mutable_event()->clear_author();
  *routed.mutable_thread() = std::move(t);
  return routed;
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
    case Cf::kRefs:
      return "thread_refs";
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
      {CfName(Cf::kRefs), nullptr, /*point_lookups=*/false},
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

bool IsErase(const Event& event) {
  return event.kind() == earshot::v1::KIND_CONTROL &&
         event.control().action() == earshot::v1::Control::ACTION_ERASE;
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
  if (IsErase(event)) {
    result.routed = ApplyErase(partition, event, view, pstate);
    result.erased = result.routed.has_value();
    return result;
  }

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
  view.Put(CfName(Cf::kRefs), RefKey(partition, thread_key, kDedupRef, event.event_id()), "");
  if (IsMessage(event) && !event.message_id().empty()) {
    const std::string ref = MessageRef(event, event.message_id());
    view.Put(CfName(Cf::kMessages), PartitionKey(partition, ref), thread_key);
    view.Put(CfName(Cf::kRefs), RefKey(partition, thread_key, kMessageRef, ref), "");
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

std::vector<earshot::v1::RoutedEvent> RouterCore::Expire(int32_t partition, absl::Time now,
                                                         StateView& view,
                                                         PartitionStates& partitions) const {
  std::vector<earshot::v1::RoutedEvent> out;
  if (options_.thread_ttl <= absl::ZeroDuration()) return out;
  const absl::Time cutoff = now - options_.thread_ttl;
  // Each queue-and-status range of the index is in sort-time order, and a thread sorts at or
  // before its last event (give or take the platform's clock against the gateway's): the
  // candidates are the entries before the cutoff at each range's start. A range's first newer
  // entry sends the scan on to the next range.
  const std::string prefix = PartitionPrefix(partition);
  std::vector<std::string> candidates;
  std::string from;
  bool next_range = true;
  while (next_range && static_cast<int>(candidates.size()) < options_.expire_max) {
    next_range = false;
    (void)view.Scan(CfName(Cf::kQueueIndex), prefix, from, [&](std::string_view key, auto) {
      auto entry = QueueIndexEntry::Decode(key);
      if (!entry) return true;
      if (entry->sort_time < cutoff) {
        candidates.push_back(std::move(entry->thread_key));
        return static_cast<int>(candidates.size()) < options_.expire_max;
      }
      from = QueueIndexPrefix(partition, entry->queue, entry->status);
      from.back() = static_cast<char>(from.back() + 1);
      next_range = true;
      return false;
    });
  }
  for (const std::string& key : candidates) {
    auto stored = view.Get(CfName(Cf::kThreads), PartitionKey(partition, key));
    Thread t;
    if (!stored || !store::ParseStored(&t, *stored, "thread " + key) || LastActivity(t) >= cutoff) {
      continue;
    }
    // The partition's record is loaded (and so written) only when a thread goes.
    DeleteThread(partition, t, view, *partitions.Load(partition, view));
    out.push_back(
        DeletedRouted(t, absl::StrCat("expired:", key, ":", absl::ToUnixMicros(LastActivity(t))),
                      "expired", now));
  }
  return out;
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
