#pragma once
// TestStack: a whole `earshot --target=all` process inside the test (embedded Kafka-protocol
// broker, real sockets on 127.0.0.1 port 0, a temporary data folder), plus helpers to sign and
// send webhooks and to read topics back with a real Kafka consumer.
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "earshot/v1/event.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/config.h"
#include "services/common/crypto/encoding.h"
#include "services/common/http/client.h"
#include "services/common/kafka/consumer.h"
#include "services/earshot/process.h"
#include "services/gateway/gateway_app.h"
#include "services/gateway/signature.h"
#include "tests/integration/test_folder.h"
#include "tests/integration/test_kafka.h"

namespace earshot::testing {

inline constexpr char kXSecret[] = "test-consumer-secret";
inline constexpr char kMetaSecret[] = "test-app-secret";
inline constexpr char kTelegramToken[] = "tg-secret-token";
inline constexpr char kTelegramBot[] = "7000000001";
inline constexpr char kGenericSecret[] = "whsec_c3RhY2stZ2VuZXJpYy1zZWNyZXQ=";

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string ReadFixture(const std::string& name) {
  return ReadFile(std::string(EARSHOT_FIXTURES_DIR) + "/" + name);
}

// A CA (ca.crt), a server certificate for localhost/127.0.0.1 and a client certificate
// ({server,client}.{crt,key}) in TempDir()/<name>, made with the openssl command line
// (elliptic-curve keys: quick). Returns the folder.
inline std::string MakeCertificates(const std::string& name) {
  // A folder of this call's own: a test and its real_kafka variant run at the same time under
  // ctest -j2, and one rewriting the other's CA mid-test failed its TLS handshakes.
  std::string dir = ::testing::TempDir() + "/" + name + "-XXXXXX";
  EXPECT_NE(mkdtemp(dir.data()), nullptr) << "cannot create " << dir;
  const std::string script =
      "set -e; mkdir -p " + dir + "; cd " + dir +
      "; k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'"
      "; openssl req -x509 $k -keyout ca.key -out ca.crt -subj /CN=earshot-test-ca -days 1"
      "; printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext"
      "; for who in server client; do"
      "   openssl req $k -keyout $who.key -out $who.csr -subj /CN=$who;"
      "   openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1"
      "     -extfile san.ext -out $who.crt;"
      " done";
  EXPECT_EQ(std::system(("(" + script + ") >/dev/null 2>&1").c_str()), 0);
  return dir;
}

// The environment an operator sets for mutual TLS on the gRPC listener (EARSHOT_GRPC_TLS_*,
// client certificates required), with the files of MakeCertificates(`dir`).
inline Config::EnvLookup MutualTlsEnv(const std::string& dir) {
  return [dir](const std::string& name) -> std::optional<std::string> {
    if (name == "EARSHOT_GRPC_TLS_CERT_FILE") return dir + "/server.crt";
    if (name == "EARSHOT_GRPC_TLS_KEY_FILE") return dir + "/server.key";
    if (name == "EARSHOT_GRPC_TLS_CLIENT_CA_FILE") return dir + "/ca.crt";
    if (name == "EARSHOT_GRPC_TLS_REQUIRE_CLIENT_CERTIFICATE") return "true";
    return std::nullopt;
  };
}

inline std::string StackConfig(const std::string& extra = "", const std::string& bootstrap = "",
                               int64_t body_limit_bytes = 2097152) {
  return std::string(R"(
http: {addr: "127.0.0.1:0", threads: 2, body_limit_bytes: )") +
         std::to_string(body_limit_bytes) + R"(}
grpc: {addr: "127.0.0.1:0"}
admin: {addr: "127.0.0.1:0"}
kafka:
  bootstrap: ")" +
         bootstrap + R"("
  delivery_timeout: 3s
  embedded: {brokers: 1, partitions: 4}
x: {consumer_secret: )" +
         kXSecret + R"(}
meta: {app_secret: )" +
         kMetaSecret + R"(, verify_token: verify-me}
telegram: {secret_token: )" +
         kTelegramToken + R"(, bot_id: ")" + kTelegramBot + R"("}
generic: {sources: {reviews: {secret: )" +
         kGenericSecret + R"(}}}
)" + extra;
}

struct StackOptions {
  std::string extra_config;
  const Clock* clock = nullptr;  // null: the real clock
  std::string bootstrap;         // empty: the process's own embedded broker
  std::string data_dir;          // empty: a new temporary folder
  int64_t body_limit_bytes = 2097152;
  // EARSHOT_* settings, as the process's environment would give them (they win over the YAML).
  std::map<std::string, std::string> env;
  // How long the stack may take to be ready; a replica that joins others waits for their
  // rebalance too.
  absl::Duration ready_timeout = absl::Seconds(10);
};

class TestStack {
 public:
  explicit TestStack(const std::string& extra_config = "")
      : TestStack(StackOptions{extra_config}) {}
  explicit TestStack(const StackOptions& stack) {
    std::string bootstrap = stack.bootstrap;
    std::map<std::string, std::string> env = stack.env;
    if (TestKafka::Real() && (bootstrap.empty() || bootstrap == TestKafka::Bootstrap())) {
      bootstrap = TestKafka::Bootstrap();
      // As many partitions as the embedded broker has; consumer groups of this stack's own, so
      // that no member of an earlier test's group delays this one's assignment (unless the
      // test names the groups: stacks that take over each other's state share them).
      env["EARSHOT_KAFKA_TOPICS_PARTITIONS"] = "4";
      env.emplace("EARSHOT_ROUTER_GROUP_ID", TestKafka::UniqueName("earshot-router"));
      env.emplace("EARSHOT_SLA_GROUP_ID", TestKafka::UniqueName("earshot-sla"));
    }
    auto config =
        Config::FromYaml(StackConfig(stack.extra_config, bootstrap, stack.body_limit_bytes));
    EXPECT_TRUE(config.ok()) << config.status();
    config->set_env_lookup([env](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    });
    ProcessOptions options;
    options.target = "all";
    options.clock = stack.clock;
    if (stack.data_dir.empty()) own_data_.emplace("earshot-stack");
    options.data_dir = own_data_ ? own_data_->path() : stack.data_dir;
    TestKafka::StackStarted();
    process_ = std::make_unique<Process>(options, std::move(*config));
    auto st = process_->Start();
    EXPECT_TRUE(st.ok()) << st;
    http_port_ = static_cast<gateway::GatewayApp*>(process_->service("gateway"))->http_port();
    EXPECT_TRUE(WaitReady(true, stack.ready_timeout));
  }

  ~TestStack() {
    process_.reset();
    TestKafka::StackStopped();
  }

  Process& process() { return *process_; }
  int http_port() const { return http_port_; }
  const std::string& bootstrap() const { return process_->kafka_bootstrap(); }

  http::ClientResponse Post(const std::string& path, const std::string& body,
                            std::vector<std::pair<std::string, std::string>> headers) {
    http::Client client("127.0.0.1", http_port_);
    headers.emplace_back("Content-Type", "application/json");
    auto r = client.Send("POST", path, body, headers);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : http::ClientResponse{};
  }
  http::ClientResponse PostX(const std::string& body) {
    return Post("/webhooks/x", body,
                {{"x-twitter-webhooks-signature",
                  "sha256=" + crypto::Base64Encode(crypto::HmacSha256(kXSecret, body))}});
  }
  http::ClientResponse PostMeta(const std::string& body) {
    return Post("/webhooks/meta", body,
                {{"X-Hub-Signature-256", gateway::MetaSignature(body, kMetaSecret)}});
  }
  http::ClientResponse PostTelegram(const std::string& body) {
    return Post("/webhooks/telegram", body, {{"X-Telegram-Bot-Api-Secret-Token", kTelegramToken}});
  }
  http::ClientResponse PostGeneric(const std::string& source, const std::string& body,
                                   const std::string& msg_id) {
    const std::string ts = std::to_string(absl::ToUnixSeconds(absl::Now()));
    return Post(
        "/webhooks/generic/" + source, body,
        {{"webhook-id", msg_id},
         {"webhook-timestamp", ts},
         {"webhook-signature", gateway::SignStandardWebhook(msg_id, ts, body, kGenericSecret)}});
  }

  int ReadyzStatus() {
    http::Client admin("127.0.0.1", process_->admin_port());
    auto r = admin.Get("/readyz");
    return r.ok() ? r->status : 0;
  }
  bool WaitReady(bool ready, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if ((ReadyzStatus() == 200) == ready) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }
  std::string Metrics() {
    http::Client admin("127.0.0.1", process_->admin_port());
    auto r = admin.Get("/metrics");
    return r.ok() ? r->body : "";
  }

  // Every record of `topic` from the beginning: waits until `want` arrived or `timeout` passed,
  // then keeps reading for `settle` to catch records that should not be there.
  std::vector<kafka::Message> ReadTopic(const std::string& topic, size_t want,
                                        absl::Duration timeout = absl::Seconds(30),
                                        absl::Duration settle = absl::Milliseconds(300)) {
    kafka::ConsumerOptions o;
    o.bootstrap = bootstrap();
    o.group_id = "test-reader-" + std::to_string(absl::ToUnixNanos(absl::Now()));
    o.extra["max.partition.fetch.bytes"] = "8388608";  // records up to a 4 MiB body and more
    auto consumer = kafka::Consumer::Create(o);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    EXPECT_TRUE((*consumer)->AssignAll(topic).ok());
    std::vector<kafka::Message> out;
    absl::Time deadline = absl::Now() + timeout;
    bool settling = false;
    while (absl::Now() < deadline) {
      auto batch = (*consumer)->Poll(1000, absl::Milliseconds(100));
      EXPECT_TRUE(batch.ok()) << batch.status();
      if (!batch.ok()) break;
      for (auto& m : *batch) out.push_back(std::move(m));
      if (!settling && out.size() >= want) {
        settling = true;
        deadline = absl::Now() + settle;
      }
    }
    return out;
  }

  static std::vector<earshot::v1::Event> Events(const std::vector<kafka::Message>& msgs) {
    std::vector<earshot::v1::Event> out;
    for (const auto& m : msgs) {
      earshot::v1::Event e;
      EXPECT_TRUE(e.ParseFromString(m.value));
      out.push_back(std::move(e));
    }
    return out;
  }

 private:
  std::optional<TestFolder> own_data_;  // declared first: removed after the process stopped
  std::unique_ptr<Process> process_;
  int http_port_ = 0;
};

// A Messenger message from customer `n` to the page, a conversation of its own; its mid (and
// event id, MessengerEventId) is told apart from other tests' by `tag`.
inline std::string MessengerMessage(const std::string& tag, int n) {
  return absl::StrCat(
      R"({"object":"page","entry":[{"id":"105550000000001","time":1741171000456,"messaging":[)",
      R"({"sender":{"id":"7)", n, R"("},"recipient":{"id":"105550000000001"},)",
      R"("timestamp":1741171000321,"message":{"mid":"m_)", tag, "_", n,
      R"(","text":"Where is my order?"}}]}]})");
}
inline std::string MessengerEventId(const std::string& tag, int n) {
  return absl::StrCat("fbm:m_", tag, "_", n);
}

// Waits until `pred` holds, up to `timeout`.
inline bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return pred();
}

}  // namespace earshot::testing
