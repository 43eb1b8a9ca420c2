#include "services/earshotctl/args.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "fmt/format.h"
#include "services/common/base/strings.h"

// Connection (tail, alerts, thread).
ABSL_FLAG(std::string, addr, "127.0.0.1:9090", "gRPC address of earshot");
ABSL_FLAG(std::string, token, "", "bearer token (default: $EARSHOT_TOKEN)");
ABSL_FLAG(std::string, tls_ca, "", "PEM file of the CA that signed the server's certificate");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate (mTLS; with --tls-key)");
ABSL_FLAG(std::string, tls_key, "", "PEM client private key (mTLS; with --tls-cert)");
ABSL_FLAG(std::string, tls_server_name, "", "name to check in the server's certificate");
ABSL_FLAG(absl::Duration, timeout, absl::ZeroDuration(),
          "stop after this long (tail, alerts; a call's deadline for thread); 0: none");
ABSL_FLAG(bool, json, false, "JSON lines (protobuf JSON) instead of human-readable lines");

// Streams (tail, alerts).
ABSL_FLAG(std::string, cursor, "", "resume after the delivery that carried this cursor");
ABSL_FLAG(std::string, from, "",
          "where to start: latest (default), earliest, an RFC 3339 time, or -10m (ago)");
ABSL_FLAG(std::vector<std::string>, queue, {}, "queue(s); repeat or comma list");
ABSL_FLAG(std::vector<std::string>, platform, {},
          "platform(s): x, facebook, instagram, messenger, whatsapp, telegram, generic");
ABSL_FLAG(std::vector<std::string>, kind, {},
          "kind(s): mention, comment, reply, direct_message, review, post, ... (tail only)");
ABSL_FLAG(std::vector<std::string>, account, {}, "brand account id(s)");
ABSL_FLAG(std::string, min_priority, "", "lowest priority shown: low, normal, high, urgent");
ABSL_FLAG(int64_t, count, 0, "stop after this many deliveries; 0: until stopped");
ABSL_FLAG(int32_t, heartbeat, 0, "seconds between server heartbeats; 0: the server's default");

// thread
ABSL_FLAG(std::string, status, "", "thread list: awaiting_reply (default), answered, resolved");
ABSL_FLAG(int32_t, page_size, 0, "thread list: threads per page (default 50, at most 1000)");
ABSL_FLAG(std::string, page_token, "", "thread list: the next page's token");
ABSL_FLAG(std::string, reason, "",
          "thread resolve: why it is closed without a reply; erase: why, for the audit record");
ABSL_FLAG(std::string, actor, "", "thread resolve: who resolves it (default: $USER)");

// erase
ABSL_FLAG(std::string, customer, "", "erase: the customer, <platform>:<author id>");

// replay
ABSL_FLAG(std::string, gateway, "http://127.0.0.1:8080", "replay: the gateway's HTTP address");
ABSL_FLAG(std::string, config, "",
          "replay: YAML config with the webhook secrets (EARSHOT_* environment works too)");
ABSL_FLAG(std::string, rate, "",
          "replay: requests per second (50 or 50/s or 600/m); default: "
          "as fast as the answers come");
ABSL_FLAG(int32_t, concurrency, 4, "replay: requests in flight at most");
ABSL_FLAG(bool, no_progress, false, "replay: no progress bar");
ABSL_FLAG(bool, keep_signatures, false,
          "replay: send recorded signature headers as they are instead of signing anew");
ABSL_FLAG(std::string, run_id, "", "replay: the value of {{run}} (default: unix seconds)");
ABSL_FLAG(absl::Duration, request_timeout, absl::Seconds(30), "replay: per request");

namespace earshot::ctl {
namespace {

constexpr const char* kListFlags[] = {"queue", "platform", "kind", "account"};

bool IsListFlag(std::string_view name) {
  return std::find(std::begin(kListFlags), std::end(kListFlags), name) != std::end(kListFlags);
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseArgs(const std::vector<std::string>& argv) {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> lists;
  bool only_positional = false;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (only_positional || !arg.starts_with("-") || arg == "-") {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg == "-h" || arg == "--help" || arg == "-help") {
      positional.insert(positional.begin(), "help");
      continue;
    }
    // --name=value, --name value, --name (bool), --noname (bool false). Dashes in names are
    // underscores to Abseil.
    std::string body = arg.substr(arg.starts_with("--") ? 2 : 1);
    std::string name = body;
    std::optional<std::string> value;
    if (const size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
    }
    std::replace(name.begin(), name.end(), '-', '_');
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    bool negated = false;
    if (flag == nullptr && name.starts_with("no")) {
      flag = absl::FindCommandLineFlag(name.substr(2));
      negated = flag != nullptr && flag->IsOfType<bool>();
      if (!negated) flag = nullptr;
    }
    if (flag == nullptr || flag->Filename().find("earshotctl") == std::string::npos) {
      return absl::InvalidArgumentError(fmt::format("unknown flag {}", arg));
    }
    if (flag->IsOfType<bool>()) {
      if (negated) {
        if (value) return absl::InvalidArgumentError(fmt::format("{} takes no value", arg));
        value = "false";
      } else if (!value) {
        value = "true";
      }
    } else if (!value) {
      if (i + 1 >= argv.size()) {
        return absl::InvalidArgumentError(fmt::format("{} needs a value", arg));
      }
      value = argv[++i];
    }
    if (IsListFlag(name)) {
      for (absl::string_view v : absl::StrSplit(*value, ',', absl::SkipWhitespace())) {
        lists[name].emplace_back(v);
      }
      continue;
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return absl::InvalidArgumentError(
          fmt::format("--{}: {}", absl::StrReplaceAll(name, {{"_", "-"}}), error));
    }
  }
  for (const auto& [name, values] : lists) {
    std::string error;
    if (!absl::FindCommandLineFlag(name)->ParseFrom(absl::StrJoin(values, ","), &error)) {
      return absl::InvalidArgumentError(fmt::format("--{}: {}", name, error));
    }
  }
  return positional;
}

ConnectArgs ConnectFromFlags() {
  ConnectArgs a;
  a.addr = absl::GetFlag(FLAGS_addr);
  a.token = absl::GetFlag(FLAGS_token);
  if (a.token.empty()) a.token = Env("EARSHOT_TOKEN");
  a.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  a.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  a.tls_key = absl::GetFlag(FLAGS_tls_key);
  a.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  a.timeout = absl::GetFlag(FLAGS_timeout);
  return a;
}

StreamArgs StreamFromFlags() {
  StreamArgs a;
  a.connect = ConnectFromFlags();
  a.json = absl::GetFlag(FLAGS_json);
  a.cursor = absl::GetFlag(FLAGS_cursor);
  a.from = absl::GetFlag(FLAGS_from);
  a.queues = absl::GetFlag(FLAGS_queue);
  a.platforms = absl::GetFlag(FLAGS_platform);
  a.kinds = absl::GetFlag(FLAGS_kind);
  a.accounts = absl::GetFlag(FLAGS_account);
  a.min_priority = absl::GetFlag(FLAGS_min_priority);
  a.count = absl::GetFlag(FLAGS_count);
  a.heartbeat_seconds = absl::GetFlag(FLAGS_heartbeat);
  return a;
}

ThreadArgs ThreadFromFlags() {
  ThreadArgs a;
  a.connect = ConnectFromFlags();
  a.json = absl::GetFlag(FLAGS_json);
  const auto queues = absl::GetFlag(FLAGS_queue);
  a.queue = queues.empty() ? "" : absl::StrJoin(queues, ",");
  a.status = absl::GetFlag(FLAGS_status);
  a.page_size = absl::GetFlag(FLAGS_page_size);
  a.page_token = absl::GetFlag(FLAGS_page_token);
  a.reason = absl::GetFlag(FLAGS_reason);
  a.customer = absl::GetFlag(FLAGS_customer);
  a.actor = absl::GetFlag(FLAGS_actor);
  if (a.actor.empty()) a.actor = Env("USER");
  if (a.actor.empty()) a.actor = "earshotctl";
  return a;
}

ReplayArgs ReplayFromFlags() {
  ReplayArgs a;
  a.gateway = absl::GetFlag(FLAGS_gateway);
  a.config = absl::GetFlag(FLAGS_config);
  a.rate = absl::GetFlag(FLAGS_rate);
  a.concurrency = absl::GetFlag(FLAGS_concurrency);
  a.progress = !absl::GetFlag(FLAGS_no_progress);
  a.keep_signatures = absl::GetFlag(FLAGS_keep_signatures);
  a.run_id = absl::GetFlag(FLAGS_run_id);
  a.timeout = absl::GetFlag(FLAGS_request_timeout);
  return a;
}

const char* Usage() {
  return R"(earshotctl: follow Earshot's streams, look up, resolve and erase threads, replay
webhooks.

usage:
  earshotctl tail    [filters] [--from=latest|earliest|TIME|-10m | --cursor=C] [--count=N] [--json]
  earshotctl alerts  [filters] [--from=... | --cursor=C] [--count=N] [--json]
  earshotctl thread get KEY [--json]
  earshotctl thread list [--queue=Q] [--status=awaiting_reply|answered|resolved] [--page-size=N]
  earshotctl thread resolve KEY --reason=TEXT [--actor=NAME]
  earshotctl erase --customer=PLATFORM:AUTHOR_ID [--reason=TEXT] [--json]
  earshotctl replay FILE.jsonl [--gateway=http://127.0.0.1:8080] [--config=earshot.yaml]
                    [--rate=50/s] [--concurrency=4] [--no-progress] [--keep-signatures]

filters (repeat a flag or give a comma list):
  --queue=Q  --platform=x,facebook,instagram,messenger,whatsapp,telegram,generic
  --kind=mention,comment,reply,direct_message,review,post,...  --account=ID
  --min-priority=low|normal|high|urgent

connection (tail, alerts, thread, erase):
  --addr=127.0.0.1:9090  --token=T (default $EARSHOT_TOKEN)
  --tls-ca=ca.pem [--tls-cert=client.pem --tls-key=client.key] [--tls-server-name=NAME]
  --timeout=30s (tail/alerts: stop after it; thread, erase: the call's deadline)

tail and alerts print one line per delivery until stopped (Ctrl-C), --count or --timeout; on
exit they print "cursor: C" on stderr: pass --cursor=C to go on from there.
Exit codes: 0 ok, 1 error (the gRPC status name and message), 2 usage.
)";
}

}  // namespace earshot::ctl
