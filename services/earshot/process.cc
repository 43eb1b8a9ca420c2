#include "services/earshot/process.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_join.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "services/common/base/log.h"
#include "services/common/kafka/options.h"
#include "services/common/kafka/topics.h"
#include "services/gateway/gateway_app.h"
#include "services/router/router_app.h"
#include "services/sla/sla_app.h"
#include "services/stream/stream_app.h"

namespace earshot {
namespace {
constexpr char kLogger[] = "earshot";

// Linking grpc++_reflection registers its plugin with every ServerBuilder (a static
// initializer); this takes it out again, so reflection is served only when asked for.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    std::erase_if(*plugins, [](const auto& p) { return p->name() == "proto_server_reflection"; });
  }
};

}  // namespace

const std::vector<std::string>& KnownTargets() {
  static const std::vector<std::string> targets = {"all", "gateway", "router", "sla", "stream"};
  return targets;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const Config& config) {
  const std::string cert_file = config.GetString("grpc.tls.cert_file", "");
  const std::string key_file = config.GetString("grpc.tls.key_file", "");
  const std::string ca_file = config.GetString("grpc.tls.client_ca_file", "");
  if (cert_file.empty() && key_file.empty() && ca_file.empty()) {
    return grpc::InsecureServerCredentials();
  }
  auto read = [](const std::string& path, const char* key) -> absl::StatusOr<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (path.empty() || !in) {
      return absl::InvalidArgumentError(std::string("cannot read ") + key + " '" + path + "'");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  auto cert = read(cert_file, "grpc.tls.cert_file");
  if (!cert.ok()) return cert.status();
  auto key = read(key_file, "grpc.tls.key_file");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!ca_file.empty()) {
    auto ca = read(ca_file, "grpc.tls.client_ca_file");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    // A certificate, when presented, must be one this CA signed; it may name a principal.
    options.client_certificate_request =
        config.GetBool("grpc.tls.require_client_certificate", false)
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  log::Info(kLogger, "grpc tls",
            {{"client_certificates", !ca_file.empty()},
             {"required", config.GetBool("grpc.tls.require_client_certificate", false)}});
  return grpc::SslServerCredentials(options);
}

bool IsLoopback(std::string_view addr) {
  if (addr.starts_with("unix:")) return true;
  std::string host(addr.substr(0, addr.rfind(':')));
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

Process::Process(ProcessOptions options, Config config)
    : options_(std::move(options)),
      config_(std::move(config)),
      registry_(std::make_shared<prometheus::Registry>()) {}

Process::~Process() { Stop(); }

Service* Process::service(std::string_view name) {
  for (auto& s : services_) {
    if (s->name() == name) return s.get();
  }
  return nullptr;
}

absl::Status Process::Start() {
  const std::string& target = options_.target;
  if (std::find(KnownTargets().begin(), KnownTargets().end(), target) == KnownTargets().end()) {
    return absl::InvalidArgumentError("unknown --target=" + target +
                                      "; known: " + absl::StrJoin(KnownTargets(), ", "));
  }
  // A standalone process on the embedded broker is a first run on one machine: its listeners
  // stay on loopback unless the config names other addresses (docs/security.md, Defaults).
  if (target == "all" && config_.GetString("kafka.bootstrap", "").empty()) {
    config_.SetDefault("grpc.addr", "127.0.0.1:9090");
    config_.SetDefault("http.addr", "127.0.0.1:8080");
    config_.SetDefault("admin.addr", "127.0.0.1:9100");
  }
  // Before anything starts: an open gRPC listener only where nobody else can reach it.
  const std::string grpc_addr = config_.GetString("grpc.addr", "0.0.0.0:9090");
  auto authenticator = auth::LoadFromConfig(config_);
  if (!authenticator.ok()) return authenticator.status();
  if ((*authenticator)->open()) {
    if (!IsLoopback(grpc_addr)) {
      return absl::FailedPreconditionError(
          "grpc.addr " + grpc_addr +
          " is reachable from other machines but no auth.principals_file is set: every caller "
          "could read and resolve every thread. Set auth.principals_file, or listen on "
          "127.0.0.1 (see docs/security.md)");
    }
    log::Warn(kLogger, "no auth.principals_file: gRPC is open to every local caller",
              {{"addr", grpc_addr}});
  } else {
    log::Info(kLogger, "principals loaded",
              {{"principals", static_cast<int64_t>((*authenticator)->size())}});
  }
  auth_ = std::make_unique<auth::Guard>(*registry_, std::move(*authenticator));

  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) return absl::PermissionDeniedError("cannot create data dir " + options_.data_dir);

  bootstrap_ = config_.GetString("kafka.bootstrap", "");
  if (bootstrap_.empty()) {
    if (target != "all") {
      return absl::InvalidArgumentError("--target=" + target +
                                        " needs a Kafka cluster: set EARSHOT_KAFKA_BOOTSTRAP");
    }
    auto broker = kafka::EmbeddedBroker::Start(
        static_cast<int>(config_.GetInt("kafka.embedded.brokers", 1)),
        static_cast<int>(config_.GetInt("kafka.embedded.partitions", 4)), kafka::StandardTopics());
    if (!broker.ok()) return broker.status();
    broker_ = std::move(*broker);
    // librdkafka's mock broker holds a fetch that finds nothing for the whole fetch wait and
    // does not answer early when a record arrives (a Kafka broker does), so each consumer hop
    // would cost up to that wait: 50 ms in the router and SLA monitor, 10 ms in the stream.
    // In-process, shorter waits cost little (bench/README.md, Embedded broker).
    config_.SetDefault("kafka.fetch_wait", "5ms");
    config_.SetDefault("stream.fetch_wait", "5ms");
    bootstrap_ = broker_->bootstrap();
    const std::string path = options_.data_dir + "/kafka.bootstrap";
    std::ofstream(path) << bootstrap_ << "\n";
    std::printf("kafka bootstrap: %s (written to %s)\n", bootstrap_.c_str(), path.c_str());
    std::fflush(stdout);
  }

  if (broker_ == nullptr) {
    // The embedded broker has every topic and takes any size; a real cluster is checked.
    if (auto st = kafka::EnsureTopics(bootstrap_, kafka::ClientSettings(config_),
                                      kafka::TopicSettingsFromConfig(config_));
        !st.ok()) {
      return st;
    }
  }

  // Not ready until every service has started and registered its own checks.
  health_.AddReadinessCheck("process.started", [this] { return started_.load(); });
  health_.Export(*registry_);
  http::ServerOptions admin_options;
  admin_options.name = "admin";
  admin_options.addr = config_.GetString("admin.addr", "0.0.0.0:9100");
  admin_options.threads = 1;
  process_metrics_ = std::make_unique<ProcessMetrics>(*registry_);
  admin_handler_ =
      std::make_unique<http::AdminHandler>(*registry_, health_, process_metrics_.get());
  admin_ = std::make_unique<http::Server>(admin_options, admin_handler_.get());
  if (auto st = admin_->Start(); !st.ok()) return st;

  // Health stays unauthenticated (probes); reflection lists every method, so it is opt-in.
  grpc::EnableDefaultHealthCheckService(true);
  const bool reflection = config_.GetBool("grpc.reflection", false);
  if (reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (!reflection) builder.SetOption(std::make_unique<WithoutReflection>());
  // Answers UNIMPLEMENTED for every method no service has. It also gives a process that serves
  // no gRPC API of its own (the SLA monitor alone) a callback method, without which gRPC adds
  // no health service and builds no server.
  builder.RegisterCallbackGenericService(unknown_methods_.get());
  auto credentials = GrpcServerCredentials(config_);
  if (!credentials.ok()) return credentials.status();
  builder.AddListeningPort(grpc_addr, *credentials, &grpc_port_);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(config_.GetInt("grpc.max_message_bytes", 16 << 20)));

  ServiceContext ctx{
      config_,    *registry_,        health_,
      bootstrap_, options_.data_dir, options_.clock != nullptr ? *options_.clock : RealClock::Get(),
      *auth_};
  if (target == "all" || target == "gateway") {
    services_.push_back(std::make_unique<gateway::GatewayApp>());
  }
  if (target == "all" || target == "router") {
    services_.push_back(std::make_unique<router::RouterApp>());
  }
  if (target == "all" || target == "sla") {
    services_.push_back(std::make_unique<sla::SlaApp>());
  }
  if (target == "all" || target == "stream") {
    services_.push_back(std::make_unique<stream::StreamApp>());
  }
  for (auto& s : services_) {
    if (auto st = s->Start(ctx, builder); !st.ok()) {
      return absl::Status(st.code(), std::string(s->name()) + ": " + std::string(st.message()));
    }
  }
  grpc_ = builder.BuildAndStart();
  if (grpc_ == nullptr) return absl::UnavailableError("cannot listen for gRPC on " + grpc_addr);
  log::Info(kLogger, "grpc listening",
            {{"addr", grpc_addr}, {"port", grpc_port_}, {"reflection", reflection}});

  // gRPC health follows readiness.
  // Each second: the gRPC health status; each memory.release_interval: tcmalloc's free pages
  // back to the kernel, so that VmRSS follows what the services hold after a peak.
  const absl::Duration release_interval =
      config_.GetDuration("memory.release_interval", absl::Seconds(10));
  health_thread_ = std::thread([this, release_interval] {
    absl::Time next_release = absl::Now() + release_interval;
    do {
      grpc_->GetHealthCheckService()->SetServingStatus(health_.Ready());
      if (release_interval > absl::ZeroDuration() && absl::Now() >= next_release) {
        process_metrics_->ReleaseFreeHeap();
        next_release = absl::Now() + release_interval;
      }
    } while (!stop_health_.WaitForNotificationWithTimeout(absl::Seconds(1)));
  });
  WatchFiles(config_.GetDuration("reload.watch_interval", absl::Seconds(5)));
  started_ = true;
  log::Info(kLogger, "started", {{"target", target}, {"kafka", bootstrap_}});
  return absl::OkStatus();
}

void Process::Reload() {
  absl::MutexLock lock(&reload_mu_);
  if (auth_ != nullptr) {
    auto loaded = auth::LoadFromConfig(config_);
    if (!loaded.ok()) {
      log::Error(kLogger, "principals reload failed; keeping the previous ones",
                 {{"error", loaded.status().ToString()}});
    } else {
      log::Info(kLogger, "principals reloaded",
                {{"principals", static_cast<int64_t>((*loaded)->size())}});
      auth_->Swap(std::move(*loaded));
    }
  }
  for (auto& s : services_) s->Reload();
}

namespace {
// What tells a file's versions apart: a ConfigMap update swaps a symlink to a new file (another
// inode), an editor writes in place (another time or size).
struct FileStamp {
  ino_t inode = 0;
  int64_t mtime_ns = 0;
  int64_t size = -1;
  bool operator==(const FileStamp&) const = default;
};
FileStamp Stamp(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return {};
  return {st.st_ino, static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_size)};
}
}  // namespace

void Process::WatchFiles(absl::Duration interval) {
  std::vector<std::string> files;
  for (const char* key :
       {"router.rules_file", "sla.policies_file", "stream.tokens_file", "auth.principals_file"}) {
    if (std::string f = config_.GetString(key, ""); !f.empty()) files.push_back(f);
  }
  for (std::string& f : config_.secret_files()) files.push_back(std::move(f));
  if (auth_ != nullptr) {
    for (const std::string& f : auth_->current()->token_files()) files.push_back(f);
  }
  if (files.empty() || interval <= absl::ZeroDuration()) return;
  watch_thread_ = std::thread([this, files, interval] {
    std::map<std::string, FileStamp> seen;
    for (const auto& f : files) seen[f] = Stamp(f);
    while (!stop_watch_.WaitForNotificationWithTimeout(interval)) {
      std::vector<std::string> changed;
      for (auto& [f, stamp] : seen) {
        if (FileStamp now = Stamp(f); !(now == stamp)) {
          stamp = now;
          changed.push_back(f);
        }
      }
      if (changed.empty()) continue;
      log::Info(kLogger, "files changed; reloading", {{"files", absl::StrJoin(changed, ",")}});
      Reload();
    }
  });
}

void Process::Stop() {
  if (!started_ && services_.empty() && !broker_) return;
  log::Info(kLogger, "stopping");
  if (health_thread_.joinable()) {
    stop_health_.Notify();
    health_thread_.join();
  }
  if (watch_thread_.joinable()) {
    stop_watch_.Notify();
    watch_thread_.join();
  }
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) (*it)->Drain();
  if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) (*it)->Stop();
  services_.clear();
  grpc_.reset();
  if (admin_) admin_->Stop(absl::Seconds(1));
  admin_.reset();
  broker_.reset();
  started_ = false;
  log::Info(kLogger, "stopped");
}

}  // namespace earshot
