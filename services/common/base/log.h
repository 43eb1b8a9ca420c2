#pragma once
// JSON-line logging: one object a line on stdout, {"ts","level","logger","msg",...fields}.
// Customer text never goes into a log line unless log.customer_text is enabled by the caller.
// Thread-safe; spdlog's stdout sink serialises lines.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "absl/strings/string_view.h"

namespace earshot::log {

enum class Level { kDebug, kInfo, kWarn, kError };

using Value = std::variant<std::string_view, int64_t, double, bool>;
struct Field {
  std::string_view key;
  Value value;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, absl::string_view v)
      : key(k), value(std::string_view(v.data(), v.size())) {}
  Field(std::string_view k, int v) : key(k), value(int64_t{v}) {}
  Field(std::string_view k, int64_t v) : key(k), value(v) {}
  Field(std::string_view k, uint64_t v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
};
using Fields = std::initializer_list<Field>;

// "debug", "info", "warn", "error"; unknown names keep the current level.
void SetLevel(std::string_view level);

void Write(Level level, std::string_view logger, std::string_view msg, Fields fields = {});

// The line Write would print, without the time stamp (tests).
std::string Format(Level level, std::string_view logger, std::string_view msg, Fields fields);

inline void Debug(std::string_view logger, std::string_view msg, Fields f = {}) {
  Write(Level::kDebug, logger, msg, f);
}
inline void Info(std::string_view logger, std::string_view msg, Fields f = {}) {
  Write(Level::kInfo, logger, msg, f);
}
inline void Warn(std::string_view logger, std::string_view msg, Fields f = {}) {
  Write(Level::kWarn, logger, msg, f);
}
inline void Error(std::string_view logger, std::string_view msg, Fields f = {}) {
  Write(Level::kError, logger, msg, f);
}

}  // namespace earshot::log
