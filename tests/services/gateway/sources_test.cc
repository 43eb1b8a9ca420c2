// The webhook sources and their registry: routes, what each signs passes its own check, and the
// headers kept with raw requests.
#include "services/gateway/sources/registry.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "services/common/base/config.h"

namespace earshot::gateway {
namespace {

SourceRegistry FromYaml(const std::string& yaml) {
  auto config = Config::FromYaml(yaml);
  EXPECT_TRUE(config.ok()) << config.status();
  config->set_env_lookup([](const std::string&) { return std::nullopt; });
  auto registry = SourceRegistry::FromConfig(*config);
  EXPECT_TRUE(registry.ok()) << registry.status();
  return std::move(*registry);
}

constexpr char kSecrets[] = R"(
x: {consumer_secret: consumer-1, client_secret: client-1}
meta: {app_secret: app-1, verify_token: verify-1}
telegram: {secret_token: tg-1, bot_id: "7000000001"}
generic: {sources: {reviews: {secret: "whsec_c2VjcmV0"}}}
)";

constexpr char kOtherSecrets[] = R"(
x: {consumer_secret: consumer-2, client_secret: client-2}
meta: {app_secret: app-2}
telegram: {secret_token: tg-2}
generic: {sources: {reviews: {secret: other-secret}}}
)";

http::Request Post(const std::string& path, const std::string& body, const HeaderList& headers) {
  http::Request req;
  req.message.method_string("POST");
  req.message.target(path);
  req.message.body() = body;
  for (const auto& [k, v] : headers) req.message.set(k, v);
  req.path = path;
  return req;
}

TEST(SourceRegistryTest, RoutesEachPathToItsSource) {
  const SourceRegistry registry = FromYaml(kSecrets);
  auto routed = [&](std::string_view path, std::string* account) -> std::string {
    const int i = registry.Route(path, account);
    return i < 0 ? "none" : std::string(registry.sources()[i]->name());
  };
  std::string account;
  EXPECT_EQ(routed("/webhooks/x", &account), "x");
  EXPECT_EQ(routed("/webhooks/meta", &account), "meta");
  EXPECT_EQ(routed("/webhooks/telegram", &account), "telegram");
  EXPECT_EQ(account, "7000000001");
  EXPECT_EQ(routed("/webhooks/telegram/42", &account), "telegram");
  EXPECT_EQ(account, "42");
  EXPECT_EQ(routed("/webhooks/generic/reviews", &account), "generic");
  EXPECT_EQ(account, "reviews");
  EXPECT_EQ(routed("/webhooks/generic/a/b", &account), "none");
  EXPECT_EQ(routed("/webhooks/generic/", &account), "none");
  EXPECT_EQ(routed("/webhooks/myspace", &account), "none");
  EXPECT_EQ(routed("/x", &account), "none");
}

TEST(SourceRegistryTest, EverySourceAcceptsWhatItSignsAndRefusesOtherSecrets) {
  const SourceRegistry registry = FromYaml(kSecrets);
  const SourceRegistry other = FromYaml(kOtherSecrets);
  const std::string body = R"({"id":"1","thread_id":"t"})";
  const absl::Time now = absl::FromUnixSeconds(1741170000);
  ASSERT_EQ(registry.sources().size(), SourceRegistry::Names().size());
  for (size_t i = 0; i < registry.sources().size(); ++i) {
    const WebhookSource& source = *registry.sources()[i];
    SCOPED_TRACE(source.name());
    EXPECT_EQ(source.name(), SourceRegistry::Names()[i]);
    EXPECT_TRUE(source.configured());
    const std::string account = source.route_needs_account() ? "reviews" : "";
    const std::string path = source.PathFor(account);
    std::string routed_account;
    EXPECT_EQ(registry.Route(path, &routed_account), static_cast<int>(i)) << path;
    EXPECT_EQ(source.MissingSecret(account), "");

    auto headers = source.Sign({.account = account, .body = body, .now = now});
    ASSERT_TRUE(headers.ok()) << headers.status();
    EXPECT_TRUE(source.CarriesSignature(*headers));
    for (const auto& header : *headers) {
      const std::string& name = header.first;
      const bool kept = std::ranges::any_of(registry.kept_headers(), [&](const std::string& k) {
        return absl::EqualsIgnoreCase(k, name);
      });
      EXPECT_TRUE(kept) << name << " is signed but not kept with the raw request";
    }
    EXPECT_TRUE(source.Verify(Post(path, body, *headers), routed_account, now).ok());

    auto foreign = other.sources()[i]->Sign({.account = account, .body = body, .now = now});
    ASSERT_TRUE(foreign.ok()) << foreign.status();
    EXPECT_EQ(source.Verify(Post(path, body, *foreign), routed_account, now).code(),
              absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(source.Verify(Post(path, body, {}), routed_account, now).code(),
              absl::StatusCode::kUnauthenticated);
  }
}

TEST(SourceRegistryTest, WithoutSecretsRoutesAnswerNotFoundAndNothingSigns) {
  const SourceRegistry& registry = SourceRegistry::Unconfigured();
  const absl::Time now = absl::FromUnixSeconds(1741170000);
  for (const auto& source : registry.sources()) {
    SCOPED_TRACE(source->name());
    EXPECT_FALSE(source->configured());
    const std::string account = source->route_needs_account() ? "reviews" : "";
    EXPECT_EQ(source->Verify(Post(source->PathFor(account), "{}", {}), account, now).code(),
              absl::StatusCode::kNotFound);
    EXPECT_NE(source->MissingSecret(account), "");
    EXPECT_EQ(source->Sign({.account = account, .body = "{}", .now = now}).status().code(),
              absl::StatusCode::kFailedPrecondition);
  }
}

TEST(SourceRegistryTest, KeptHeadersAreTheCommonOnesAndEverySourcesSignatureHeaders) {
  std::vector<std::string> kept = SourceRegistry::Unconfigured().kept_headers();
  std::ranges::sort(kept);
  EXPECT_EQ(kept, (std::vector<std::string>{
                      "content-type", "user-agent", "webhook-id", "webhook-signature",
                      "webhook-timestamp", "x-forwarded-for", "x-hub-signature",
                      "x-hub-signature-256", "x-request-id", "x-telegram-bot-api-secret-token",
                      "x-twitter-webhooks-signature", "x-twitter-webhooks-signature-oauth2"}));
}

TEST(SourceRegistryTest, AGenericSourceWithoutASecretIsAConfigError) {
  auto config = Config::FromYaml("generic: {sources: {blog: {}}}\n");
  ASSERT_TRUE(config.ok());
  config->set_env_lookup([](const std::string&) { return std::nullopt; });
  auto registry = SourceRegistry::FromConfig(*config);
  EXPECT_EQ(registry.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace earshot::gateway
