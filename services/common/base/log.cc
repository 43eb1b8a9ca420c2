#include "services/common/base/log.h"

#include <atomic>
#include <memory>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "services/common/base/status.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace earshot::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

spdlog::logger& Sink() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>("earshot",
                                              std::make_shared<spdlog::sinks::stdout_sink_mt>());
    l->set_pattern("%v");  // the line is already complete JSON
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

void AppendBody(std::string& out, Level level, std::string_view logger, std::string_view msg,
                Fields fields) {
  out += fmt::format("\"level\":\"{}\",\"logger\":{},\"msg\":{}", LevelName(level),
                     JsonQuote(logger), JsonQuote(msg));
  for (const Field& f : fields) {
    out += ',';
    out += JsonQuote(f.key);
    out += ':';
    std::visit(
        [&out](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            out += JsonQuote(v);
          } else if constexpr (std::is_same_v<T, bool>) {
            out += v ? "true" : "false";
          } else {
            out += fmt::format("{}", v);
          }
        },
        f.value);
  }
}

}  // namespace

void SetLevel(std::string_view level) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (LevelName(l) == level) g_level = static_cast<int>(l);
  }
}

std::string Format(Level level, std::string_view logger, std::string_view msg, Fields fields) {
  std::string out = "{";
  AppendBody(out, level, logger, msg, fields);
  out += '}';
  return out;
}

void Write(Level level, std::string_view logger, std::string_view msg, Fields fields) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  std::string out = "{\"ts\":\"";
  out += absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  out += "\",";
  AppendBody(out, level, logger, msg, fields);
  out += '}';
  Sink().info(out);
}

}  // namespace earshot::log
