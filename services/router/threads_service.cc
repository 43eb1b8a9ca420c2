#include "services/router/threads_service.h"

#include <algorithm>
#include <map>

#include "absl/random/random.h"
#include "boost/asio/post.hpp"
#include "fmt/format.h"
#include "grpcpp/client_context.h"
#include "librdkafka/rdkafka.h"
#include "services/common/base/log.h"
#include "services/common/base/proto_time.h"
#include "services/common/base/status.h"
#include "services/common/base/strings.h"
#include "services/common/crypto/encoding.h"
#include "services/common/kafka/cloud_event.h"
#include "services/common/kafka/records.h"
#include "services/common/kafka/stateful_consumer.h"
#include "services/common/names/names.h"
#include "services/router/router_core.h"

namespace earshot::router {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

// A peer's answer as an absl::Status (the codes are the same numbers).
absl::Status FromGrpc(const grpc::Status& st) {
  return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
}

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* ctx, const absl::Status& st) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(st));
  return reactor;
}

// The control event's actor: who resolved it, as authenticated; what the request says only as a
// note. Open (development): the request's actor, as before principals existed.
std::string Actor(const auth::Caller& caller, const std::string& note) {
  if (caller.open()) return note;
  return note.empty() ? caller.name() : fmt::format("{} (note: {})", caller.name(), note);
}

constexpr char kGetThread[] = "/earshot.v1.Threads/GetThread";
constexpr char kListThreads[] = "/earshot.v1.Threads/ListThreads";
constexpr char kResolve[] = "/earshot.v1.Threads/Resolve";
constexpr char kErase[] = "/earshot.v1.Threads/Erase";

}  // namespace

ThreadsService::ThreadsService(ThreadsBackend backend, std::unique_ptr<Peers> peers,
                               const auth::Guard& guard)
    : backend_(std::move(backend)), guard_(guard), peers_(std::move(peers)) {
  if (peers_ && !peers_->empty()) pool_ = std::make_unique<boost::asio::thread_pool>(2);
}

ThreadsService::~ThreadsService() {
  if (pool_) pool_->join();
}

absl::StatusOr<int32_t> ThreadsService::OwnerPartition(const std::string& thread_key) const {
  if (thread_key.empty()) return absl::InvalidArgumentError("thread_key is required");
  const int32_t partition = kafka::PartitionForKey(thread_key, backend_.partition_count);
  if (!backend_.owned_partitions().contains(partition)) {
    return absl::FailedPreconditionError(fmt::format(
        "thread {} is on partition {} of {}, which another router instance owns; ask that one",
        thread_key, partition, backend_.events_topic));
  }
  return partition;
}

absl::StatusOr<earshot::v1::Thread> ThreadsService::Load(const std::string& thread_key) const {
  auto partition = OwnerPartition(thread_key);
  if (!partition.ok()) return partition.status();
  auto value = backend_.store->Get(CfName(Cf::kThreads), PartitionKey(*partition, thread_key));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return absl::NotFoundError("no thread " + thread_key);
  earshot::v1::Thread thread;
  if (!thread.ParseFromString(**value)) return absl::DataLossError("unreadable thread state");
  return thread;
}

absl::Status ThreadsService::AskOwner(
    const auth::Caller& caller, const std::string& thread_key,
    const std::function<grpc::Status(earshot::v1::Threads::Stub&, grpc::ClientContext*)>& call) {
  for (const Peers::Peer& peer : peers_->Current()) {
    grpc::ClientContext ctx;
    peers_->Prepare(&ctx, caller.name());
    const absl::Status st = FromGrpc(call(*peer.stub, &ctx));
    // The owner answers OK, NOT_FOUND or its refusal; the others FAILED_PRECONDITION; one that
    // does not answer, or fails, is skipped.
    if (st.ok() || absl::IsNotFound(st) || absl::IsPermissionDenied(st)) return st;
    if (absl::IsUnauthenticated(st)) {
      // The caller was authenticated here; the peer refused this replica's own credentials.
      return absl::UnavailableError(fmt::format(
          "router replica {} refused this replica's credentials (router.peers_token_file): {}",
          peer.address, ToStd(st.message())));
    }
  }
  return absl::UnavailableError(
      fmt::format("no router replica owns the partition of thread {} now (partitions moving, "
                  "or router.peers does not name every replica); try again",
                  thread_key));
}

grpc::ServerUnaryReactor* ThreadsService::GetThread(grpc::CallbackServerContext* ctx,
                                                    const earshot::v1::GetThreadRequest* request,
                                                    earshot::v1::Thread* response) {
  auto caller = guard_.Authenticate(*ctx, kGetThread);
  if (!caller.ok()) return Finish(ctx, caller.status());
  auto local = Load(request->thread_key());
  if (local.ok()) {
    auto allowed = guard_.Authorize(*caller, "threads:read", local->queue());
    if (allowed.ok()) *response = std::move(*local);
    return Finish(ctx, allowed);
  }
  if (request->local() || !absl::IsFailedPrecondition(local.status()) || !pool_) {
    return Finish(ctx, local.status());
  }
  return ForwardToOwner(ctx, *std::move(caller), request, response,
                        &earshot::v1::Threads::Stub::GetThread);
}

absl::Status ThreadsService::ListAll(const auth::Caller& caller,
                                     const earshot::v1::ListThreadsRequest& request,
                                     earshot::v1::ListThreadsResponse* response) {
  const int page_size =
      request.page_size() <= 0 ? kDefaultPageSize : std::min(request.page_size(), kMaxPageSize);
  earshot::v1::ListThreadsRequest ask = request;
  ask.set_local(true);
  struct Entry {
    std::string order_key;
    earshot::v1::Thread thread;
  };
  std::map<std::string, Entry> merged;  // by thread key: a partition moving mid-call is listed once
  bool more = false;
  for (const Peers::Peer& peer : peers_->Current()) {
    grpc::ClientContext ctx;
    peers_->Prepare(&ctx, caller.name());
    earshot::v1::ListThreadsResponse page;
    const absl::Status st = FromGrpc(peer.stub->ListThreads(&ctx, ask, &page));
    if (!st.ok()) {
      // A listing that silently left out a replica's partitions would show part of a queue.
      return absl::UnavailableError(fmt::format("router replica {} did not answer the listing: {}",
                                                peer.address, st.ToString()));
    }
    more = more || !page.next_page_token().empty();
    for (int i = 0; i < page.threads_size() && i < page.order_keys_size(); ++i) {
      merged[page.threads(i).thread_key()] = {page.order_keys(i), page.threads(i)};
    }
  }
  std::vector<Entry*> entries;
  for (auto& [_, e] : merged) entries.push_back(&e);
  std::sort(entries.begin(), entries.end(),
            [](const Entry* a, const Entry* b) { return a->order_key < b->order_key; });
  if (static_cast<int>(entries.size()) > page_size) {
    entries.resize(page_size);
    more = true;
  }
  for (Entry* e : entries) {
    *response->add_threads() = std::move(e->thread);
    response->add_order_keys(e->order_key);
  }
  if (more && !entries.empty()) {
    response->set_next_page_token(crypto::Base64Encode(entries.back()->order_key));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ThreadsService::ListThreads(
    grpc::CallbackServerContext* ctx, const earshot::v1::ListThreadsRequest* request,
    earshot::v1::ListThreadsResponse* response) {
  // Every queue only for a principal that may read every queue: a listing filtered to some
  // would page differently on each replica.
  auto caller = guard_.Check(*ctx, kListThreads, "threads:read",
                             request->queue().empty() ? "*" : request->queue());
  if (!caller.ok()) return Finish(ctx, caller.status());
  if (request->local() || !pool_) return Finish(ctx, ListLocal(*request, response));
  auto* reactor = ctx->DefaultReactor();
  boost::asio::post(*pool_, [this, caller = *caller, request, response, reactor] {
    reactor->Finish(ToGrpcStatus(ListAll(caller, *request, response)));
  });
  return reactor;
}

absl::Status ThreadsService::ListLocal(const earshot::v1::ListThreadsRequest& req,
                                       earshot::v1::ListThreadsResponse* response) const {
  const earshot::v1::ListThreadsRequest* request = &req;
  const int page_size =
      request->page_size() <= 0 ? kDefaultPageSize : std::min(request->page_size(), kMaxPageSize);
  const auto status = request->status() == earshot::v1::THREAD_STATUS_UNSPECIFIED
                          ? earshot::v1::THREAD_STATUS_AWAITING_REPLY
                          : request->status();
  // The page token is the index suffix (sort time + thread key) of the last thread returned.
  std::string after;
  if (!request->page_token().empty() && !crypto::Base64Decode(request->page_token(), &after)) {
    return absl::InvalidArgumentError("page_token is not one this service gave");
  }
  // Merge the index ranges of the owned partitions (and, for every queue, of each queue in
  // them), each already in (time, key) order: the page is among the first page_size + 1 entries
  // of each range.
  struct Entry {
    std::string suffix;
    int32_t partition;
  };
  std::vector<Entry> entries;
  store::Store& store = *backend_.store;
  const char* index = CfName(Cf::kQueueIndex);
  auto take_range = [&](int32_t p, std::string_view queue) {
    const std::string prefix = QueueIndexPrefix(p, queue, status);
    int taken = 0;
    return store.Scan(index, prefix, prefix + after, [&](std::string_view key, auto) {
      std::string suffix(key.substr(prefix.size()));
      if (suffix <= after) return true;
      entries.push_back({std::move(suffix), p});
      return ++taken <= page_size;
    });
  };
  for (int32_t p : backend_.owned_partitions()) {
    if (!request->queue().empty()) {
      if (auto st = take_range(p, request->queue()); !st.ok()) return st;
      continue;
    }
    // Every queue of the partition: its keys run from (p, queue, 0) to (p, queue, 1); the
    // first key from `from` on names the next queue.
    const std::string partition = PartitionPrefix(p);
    std::string from;
    while (true) {
      std::optional<std::string> queue;
      auto st = store.Scan(index, partition, from, [&](std::string_view key, auto) {
        if (auto e = QueueIndexEntry::Decode(key)) queue = std::move(e->queue);
        return false;
      });
      if (!st.ok()) return st;
      if (!queue) break;
      if (st = take_range(p, *queue); !st.ok()) return st;
      from = partition + *queue + '\1';
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.suffix < b.suffix; });
  const bool more = static_cast<int>(entries.size()) > page_size;
  if (more) entries.resize(page_size);
  for (const Entry& e : entries) {
    auto indexed = store::TimedKey::DecodeSuffix(e.suffix);
    if (!indexed) continue;
    auto value = store.Get(CfName(Cf::kThreads), PartitionKey(e.partition, indexed->id));
    if (!value.ok()) return value.status();
    if (value->has_value()) {
      if (!response->add_threads()->ParseFromString(**value)) {
        return absl::DataLossError("thread " + indexed->id + ": unreadable stored thread");
      }
      response->add_order_keys(e.suffix);
    }
  }
  if (more && !entries.empty()) {
    response->set_next_page_token(crypto::Base64Encode(entries.back().suffix));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ThreadsService::Resolve(grpc::CallbackServerContext* ctx,
                                                  const earshot::v1::ResolveRequest* request,
                                                  earshot::v1::ResolveResponse* response) {
  auto caller = guard_.Authenticate(*ctx, kResolve);
  if (!caller.ok()) return Finish(ctx, caller.status());
  auto thread = Load(request->thread_key());
  if (thread.ok()) {
    auto allowed = guard_.Authorize(*caller, "threads:resolve", thread->queue());
    if (!allowed.ok()) return Finish(ctx, allowed);
    auto* reactor = ctx->DefaultReactor();
    Produce(*thread, *request, Actor(*caller, request->actor()), response, reactor);
    return reactor;
  }
  if (request->local() || !absl::IsFailedPrecondition(thread.status()) || !pool_) {
    return Finish(ctx, thread.status());
  }
  // Another replica owns the thread: it authorizes and resolves.
  return ForwardToOwner(ctx, *std::move(caller), request, response,
                        &earshot::v1::Threads::Stub::Resolve);
}

void ThreadsService::Produce(const earshot::v1::Thread& thread,
                             const earshot::v1::ResolveRequest& request, const std::string& actor,
                             earshot::v1::ResolveResponse* response,
                             grpc::ServerUnaryReactor* reactor) {
  thread_local absl::BitGen gen;
  earshot::v1::Event event;
  event.set_event_id(fmt::format("ctl:resolve:{:016x}{:016x}", absl::Uniform<uint64_t>(gen),
                                 absl::Uniform<uint64_t>(gen)));
  event.set_platform(thread.platform());
  event.set_account_id(thread.account_id());
  event.set_thread_key(request.thread_key());
  event.set_kind(earshot::v1::KIND_CONTROL);
  event.mutable_control()->set_action(earshot::v1::Control::ACTION_RESOLVE);
  event.mutable_control()->set_reason(request.reason());
  event.mutable_control()->set_actor(actor);
  const absl::Time now = absl::Now();
  SetProtoTime(now, event.mutable_received_at());
  *event.mutable_created_at() = event.received_at();
  response->set_event_id(event.event_id());
  std::vector<kafka::Record> records;
  records.push_back(kafka::EventRecord(event, backend_.events_topic));
  backend_.producer->ProduceBatch(
      std::move(records), [reactor](absl::Status st) { reactor->Finish(ToGrpcStatus(st)); });
}

absl::StatusOr<std::vector<kafka::Record>> ThreadsService::EraseLocal(
    const Customer& customer, const std::string& actor) const {
  // Erasure is rare: every owned thread is read, no index by participant is kept for it.
  std::vector<kafka::Record> records;
  const absl::Time now = absl::Now();
  for (int32_t p : backend_.owned_partitions()) {
    absl::Status unreadable;
    auto st = backend_.store->Scan(
        CfName(Cf::kThreads), PartitionPrefix(p), "", [&](std::string_view, std::string_view v) {
          earshot::v1::Thread thread;
          if (!thread.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
            unreadable = absl::DataLossError(
                fmt::format("partition {}: unreadable stored thread; nothing erased", p));
            return false;
          }
          if (TakesPart(customer, thread)) {
            records.push_back(kafka::EventRecord(EraseEvent(customer, thread, actor, now),
                                                 backend_.events_topic));
          }
          return true;
        });
    if (!st.ok()) return st;
    if (!unreadable.ok()) return unreadable;
  }
  return records;
}

absl::StatusOr<int> ThreadsService::EraseAll(const auth::Caller& caller,
                                             const earshot::v1::EraseRequest& request) {
  earshot::v1::EraseRequest ask = request;
  ask.set_local(true);
  int erased = 0;
  for (const Peers::Peer& peer : peers_->Current()) {
    grpc::ClientContext ctx;
    peers_->Prepare(&ctx, caller.name());
    earshot::v1::EraseResponse part;
    const absl::Status st = FromGrpc(peer.stub->Erase(&ctx, ask, &part));
    if (!st.ok()) {
      // The replicas that answered have queued their erasures; erasing again is harmless.
      return absl::UnavailableError(
          fmt::format("router replica {} did not answer the erase: {}; try again", peer.address,
                      st.ToString()));
    }
    erased += part.threads_erased();
  }
  return erased;
}

grpc::ServerUnaryReactor* ThreadsService::Erase(grpc::CallbackServerContext* ctx,
                                                const earshot::v1::EraseRequest* request,
                                                earshot::v1::EraseResponse* response) {
  auto customer = Customer::Parse(request->customer());
  if (!customer.ok()) return Finish(ctx, customer.status());
  // An erase reaches every queue; a principal may be held to customers of some platforms.
  auto caller =
      guard_.Check(*ctx, kErase, "threads:erase", std::string(names::Platform(customer->platform)));
  if (!caller.ok()) return Finish(ctx, caller.status());
  const std::string actor = caller->open() ? "anonymous" : caller->name();
  auto* reactor = ctx->DefaultReactor();
  // The audit record goes with the last control events (alone when peers published theirs).
  auto finish = [this, request, response, reactor, actor, platform = customer->platform](
                    std::vector<kafka::Record> records, int threads) {
    response->set_threads_erased(threads);
    if (!request->local()) {
      auto audit =
          EraseAudit(request->customer(), platform, actor, request->reason(), threads, absl::Now());
      response->set_audit_id(audit.audit_id());
      records.push_back(kafka::ProtoRecord(
          backend_.audit_topic, audit.audit_id(), audit,
          {audit.audit_id(), "/earshot/router", "earshot.v1.AuditRecord", audit.time()}));
      log::Info("router", "customer erased",
                {{"audit_id", audit.audit_id()}, {"actor", actor}, {"threads", threads}});
    }
    if (records.empty()) return reactor->Finish(grpc::Status::OK);
    backend_.producer->ProduceBatch(
        std::move(records), [reactor](absl::Status st) { reactor->Finish(ToGrpcStatus(st)); });
  };
  if (request->local() || !pool_) {
    auto records = EraseLocal(*customer, actor);
    if (!records.ok()) {
      reactor->Finish(ToGrpcStatus(records.status()));
    } else {
      const int threads = static_cast<int>(records->size());
      finish(std::move(*records), threads);
    }
    return reactor;
  }
  boost::asio::post(*pool_, [this, caller = *caller, request, reactor, finish] {
    auto threads = EraseAll(caller, *request);
    if (!threads.ok()) return reactor->Finish(ToGrpcStatus(threads.status()));
    finish({}, *threads);
  });
  return reactor;
}

}  // namespace earshot::router
