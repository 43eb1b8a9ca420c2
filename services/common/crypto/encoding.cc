#include "services/common/crypto/encoding.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "services/common/base/strings.h"

namespace earshot::crypto {

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

std::string Sha256(std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(message.data(), message.size(), out, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(out), len);
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

}  // namespace earshot::crypto
