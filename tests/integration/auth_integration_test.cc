// Authentication and authorization of every gRPC method, end to end: a whole stack with
// principals and TLS (client certificates verified when presented), real gRPC clients with
// tokens and certificates. Every method of earshot.v1.Ingest, Threads and Stream is taken from
// the proto descriptors, so a new method without a case here fails. Also: the secure default,
// and Threads calls forwarded between two router replicas.
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "earshot/v1/ingest.grpc.pb.h"
#include "earshot/v1/stream.grpc.pb.h"
#include "earshot/v1/threads.grpc.pb.h"
#include "fmt/format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "services/common/http/client.h"
#include "services/common/kafka/consumer.h"
#include "services/common/kafka/embedded_broker.h"
#include "services/common/kafka/producer.h"
#include "services/common/kafka/records.h"
#include "tests/integration/stack.h"

namespace earshot {
namespace {

using earshot::testing::ReadFile;
using earshot::testing::TestStack;
using earshot::testing::WaitFor;
using grpc::StatusCode;

constexpr char kAllToken[] = "all-scopes-token";
constexpr char kDeskToken[] = "care-desk-token";
constexpr char kNothingToken[] = "no-scopes-token";
constexpr char kForwardToken[] = "router-forward-token";
constexpr char kReaderToken[] = "care-reader-token";

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/auth-it-" + name;
  std::ofstream(path) << text;
  return path;
}

// `all` may do everything; `desk` only on queue care and source (and platform) telegram;
// `nothing` holds none
// of the scopes the methods need; `machine` is the client certificate (CN=client); `router`
// forwards between router replicas; `reader` reads queue care.
std::string PrincipalsFile() {
  return WriteFile("principals.yaml",
                   fmt::format(R"(principals:
  - name: all
    tokens: [{{value: {}}}]
    scopes: &every
      stream:read: ["*"]
      threads:read: ["*"]
      threads:resolve: ["*"]
      threads:erase: ["*"]
      ingest:publish: ["*"]
  - name: desk
    tokens: [{{value: {}}}]
    scopes:
      stream:read: [care]
      threads:read: [care]
      threads:resolve: [care]
      threads:erase: [telegram]
      ingest:publish: [telegram]
  - name: nothing
    tokens: [{{value: {}}}]
    scopes: {{stream:read: [elsewhere]}}
  - name: machine
    certificate: {{common_name: client}}
    scopes: *every
  - name: router
    tokens: [{{value: {}}}]
    scopes: {{threads:forward: ["*"]}}
  - name: reader
    tokens: [{{value: {}}}]
    scopes: {{threads:read: [care]}}
)",
                               kAllToken, kDeskToken, kNothingToken, kForwardToken, kReaderToken));
}

std::string RulesFile() {
  return WriteFile("rules.yaml", R"(
defaults: {queue: care, priority: normal, sla_policy: quick}
rules:
  - name: billing
    when: {keywords: [invoice]}
    then: {queue: billing}
)");
}

std::string RulesAndPolicies() {
  const std::string rules = RulesFile();
  const std::string sla = WriteFile("sla.yaml", R"(
policies:
  quick: {first_response: 10m, next_response: 10m, warn_at: 50%}
)");
  return absl::StrCat("router: {rules_file: \"", rules, "\"}\nsla: {policies_file: \"", sla,
                      "\"}\n");
}

// Beside MakeCertificates' CA and certificates: a client certificate of another CA, and an
// expired one of the trusted CA.
void MakeRefusedCertificates(const std::string& dir) {
  const std::string script =
      "set -e; cd " + dir +
      "; k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'"
      "; openssl req -x509 $k -keyout other-ca.key -out other-ca.crt -subj /CN=other-ca -days 1"
      "; openssl req $k -keyout untrusted.key -out untrusted.csr -subj /CN=client"
      "; openssl x509 -req -in untrusted.csr -CA other-ca.crt -CAkey other-ca.key "
      "  -CAcreateserial -days 1 -out untrusted.crt"
      "; openssl req $k -keyout expired.key -out expired.csr -subj /CN=client"
      "; openssl x509 -req -in expired.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days -1"
      "  -out expired.crt";
  ASSERT_EQ(std::system(("(" + script + ") >/dev/null 2>&1").c_str()), 0);
}

// What a client presents: a bearer token, a client certificate (files <cert>.crt and
// <cert>.key: client, untrusted, expired), both or neither.
struct Creds {
  std::string token;
  std::string cert;
};

std::string Describe(const Creds& c) {
  return fmt::format("token '{}', certificate '{}'", c.token, c.cert);
}

// A channel of its own (no connection shared with other credentials) over TLS.
std::shared_ptr<grpc::Channel> TlsChannel(const std::string& dir, int port, const Creds& c) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(dir + "/ca.crt");
  if (!c.cert.empty()) {
    ssl.pem_cert_chain = ReadFile(dir + "/" + c.cert + ".crt");
    ssl.pem_private_key = ReadFile(dir + "/" + c.cert + ".key");
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), grpc::SslCredentials(ssl),
                                   args);
}

// earshot_grpc_auth_decisions_total of a decision and method in a /metrics page; -1: none.
int Decisions(const std::string& metrics, const std::string& decision, const std::string& method) {
  const std::string line = fmt::format(
      "earshot_grpc_auth_decisions_total{{decision=\"{}\",method=\"{}\"}} ", decision, method);
  const size_t at = metrics.find(line);
  return at == std::string::npos ? -1 : std::atoi(metrics.c_str() + at + line.size());
}

void Prepare(grpc::ClientContext* ctx, const std::string& token) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
}

// Telegram private messages: chat 101 asks in queue care, chat 102 about an invoice (billing).
std::string TelegramMessage(int64_t id, int64_t chat, const std::string& text) {
  return absl::StrCat(R"({"update_id":)", id, R"(,"message":{"message_id":)", id,
                      R"(,"from":{"id":)", chat,
                      R"(,"is_bot":false,"first_name":"Kim"},"chat":{"id":)", chat,
                      R"(,"type":"private","first_name":"Kim"},"date":)",
                      absl::ToUnixSeconds(absl::Now()), R"(,"text":")", text, R"("}})");
}
const std::string kCareThread = absl::StrCat("tg:", testing::kTelegramBot, ":101");
const std::string kBillingThread = absl::StrCat("tg:", testing::kTelegramBot, ":102");

// The desk's queue or source, or another one.
enum class Target { kOwn, kOther };

struct MethodCase {
  // Calls the method; what a call that got through would leave behind (an event id, a
  // resolve reason) goes into `marks`, checked against the events topic.
  std::function<grpc::Status(const Creds&, Target, std::set<std::string>* marks)> call;
  std::string other;  // what a refusal of Target::kOther names
};

class AuthIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::MakeCertificates("auth-it"));
    MakeRefusedCertificates(*dir_);
    testing::StackOptions options;
    options.extra_config =
        RulesAndPolicies() + "auth: {principals_file: \"" + PrincipalsFile() + "\"}\n";
    // Principals, so any address may listen; client certificates verified, not required.
    options.env = {{"EARSHOT_GRPC_ADDR", "0.0.0.0:0"},
                   {"EARSHOT_GRPC_TLS_CERT_FILE", *dir_ + "/server.crt"},
                   {"EARSHOT_GRPC_TLS_KEY_FILE", *dir_ + "/server.key"},
                   {"EARSHOT_GRPC_TLS_CLIENT_CA_FILE", *dir_ + "/ca.crt"}};
    stack_ = new TestStack(options);
    ASSERT_EQ(stack_->PostTelegram(TelegramMessage(1, 101, "hello, is anyone there?")).status, 200);
    ASSERT_EQ(stack_->PostTelegram(TelegramMessage(2, 102, "my invoice is wrong")).status, 200);
    for (const std::string& key : {kCareThread, kBillingThread}) {
      ASSERT_TRUE(WaitFor(
          [&] {
            return GetThread({kAllToken, ""}, key).ok();
          },
          absl::Seconds(20)))
          << key;
    }
  }
  static void TearDownTestSuite() {
    delete stack_;
    delete dir_;
  }

  static int port() { return stack_->process().grpc_port(); }

  static absl::StatusOr<v1::Thread> GetThread(const Creds& c, const std::string& key) {
    grpc::ClientContext ctx;
    Prepare(&ctx, c.token);
    v1::GetThreadRequest req;
    req.set_thread_key(key);
    v1::Thread thread;
    auto st = v1::Threads::NewStub(TlsChannel(*dir_, port(), c))->GetThread(&ctx, req, &thread);
    if (!st.ok()) return absl::Status(static_cast<absl::StatusCode>(st.error_code()), "");
    return thread;
  }

  // The case of every method; the key is the method's full name.
  std::map<std::string, MethodCase> Cases() {
    std::map<std::string, MethodCase> cases;
    cases["/earshot.v1.Ingest/Publish"] = {
        [this](const Creds& c, Target t, std::set<std::string>* marks) {
          v1::PublishRequest req;
          v1::Event* e = req.add_events();
          e->set_event_id(fmt::format("auth-it-{}", ++calls_));
          e->set_platform(t == Target::kOwn ? v1::PLATFORM_TELEGRAM : v1::PLATFORM_X);
          e->set_account_id(testing::kTelegramBot);
          e->set_thread_key(kCareThread);
          e->set_kind(v1::KIND_DIRECT_MESSAGE);
          e->set_direction(v1::DIRECTION_INBOUND);
          e->set_text("published through Ingest");
          marks->insert(e->event_id());
          grpc::ClientContext ctx;
          Prepare(&ctx, c.token);
          v1::PublishResponse res;
          return v1::Ingest::NewStub(TlsChannel(*dir_, port(), c))->Publish(&ctx, req, &res);
        },
        "source x"};
    cases["/earshot.v1.Threads/GetThread"] = {
        [](const Creds& c, Target t, std::set<std::string>*) {
          grpc::ClientContext ctx;
          Prepare(&ctx, c.token);
          v1::GetThreadRequest req;
          req.set_thread_key(t == Target::kOwn ? kCareThread : kBillingThread);
          v1::Thread thread;
          auto st =
              v1::Threads::NewStub(TlsChannel(*dir_, port(), c))->GetThread(&ctx, req, &thread);
          EXPECT_EQ(st.ok(), !thread.thread_key().empty()) << "a refusal answered a thread";
          return st;
        },
        "queue billing"};
    cases["/earshot.v1.Threads/ListThreads"] = {
        [](const Creds& c, Target t, std::set<std::string>*) {
          grpc::ClientContext ctx;
          Prepare(&ctx, c.token);
          v1::ListThreadsRequest req;
          req.set_queue(t == Target::kOwn ? "care" : "billing");
          v1::ListThreadsResponse res;
          auto st =
              v1::Threads::NewStub(TlsChannel(*dir_, port(), c))->ListThreads(&ctx, req, &res);
          EXPECT_EQ(st.ok(), res.threads_size() > 0) << "a refusal listed threads, or none";
          return st;
        },
        "queue billing"};
    cases["/earshot.v1.Threads/Resolve"] = {
        [this](const Creds& c, Target t, std::set<std::string>* marks) {
          grpc::ClientContext ctx;
          Prepare(&ctx, c.token);
          v1::ResolveRequest req;
          req.set_thread_key(t == Target::kOwn ? kCareThread : kBillingThread);
          req.set_reason(fmt::format("auth-it-resolve-{}", ++calls_));
          req.set_actor("alice");
          marks->insert(req.reason());
          v1::ResolveResponse res;
          auto st = v1::Threads::NewStub(TlsChannel(*dir_, port(), c))->Resolve(&ctx, req, &res);
          if (st.ok()) resolved_[res.event_id()] = c;
          return st;
        },
        "queue billing"};
    // Customers without threads: an erase that gets through erases nothing the other cases need,
    // and writes only its audit record.
    cases["/earshot.v1.Threads/Erase"] = {
        [](const Creds& c, Target t, std::set<std::string>*) {
          grpc::ClientContext ctx;
          Prepare(&ctx, c.token);
          v1::EraseRequest req;
          req.set_customer(t == Target::kOwn ? "telegram:999999" : "x:999999");
          v1::EraseResponse res;
          auto st = v1::Threads::NewStub(TlsChannel(*dir_, port(), c))->Erase(&ctx, req, &res);
          EXPECT_EQ(st.ok(), !res.audit_id().empty()) << "a refusal wrote an audit record";
          return st;
        },
        "platform x"};
    cases["/earshot.v1.Stream/Subscribe"] = {
        [](const Creds& c, Target t, std::set<std::string>*) {
          grpc::ClientContext ctx;
          Prepare(&ctx, c.token);
          v1::SubscribeRequest req;
          req.set_earliest(true);
          req.mutable_filter()->add_queues(t == Target::kOwn ? "care" : "billing");
          auto reader = v1::Stream::NewStub(TlsChannel(*dir_, port(), c))->Subscribe(&ctx, req);
          // A refused call ends before any delivery; an allowed one delivers the care thread
          // (after heartbeats, maybe).
          v1::Delivery d;
          while (reader->Read(&d)) {
            if (!d.has_routed()) continue;
            ctx.TryCancel();
            reader->Finish();
            EXPECT_EQ(d.routed().thread().queue(), "care") << d.DebugString();
            return grpc::Status::OK;
          }
          return reader->Finish();
        },
        "queue billing"};
    return cases;
  }

  static std::string* dir_;
  static TestStack* stack_;
  int calls_ = 0;
  std::map<std::string, Creds> resolved_;  // control event id -> who resolved
};

std::string* AuthIntegrationTest::dir_ = nullptr;
TestStack* AuthIntegrationTest::stack_ = nullptr;

TEST_F(AuthIntegrationTest, EveryMethodRefusesWithoutTheRightCredentialsAndDoesNothing) {
  auto cases = Cases();
  std::vector<std::string> methods;
  for (const char* name : {"earshot.v1.Ingest", "earshot.v1.Threads", "earshot.v1.Stream"}) {
    const auto* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      methods.push_back(fmt::format("/{}/{}", name, service->method(i)->name()));
      ASSERT_TRUE(cases.contains(methods.back()))
          << methods.back() << " has no case: add one to AuthIntegrationTest::Cases";
    }
  }

  std::set<std::string> refused;  // marks of refused calls: none may show on the events topic
  for (const std::string& method : methods) {
    SCOPED_TRACE(method);
    const MethodCase& c = cases[method];
    auto expect = [&](const Creds& creds, Target t, StatusCode code, const std::string& names) {
      const grpc::Status st = c.call(creds, t, &refused);
      EXPECT_EQ(st.error_code(), code) << Describe(creds) << ": " << st.error_message();
      EXPECT_NE(st.error_message().find(names), std::string::npos)
          << Describe(creds) << ": " << st.error_message();
    };
    expect({}, Target::kOwn, StatusCode::UNAUTHENTICATED, "missing `authorization");
    expect({"wrong-token-1234", ""}, Target::kOwn, StatusCode::UNAUTHENTICATED, "unknown token");
    // The handshake refuses them: no call is made.
    expect({kAllToken, "untrusted"}, Target::kOwn, StatusCode::UNAVAILABLE, "");
    expect({kAllToken, "expired"}, Target::kOwn, StatusCode::UNAVAILABLE, "");
    expect({kNothingToken, ""}, Target::kOwn, StatusCode::PERMISSION_DENIED,
           "principal nothing lacks");
    expect({kDeskToken, ""}, Target::kOther, StatusCode::PERMISSION_DENIED, "principal desk lacks");
    expect({kDeskToken, ""}, Target::kOther, StatusCode::PERMISSION_DENIED, c.other);
  }

  // Control events come only from Resolve, and a batch with one refused event produces none.
  {
    v1::PublishRequest req;
    v1::Event* ok = req.add_events();
    ok->set_event_id("auth-it-batch-allowed");
    ok->set_platform(v1::PLATFORM_TELEGRAM);
    ok->set_thread_key(kCareThread);
    ok->set_kind(v1::KIND_DIRECT_MESSAGE);
    ok->set_direction(v1::DIRECTION_INBOUND);
    v1::PublishRequest control = req;
    v1::Event* refused_event = req.add_events();
    *refused_event = *ok;
    refused_event->set_event_id("auth-it-batch-refused");
    refused_event->set_platform(v1::PLATFORM_FACEBOOK);
    control.mutable_events(0)->set_event_id("auth-it-control");
    control.mutable_events(0)->set_kind(v1::KIND_CONTROL);
    refused.insert({"auth-it-batch-allowed", "auth-it-batch-refused", "auth-it-control"});
    for (const auto& [request, token] :
         {std::pair{req, kDeskToken}, std::pair{control, kAllToken}}) {
      grpc::ClientContext ctx;
      Prepare(&ctx, token);
      v1::PublishResponse res;
      const auto st =
          v1::Ingest::NewStub(TlsChannel(*dir_, port(), {}))->Publish(&ctx, request, &res);
      EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED) << st.error_message();
      EXPECT_EQ(res.accepted(), 0);
    }
  }

  // Each method for a principal holding its scope: by token, and by client certificate.
  std::set<std::string> allowed;
  for (const std::string& method : methods) {
    SCOPED_TRACE(method);
    for (const Creds& creds : {Creds{kDeskToken, ""}, Creds{"", "client"}}) {
      const grpc::Status st = cases[method].call(creds, Target::kOwn, &allowed);
      EXPECT_TRUE(st.ok()) << Describe(creds) << ": " << st.error_message();
    }
  }

  // The events topic holds every allowed call's event and none of the refused ones'; a resolve's
  // actor is who resolved, the request's actor a note.
  // Two webhooks, two published events, two resolves.
  const auto events = TestStack::Events(stack_->ReadTopic("earshot.events.v1", 6));
  std::set<std::string> seen;
  for (const v1::Event& e : events) {
    seen.insert(e.kind() == v1::KIND_CONTROL ? e.control().reason() : e.event_id());
    if (auto it = resolved_.find(e.event_id()); it != resolved_.end()) {
      EXPECT_EQ(e.control().actor(),
                it->second.cert.empty() ? "desk (note: alice)" : "machine (note: alice)");
    }
  }
  for (const std::string& mark : refused) EXPECT_FALSE(seen.contains(mark)) << mark;
  for (const std::string& mark : allowed) EXPECT_TRUE(seen.contains(mark)) << mark;
  EXPECT_EQ(resolved_.size(), 2u);

  // The desk's and `nothing`'s refused resolves.
  EXPECT_EQ(Decisions(stack_->Metrics(), "denied", "/earshot.v1.Threads/Resolve"), 3);
}

// A unary call without generated stubs and without credentials: the status, and the answer's
// bytes.
std::pair<grpc::Status, std::string> RawCall(const std::shared_ptr<grpc::Channel>& channel,
                                             const std::string& method) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  Prepare(&ctx, "");
  grpc::Slice empty("", 0);
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response, [&](grpc::Status st) {
    status = st;
    done.Notify();
  });
  done.WaitForNotification();
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (status.ok() && response.Dump(&slices).ok()) {
    for (const auto& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  return {status, bytes};
}

TEST_F(AuthIntegrationTest, HealthNeedsNoCredentialsAndReflectionIsOff) {
  auto channel = TlsChannel(*dir_, port(), {});
  // HealthCheckResponse{status: SERVING}: probes carry no credentials.
  EXPECT_TRUE(
      WaitFor([&] { return RawCall(channel, "/grpc.health.v1.Health/Check").second == "\x08\x01"; },
              absl::Seconds(10)));
  EXPECT_EQ(RawCall(channel, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
                .first.error_code(),
            StatusCode::UNIMPLEMENTED);
}

TEST(SecureDefaultTest, NoPrincipalsOnAnOpenAddressRefusesToStart) {
  auto config = Config::FromYaml(testing::StackConfig());
  ASSERT_TRUE(config.ok());
  config->set_env_lookup([](const std::string& name) -> std::optional<std::string> {
    if (name == "EARSHOT_GRPC_ADDR") return "0.0.0.0:0";
    return std::nullopt;
  });
  const testing::TestFolder data("auth-secure-default");
  ProcessOptions options;
  options.data_dir = data.path();
  Process process(options, std::move(*config));
  const absl::Status st = process.Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  for (const char* names : {"grpc.addr 0.0.0.0:0", "auth.principals_file", "docs/security.md"}) {
    EXPECT_NE(st.message().find(names), std::string::npos) << st;
  }
  EXPECT_TRUE(IsLoopback("127.0.0.1:9090"));
  EXPECT_TRUE(IsLoopback("127.8.0.1:9090"));
  EXPECT_TRUE(IsLoopback("[::1]:9090"));
  EXPECT_TRUE(IsLoopback("localhost:9090"));
  EXPECT_FALSE(IsLoopback("0.0.0.0:9090"));
  EXPECT_FALSE(IsLoopback("[::]:9090"));
  EXPECT_FALSE(IsLoopback("10.0.0.7:9090"));
  EXPECT_FALSE(IsLoopback("earshot.example.com:9090"));
}

// A reload (SIGHUP, or the watched file changed) swaps the principals whole; a broken file keeps
// the previous ones.
TEST(PrincipalsReloadTest, NewTokensApplyAndABrokenFileKeepsTheOldOnes) {
  const std::string path = WriteFile("reload-principals.yaml", R"(principals:
  - {name: desk, tokens: [{value: first-token}], scopes: {threads:read: [care]}}
)");
  testing::StackOptions options;
  options.extra_config =
      "auth: {principals_file: \"" + path + "\"}\nreload: {watch_interval: 0s}\n";
  TestStack stack(options);
  auto list = [&](const std::string& token) {
    grpc::ClientContext ctx;
    Prepare(&ctx, token);
    v1::ListThreadsRequest req;
    req.set_queue("care");
    v1::ListThreadsResponse res;
    return v1::Threads::NewStub(
               grpc::CreateChannel("127.0.0.1:" + std::to_string(stack.process().grpc_port()),
                                   grpc::InsecureChannelCredentials()))
        ->ListThreads(&ctx, req, &res)
        .error_code();
  };
  EXPECT_EQ(list("first-token"), StatusCode::OK);
  EXPECT_EQ(list("second-token"), StatusCode::UNAUTHENTICATED);
  std::ofstream(path) << "principals:\n"
                         "  - {name: desk, tokens: [{value: second-token}], scopes: "
                         "{threads:read: [care]}}\n";
  stack.process().Reload();
  EXPECT_EQ(list("first-token"), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(list("second-token"), StatusCode::OK);
  std::ofstream(path) << "principals:\n  - {name: desk, tokens: [{value: short}]}\n";
  stack.process().Reload();
  EXPECT_EQ(list("second-token"), StatusCode::OK);
}

// Two router replicas on one broker, each naming both as peers: a Threads call for a thread the
// other replica owns is forwarded with this replica's token (router.peers_token_file) on behalf
// of the caller, and the owner decides.
TEST(ForwardingTest, TheOwnerAuthorizesThePrincipalTheForwarderNames) {
  auto broker = kafka::EmbeddedBroker::Start(1, 4, kafka::StandardTopics());
  ASSERT_TRUE(broker.ok()) << broker.status();
  const std::string bootstrap = (*broker)->bootstrap();
  const int ports[2] = {testing::FreeLoopbackPort(), testing::FreeLoopbackPort()};
  const std::string token_file = WriteFile("forward-token", std::string(kForwardToken) + "\n");
  const std::string principals = PrincipalsFile();
  const std::string rules = RulesFile();
  std::vector<std::unique_ptr<testing::TestFolder>> data;
  std::vector<std::unique_ptr<Process>> replicas;
  for (int port : ports) {
    auto config = Config::FromYaml(fmt::format(
        R"(kafka: {{bootstrap: "{}", fetch_wait: 5ms}}
grpc: {{addr: "127.0.0.1:{}"}}
admin: {{addr: "127.0.0.1:0"}}
auth: {{principals_file: "{}"}}
router:
  rules_file: "{}"
  peers: ["127.0.0.1:{}", "127.0.0.1:{}"]
  peers_token_file: "{}"
)",
        bootstrap, port, principals, rules, ports[0], ports[1], token_file));
    ASSERT_TRUE(config.ok()) << config.status();
    config->set_env_lookup([](const std::string&) { return std::nullopt; });
    data.push_back(std::make_unique<testing::TestFolder>("auth-forwarding"));
    ProcessOptions options;
    options.target = "router";
    options.data_dir = data.back()->path();
    replicas.push_back(std::make_unique<Process>(options, std::move(*config)));
    const absl::Status st = replicas.back()->Start();
    ASSERT_TRUE(st.ok()) << st;
  }
  ASSERT_TRUE(
      WaitFor([&] { return replicas[0]->Ready() && replicas[1]->Ready(); }, absl::Seconds(60)));

  std::vector<kafka::Record> records;
  std::vector<std::string> keys;
  for (int n = 0; n < 16; ++n) {
    v1::Event e;
    e.set_event_id(absl::StrCat("auth-forwarding-", n));
    e.set_platform(v1::PLATFORM_TELEGRAM);
    e.set_account_id(testing::kTelegramBot);
    e.set_thread_key(absl::StrCat("tg:", testing::kTelegramBot, ":", 500 + n));
    e.set_direction(v1::DIRECTION_INBOUND);
    e.set_kind(v1::KIND_DIRECT_MESSAGE);
    e.set_text("hello?");
    *e.mutable_received_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
    keys.push_back(e.thread_key());
    records.push_back(kafka::EventRecord(e, "earshot.events.v1"));
  }
  kafka::ProducerOptions po;
  po.bootstrap = bootstrap;
  auto producer = kafka::Producer::Create(po, nullptr);
  ASSERT_TRUE(producer.ok()) << producer.status();
  absl::Notification produced;
  (*producer)->ProduceBatch(std::move(records), [&](absl::Status st) {
    EXPECT_TRUE(st.ok()) << st;
    produced.Notify();
  });
  produced.WaitForNotification();

  auto stub = [&](int replica) {
    return v1::Threads::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(ports[replica]),
                                                    grpc::InsecureChannelCredentials()));
  };
  auto get = [&](int replica, const std::string& key, bool local, const std::string& token) {
    grpc::ClientContext ctx;
    Prepare(&ctx, token);
    v1::GetThreadRequest req;
    req.set_thread_key(key);
    req.set_local(local);
    v1::Thread thread;
    return stub(replica)->GetThread(&ctx, req, &thread);
  };
  // A thread replica 1 owns, asked of replica 0 (which answers every thread through its peer).
  std::string remote;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const std::string& key : keys) {
          if (!get(0, key, false, kDeskToken).ok()) return false;
          if (get(0, key, true, kAllToken).error_code() == StatusCode::FAILED_PRECONDITION) {
            remote = key;
          }
        }
        return !remote.empty();
      },
      absl::Seconds(60)))
      << "no thread on replica 1, or not every thread answered";

  // A listing merges both replicas' pages, each authorized on the queue by its replica.
  auto list = [&](const std::string& token, const std::string& queue) {
    grpc::ClientContext ctx;
    Prepare(&ctx, token);
    v1::ListThreadsRequest req;
    req.set_queue(queue);
    v1::ListThreadsResponse res;
    const grpc::Status st = stub(0)->ListThreads(&ctx, req, &res);
    return st.ok() ? res.threads_size() : -st.error_code();
  };
  EXPECT_EQ(list(kDeskToken, "care"), 16);
  EXPECT_EQ(list(kDeskToken, ""), -StatusCode::PERMISSION_DENIED);  // every queue: "*" only
  EXPECT_EQ(list(kAllToken, ""), 16);

  auto resolve = [&](const std::string& token, v1::ResolveResponse* res) {
    grpc::ClientContext ctx;
    Prepare(&ctx, token);
    v1::ResolveRequest req;
    req.set_thread_key(remote);
    req.set_actor("alice");
    return stub(0)->Resolve(&ctx, req, res);
  };
  v1::ResolveResponse denied_res;
  const grpc::Status denied = resolve(kReaderToken, &denied_res);
  EXPECT_EQ(denied.error_code(), StatusCode::PERMISSION_DENIED) << denied.error_message();
  EXPECT_EQ(denied.error_message(), "principal reader lacks threads:resolve on queue care");
  EXPECT_EQ(resolve("wrong-token-1234", &denied_res).error_code(), StatusCode::UNAUTHENTICATED);
  v1::ResolveResponse res;
  const grpc::Status st = resolve(kDeskToken, &res);
  ASSERT_TRUE(st.ok()) << st.error_message();

  // The owner decided: its metrics count the refusal, the forwarder's do not.
  auto denials = [&](int replica) {
    http::Client admin("127.0.0.1", replicas[replica]->admin_port());
    auto metrics = admin.Get("/metrics");
    return Decisions(metrics.ok() ? metrics->body : "", "denied", "/earshot.v1.Threads/Resolve");
  };
  EXPECT_EQ(denials(1), 1);
  EXPECT_EQ(denials(0), 0);

  // The control event names the principal the forwarder acted for.
  kafka::ConsumerOptions co;
  co.bootstrap = bootstrap;
  co.group_id = "auth-forwarding-reader";
  auto consumer = kafka::Consumer::Create(co);
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)->AssignAll("earshot.events.v1").ok());
  std::string actor;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (actor.empty() && absl::Now() < deadline) {
    auto batch = (*consumer)->Poll(1000, absl::Milliseconds(100));
    ASSERT_TRUE(batch.ok());
    for (const auto& m : *batch) {
      v1::Event e;
      if (e.ParseFromString(m.value) && e.event_id() == res.event_id()) actor = e.control().actor();
    }
  }
  EXPECT_EQ(actor, "desk (note: alice)");
  replicas.clear();
}

}  // namespace
}  // namespace earshot
