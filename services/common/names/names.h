#pragma once
// The names of Earshot's enums as users write and read them: in rule and policy files, metric
// labels, Alertmanager labels ("x", "direct_message", "high"). One table each, so every file
// format and every label agrees.
#include <string_view>

#include "earshot/v1/event.pb.h"
#include "earshot/v1/routing.pb.h"

namespace earshot::names {

template <typename E>
struct EnumName {
  std::string_view name;
  E value;
};

inline constexpr EnumName<earshot::v1::Platform> kPlatforms[] = {
    {"x", earshot::v1::PLATFORM_X},
    {"facebook", earshot::v1::PLATFORM_FACEBOOK},
    {"instagram", earshot::v1::PLATFORM_INSTAGRAM},
    {"messenger", earshot::v1::PLATFORM_MESSENGER},
    {"whatsapp", earshot::v1::PLATFORM_WHATSAPP},
    {"telegram", earshot::v1::PLATFORM_TELEGRAM},
    {"generic", earshot::v1::PLATFORM_GENERIC},
};

inline constexpr EnumName<earshot::v1::Kind> kKinds[] = {
    {"mention", earshot::v1::KIND_MENTION}, {"comment", earshot::v1::KIND_COMMENT},
    {"reply", earshot::v1::KIND_REPLY},     {"direct_message", earshot::v1::KIND_DIRECT_MESSAGE},
    {"review", earshot::v1::KIND_REVIEW},   {"edit", earshot::v1::KIND_EDIT},
    {"delete", earshot::v1::KIND_DELETE},   {"reaction", earshot::v1::KIND_REACTION},
    {"control", earshot::v1::KIND_CONTROL}, {"post", earshot::v1::KIND_POST},
    {"status", earshot::v1::KIND_STATUS},
};

inline constexpr EnumName<earshot::v1::Direction> kDirections[] = {
    {"inbound", earshot::v1::DIRECTION_INBOUND},
    {"outbound", earshot::v1::DIRECTION_OUTBOUND},
};

inline constexpr EnumName<earshot::v1::Priority> kPriorities[] = {
    {"low", earshot::v1::PRIORITY_LOW},
    {"normal", earshot::v1::PRIORITY_NORMAL},
    {"high", earshot::v1::PRIORITY_HIGH},
    {"urgent", earshot::v1::PRIORITY_URGENT},
};

// The name of a value; `unknown` for one not in the table (the UNSPECIFIED values).
template <typename E, size_t N>
constexpr std::string_view NameOf(const EnumName<E> (&table)[N], E value,
                                  std::string_view unknown = "none") {
  for (const auto& n : table) {
    if (n.value == value) return n.name;
  }
  return unknown;
}

inline std::string_view Platform(earshot::v1::Platform p) {
  return NameOf(kPlatforms, p, "unknown");
}
inline std::string_view Kind(earshot::v1::Kind k) { return NameOf(kKinds, k, "unknown"); }
inline std::string_view Priority(earshot::v1::Priority p) { return NameOf(kPriorities, p); }

}  // namespace earshot::names
