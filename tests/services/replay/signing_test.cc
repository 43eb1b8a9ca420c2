#include "services/replay/signing.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "services/common/base/strings.h"
#include "services/gateway/signature.h"

namespace earshot::replay {
namespace {

constexpr char kGenericSecret[] = "whsec_c3RhY2stZ2VuZXJpYy1zZWNyZXQ=";

SigningSecrets FromYaml(const std::string& yaml) {
  auto config = Config::FromYaml(yaml);
  EXPECT_TRUE(config.ok()) << config.status();
  config->set_env_lookup([](const std::string&) { return std::nullopt; });
  auto s = SigningSecrets::FromConfig(*config);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : SigningSecrets();
}

SigningSecrets Secrets() {
  return FromYaml(std::string(R"(
x: {consumer_secret: [test-consumer-secret, old-consumer-secret]}
meta: {app_secret: test-app-secret}
telegram: {secret_token: tg-secret-token}
generic: {sources: {reviews: {secret: )") +
                  kGenericSecret + "}}}\n");
}

Recording Rec(std::string p, Headers headers = {}, std::string source = "") {
  Recording r;
  r.line = 4;
  r.platform = p;
  r.headers = std::move(headers);
  r.source = std::move(source);
  return r;
}

std::string Get(const Headers& h, std::string_view name) {
  std::string out;
  int n = 0;
  for (const auto& [k, v] : h) {
    if (absl::EqualsIgnoreCase(k, ToAbsl(name))) {
      out = v;
      ++n;
    }
  }
  EXPECT_LE(n, 1) << "header " << name << " given " << n << " times";
  return out;
}

TEST(SigningTest, ReadsTheGatewaysConfigKeysAndEnvironment) {
  auto config = Config::FromYaml("meta: {app_secret: from-yaml}\n");
  ASSERT_TRUE(config.ok());
  config->set_env_lookup([](const std::string& name) -> std::optional<std::string> {
    if (name == "EARSHOT_TELEGRAM_SECRET_TOKEN") return "from-env";
    return std::nullopt;
  });
  auto s = SigningSecrets::FromConfig(*config);
  ASSERT_TRUE(s.ok());
  auto meta = SignRequest(Rec("meta"), "{}", *s, false, absl::Now());
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(Get(*meta, "X-Hub-Signature-256"), gateway::MetaSignature("{}", "from-yaml"));
  auto tg = SignRequest(Rec("telegram"), "{}", *s, false, absl::Now());
  ASSERT_TRUE(tg.ok()) << tg.status();
  EXPECT_EQ(Get(*tg, "X-Telegram-Bot-Api-Secret-Token"), "from-env");
  EXPECT_FALSE(s->CanSign(Rec("x")).ok());
  // The first of a rotation list signs.
  auto x = SignRequest(Rec("x"), "{}", Secrets(), false, absl::Now());
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(Get(*x, "x-twitter-webhooks-signature"),
            gateway::XSignature("{}", "test-consumer-secret"));
}

TEST(SigningTest, EveryPlatformPassesTheGatewaysCheck) {
  const SigningSecrets s = Secrets();
  const std::string body = R"({"object":"page","entry":[]})";
  const absl::Time now = absl::Now();

  auto meta = SignRequest(Rec("meta"), body, s, false, now);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_TRUE(
      gateway::VerifyMeta(body, Get(*meta, "X-Hub-Signature-256"), {"test-app-secret"}).ok());
  EXPECT_EQ(Get(*meta, "Content-Type"), "application/json");

  auto x = SignRequest(Rec("x"), body, s, false, now);
  ASSERT_TRUE(x.ok());
  EXPECT_TRUE(
      gateway::VerifyX(body, Get(*x, "x-twitter-webhooks-signature"), "", {"test-consumer-secret"})
          .ok());

  auto tg = SignRequest(Rec("telegram"), body, s, false, now);
  ASSERT_TRUE(tg.ok());
  EXPECT_TRUE(
      gateway::VerifyTelegram(Get(*tg, "X-Telegram-Bot-Api-Secret-Token"), {"tg-secret-token"})
          .ok());

  auto gen = SignRequest(Rec("generic", {}, "reviews"), body, s, false, now);
  ASSERT_TRUE(gen.ok());
  EXPECT_TRUE(gateway::VerifyStandardWebhook(
                  Get(*gen, "webhook-id"), Get(*gen, "webhook-timestamp"), body,
                  Get(*gen, "webhook-signature"), {kGenericSecret}, now, absl::Minutes(5))
                  .ok());
}

TEST(SigningTest, XSignatureMatchesThePublishedVector) {
  // printf '%s' BODY | openssl dgst -sha256 -hmac test-consumer-secret -binary | base64
  EXPECT_EQ(gateway::XSignature(R"({"for_user_id":"4000000001","tweet_create_events":[]})",
                                "test-consumer-secret"),
            "sha256=O45Sphcv2mktxKI8Z1pFzfgShgqRbXIiUeBbHCNMv6w=");
}

TEST(SigningTest, XClientSecretSignsTheOAuth2Header) {
  const SigningSecrets s = FromYaml("x: {client_secret: client-secret}\n");
  auto x = SignRequest(Rec("x"), "{}", s, false, absl::Now());
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(Get(*x, "x-twitter-webhooks-signature"), "");
  EXPECT_TRUE(
      gateway::VerifyX("{}", "", Get(*x, "X-Twitter-Webhooks-Signature-OAuth2"), {"client-secret"})
          .ok());
}

TEST(SigningTest, RecordedSignaturesAreReplacedUnlessKept) {
  const SigningSecrets s = Secrets();
  const Recording r = Rec("meta", {{"x-hub-signature-256", "sha256=recorded"},
                                   {"Content-Type", "application/json; charset=utf-8"},
                                   {"Content-Length", "999"},
                                   {"User-Agent", "facebookexternalua"}});
  auto signed_anew = SignRequest(r, "{}", s, false, absl::Now());
  ASSERT_TRUE(signed_anew.ok());
  EXPECT_EQ(Get(*signed_anew, "X-Hub-Signature-256"),
            gateway::MetaSignature("{}", "test-app-secret"));
  EXPECT_EQ(Get(*signed_anew, "Content-Type"), "application/json; charset=utf-8");
  EXPECT_EQ(Get(*signed_anew, "Content-Length"), "");
  EXPECT_EQ(Get(*signed_anew, "User-Agent"), "facebookexternalua");

  auto kept = SignRequest(r, "{}", s, true, absl::Now());
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(Get(*kept, "X-Hub-Signature-256"), "sha256=recorded");

  // --keep-signatures on a recording without one: signed anyway.
  auto unsigned_kept = SignRequest(Rec("meta"), "{}", s, true, absl::Now());
  ASSERT_TRUE(unsigned_kept.ok());
  EXPECT_EQ(Get(*unsigned_kept, "X-Hub-Signature-256"),
            gateway::MetaSignature("{}", "test-app-secret"));
}

TEST(SigningTest, GenericIdIsStableForTheSameBytesAndRecordedIdsWin) {
  const SigningSecrets s = Secrets();
  const Recording r = Rec("generic", {}, "reviews");
  auto a = SignRequest(r, R"({"id":"1"})", s, false, absl::Now());
  auto b = SignRequest(r, R"({"id":"1"})", s, false, absl::Now() + absl::Seconds(3));
  auto c = SignRequest(r, R"({"id":"2"})", s, false, absl::Now());
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(Get(*a, "webhook-id"), Get(*b, "webhook-id"));
  EXPECT_NE(Get(*a, "webhook-id"), Get(*c, "webhook-id"));
  auto recorded = SignRequest(Rec("generic", {{"webhook-id", "msg_rec"}}, "reviews"), "{}", s,
                              false, absl::Now());
  ASSERT_TRUE(recorded.ok());
  EXPECT_EQ(Get(*recorded, "webhook-id"), "msg_rec");
}

TEST(SigningTest, MissingSecretNamesTheConfigKey) {
  SigningSecrets none;
  auto st = none.CanSign(Rec("meta"));
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("meta.app_secret"), absl::string_view::npos) << st;
  EXPECT_NE(st.message().find("EARSHOT_META_APP_SECRET"), absl::string_view::npos) << st;
  st = Secrets().CanSign(Rec("generic", {}, "blog"));
  EXPECT_NE(st.message().find("generic.sources.blog.secret"), absl::string_view::npos) << st;
  EXPECT_FALSE(SignRequest(Rec("telegram"), "{}", none, false, absl::Now()).ok());
}

}  // namespace
}  // namespace earshot::replay
