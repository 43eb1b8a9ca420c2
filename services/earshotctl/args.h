#pragma once
// earshotctl's command line: the flags (Abseil flags, spelled with dashes or underscores), the
// positional words (the command and its operands), and the argument structs each command
// runs with. Flags may come before or after the command; list flags (--queue, --platform,
// --kind, --account) may be repeated or take a comma list. Parsed once on the main thread.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace earshot::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// Where a command writes: results to `out`, progress, hints and errors to `err`.
struct Io {
  FILE* out = stdout;
  FILE* err = stderr;
};

struct ConnectArgs {
  std::string addr = "127.0.0.1:9090";
  std::string token;                              // --token, else $EARSHOT_TOKEN
  std::string tls_ca, tls_cert, tls_key;          // any set: TLS; cert and key: mTLS
  std::string tls_server_name;                    // override the name checked in the server's cert
  absl::Duration timeout = absl::ZeroDuration();  // 0: none
};

struct StreamArgs {
  ConnectArgs connect;
  bool json = false;
  std::string cursor;
  std::string from;  // latest (default) | earliest | RFC 3339 time | -<duration> (ago)
  std::vector<std::string> queues, platforms, kinds, accounts;
  std::string min_priority;
  int64_t count = 0;  // stop after this many deliveries; 0: until stopped
  int heartbeat_seconds = 0;
};

struct ThreadArgs {
  ConnectArgs connect;
  bool json = false;
  std::string queue;
  std::string status;  // awaiting_reply (default) | answered | resolved
  int page_size = 0;
  std::string page_token;
  std::string reason;
  std::string actor;     // default $USER
  std::string customer;  // erase: <platform>:<author id>
};

struct ReplayArgs {
  std::string gateway = "http://127.0.0.1:8080";
  std::string config;  // YAML with the secrets (EARSHOT_* environment works too)
  std::string rate;    // "50", "50/s", "600/m"; empty: as fast as answers come
  int concurrency = 4;
  bool progress = true;
  bool keep_signatures = false;
  std::string run_id;
  absl::Duration timeout = absl::Seconds(30);
};

// Parses argv (argv[0] included) into the flags; returns the positional words (command and
// operands). A bad flag or value is InvalidArgument (exit 2).
absl::StatusOr<std::vector<std::string>> ParseArgs(const std::vector<std::string>& argv);

// The argument structs from the parsed flags. Environment defaults ($EARSHOT_TOKEN, $USER)
// are read here.
ConnectArgs ConnectFromFlags();
StreamArgs StreamFromFlags();
ThreadArgs ThreadFromFlags();
ReplayArgs ReplayFromFlags();

// The help text of `earshotctl --help`.
const char* Usage();

}  // namespace earshot::ctl
