#include "services/earshotctl/erase_cmd.h"

#include "earshot/v1/threads.grpc.pb.h"
#include "fmt/format.h"
#include "services/common/base/strings.h"
#include "services/earshotctl/channel.h"
#include "services/earshotctl/format.h"

namespace earshot::ctl {

int RunErase(const std::vector<std::string>& operands, const ThreadArgs& args, const Io& io) {
  if (!operands.empty() || args.customer.empty()) {
    fmt::print(io.err, "earshotctl: {}\n",
               operands.empty() ? "erase needs --customer=<platform>:<author id>"
                                : "erase takes no operand; the customer is --customer");
    fmt::print(io.err, "usage: earshotctl erase --customer=PLATFORM:AUTHOR_ID [--reason=TEXT]\n");
    return kExitUsage;
  }
  auto channel = MakeChannel(args.connect);
  if (!channel.ok()) {
    fmt::print(io.err, "earshotctl: {}\n", ToStd(channel.status().message()));
    return kExitUsage;
  }
  auto stub = earshot::v1::Threads::NewStub(*channel);
  grpc::ClientContext context;
  PrepareContext(args.connect, &context);
  earshot::v1::EraseRequest req;
  req.set_customer(args.customer);
  req.set_reason(args.reason);
  earshot::v1::EraseResponse res;
  if (auto st = stub->Erase(&context, req, &res); !st.ok()) {
    fmt::print(io.err, "earshotctl: {}\n", DescribeStatus(st, args.connect));
    return kExitError;
  }
  if (args.json) {
    fmt::print(io.out, "{}\n", ToJsonLine(res));
  } else {
    // The customer is not echoed: this line may end up in a ticket or a shell history file.
    fmt::print(io.out, "erasing {} thread{} (audit record {})\n", res.threads_erased(),
               res.threads_erased() == 1 ? "" : "s", res.audit_id());
  }
  return kExitOk;
}

}  // namespace earshot::ctl
