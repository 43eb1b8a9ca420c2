#include "services/replay/template.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "fmt/format.h"
#include "services/common/base/strings.h"

namespace earshot::replay {
namespace {

constexpr std::string_view kNumPrefix = "num:";

// "120" (seconds), "90s", "2m", "1h", "1d".
bool ParseOffset(std::string_view text, absl::Duration* out) {
  if (text.empty()) return false;
  absl::Duration unit = absl::Seconds(1);
  switch (text.back()) {
    case 's':
      text.remove_suffix(1);
      break;
    case 'm':
      unit = absl::Minutes(1);
      text.remove_suffix(1);
      break;
    case 'h':
      unit = absl::Hours(1);
      text.remove_suffix(1);
      break;
    case 'd':
      unit = absl::Hours(24);
      text.remove_suffix(1);
      break;
    default:
      break;
  }
  int64_t n = 0;
  if (text.empty() || !absl::SimpleAtoi(ToAbsl(text), &n) || n < 0) return false;
  *out = n * unit;
  return true;
}

// Ours: starts with now_, run or num:. Anything else in braces is recorded text.
bool IsOurs(std::string_view expr) {
  return expr.starts_with("now_") || expr.starts_with("run") || expr.starts_with(kNumPrefix);
}

// The value of one placeholder expression (without braces and without "num:").
absl::StatusOr<std::string> Evaluate(std::string_view expr, const TemplateValues& values,
                                     bool as_number) {
  const size_t sign = expr.find_first_of("+-");
  const std::string_view name = expr.substr(0, sign);
  absl::Duration offset = absl::ZeroDuration();
  if (sign != std::string_view::npos) {
    if (!ParseOffset(expr.substr(sign + 1), &offset)) {
      return absl::InvalidArgumentError(fmt::format(
          "placeholder {{{{{}}}}}: bad offset (seconds, or a number with s, m, h, d)", expr));
    }
    if (expr[sign] == '-') offset = -offset;
  }
  const absl::Time t = values.now + offset;
  if (name == "run") {
    if (sign != std::string_view::npos) {
      return absl::InvalidArgumentError("placeholder {{run}} takes no offset");
    }
    return values.run;
  }
  if (name == "now_unix") return std::to_string(absl::ToUnixSeconds(t));
  if (name == "now_ms") return std::to_string(absl::ToUnixMillis(t));
  if (name == "now_iso" || name == "now_x") {
    if (as_number) {
      return absl::InvalidArgumentError(
          fmt::format("placeholder {{{{num:{}}}}}: {} is not a number", expr, name));
    }
    if (name == "now_iso") return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
    return absl::FormatTime("%a %b %d %H:%M:%S +0000 %Y", t, absl::UTCTimeZone());
  }
  return absl::InvalidArgumentError(fmt::format(
      "unknown placeholder {{{{{}}}}} (known: now_unix, now_ms, now_iso, now_x, run)", expr));
}

}  // namespace

absl::StatusOr<std::string> FillPlaceholders(std::string_view text, const TemplateValues& values) {
  std::string out;
  out.reserve(text.size() + 32);
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    const size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    std::string_view expr = text.substr(open + 2, close - open - 2);
    if (!IsOurs(expr)) {
      out.append(text.substr(pos, close + 2 - pos));
      pos = close + 2;
      continue;
    }
    if (expr.starts_with(kNumPrefix)) {
      // Only as a whole JSON string: "{{num:...}}" becomes the bare number.
      const bool quoted =
          open > 0 && text[open - 1] == '"' && close + 2 < text.size() && text[close + 2] == '"';
      if (!quoted || open - 1 < pos) {
        return absl::InvalidArgumentError(
            fmt::format("placeholder {{{{{}}}}}: num: only stands alone in a JSON string, "
                        "as \"{{{{{}}}}}\"",
                        expr, expr));
      }
      auto value = Evaluate(expr.substr(kNumPrefix.size()), values, true);
      if (!value.ok()) return value.status();
      out.append(text.substr(pos, open - 1 - pos));
      out.append(*value);
      pos = close + 3;
      continue;
    }
    auto value = Evaluate(expr, values, false);
    if (!value.ok()) return value.status();
    out.append(text.substr(pos, open - pos));
    out.append(*value);
    pos = close + 2;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace earshot::replay
