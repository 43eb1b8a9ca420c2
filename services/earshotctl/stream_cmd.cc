#include "services/earshotctl/stream_cmd.h"

#include <functional>

#include "absl/strings/str_join.h"
#include "earshot/v1/stream.grpc.pb.h"
#include "fmt/format.h"
#include "services/common/base/strings.h"
#include "services/common/names/names.h"
#include "services/earshotctl/channel.h"
#include "services/earshotctl/format.h"

namespace earshot::ctl {
namespace {

using earshot::v1::Delivery;
using earshot::v1::StreamTopic;
using earshot::v1::SubscribeRequest;

template <typename E, size_t N>
absl::Status AddNamed(const names::EnumName<E> (&table)[N], const std::vector<std::string>& given,
                      std::string_view flag, std::function<void(E)> add) {
  for (const auto& name : given) {
    bool found = false;
    for (const auto& n : table) {
      if (n.name == name) {
        add(n.value);
        found = true;
      }
    }
    if (!found) {
      std::vector<std::string> known;
      for (const auto& n : table) known.emplace_back(n.name);
      return absl::InvalidArgumentError(fmt::format("--{}: unknown {} \"{}\" (known: {})", flag,
                                                    flag, name, absl::StrJoin(known, ", ")));
    }
  }
  return absl::OkStatus();
}

void Print(FILE* f, const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), f);
  std::fputc('\n', f);
  std::fflush(f);
}

}  // namespace

absl::StatusOr<SubscribeRequest> BuildSubscribeRequest(const StreamArgs& args, StreamTopic topic,
                                                       absl::Time now) {
  SubscribeRequest req;
  req.add_topics(topic);
  req.set_client_name("earshotctl");
  if (args.heartbeat_seconds < 0) return absl::InvalidArgumentError("--heartbeat must be >= 0");
  req.set_heartbeat_seconds(args.heartbeat_seconds);
  if (args.count < 0) return absl::InvalidArgumentError("--count must be >= 0");

  auto* f = req.mutable_filter();
  for (const auto& q : args.queues) f->add_queues(q);
  for (const auto& a : args.accounts) f->add_accounts(a);
  if (auto st =
          AddNamed<earshot::v1::Platform>(names::kPlatforms, args.platforms, "platform",
                                          [f](earshot::v1::Platform p) { f->add_platforms(p); });
      !st.ok()) {
    return st;
  }
  if (!args.kinds.empty() && topic == earshot::v1::STREAM_TOPIC_ALERTS) {
    return absl::InvalidArgumentError("--kind filters routed events: use it with tail");
  }
  if (auto st = AddNamed<earshot::v1::Kind>(names::kKinds, args.kinds, "kind",
                                            [f](earshot::v1::Kind k) { f->add_kinds(k); });
      !st.ok()) {
    return st;
  }
  if (!args.min_priority.empty()) {
    std::vector<std::string> one = {args.min_priority};
    if (auto st = AddNamed<earshot::v1::Priority>(
            names::kPriorities, one, "min-priority",
            [f](earshot::v1::Priority p) { f->set_min_priority(p); });
        !st.ok()) {
      return st;
    }
  }

  if (!args.cursor.empty()) {
    if (!args.from.empty()) {
      return absl::InvalidArgumentError("--cursor and --from exclude each other");
    }
    req.set_cursor(args.cursor);
  } else if (args.from.empty() || args.from == "latest") {
    req.set_latest(true);
  } else if (args.from == "earliest") {
    req.set_earliest(true);
  } else {
    absl::Time t;
    std::string error;
    if (args.from.starts_with('-')) {
      absl::Duration ago;
      if (!absl::ParseDuration(args.from.substr(1), &ago) || ago < absl::ZeroDuration()) {
        return absl::InvalidArgumentError(
            fmt::format("--from={}: expected a duration after '-', like -10m or -2h", args.from));
      }
      t = now - ago;
    } else if (!absl::ParseTime(absl::RFC3339_full, args.from, &t, &error)) {
      return absl::InvalidArgumentError(fmt::format(
          "--from={}: expected latest, earliest, an RFC 3339 time like 2026-11-23T14:00:00Z, "
          "or -10m",
          args.from));
    }
    auto* ts = req.mutable_time();
    ts->set_seconds(absl::ToUnixSeconds(t));
    ts->set_nanos(
        static_cast<int32_t>((t - absl::FromUnixSeconds(ts->seconds())) / absl::Nanoseconds(1)));
  }
  return req;
}

int RunStream(StreamTopic topic, const StreamArgs& args, const Io& io, Canceller* canceller) {
  auto req = BuildSubscribeRequest(args, topic, absl::Now());
  if (!req.ok()) {
    fmt::print(io.err, "earshotctl: {}\n", ToStd(req.status().message()));
    return kExitUsage;
  }
  auto channel = MakeChannel(args.connect);
  if (!channel.ok()) {
    fmt::print(io.err, "earshotctl: {}\n", ToStd(channel.status().message()));
    return kExitUsage;
  }
  auto stub = earshot::v1::Stream::NewStub(*channel);
  grpc::ClientContext context;
  PrepareContext(args.connect, &context);
  canceller->Attach([&context] { context.TryCancel(); });
  const absl::TimeZone tz = absl::LocalTimeZone();

  std::unique_ptr<grpc::ClientReader<Delivery>> reader = stub->Subscribe(&context, *req);
  std::string cursor = args.cursor;
  int64_t shown = 0;
  bool count_reached = false;
  Delivery d;
  while (reader->Read(&d)) {
    if (!d.cursor().empty()) cursor = d.cursor();
    if (d.has_heartbeat()) continue;
    if (args.json) {
      Print(io.out, ToJsonLine(d));
    } else if (d.has_routed()) {
      Print(io.out, FormatRouted(d.routed(), tz));
    } else if (d.has_alert()) {
      Print(io.out, FormatAlert(d.alert(), tz));
    } else {
      continue;
    }
    if (args.count > 0 && ++shown >= args.count) {
      count_reached = true;
      context.TryCancel();
      break;
    }
  }
  const grpc::Status status = reader->Finish();
  const bool user_stop = canceller->cancelled();
  canceller->Attach(nullptr);
  const auto& trailers = context.GetServerTrailingMetadata();
  if (auto it = trailers.find("earshot-cursor"); it != trailers.end() && !it->second.empty()) {
    cursor = std::string(it->second.data(), it->second.size());
  }
  if (!cursor.empty()) fmt::print(io.err, "cursor: {}\n", cursor);

  if (count_reached || user_stop || status.ok()) return kExitOk;
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
      args.connect.timeout > absl::ZeroDuration()) {
    if (args.count == 0) return kExitOk;
    fmt::print(io.err, "earshotctl: DEADLINE_EXCEEDED: {} of {} deliveries within {}\n", shown,
               args.count, absl::FormatDuration(args.connect.timeout));
    return kExitError;
  }
  std::string message = DescribeStatus(status, args.connect);
  if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED && !cursor.empty()) {
    message += fmt::format(" (too slow to keep up; resume with --cursor={})", cursor);
  }
  fmt::print(io.err, "earshotctl: {}\n", message);
  return kExitError;
}

}  // namespace earshot::ctl
