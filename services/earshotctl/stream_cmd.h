#pragma once
// `earshotctl tail` (routed events) and `earshotctl alerts`: one Stream/Subscribe call with the
// filters and start point of the command line, printed as it arrives; heartbeats only move
// the cursor. On exit the last cursor goes to stderr ("cursor: C") so the user can resume.
// Runs on the main thread; Canceller::Cancel comes from the signal thread.
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "earshot/v1/stream.pb.h"
#include "services/earshotctl/args.h"
#include "services/earshotctl/canceller.h"

namespace earshot::ctl {

// The request for `topic` from the command line; InvalidArgument for a bad filter or start
// (unknown platform, kind or priority names, a time that does not parse, --cursor with --from).
absl::StatusOr<earshot::v1::SubscribeRequest> BuildSubscribeRequest(const StreamArgs& args,
                                                                    earshot::v1::StreamTopic topic,
                                                                    absl::Time now);

// Exit code: 0 stopped by --count, --timeout (without --count), Ctrl-C or the server's end;
// 1 a failed call (status name and message; RESOURCE_EXHAUSTED with the cursor to resume
// from) or --timeout before --count deliveries; 2 usage.
int RunStream(earshot::v1::StreamTopic topic, const StreamArgs& args, const Io& io,
              Canceller* canceller);

}  // namespace earshot::ctl
