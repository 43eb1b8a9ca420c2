#include "services/gateway/webhook_handler.h"

#include <optional>

#include "earshot/v1/event.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/clock.h"
#include "services/gateway/signature.h"

namespace earshot::gateway {
namespace {

// A Kafka stand-in at the RecordSink seam: keeps what it is given and answers at once.
class FakeSink : public kafka::RecordSink {
 public:
  void ProduceBatch(std::vector<kafka::Record> records, Callback done) override {
    for (auto& r : records) records_.push_back(std::move(r));
    std::move(done)(result_);
  }
  bool reachable() const override { return reachable_; }

  std::vector<kafka::Record> On(const std::string& topic) const {
    std::vector<kafka::Record> out;
    for (const auto& r : records_) {
      if (r.topic == topic) out.push_back(r);
    }
    return out;
  }

  std::vector<kafka::Record> records_;
  absl::Status result_;
  bool reachable_ = true;
};

// Every source configured; Meta's app secret as given.
Config SourcesConfig(const std::string& meta_app_secret = "test-app-secret") {
  auto config = Config::FromYaml(R"(
x: {consumer_secret: test-consumer-secret}
meta: {app_secret: )" + meta_app_secret +
                                 R"(, verify_token: verify-me}
telegram: {secret_token: tg-secret, bot_id: "7000000001"}
generic: {sources: {reviews: {secret: whsec_c2VjcmV0}}}
)");
  EXPECT_TRUE(config.ok()) << config.status();
  config->set_env_lookup([](const std::string&) { return std::nullopt; });
  return *std::move(config);
}

class WebhookHandlerTest : public ::testing::Test {
 protected:
  WebhookHandlerTest() {
    auto o = WebhookOptions::FromConfig(SourcesConfig());
    EXPECT_TRUE(o.ok()) << o.status();
    handler_ = std::make_unique<WebhookHandler>(*o, &sink_, registry_, clock_);
  }

  http::Response Send(std::string method, std::string target, std::string body = "",
                      std::vector<std::pair<std::string, std::string>> headers = {
                          {"Content-Type", "application/json"}}) {
    http::Request req;
    req.message.method_string(method);
    req.message.target(target);
    req.message.body() = body;
    for (const auto& [k, v] : headers) req.message.set(k, v);
    auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    std::optional<http::Response> out;
    handler_->Handle(std::move(req), [&out](http::Response r) { out = std::move(r); });
    EXPECT_TRUE(out.has_value()) << "handler did not answer";
    return out.value_or(http::Response{});
  }

  http::Response PostMeta(const std::string& body) {
    return Send("POST", "/webhooks/meta", body,
                {{"Content-Type", "application/json"},
                 {"X-Hub-Signature-256", MetaSignature(body, "test-app-secret")}});
  }

  FakeClock clock_{absl::FromUnixSeconds(1741170000)};
  FakeSink sink_;
  prometheus::Registry registry_;
  std::unique_ptr<WebhookHandler> handler_;
};

constexpr char kComment[] =
    R"({"object":"page","entry":[{"id":"105550000000001","time":1741170000,"changes":[{"field":"feed","value":{"from":{"id":"6012345678901234","name":"Lena Vogt"},"item":"comment","verb":"add","post_id":"105550000000001_901234567890123","comment_id":"901234567890123_1122334455667788","parent_id":"105550000000001_901234567890123","message":"Is the spring sale also valid in stores?","created_time":1741169990}}]}]})";

TEST_F(WebhookHandlerTest, XCrcAnsweredWithResponseToken) {
  auto r = Send("GET", "/webhooks/x?crc_token=crc-token-123");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"response_token":"sha256=m3yscIcSwL62BbDuWy/k/ml4+4Yfj3c0hep3IWko1Ws="})");
  EXPECT_EQ(Send("GET", "/webhooks/x").status, 400);
}

TEST_F(WebhookHandlerTest, MetaChallengeEchoedOnlyForTheVerifyToken) {
  auto ok =
      Send("GET",
           "/webhooks/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=verify-me");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "1158201444");
  EXPECT_EQ(
      Send("GET", "/webhooks/meta?hub.mode=subscribe&hub.challenge=1&hub.verify_token=nope").status,
      403);
  EXPECT_EQ(
      Send("GET", "/webhooks/meta?hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=verify-me")
          .status,
      403);
}

TEST_F(WebhookHandlerTest, SignedCommentProducesEventAndRawRecord) {
  auto r = PostMeta(kComment);
  EXPECT_EQ(r.status, 200) << r.body;
  auto events = sink_.On("earshot.events.v1");
  ASSERT_EQ(events.size(), 1u);
  earshot::v1::Event e;
  ASSERT_TRUE(e.ParseFromString(events[0].value));
  EXPECT_EQ(events[0].key, "fb:105550000000001:c:901234567890123_1122334455667788");
  EXPECT_EQ(e.thread_key(), events[0].key);
  EXPECT_EQ(e.received_at().seconds(), 1741170000);
  auto header = [&](const std::string& name) {
    for (const auto& [k, v] : events[0].headers) {
      if (k == name) return v;
    }
    return std::string();
  };
  EXPECT_EQ(header("ce_id"), e.event_id());
  EXPECT_EQ(header("ce_specversion"), "1.0");
  EXPECT_EQ(header("content-type"), "application/protobuf");
  EXPECT_EQ(header("ce_time"), "2025-03-05T10:19:50.000Z");
  auto raw = sink_.On("earshot.raw.v1");
  ASSERT_EQ(raw.size(), 1u);
  earshot::v1::RawWebhook rw;
  ASSERT_TRUE(rw.ParseFromString(raw[0].value));
  EXPECT_EQ(rw.body(), kComment);
  EXPECT_EQ(rw.headers().at("x-hub-signature-256"), MetaSignature(kComment, "test-app-secret"));
  EXPECT_TRUE(raw[0].key.empty()) << "raw requests are not keyed: " << raw[0].key;
  EXPECT_FALSE(rw.request_id().empty());
  bool id_header = false;
  for (const auto& [k, v] : raw[0].headers) id_header |= k == "ce_id" && v == rw.request_id();
  EXPECT_TRUE(id_header) << "ce_id is the request id";
  EXPECT_TRUE(sink_.On("earshot.deadletter.v1").empty());
}

TEST_F(WebhookHandlerTest, BadInputAnsweredAndNothingProduced) {
  // Bad signature.
  auto r = Send("POST", "/webhooks/meta", kComment,
                {{"Content-Type", "application/json"}, {"X-Hub-Signature-256", "sha256=00"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("UNAUTHENTICATED"), std::string::npos) << r.body;
  // Missing signature.
  EXPECT_EQ(Send("POST", "/webhooks/meta", kComment).status, 401);
  // Wrong content type, even when signed.
  EXPECT_EQ(Send("POST", "/webhooks/meta", kComment,
                 {{"Content-Type", "text/plain"},
                  {"X-Hub-Signature-256", MetaSignature(kComment, "test-app-secret")}})
                .status,
            415);
  // Signed but not JSON.
  EXPECT_EQ(PostMeta("{not json").status, 400);
  // Unknown route and method.
  EXPECT_EQ(Send("POST", "/webhooks/myspace", "{}").status, 404);
  EXPECT_EQ(Send("PUT", "/webhooks/meta", "{}").status, 405);
  EXPECT_EQ(Send("GET", "/webhooks/telegram").status, 405);
  EXPECT_TRUE(sink_.records_.empty());
}

TEST_F(WebhookHandlerTest, UnknownShapeGoesToDeadLetterWithReason) {
  const std::string body =
      R"({"object":"page","entry":[{"id":"1","time":1,"changes":[{"field":"ratings","value":{"x":1}}]}]})";
  auto r = PostMeta(body);
  EXPECT_EQ(r.status, 200);
  auto dead = sink_.On("earshot.deadletter.v1");
  ASSERT_EQ(dead.size(), 1u);
  earshot::v1::DeadLetter dl;
  ASSERT_TRUE(dl.ParseFromString(dead[0].value));
  EXPECT_FALSE(dl.reason().empty());
  EXPECT_EQ(dl.raw().body(), body);
  EXPECT_TRUE(sink_.On("earshot.events.v1").empty());
}

TEST_F(WebhookHandlerTest, KafkaFailureIs503WithRetryAfter) {
  sink_.result_ = absl::UnavailableError("kafka delivery: Local: Message timed out");
  auto r = PostMeta(kComment);
  EXPECT_EQ(r.status, 503);
  bool retry_after = false;
  for (const auto& [k, v] : r.headers) retry_after |= k == "Retry-After" && !v.empty();
  EXPECT_TRUE(retry_after);
}

TEST_F(WebhookHandlerTest, UnreachableKafkaAnswers503WithoutProducing) {
  sink_.reachable_ = false;
  EXPECT_EQ(PostMeta(kComment).status, 503);
  EXPECT_TRUE(sink_.records_.empty());
}

TEST_F(WebhookHandlerTest, TelegramBotIdFromPathOrConfig) {
  const std::string body =
      R"({"update_id":731200451,"message":{"message_id":2817,"from":{"id":5123456789,"is_bot":false,"first_name":"Priya"},"chat":{"id":5123456789,"type":"private"},"date":1741174000,"text":"It's A-7710"}})";
  auto r = Send(
      "POST", "/webhooks/telegram", body,
      {{"Content-Type", "application/json"}, {"X-Telegram-Bot-Api-Secret-Token", "tg-secret"}});
  EXPECT_EQ(r.status, 200) << r.body;
  r = Send(
      "POST", "/webhooks/telegram/42", body,
      {{"Content-Type", "application/json"}, {"X-Telegram-Bot-Api-Secret-Token", "tg-secret"}});
  EXPECT_EQ(r.status, 200);
  auto events = sink_.On("earshot.events.v1");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].key, "tg:7000000001:5123456789");
  EXPECT_EQ(events[1].key, "tg:42:5123456789");
  EXPECT_EQ(Send("POST", "/webhooks/telegram", body,
                 {{"Content-Type", "application/json"}, {"X-Telegram-Bot-Api-Secret-Token", "x"}})
                .status,
            401);
}

TEST_F(WebhookHandlerTest, GenericSourceSignedWithinReplayWindow) {
  const std::string body =
      R"({"id":"r-1","thread_id":"rev-1","kind":"review","text":"Great kettle","rating":5})";
  const std::string ts = std::to_string(absl::ToUnixSeconds(clock_.Now()));
  const std::string sig = SignStandardWebhook("msg_1", ts, body, "whsec_c2VjcmV0");
  auto r = Send("POST", "/webhooks/generic/reviews", body,
                {{"Content-Type", "application/json"},
                 {"webhook-id", "msg_1"},
                 {"webhook-timestamp", ts},
                 {"webhook-signature", sig}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(sink_.On("earshot.events.v1").size(), 1u);
  EXPECT_EQ(Send("POST", "/webhooks/generic/unknown", body).status, 404);
  clock_.Advance(absl::Minutes(10));  // the same request, replayed too late
  EXPECT_EQ(Send("POST", "/webhooks/generic/reviews", body,
                 {{"Content-Type", "application/json"},
                  {"webhook-id", "msg_1"},
                  {"webhook-timestamp", ts},
                  {"webhook-signature", sig}})
                .status,
            401);
}

TEST(ParseQueryTest, KeepsDotsAndDecodes) {
  auto q = ParseQuery("hub.mode=subscribe&hub.challenge=12%2034&hub.verify_token=a+b&flag");
  EXPECT_EQ(q["hub.mode"], "subscribe");
  EXPECT_EQ(q["hub.challenge"], "12 34");
  EXPECT_EQ(q["hub.verify_token"], "a b");
  EXPECT_EQ(q.count("flag"), 1u);
}

// A Meta app secret rotated while the platform still signs with the old one: the old secret
// keeps passing for gateway.secret_overlap (default 1 h), the new one passes at once, and after
// the overlap only the new one does.
TEST_F(WebhookHandlerTest, RotatedSecretOverlapsThenTheOldOneIsRefused) {
  auto sources_with = [](const std::string& app_secret) {
    auto sources = SourceRegistry::FromConfig(SourcesConfig(app_secret));
    EXPECT_TRUE(sources.ok()) << sources.status();
    return std::make_shared<const SourceRegistry>(*std::move(sources));
  };
  auto post = [&](const std::string& secret) {
    return Send("POST", "/webhooks/meta", kComment,
                {{"Content-Type", "application/json"},
                 {"X-Hub-Signature-256", MetaSignature(kComment, secret)}})
        .status;
  };
  EXPECT_EQ(handler_->secrets_generation(), 1);
  EXPECT_FALSE(handler_->RotateSources(sources_with("test-app-secret"))) << "same secret";
  EXPECT_EQ(post("new-app-secret"), 401);

  ASSERT_TRUE(handler_->RotateSources(sources_with("new-app-secret")));
  EXPECT_EQ(handler_->secrets_generation(), 2);
  EXPECT_EQ(post("new-app-secret"), 200);
  clock_.Advance(absl::Minutes(59));
  EXPECT_EQ(post("test-app-secret"), 200) << "inside the overlap";
  EXPECT_EQ(post("new-app-secret"), 200);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(post("test-app-secret"), 401) << "after the overlap";
  EXPECT_EQ(post("new-app-secret"), 200);
  EXPECT_EQ(sink_.On("earshot.events.v1").size(), 4u);
}

}  // namespace
}  // namespace earshot::gateway
