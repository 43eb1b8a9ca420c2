// Principals files: tokens and certificate identities to principals, scopes to queues and
// sources, and errors that name the line and the reason. (Calls through gRPC:
// tests/integration/auth_integration_test.cc.)
#include <fstream>
#include <map>

#include "grpc/grpc_security_constants.h"
#include "gtest/gtest.h"
#include "services/common/auth/authenticator.h"

namespace earshot::auth {
namespace {

// A TLS peer as the transport describes it: verified or not, with its certificate's names.
class FakePeer final : public grpc::AuthContext {
 public:
  FakePeer(bool verified, std::multimap<std::string, std::string> properties)
      : verified_(verified), properties_(std::move(properties)) {}
  bool IsPeerAuthenticated() const override { return verified_; }
  std::vector<grpc::string_ref> GetPeerIdentity() const override { return {}; }
  std::string GetPeerIdentityPropertyName() const override { return ""; }
  std::vector<grpc::string_ref> FindPropertyValues(const std::string& name) const override {
    std::vector<grpc::string_ref> out;
    for (auto [it, end] = properties_.equal_range(name); it != end; ++it) {
      out.emplace_back(it->second);
    }
    return out;
  }
  grpc::AuthPropertyIterator begin() const override { return None(); }
  grpc::AuthPropertyIterator end() const override { return None(); }
  void AddProperty(const std::string&, const grpc::string_ref&) override {}
  bool SetPeerIdentityPropertyName(const std::string&) override { return false; }

 private:
  struct None : grpc::AuthPropertyIterator {};
  bool verified_;
  std::multimap<std::string, std::string> properties_;
};

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

TEST_F(AuthenticatorTest, VerifiedCertificatesNamePrincipals) {
  auto auth = Authenticator::Load(Write(R"(principals:
  - {name: by-cn, certificate: {common_name: desk-cn}, scopes: {threads:read: [a]}}
  - {name: by-dns, certificate: {dns_name: desk.example.com}, scopes: {threads:read: [a]}}
  - {name: by-uri, certificate: {uri: "spiffe://example.com/desk"}, scopes: {threads:read: [a]}}
  - {name: by-token, tokens: [{value: token-wins}], scopes: {threads:read: [a]}}
)"),
                                  "");
  ASSERT_TRUE(auth.ok()) << auth.status();
  auto name = [&](const std::string& authorization, const FakePeer& peer) -> std::string {
    auto p = (*auth)->Authenticate(authorization, &peer);
    return p.ok() ? (*p)->name : std::string(p.status().message());
  };
  const FakePeer cn(true, {{GRPC_X509_CN_PROPERTY_NAME, "desk-cn"},
                           {GRPC_PEER_DNS_PROPERTY_NAME, "unlisted.example.com"}});
  const FakePeer dns(true, {{GRPC_X509_CN_PROPERTY_NAME, "other"},
                            {GRPC_PEER_DNS_PROPERTY_NAME, "a.example.com"},
                            {GRPC_PEER_DNS_PROPERTY_NAME, "desk.example.com"}});
  const FakePeer uri(true, {{GRPC_PEER_URI_PROPERTY_NAME, "spiffe://example.com/desk"}});
  EXPECT_EQ(name("", cn), "by-cn");
  EXPECT_EQ(name("", dns), "by-dns");
  EXPECT_EQ(name("", uri), "by-uri");
  // A token names the principal even on a connection with a certificate.
  EXPECT_EQ(name("Bearer token-wins", cn), "by-token");
  // A name only counts in the kind of field the principal lists, and only when verified.
  const FakePeer dns_as_cn(true, {{GRPC_X509_CN_PROPERTY_NAME, "desk.example.com"}});
  EXPECT_EQ(name("", dns_as_cn), "the client certificate names no principal");
  const FakePeer unverified(false, {{GRPC_X509_CN_PROPERTY_NAME, "desk-cn"}});
  EXPECT_NE(name("", unverified).find("missing `authorization"), std::string::npos);

  auto twice = Authenticator::Load(Write(R"(principals:
  - {name: a, certificate: {dns_name: x.example.com}, scopes: {threads:read: [a]}}
  - {name: b, certificate: {dns_name: x.example.com}, scopes: {threads:read: [a]}}
)"),
                                   "");
  EXPECT_NE(twice.status().message().find(":3: principal b: another principal has this"),
            std::string::npos)
      << twice.status();
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
