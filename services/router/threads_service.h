#pragma once
// gRPC earshot.v1.Threads over the router's RocksDB state: look up, list and resolve threads of
// the partitions this instance owns. Resolve publishes a control event to earshot.events.v1, so
// it is applied in order with the thread's other events. Callback API; reads run inline.
#include "earshot/v1/threads.grpc.pb.h"
#include "services/router/router_app.h"

namespace earshot::router {

class RouterApp::ThreadsService final : public earshot::v1::Threads::CallbackService {
 public:
  explicit ThreadsService(RouterApp* app) : app_(app) {}

  grpc::ServerUnaryReactor* GetThread(grpc::CallbackServerContext* ctx,
                                      const earshot::v1::GetThreadRequest* request,
                                      earshot::v1::Thread* response) override;
  grpc::ServerUnaryReactor* ListThreads(grpc::CallbackServerContext* ctx,
                                        const earshot::v1::ListThreadsRequest* request,
                                        earshot::v1::ListThreadsResponse* response) override;
  grpc::ServerUnaryReactor* Resolve(grpc::CallbackServerContext* ctx,
                                    const earshot::v1::ResolveRequest* request,
                                    earshot::v1::ResolveResponse* response) override;

 private:
  // The thread's partition, or FailedPrecondition when another instance owns it.
  absl::StatusOr<int32_t> OwnerPartition(const std::string& thread_key) const;
  absl::StatusOr<earshot::v1::Thread> Load(const std::string& thread_key) const;

  RouterApp* app_;
};

}  // namespace earshot::router
