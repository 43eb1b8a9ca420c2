#include "services/earshotctl/thread_cmd.h"

#include "earshot/v1/threads.grpc.pb.h"
#include "fmt/format.h"
#include "services/common/base/strings.h"
#include "services/earshotctl/channel.h"
#include "services/earshotctl/format.h"

namespace earshot::ctl {
namespace {

int Usage(const Io& io, std::string_view message) {
  fmt::print(io.err, "earshotctl: {}\n", message);
  fmt::print(io.err,
             "usage: earshotctl thread get KEY | thread list [--queue=Q] [--status=S] "
             "[--page-size=N] | thread resolve KEY --reason=TEXT\n");
  return kExitUsage;
}

int Failed(const Io& io, const grpc::Status& status, const ConnectArgs& args) {
  fmt::print(io.err, "earshotctl: {}\n", DescribeStatus(status, args));
  return kExitError;
}

}  // namespace

int RunThread(const std::vector<std::string>& operands, const ThreadArgs& args, const Io& io) {
  if (operands.empty()) return Usage(io, "thread: get, list or resolve?");
  const std::string& verb = operands[0];
  const bool needs_key = verb == "get" || verb == "resolve";
  if (verb != "get" && verb != "list" && verb != "resolve") {
    return Usage(io, fmt::format("thread {}: unknown (get, list, resolve)", verb));
  }
  if (needs_key && operands.size() != 2) {
    return Usage(io, fmt::format("thread {} takes one thread key", verb));
  }
  if (!needs_key && operands.size() != 1) return Usage(io, "thread list takes no operand");
  if (verb == "resolve" && args.reason.empty()) {
    return Usage(io, "thread resolve needs --reason (why it is closed without a reply)");
  }
  earshot::v1::ThreadStatus status = earshot::v1::THREAD_STATUS_UNSPECIFIED;
  if (verb == "list") {
    if (args.queue.find(',') != std::string::npos) {
      return Usage(io, "thread list takes one --queue");
    }
    if (!args.status.empty() && !ParseThreadStatus(args.status, &status)) {
      return Usage(io, fmt::format("--status={}: expected awaiting_reply, answered or resolved",
                                   args.status));
    }
    if (args.page_size < 0 || args.page_size > 1000) {
      return Usage(io, "--page-size must be between 1 and 1000");
    }
  }
  auto channel = MakeChannel(args.connect);
  if (!channel.ok()) return Usage(io, ToStd(channel.status().message()));
  auto stub = earshot::v1::Threads::NewStub(*channel);
  grpc::ClientContext context;
  PrepareContext(args.connect, &context);
  const absl::TimeZone tz = absl::LocalTimeZone();

  if (verb == "get") {
    earshot::v1::GetThreadRequest req;
    req.set_thread_key(operands[1]);
    earshot::v1::Thread thread;
    if (auto st = stub->GetThread(&context, req, &thread); !st.ok()) {
      return Failed(io, st, args.connect);
    }
    if (args.json) {
      fmt::print(io.out, "{}\n", ToJsonLine(thread));
    } else {
      fmt::print(io.out, "{}", FormatThread(thread, tz, absl::Now()));
    }
    return kExitOk;
  }
  if (verb == "list") {
    earshot::v1::ListThreadsRequest req;
    req.set_queue(args.queue);
    req.set_status(status);
    req.set_page_size(args.page_size);
    req.set_page_token(args.page_token);
    earshot::v1::ListThreadsResponse res;
    if (auto st = stub->ListThreads(&context, req, &res); !st.ok()) {
      return Failed(io, st, args.connect);
    }
    const absl::Time now = absl::Now();
    for (const auto& t : res.threads()) {
      fmt::print(io.out, "{}\n", args.json ? ToJsonLine(t) : FormatThreadRow(t, now));
    }
    if (res.threads().empty() && !args.json) {
      fmt::print(io.err, "no {} threads{}\n",
                 ThreadStatusName(status == earshot::v1::THREAD_STATUS_UNSPECIFIED
                                      ? earshot::v1::THREAD_STATUS_AWAITING_REPLY
                                      : status),
                 args.queue.empty() ? "" : " in queue " + args.queue);
    }
    if (!res.next_page_token().empty()) {
      fmt::print(io.err, "more: --page-token={}\n", res.next_page_token());
    }
    return kExitOk;
  }
  earshot::v1::ResolveRequest req;
  req.set_thread_key(operands[1]);
  req.set_reason(args.reason);
  req.set_actor(args.actor);
  earshot::v1::ResolveResponse res;
  if (auto st = stub->Resolve(&context, req, &res); !st.ok()) {
    return Failed(io, st, args.connect);
  }
  if (args.json) {
    fmt::print(io.out, "{}\n", ToJsonLine(res));
  } else {
    fmt::print(io.out, "resolved {} (control event {})\n", operands[1], res.event_id());
  }
  return kExitOk;
}

}  // namespace earshot::ctl
