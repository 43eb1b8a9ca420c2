#include "services/gateway/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fmt/format.h"
#include "services/common/base/strings.h"

namespace earshot::gateway {

namespace {

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

// A context keyed with `key`, kept per thread and reset for each message. Setting a key up
// (fetching the algorithm, hashing the padded key) cost about as much as hashing a webhook's
// body. Keys are configured secrets, so the cache stays small; it is bounded all the same.
EVP_MAC_CTX* KeyedHmac(std::string_view key) {
  thread_local absl::flat_hash_map<std::string, MacCtx> cache;
  if (auto it = cache.find(ToAbsl(key)); it != cache.end()) {
    return EVP_MAC_init(it->second.get(), nullptr, 0, nullptr) == 1 ? it->second.get() : nullptr;
  }
  if (cache.size() >= 64) cache.clear();
  static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  MacCtx ctx(hmac != nullptr ? EVP_MAC_CTX_new(hmac) : nullptr);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                               OSSL_PARAM_construct_end()};
  if (ctx == nullptr || EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()),
                                     key.size(), params) != 1) {
    return nullptr;
  }
  return cache.emplace(std::string(key), std::move(ctx)).first->second.get();
}

}  // namespace

std::string HmacSha256(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  EVP_MAC_CTX* ctx = KeyedHmac(key);
  if (ctx == nullptr ||
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(message.data()), message.size()) !=
          1 ||
      EVP_MAC_final(ctx, out, &len, sizeof(out)) != 1) {
    // Out of memory or a broken OpenSSL: the one-shot call, which fails the same way or works.
    unsigned int n = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &n);
    len = n;
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n);
  return out;
}

bool Base64Decode(std::string_view text, std::string* out) {
  if (text.size() % 4 != 0) return false;
  std::string buf(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buf.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts padding as zero bytes.
  if (text.ends_with("==")) {
    n -= 2;
  } else if (text.ends_with('=')) {
    n -= 1;
  }
  buf.resize(n);
  *out = std::move(buf);
  return true;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string XSignature(std::string_view body, std::string_view secret) {
  return "sha256=" + Base64Encode(HmacSha256(secret, body));
}

std::string XCrcResponseToken(std::string_view crc_token, std::string_view secret) {
  return XSignature(crc_token, secret);
}

absl::Status VerifyX(std::string_view body, std::string_view legacy_header,
                     std::string_view oauth2_header, const std::vector<std::string>& secrets) {
  if (legacy_header.empty() && oauth2_header.empty()) {
    return absl::UnauthenticatedError("missing x-twitter-webhooks-signature header");
  }
  for (const auto& secret : secrets) {
    const std::string expected = XSignature(body, secret);
    // The OAuth 2.0 header first, as X recommends; the legacy one as a fall-back.
    if (ConstantTimeEquals(oauth2_header, expected) ||
        ConstantTimeEquals(legacy_header, expected)) {
      return absl::OkStatus();
    }
  }
  return absl::UnauthenticatedError("x webhook signature does not match");
}

std::string MetaSignature(std::string_view body, std::string_view app_secret) {
  return "sha256=" + HexEncode(HmacSha256(app_secret, body));
}

absl::Status VerifyMeta(std::string_view body, std::string_view header,
                        const std::vector<std::string>& app_secrets) {
  if (header.empty()) return absl::UnauthenticatedError("missing X-Hub-Signature-256 header");
  const std::string given = absl::AsciiStrToLower(ToAbsl(header));
  for (const auto& secret : app_secrets) {
    if (ConstantTimeEquals(given, MetaSignature(body, secret))) return absl::OkStatus();
  }
  return absl::UnauthenticatedError("X-Hub-Signature-256 does not match");
}

absl::Status VerifyTelegram(std::string_view header, const std::vector<std::string>& tokens) {
  if (header.empty()) {
    return absl::UnauthenticatedError("missing X-Telegram-Bot-Api-Secret-Token header");
  }
  bool match = false;
  for (const auto& token : tokens) match |= ConstantTimeEquals(header, token);
  if (match) return absl::OkStatus();
  return absl::UnauthenticatedError("X-Telegram-Bot-Api-Secret-Token does not match");
}

namespace {

std::string StandardWebhookKey(std::string_view secret) {
  if (secret.starts_with("whsec_")) {
    std::string key;
    if (Base64Decode(secret.substr(6), &key)) return key;
  }
  return std::string(secret);
}

}  // namespace

std::string SignStandardWebhook(std::string_view id, std::string_view timestamp,
                                std::string_view body, std::string_view secret) {
  const std::string message = fmt::format("{}.{}.{}", id, timestamp, body);
  return "v1," + Base64Encode(HmacSha256(StandardWebhookKey(secret), message));
}

absl::Status VerifyStandardWebhook(std::string_view id, std::string_view timestamp,
                                   std::string_view body, std::string_view signature_header,
                                   const std::vector<std::string>& secrets, absl::Time now,
                                   absl::Duration tolerance) {
  if (id.empty() || timestamp.empty() || signature_header.empty()) {
    return absl::UnauthenticatedError(
        "missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  int64_t ts;
  if (!absl::SimpleAtoi(ToAbsl(timestamp), &ts)) {
    return absl::UnauthenticatedError("webhook-timestamp is not unix seconds");
  }
  if (absl::AbsDuration(now - absl::FromUnixSeconds(ts)) > tolerance) {
    return absl::UnauthenticatedError("webhook-timestamp outside the replay window of " +
                                      absl::FormatDuration(tolerance));
  }
  const std::string message = fmt::format("{}.{}.{}", id, timestamp, body);
  for (const auto& secret : secrets) {
    const std::string expected = Base64Encode(HmacSha256(StandardWebhookKey(secret), message));
    for (absl::string_view sig : absl::StrSplit(ToAbsl(signature_header), ' ', absl::SkipEmpty())) {
      if (absl::ConsumePrefix(&sig, "v1,") && ConstantTimeEquals(ToStd(sig), expected)) {
        return absl::OkStatus();
      }
    }
  }
  return absl::UnauthenticatedError("webhook-signature does not match");
}

}  // namespace earshot::gateway
