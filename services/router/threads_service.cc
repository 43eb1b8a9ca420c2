#include "services/router/threads_service.h"

#include <algorithm>

#include "absl/random/random.h"
#include "fmt/format.h"
#include "librdkafka/rdkafka.h"
#include "rocksdb/iterator.h"
#include "services/common/base/status.h"
#include "services/gateway/records.h"
#include "services/gateway/signature.h"

namespace earshot::router {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* ctx, const absl::Status& st) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(st));
  return reactor;
}

}  // namespace

absl::StatusOr<int32_t> RouterApp::ThreadsService::OwnerPartition(
    const std::string& thread_key) const {
  if (thread_key.empty()) return absl::InvalidArgumentError("thread_key is required");
  const int32_t partition = kafka::PartitionForKey(thread_key, app_->partition_count_);
  absl::MutexLock lock(&app_->mu_);
  if (app_->owned_.count(partition) == 0) {
    return absl::FailedPreconditionError(fmt::format(
        "thread {} is on partition {} of {}, which another router instance owns; ask that one",
        thread_key, partition, app_->options_.events_topic));
  }
  return partition;
}

absl::StatusOr<earshot::v1::Thread> RouterApp::ThreadsService::Load(
    const std::string& thread_key) const {
  auto partition = OwnerPartition(thread_key);
  if (!partition.ok()) return partition.status();
  auto value = app_->store_->Get(CfName(Cf::kThreads), PartitionKey(*partition, thread_key));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return absl::NotFoundError("no thread " + thread_key);
  earshot::v1::Thread thread;
  if (!thread.ParseFromString(**value)) return absl::DataLossError("unreadable thread state");
  return thread;
}

grpc::ServerUnaryReactor* RouterApp::ThreadsService::GetThread(
    grpc::CallbackServerContext* ctx, const earshot::v1::GetThreadRequest* request,
    earshot::v1::Thread* response) {
  auto thread = Load(request->thread_key());
  if (thread.ok()) *response = std::move(*thread);
  return Finish(ctx, thread.status());
}

grpc::ServerUnaryReactor* RouterApp::ThreadsService::ListThreads(
    grpc::CallbackServerContext* ctx, const earshot::v1::ListThreadsRequest* request,
    earshot::v1::ListThreadsResponse* response) {
  const int page_size =
      request->page_size() <= 0 ? kDefaultPageSize : std::min(request->page_size(), kMaxPageSize);
  const auto status = request->status() == earshot::v1::THREAD_STATUS_UNSPECIFIED
                          ? earshot::v1::THREAD_STATUS_AWAITING_REPLY
                          : request->status();
  // The page token is the index suffix (sort time + thread key) of the last thread returned.
  std::string after;
  if (!request->page_token().empty() && !gateway::Base64Decode(request->page_token(), &after)) {
    return Finish(ctx, absl::InvalidArgumentError("page_token is not one this service gave"));
  }
  // Merge the index ranges of the owned partitions (and, for every queue, of each queue in
  // them), each already in (time, key) order: the page is among the first page_size + 1 entries
  // of each range.
  struct Entry {
    std::string suffix;
    int32_t partition;
  };
  std::vector<Entry> entries;
  rocksdb::ColumnFamilyHandle* cf = app_->store_->cf(CfName(Cf::kQueueIndex));
  auto take_range = [&](rocksdb::Iterator* it, int32_t p, std::string_view queue) {
    const std::string prefix = QueueIndexPrefix(p, queue, status);
    int taken = 0;
    for (it->Seek(prefix + after); it->Valid() && taken <= page_size; it->Next()) {
      std::string_view key(it->key().data(), it->key().size());
      if (!key.starts_with(prefix)) break;
      std::string suffix(key.substr(prefix.size()));
      if (suffix <= after) continue;
      entries.push_back({std::move(suffix), p});
      ++taken;
    }
  };
  for (int32_t p : app_->OwnedPartitions()) {
    std::unique_ptr<rocksdb::Iterator> it(
        app_->store_->db()->NewIterator(rocksdb::ReadOptions(), cf));
    if (!request->queue().empty()) {
      take_range(it.get(), p, request->queue());
      continue;
    }
    // Every queue of the partition: its keys run from (p, queue, 0) to (p, queue, 1).
    const std::string partition = PartitionPrefix(p);
    it->Seek(partition);
    while (it->Valid()) {
      std::string_view key(it->key().data(), it->key().size());
      const size_t end = key.find('\0', partition.size());
      if (!key.starts_with(partition) || end == std::string_view::npos) break;
      std::string next(key.substr(0, end));
      take_range(it.get(), p, next.substr(partition.size()));
      next.push_back('\1');
      it->Seek(next);
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.suffix < b.suffix; });
  const bool more = static_cast<int>(entries.size()) > page_size;
  if (more) entries.resize(page_size);
  for (const Entry& e : entries) {
    const std::string thread_key = e.suffix.substr(8);
    auto value = app_->store_->Get(CfName(Cf::kThreads), PartitionKey(e.partition, thread_key));
    if (!value.ok()) return Finish(ctx, value.status());
    if (value->has_value()) response->add_threads()->ParseFromString(**value);
  }
  if (more && !entries.empty()) {
    response->set_next_page_token(gateway::Base64Encode(entries.back().suffix));
  }
  return Finish(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* RouterApp::ThreadsService::Resolve(
    grpc::CallbackServerContext* ctx, const earshot::v1::ResolveRequest* request,
    earshot::v1::ResolveResponse* response) {
  auto thread = Load(request->thread_key());
  if (!thread.ok()) return Finish(ctx, thread.status());
  thread_local absl::BitGen gen;
  earshot::v1::Event event;
  event.set_event_id(fmt::format("ctl:resolve:{:016x}{:016x}", absl::Uniform<uint64_t>(gen),
                                 absl::Uniform<uint64_t>(gen)));
  event.set_platform(thread->platform());
  event.set_account_id(thread->account_id());
  event.set_thread_key(request->thread_key());
  event.set_kind(earshot::v1::KIND_CONTROL);
  event.mutable_control()->set_action(earshot::v1::Control::ACTION_RESOLVE);
  event.mutable_control()->set_reason(request->reason());
  event.mutable_control()->set_actor(request->actor());
  const absl::Time now = absl::Now();
  event.mutable_received_at()->set_seconds(absl::ToUnixSeconds(now));
  event.mutable_received_at()->set_nanos(static_cast<int32_t>(
      (now - absl::FromUnixSeconds(absl::ToUnixSeconds(now))) / absl::Nanoseconds(1)));
  *event.mutable_created_at() = event.received_at();
  response->set_event_id(event.event_id());
  std::vector<kafka::Record> records;
  records.push_back(gateway::EventRecord(event, app_->options_.events_topic));
  auto* reactor = ctx->DefaultReactor();
  app_->producer_->ProduceBatch(std::move(records),
                                [reactor](absl::Status st) { reactor->Finish(ToGrpcStatus(st)); });
  return reactor;
}

}  // namespace earshot::router
