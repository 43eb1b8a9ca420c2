// Replayer against a real HTTP server on loopback that answers like the gateway and checks each
// request's signature with the gateway's own verifiers.
#include "services/replay/replayer.h"

#include <deque>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "services/common/http/server.h"
#include "services/gateway/signature.h"

namespace earshot::replay {
namespace {

constexpr char kMetaSecret[] = "test-app-secret";
constexpr char kXSecret[] = "test-consumer-secret";
constexpr char kTgToken[] = "tg-secret-token";
constexpr char kGenericSecret[] = "whsec_c3RhY2stZ2VuZXJpYy1zZWNyZXQ=";

struct Seen {
  std::string path;
  std::string body;
  absl::Time at;
  bool signature_ok = false;
};

// A stand-in gateway: verifies signatures per route, answers 200 with the gateway's JSON (or
// what `status_for` says), optionally after `answer_delay`; records what it saw.
class FakeGateway final : public http::Handler {
 public:
  FakeGateway() {
    http::ServerOptions o;
    o.addr = "127.0.0.1:0";
    o.threads = 2;
    server_ = std::make_unique<http::Server>(o, this);
    EXPECT_TRUE(server_->Start().ok());
    answerer_ = std::thread([this] { AnswerLoop(); });
  }
  ~FakeGateway() override {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    answerer_.join();
    server_->Stop(absl::Seconds(1));
  }

  int port() const { return server_->port(); }
  Endpoint endpoint() const { return Endpoint{"127.0.0.1", port()}; }

  void Handle(http::Request request, http::Responder respond) override {
    const std::string path = request.path;
    const std::string body(request.body());
    bool ok = false;
    if (path == "/webhooks/meta") {
      ok = gateway::VerifyMeta(body, request.header("X-Hub-Signature-256"), {kMetaSecret}).ok();
    } else if (path == "/webhooks/x") {
      ok = gateway::VerifyX(body, request.header("x-twitter-webhooks-signature"),
                            request.header("X-Twitter-Webhooks-Signature-OAuth2"), {kXSecret})
               .ok();
    } else if (path.starts_with("/webhooks/telegram")) {
      ok = gateway::VerifyTelegram(request.header("X-Telegram-Bot-Api-Secret-Token"), {kTgToken})
               .ok();
    } else if (path.starts_with("/webhooks/generic/")) {
      ok = gateway::VerifyStandardWebhook(
               request.header("webhook-id"), request.header("webhook-timestamp"), body,
               request.header("webhook-signature"), {kGenericSecret}, absl::Now(), absl::Minutes(5))
               .ok();
    }
    absl::MutexLock lock(&mu_);
    seen_.push_back(Seen{path, body, absl::Now(), ok});
    ++in_flight_;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    int status = ok ? 200 : 401;
    if (auto it = status_for_.find(path); it != status_for_.end()) status = it->second;
    http::Response response = http::Response::Json(
        status, status == 200 ? R"({"accepted":2,"ignored":1,"deadlettered":false})"
                              : R"({"error":"UNAVAILABLE","message":"no"})");
    pending_.push_back({absl::Now() + answer_delay_, std::move(response), std::move(respond)});
  }

  void set_answer_delay(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    answer_delay_ = d;
  }
  void set_status(const std::string& path, int status) {
    absl::MutexLock lock(&mu_);
    status_for_[path] = status;
  }
  std::vector<Seen> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }
  int max_in_flight() {
    absl::MutexLock lock(&mu_);
    return max_in_flight_;
  }

 private:
  struct Pending {
    absl::Time due;
    http::Response response;
    http::Responder respond;
  };

  void AnswerLoop() {
    for (;;) {
      std::vector<Pending> due;
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return;
        const absl::Time now = absl::Now();
        while (!pending_.empty() && pending_.front().due <= now) {
          due.push_back(std::move(pending_.front()));
          pending_.pop_front();
          --in_flight_;
        }
      }
      for (auto& p : due) std::move(p.respond)(std::move(p.response));
      absl::SleepFor(absl::Milliseconds(2));
    }
  }

  absl::Mutex mu_;
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mu_);
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> status_for_ ABSL_GUARDED_BY(mu_);
  absl::Duration answer_delay_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int max_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<http::Server> server_;
  std::thread answerer_;
};

// The gateway's config keys; `with_telegram` false leaves telegram.secret_token unset.
SigningSecrets Secrets(bool with_telegram = true) {
  std::string yaml = fmt::format(
      "meta: {{app_secret: {}}}\nx: {{consumer_secret: {}}}\n"
      "generic: {{sources: {{reviews: {{secret: \"{}\"}}}}}}\n",
      kMetaSecret, kXSecret, kGenericSecret);
  if (with_telegram) yaml += fmt::format("telegram: {{secret_token: {}}}\n", kTgToken);
  auto config = Config::FromYaml(yaml);
  EXPECT_TRUE(config.ok()) << config.status();
  config->set_env_lookup([](const std::string&) { return std::nullopt; });
  auto s = SigningSecrets::FromConfig(*config);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : SigningSecrets();
}

std::vector<Recording> Parse(const std::string& text) {
  auto r = ParseRecordings(text, "test.jsonl");
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<Recording>{};
}

std::vector<Recording> Lines(int n, const std::string& platform = "meta") {
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += R"({"platform":")" + platform + R"(","body":{"n":)" + std::to_string(i) + "}}\n";
  }
  return Parse(text);
}

ReplayOptions Options(const FakeGateway& gw) {
  ReplayOptions o;
  o.gateway = gw.endpoint();
  return o;
}

TEST(ReplayerTest, SendsEveryPlatformSignedInFileOrderAndSumsUp) {
  FakeGateway gw;
  const auto recs = Parse(R"({"platform":"meta","body":{"object":"page","entry":[]}}
{"platform":"x","body":{"for_user_id":"1","tweet_create_events":[]}}
{"platform":"telegram","path":"/webhooks/telegram/7000000001","body":{"update_id":1}}
{"platform":"generic","source":"reviews","headers":{"webhook-id":"msg_{{run}}"},"body":{"id":"r1","thread_id":"r1"}}
)");
  Replayer replayer(Options(gw), Secrets());
  auto summary = replayer.Run(recs);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(summary->ok());
  EXPECT_EQ(summary->total, 4);
  EXPECT_EQ(summary->sent, 4);
  EXPECT_EQ(summary->status_2xx, 4);
  EXPECT_EQ(summary->events_accepted, 8);
  EXPECT_EQ(summary->parts_ignored, 4);
  EXPECT_GT(summary->latency_p50, absl::ZeroDuration());
  EXPECT_GE(summary->latency_p99, summary->latency_p50);
  const auto seen = gw.seen();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].path, "/webhooks/meta");
  EXPECT_EQ(seen[1].path, "/webhooks/x");
  EXPECT_EQ(seen[2].path, "/webhooks/telegram/7000000001");
  EXPECT_EQ(seen[3].path, "/webhooks/generic/reviews");
  for (const auto& s : seen) EXPECT_TRUE(s.signature_ok) << s.path;
  EXPECT_EQ(seen[0].body, R"({"object":"page","entry":[]})");
  const Progress p = replayer.progress();
  EXPECT_EQ(p.done, 4);
  EXPECT_EQ(p.failed, 0);
}

TEST(ReplayerTest, HoldsTheRate) {
  FakeGateway gw;
  ReplayOptions o = Options(gw);
  o.rate = 40;  // 20 requests: 19 intervals of 25 ms
  o.concurrency = 4;
  Replayer replayer(o, Secrets());
  auto summary = replayer.Run(Lines(20));
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->status_2xx, 20);
  EXPECT_GE(summary->elapsed, absl::Milliseconds(450));
  EXPECT_LT(summary->elapsed, absl::Seconds(3));
}

TEST(ReplayerTest, KeepsAtMostConcurrencyRequestsInFlight) {
  FakeGateway gw;
  gw.set_answer_delay(absl::Milliseconds(100));
  ReplayOptions o = Options(gw);
  o.concurrency = 4;
  Replayer replayer(o, Secrets());
  auto summary = replayer.Run(Lines(12));
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->status_2xx, 12);
  EXPECT_EQ(gw.max_in_flight(), 4);
  // Three rounds of four, not twelve one after another.
  EXPECT_LT(summary->elapsed, absl::Milliseconds(900));
  EXPECT_GE(summary->latency_p50, absl::Milliseconds(90));
}

TEST(ReplayerTest, DelayWaitsForEarlierAnswersAndMovesTheTimeline) {
  FakeGateway gw;
  gw.set_answer_delay(absl::Milliseconds(100));
  const auto recs = Parse(R"({"platform":"meta","body":{"t":"{{now_ms}}"}}
{"platform":"meta","body":{"t":"{{now_ms}}"}}
{"platform":"meta","delay_ms":300,"body":{"t":"{{now_ms}}"}}
)");
  ReplayOptions o = Options(gw);
  o.concurrency = 4;
  Replayer replayer(o, Secrets());
  auto summary = replayer.Run(recs);
  ASSERT_TRUE(summary.ok());
  ASSERT_TRUE(summary->ok());
  const auto seen = gw.seen();
  ASSERT_EQ(seen.size(), 3u);
  // The delayed line went out 300 ms after both earlier answers (which took 100 ms).
  EXPECT_GE(seen[2].at - seen[0].at, absl::Milliseconds(390));
  // Placeholders follow the scenario's timeline: the first two share the start, the third is
  // exactly 300 ms later.
  EXPECT_EQ(seen[0].body, seen[1].body);
  const int64_t t0 = std::stoll(seen[0].body.substr(6, 13));
  const int64_t t2 = std::stoll(seen[2].body.substr(6, 13));
  EXPECT_EQ(t2 - t0, 300);
}

TEST(ReplayerTest, ExactRedeliveryHasTheSameBytesAndRunIdsAreFresh) {
  FakeGateway gw;
  const auto recs = Parse(R"({"platform":"meta","body":{"id":"c{{run}}","time":"{{num:now_unix}}"}}
{"platform":"meta","delay_ms":5000,"body":{"id":"c{{run}}","time":"{{num:now_unix-5}}"}}
)");
  ReplayOptions o = Options(gw);
  o.delay_scale = 0;  // the timeline moves 5 s; the test does not wait for it
  o.run_id = "42";
  Replayer replayer(o, Secrets());
  auto summary = replayer.Run(recs);
  ASSERT_TRUE(summary.ok());
  EXPECT_LT(summary->elapsed, absl::Seconds(2));
  const auto seen = gw.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].body, seen[1].body);
  EXPECT_TRUE(seen[0].body.starts_with(R"({"id":"c42","time":1)")) << seen[0].body;
}

TEST(ReplayerTest, CountsAnswersByClassAndListsFailuresByLine) {
  FakeGateway gw;
  gw.set_status("/webhooks/x", 503);
  gw.set_status("/webhooks/gone", 404);
  const auto recs = Parse(R"({"platform":"meta","body":{}}
{"platform":"x","body":{}}
{"platform":"meta","path":"/webhooks/gone","body":{}}
{"platform":"meta","body":{"bad":"{{now_unx}}"}}
{"platform":"meta","body":{}}
)");
  Replayer replayer(Options(gw), Secrets());
  auto summary = replayer.Run(recs);
  ASSERT_TRUE(summary.ok());
  EXPECT_FALSE(summary->ok());
  EXPECT_EQ(summary->sent, 5);
  EXPECT_EQ(summary->status_2xx, 2);
  EXPECT_EQ(summary->status_4xx, 1);
  EXPECT_EQ(summary->status_5xx, 1);
  EXPECT_EQ(summary->errors, 1);
  EXPECT_EQ(summary->failed(), 3);
  ASSERT_EQ(summary->failures.size(), 3u);
  EXPECT_EQ(summary->failures[0].line, 2);
  EXPECT_EQ(summary->failures[0].status, 503);
  EXPECT_NE(summary->failures[0].message.find("UNAVAILABLE"), std::string::npos);
  EXPECT_EQ(summary->failures[1].line, 3);
  EXPECT_EQ(summary->failures[2].line, 4);
  EXPECT_EQ(summary->failures[2].status, 0);
  EXPECT_NE(summary->failures[2].message.find("now_unx"), std::string::npos);
}

TEST(ReplayerTest, NoGatewayIsAnErrorPerLine) {
  int port = 0;
  {
    FakeGateway gw;
    port = gw.port();
  }
  ReplayOptions o;
  o.gateway = Endpoint{"127.0.0.1", port};
  o.timeout = absl::Seconds(2);
  Replayer replayer(o, Secrets());
  auto summary = replayer.Run(Lines(2));
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->errors, 2);
  ASSERT_EQ(summary->failures.size(), 2u);
  EXPECT_NE(summary->failures[0].message.find("connect"), std::string::npos)
      << summary->failures[0].message;
}

TEST(ReplayerTest, AMissingSecretFailsBeforeAnythingIsSent) {
  FakeGateway gw;
  SigningSecrets s = Secrets(/*with_telegram=*/false);
  Replayer replayer(Options(gw), s);
  auto summary =
      replayer.Run(Parse("{\"platform\":\"meta\",\"body\":{}}\n"
                         "{\"platform\":\"telegram\",\"body\":{}}\n"));
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(summary.status().message().find("line 2"), absl::string_view::npos);
  EXPECT_TRUE(gw.seen().empty());
}

TEST(ReplayerTest, CancelStopsALongReplayPromptly) {
  FakeGateway gw;
  const auto recs = Parse(
      "{\"platform\":\"meta\",\"body\":{}}\n"
      "{\"platform\":\"meta\",\"delay_ms\":60000,\"body\":{}}\n");
  Replayer replayer(Options(gw), Secrets());
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(200));
    replayer.Cancel();
  });
  const absl::Time start = absl::Now();
  auto summary = replayer.Run(recs);
  canceller.join();
  ASSERT_TRUE(summary.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(summary->cancelled);
  EXPECT_EQ(summary->sent, 1);
  EXPECT_FALSE(summary->ok());
}

TEST(ReplayerTest, GatewayUrls) {
  auto a = ParseGatewayUrl("http://127.0.0.1:8080");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  auto b = ParseGatewayUrl("localhost:9");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->host == "127.0.0.1" || b->host == "::1") << b->host;
  EXPECT_EQ(b->port, 9);
  auto c = ParseGatewayUrl("http://127.0.0.1/");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->port, 80);
  EXPECT_EQ(ParseGatewayUrl("https://x:1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseGatewayUrl("http://127.0.0.1:8080/webhooks/meta").ok());
  EXPECT_FALSE(ParseGatewayUrl("127.0.0.1:http").ok());
  EXPECT_FALSE(ParseGatewayUrl("").ok());
}

}  // namespace
}  // namespace earshot::replay
