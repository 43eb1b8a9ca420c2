#pragma once
// Byte encodings and keyed hashes shared by every service: webhook signatures (gateway, replay),
// page tokens (router). OpenSSL underneath; pure functions, any thread.
#include <string>
#include <string_view>

namespace earshot::crypto {

std::string HmacSha256(std::string_view key, std::string_view message);  // raw 32 bytes
std::string Sha256(std::string_view message);                            // raw 32 bytes
std::string Base64Encode(std::string_view bytes);                        // standard, padded
bool Base64Decode(std::string_view text, std::string* out);
std::string HexEncode(std::string_view bytes);  // lowercase
// Constant-time (CRYPTO_memcmp) for equal sizes, so a signature check leaks no prefix length.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace earshot::crypto
