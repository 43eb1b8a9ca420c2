// Principals files: tokens and certificate identities to principals, scopes to queues and
// sources, and errors that name the line and the reason. (Calls through gRPC:
// tests/integration/auth_integration_test.cc.)
#include <fstream>

#include "gtest/gtest.h"
#include "services/common/auth/authenticator.h"

namespace earshot::auth {
namespace {

class AuthenticatorTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const std::string path =
        ::testing::TempDir() + "/principals-" + std::to_string(counter_++) + ".yaml";
    std::ofstream(path) << text;
    return path;
  }
  absl::Status LoadError(const std::string& text) {
    return Authenticator::Load(Write(text), "").status();
  }
  int counter_ = 0;
};

TEST_F(AuthenticatorTest, TokensNamePrincipalsWithScopes) {
  const std::string secret = ::testing::TempDir() + "/desk-token";
  std::ofstream(secret) << "  desk-secret-from-file\n";
  auto auth = Authenticator::Load(Write(R"(principals:
  - name: care-de-desk
    tokens:
      - file: )" + secret + R"(
      - value: dev-care-de-token
    scopes:
      threads:read: [care-de]
      ingest:publish: [x, "generic:trustpilot"]
  - name: ops
    tokens: [{value: dev-ops-token}]
    scopes: {stream:read: ["*"], threads:forward: ["*"]}
)"),
                                  "");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_FALSE((*auth)->open());
  auto desk = (*auth)->Authenticate("Bearer desk-secret-from-file", nullptr);
  ASSERT_TRUE(desk.ok()) << desk.status();
  EXPECT_EQ((*desk)->name, "care-de-desk");
  EXPECT_EQ(*(*auth)->Authenticate("bearer dev-care-de-token", nullptr), *desk);
  EXPECT_TRUE((*desk)->Holds("threads:read", "care-de"));
  EXPECT_FALSE((*desk)->Holds("threads:read", "billing"));
  EXPECT_FALSE((*desk)->Holds("threads:resolve", "care-de"));
  EXPECT_TRUE((*desk)->Holds("ingest:publish", "generic:trustpilot"));
  EXPECT_FALSE((*desk)->Holds("ingest:publish", "facebook"));
  auto ops = (*auth)->Authenticate("Bearer dev-ops-token", nullptr);
  ASSERT_TRUE(ops.ok());
  EXPECT_TRUE((*ops)->Holds("stream:read", "anything"));
  EXPECT_EQ((*auth)->Find("ops"), *ops);
  EXPECT_EQ((*auth)->Find("nobody"), nullptr);

  for (const char* bad : {"", "Bearer wrong-token", "Basic YWJjOmRlZg==", "Bearer "}) {
    EXPECT_EQ((*auth)->Authenticate(bad, nullptr).status().code(),
              absl::StatusCode::kUnauthenticated)
        << bad;
  }
}

TEST_F(AuthenticatorTest, FileErrorsNameLineAndReason) {
  auto expect = [&](const std::string& text, const std::string& line, const std::string& reason) {
    const absl::Status st = LoadError(text);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(st.message().find(":" + line + ":"), std::string::npos) << st;
    EXPECT_NE(st.message().find(reason), std::string::npos) << st;
  };
  expect("principals:\n  - name: a\n    tokens: [{value: abc}]\n    scopes: {stream:read: [q]}\n",
         "3", "shorter than 8");
  expect(
      "principals:\n"
      "  - {name: a, tokens: [{value: same-token-1}], scopes: {stream:read: [q]}}\n"
      "  - {name: b, tokens: [{value: same-token-1}], scopes: {stream:read: [q]}}\n",
      "3", "listed twice");
  expect(
      "principals:\n"
      "  - name: a\n"
      "    tokens: [{value: long-enough}]\n"
      "    scopes:\n"
      "      threads:delete: [q]\n",
      "5", "unknown scope `threads:delete`");
  expect("principals:\n  - name: a\n    tokens: [{value: long-enough}]\n", "2", "no scopes");
  expect(
      "principals:\n"
      "  - name: a\n"
      "    certificate: {email: a@example.com}\n"
      "    scopes: {stream:read: [q]}\n",
      "3", "common_name, dns_name, uri");
  expect(
      "principals:\n"
      "  - name: a\n"
      "    tokens: [{file: /does/not/exist}]\n"
      "    scopes: {stream:read: [q]}\n",
      "3", "cannot read token file");
  expect(
      "principals:\n"
      "  - {name: a, tokens: [{value: long-enough}], scopes: {stream:read: []}}\n",
      "2", "list of names");
  expect("users: []\n", "1", "expected a list `principals:`");
  EXPECT_EQ(Authenticator::Load(::testing::TempDir() + "/no-such.yaml", "").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(AuthenticatorTest, StreamTeamsArePrincipalsWithStreamRead) {
  const std::string principals = Write(
      "principals:\n  - {name: desk, tokens: [{value: desk-token}], scopes: {threads:read: "
      "[a]}}\n");
  const std::string teams = Write(R"(teams:
  - {name: care, token: care-token-1, queues: [care-de]}
  - {name: care, token: care-token-2, queues: [care-en]}
)");
  auto auth = Authenticator::Load(principals, teams);
  ASSERT_TRUE(auth.ok()) << auth.status();
  auto care = (*auth)->Authenticate("Bearer care-token-2", nullptr);
  ASSERT_TRUE(care.ok());
  EXPECT_EQ((*care)->name, "care");
  EXPECT_TRUE((*care)->Holds("stream:read", "care-de"));
  EXPECT_TRUE((*care)->Holds("stream:read", "care-en"));
  EXPECT_FALSE((*care)->Holds("threads:read", "care-de"));

  auto clash = Authenticator::Load(
      principals, Write("teams:\n  - {name: desk, token: another-token, queues: [q]}\n"));
  EXPECT_NE(clash.status().message().find("has this name"), std::string::npos) << clash.status();
  auto no_queues = Authenticator::Load("", Write("teams:\n  - {name: x, token: long-enough}\n"));
  EXPECT_NE(no_queues.status().message().find(":2:"), std::string::npos) << no_queues.status();
}

TEST_F(AuthenticatorTest, OpenIsAnonymousWithEveryScope) {
  auto open = Authenticator::Open();
  EXPECT_TRUE(open->open());
  auto anonymous = open->Authenticate("", nullptr);
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ((*anonymous)->name, "anonymous");
  EXPECT_TRUE((*anonymous)->Holds("threads:resolve", "billing"));
}

}  // namespace
}  // namespace earshot::auth
