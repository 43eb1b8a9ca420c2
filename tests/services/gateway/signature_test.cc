#include "services/gateway/signature.h"

#include "gtest/gtest.h"

namespace earshot::gateway {
namespace {

// Reference vectors, computed apart from this code, e.g. X's signature:
//   printf '%s' BODY | openssl dgst -sha256 -hmac test-consumer-secret -binary | base64
// and Meta's: printf '%s' BODY | openssl dgst -sha256 -hmac test-app-secret (hex).
constexpr char kXBody[] = R"({"for_user_id":"4000000001","tweet_create_events":[]})";
constexpr char kXSig[] = "sha256=O45Sphcv2mktxKI8Z1pFzfgShgqRbXIiUeBbHCNMv6w=";
constexpr char kMetaBody[] = R"({"object":"page","entry":[]})";
constexpr char kMetaSig[] =
    "sha256=1a82db3abc2fa71a3fffecfedef579a8468a44850cd8a83a0c56974faff81689";

TEST(XSignatureTest, CrcResponseTokenMatchesPublishedVector) {
  EXPECT_EQ(XCrcResponseToken("crc-token-123", "test-consumer-secret"),
            "sha256=m3yscIcSwL62BbDuWy/k/ml4+4Yfj3c0hep3IWko1Ws=");
}

TEST(XSignatureTest, AcceptsLegacyHeader) {
  EXPECT_TRUE(VerifyX(kXBody, kXSig, "", {"test-consumer-secret"}).ok());
}

TEST(XSignatureTest, AcceptsOAuth2HeaderWithClientSecret) {
  const std::string oauth2 = "sha256=" + Base64Encode(HmacSha256("client-secret", kXBody));
  EXPECT_TRUE(VerifyX(kXBody, "", oauth2, {"client-secret", "test-consumer-secret"}).ok());
  // Both headers present, only the legacy one valid for the configured secrets.
  EXPECT_TRUE(VerifyX(kXBody, kXSig, "sha256=bogus", {"test-consumer-secret"}).ok());
}

TEST(XSignatureTest, RejectsTamperedTruncatedMissingAndWrongSecret) {
  std::string tampered = kXBody;
  tampered[5] = 'X';
  EXPECT_EQ(VerifyX(tampered, kXSig, "", {"test-consumer-secret"}).code(),
            absl::StatusCode::kUnauthenticated);
  std::string truncated = kXSig;
  truncated.pop_back();
  EXPECT_EQ(VerifyX(kXBody, truncated, "", {"test-consumer-secret"}).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifyX(kXBody, "", "", {"test-consumer-secret"}).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifyX(kXBody, kXSig, "", {"other-secret"}).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(XSignatureTest, RotatedSecretsBothAccepted) {
  EXPECT_TRUE(VerifyX(kXBody, kXSig, "", {"new-secret", "test-consumer-secret"}).ok());
}

TEST(MetaSignatureTest, MatchesPublishedVector) {
  EXPECT_EQ(MetaSignature(kMetaBody, "test-app-secret"), kMetaSig);
  EXPECT_TRUE(VerifyMeta(kMetaBody, kMetaSig, {"test-app-secret"}).ok());
}

TEST(MetaSignatureTest, UppercaseHexAccepted) {
  std::string upper = kMetaSig;
  for (size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  EXPECT_TRUE(VerifyMeta(kMetaBody, upper, {"test-app-secret"}).ok());
}

TEST(MetaSignatureTest, RejectsTamperedTruncatedMissingLegacyOnlyAndWrongSecret) {
  EXPECT_FALSE(VerifyMeta(R"({"object":"page","entry":[1]})", kMetaSig, {"test-app-secret"}).ok());
  EXPECT_FALSE(
      VerifyMeta(kMetaBody, std::string(kMetaSig).substr(0, 40), {"test-app-secret"}).ok());
  EXPECT_FALSE(VerifyMeta(kMetaBody, "", {"test-app-secret"}).ok());
  // The hex digest without the sha256= prefix is not the documented format.
  EXPECT_FALSE(VerifyMeta(kMetaBody, std::string(kMetaSig).substr(7), {"test-app-secret"}).ok());
  EXPECT_FALSE(VerifyMeta(kMetaBody, kMetaSig, {"old-secret"}).ok());
  EXPECT_TRUE(VerifyMeta(kMetaBody, kMetaSig, {"old-secret", "test-app-secret"}).ok());
}

TEST(MetaSignatureTest, SignsExactBytesWithUnicodeEscapes) {
  // Meta signs the escaped form as sent; a re-serialised body would not match.
  const std::string escaped = R"({"message":"Gr\u00fc\u00dfe"})";
  const std::string sig = MetaSignature(escaped, "s");
  EXPECT_TRUE(VerifyMeta(escaped, sig, {"s"}).ok());
  EXPECT_FALSE(VerifyMeta("{\"message\":\"Grüße\"}", sig, {"s"}).ok());
}

TEST(TelegramSecretTest, ComparesWholeToken) {
  EXPECT_TRUE(VerifyTelegram("abc_DEF-123", {"abc_DEF-123"}).ok());
  EXPECT_TRUE(VerifyTelegram("new", {"old", "new"}).ok());
  EXPECT_FALSE(VerifyTelegram("abc_DEF-12", {"abc_DEF-123"}).ok());
  EXPECT_FALSE(VerifyTelegram("", {"abc_DEF-123"}).ok());
  EXPECT_FALSE(VerifyTelegram("abc_DEF-1234", {"abc_DEF-123"}).ok());
}

TEST(StandardWebhookTest, KnownVector) {
  // The Standard Webhooks specification's example.
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const std::string id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
  const std::string ts = "1614265330";
  const std::string body = R"({"test": 2432232314})";
  EXPECT_EQ(SignStandardWebhook(id, ts, body, secret),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  const absl::Time now = absl::FromUnixSeconds(1614265330 + 60);
  EXPECT_TRUE(VerifyStandardWebhook(id, ts, body, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                                    {secret}, now, absl::Minutes(5))
                  .ok());
}

TEST(StandardWebhookTest, SeveralSignaturesAndRotation) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  const std::string sig = SignStandardWebhook("id1", "1700000000", "{}", "whsec_bmV3");
  EXPECT_TRUE(VerifyStandardWebhook("id1", "1700000000", "{}", "v1,AAAA " + sig,
                                    {"whsec_b2xk", "whsec_bmV3"}, now, absl::Minutes(5))
                  .ok());
}

TEST(StandardWebhookTest, RejectsReplayOutsideWindowTamperingAndMissingHeaders) {
  const std::string sig = SignStandardWebhook("id1", "1700000000", "{}", "plain-secret");
  const absl::Time base = absl::FromUnixSeconds(1700000000);
  EXPECT_TRUE(VerifyStandardWebhook("id1", "1700000000", "{}", sig, {"plain-secret"}, base,
                                    absl::Minutes(5))
                  .ok());
  auto late = VerifyStandardWebhook("id1", "1700000000", "{}", sig, {"plain-secret"},
                                    base + absl::Minutes(6), absl::Minutes(5));
  EXPECT_EQ(late.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(late.message().find("replay window"), absl::string_view::npos);
  EXPECT_FALSE(VerifyStandardWebhook("id1", "1700000000", "{} ", sig, {"plain-secret"}, base,
                                     absl::Minutes(5))
                   .ok());
  EXPECT_FALSE(VerifyStandardWebhook("id2", "1700000000", "{}", sig, {"plain-secret"}, base,
                                     absl::Minutes(5))
                   .ok());
  EXPECT_FALSE(
      VerifyStandardWebhook("id1", "", "{}", sig, {"plain-secret"}, base, absl::Minutes(5)).ok());
  EXPECT_FALSE(
      VerifyStandardWebhook("id1", "1700000000", "{}", "", {"plain-secret"}, base, absl::Minutes(5))
          .ok());
}

// RFC 4231 test cases 1 and 2, interleaved and repeated: the keyed contexts the function keeps
// per thread must be reset for each message and never mix keys up.
TEST(HmacSha256Test, Rfc4231VectorsWithKeysInterleaved) {
  const std::string key1(20, '\x0b');
  const std::string expected1 = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
  const std::string expected2 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(HexEncode(HmacSha256(key1, "Hi There")), expected1);
    EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")), expected2);
  }
  // A long key (hashed first) and an empty message.
  const std::string long_key(131, '\xaa');
  EXPECT_EQ(
      HexEncode(HmacSha256(long_key, "Test Using Larger Than Block-Size Key - Hash Key First")),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(HmacSha256("Jefe", "").size(), 32u);
  EXPECT_NE(HmacSha256("Jefe", ""), HmacSha256("Jefe", "x"));
}

TEST(Base64Test, RoundTrip) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    std::string back;
    ASSERT_TRUE(Base64Decode(Base64Encode(s), &back));
    EXPECT_EQ(back, s);
  }
  std::string out;
  EXPECT_FALSE(Base64Decode("abc", &out));
}

}  // namespace
}  // namespace earshot::gateway
