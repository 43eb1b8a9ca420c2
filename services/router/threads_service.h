#pragma once
// gRPC earshot.v1.Threads over the router's RocksDB state: look up, list and resolve threads.
// Answers for the partitions this replica owns run inline; a thread of another replica's
// partition, and a listing of every partition, are asked of the peers (router.peers) on a small
// pool of threads of the service's own, so no gRPC callback thread waits on the network.
// Resolve and Erase publish control events to earshot.events.v1, so they are applied in order
// with the thread's other events; Resolve's actor is the authenticated principal (the request's
// actor is kept as a note), and Erase also writes its audit record (erase.h).
//
// Authorization (auth::Guard) happens where the thread's queue is known: on the owning replica.
// GetThread needs threads:read and Resolve threads:resolve on the thread's queue; ListThreads
// needs threads:read on the queue asked for, and an empty queue (every queue) needs "*"; Erase
// needs threads:erase on "*". A call for a thread of another replica is forwarded to its owner
// (as `local`, on behalf of the caller), which decides.
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "boost/asio/post.hpp"
#include "boost/asio/thread_pool.hpp"
#include "earshot/v1/threads.grpc.pb.h"
#include "services/common/auth/guard.h"
#include "services/common/base/status.h"
#include "services/common/kafka/producer.h"
#include "services/common/store/store.h"
#include "services/router/erase.h"
#include "services/router/peers.h"

namespace earshot::router {

// What the service reads and writes of its router; every part is safe from any thread.
struct ThreadsBackend {
  store::Store* store = nullptr;        // the router's state
  kafka::Producer* producer = nullptr;  // control events (not the loop's transactional one)
  std::string events_topic;             // where control events go: the router's input
  std::string audit_topic;              // Erase's audit records
  int partition_count = 0;              // of the input topic
  std::function<std::set<int32_t>()> owned_partitions;
};

class ThreadsService final : public earshot::v1::Threads::CallbackService {
 public:
  ThreadsService(ThreadsBackend backend, std::unique_ptr<Peers> peers, const auth::Guard& guard);
  ~ThreadsService() override;

  grpc::ServerUnaryReactor* GetThread(grpc::CallbackServerContext* ctx,
                                      const earshot::v1::GetThreadRequest* request,
                                      earshot::v1::Thread* response) override;
  grpc::ServerUnaryReactor* ListThreads(grpc::CallbackServerContext* ctx,
                                        const earshot::v1::ListThreadsRequest* request,
                                        earshot::v1::ListThreadsResponse* response) override;
  grpc::ServerUnaryReactor* Resolve(grpc::CallbackServerContext* ctx,
                                    const earshot::v1::ResolveRequest* request,
                                    earshot::v1::ResolveResponse* response) override;
  grpc::ServerUnaryReactor* Erase(grpc::CallbackServerContext* ctx,
                                  const earshot::v1::EraseRequest* request,
                                  earshot::v1::EraseResponse* response) override;

 private:
  // The thread's partition, or FailedPrecondition when another instance owns it.
  absl::StatusOr<int32_t> OwnerPartition(const std::string& thread_key) const;
  absl::StatusOr<earshot::v1::Thread> Load(const std::string& thread_key) const;
  // Calls `call` on each peer, on behalf of `caller`, until the owner of the thread answers;
  // those that do not own it (FAILED_PRECONDITION) or do not answer are skipped (blocking: pool
  // only).
  absl::Status AskOwner(
      const auth::Caller& caller, const std::string& thread_key,
      const std::function<grpc::Status(earshot::v1::Threads::Stub&, grpc::ClientContext*)>& call);
  // Asks the owner of `request`'s thread on the pool, as `local` (the owner authorizes the
  // caller and answers), and finishes the call with its answer. `method` is the stub's method.
  template <typename Request, typename Response, typename Method>
  grpc::ServerUnaryReactor* ForwardToOwner(grpc::CallbackServerContext* ctx, auth::Caller caller,
                                           const Request* request, Response* response,
                                           Method method) {
    auto* reactor = ctx->DefaultReactor();
    boost::asio::post(
        *pool_, [this, caller = std::move(caller), request, response, reactor, method] {
          reactor->Finish(ToGrpcStatus(
              AskOwner(caller, request->thread_key(), [&](auto& stub, grpc::ClientContext* c) {
                Request ask = *request;
                ask.set_local(true);
                return (stub.*method)(c, ask, response);
              })));
        });
    return reactor;
  }
  // This replica's page of a listing, with each thread's order key.
  absl::Status ListLocal(const earshot::v1::ListThreadsRequest& request,
                         earshot::v1::ListThreadsResponse* response) const;
  // Every peer's page, merged (blocking: pool only).
  absl::Status ListAll(const auth::Caller& caller, const earshot::v1::ListThreadsRequest& request,
                       earshot::v1::ListThreadsResponse* response);
  // The erase control events for the customer's threads in this replica's partitions.
  absl::StatusOr<std::vector<kafka::Record>> EraseLocal(const Customer& customer,
                                                        const std::string& actor) const;
  // The erase control events of every peer, counted (blocking: pool only).
  absl::StatusOr<int> EraseAll(const auth::Caller& caller,
                               const earshot::v1::EraseRequest& request);
  void Produce(const earshot::v1::Thread& thread, const earshot::v1::ResolveRequest& request,
               const std::string& actor, earshot::v1::ResolveResponse* response,
               grpc::ServerUnaryReactor* reactor);

  const ThreadsBackend backend_;
  const auth::Guard& guard_;
  std::unique_ptr<Peers> peers_;
  std::unique_ptr<boost::asio::thread_pool> pool_;  // forwarding calls
};

}  // namespace earshot::router
