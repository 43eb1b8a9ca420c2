#include "services/replay/recording.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "services/common/base/strings.h"
#include "services/gateway/sources/registry.h"
#include "simdjson.h"

namespace earshot::replay {
namespace {

namespace od = simdjson::ondemand;

constexpr int kMaxErrors = 20;

// Errors of one line carry only the reason; the callers add where it is.
absl::Status LineError(std::string_view what) {
  return absl::InvalidArgumentError(std::string(what));
}

// One simdjson error becomes one absl::Status, here only.
absl::Status JsonError(std::string_view where, simdjson::error_code error) {
  return LineError(fmt::format("{}: {}", where, simdjson::error_message(error)));
}

// The position after the '}' that closes the object starting at `start` in valid JSON.
size_t ObjectEnd(std::string_view text, size_t start) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = start; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

const gateway::SourceRegistry& Sources() { return gateway::SourceRegistry::Unconfigured(); }

bool ValidSourceName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string RequestPath(const Recording& recording) {
  if (!recording.path.empty()) return recording.path;
  const gateway::WebhookSource* source = Sources().Find(recording.platform);
  return source != nullptr ? source->PathFor(recording.source) : "";
}

namespace {

absl::StatusOr<Recording> ParseLine(std::string_view line, int line_number) {
  Recording r;
  r.line = line_number;
  simdjson::padded_string padded(line);
  {
    // Validate the whole line first: On-Demand below only looks at what it reads.
    simdjson::dom::parser dom;
    simdjson::dom::element root;
    if (auto error = dom.parse(padded).get(root); error) return JsonError("not JSON", error);
    if (!root.is_object()) return LineError("a recording is one JSON object a line");
  }
  od::parser parser;
  od::document doc;
  if (auto error = parser.iterate(padded).get(doc); error) {
    return JsonError("not JSON", error);
  }
  od::object root;
  if (auto error = doc.get_object().get(root); error) {
    return LineError("a recording is one JSON object a line");
  }
  bool has_platform = false;
  bool has_body = false;
  for (auto field_result : root) {
    od::field field;
    if (auto error = std::move(field_result).get(field); error) return JsonError("", error);
    std::string_view key;
    if (auto error = field.unescaped_key().get(key); error) {
      return JsonError("key", error);
    }
    const std::string name(key);
    od::value value = field.value();
    if (name == "platform") {
      std::string_view p;
      if (value.get_string().get(p) != simdjson::SUCCESS || Sources().Find(p) == nullptr) {
        return LineError(fmt::format("\"platform\" must be one of {}",
                                     fmt::join(gateway::SourceRegistry::Names(), ", ")));
      }
      r.platform = std::string(p);
      has_platform = true;
    } else if (name == "source") {
      std::string_view s;
      if (value.get_string().get(s) != simdjson::SUCCESS || !ValidSourceName(s)) {
        return LineError("\"source\" must be a generic source name (letters, digits, - _ .)");
      }
      r.source = std::string(s);
    } else if (name == "method") {
      std::string_view m;
      if (value.get_string().get(m) != simdjson::SUCCESS || m.empty()) {
        return LineError("\"method\" must be a string such as \"POST\"");
      }
      r.method = absl::AsciiStrToUpper(ToAbsl(m));
    } else if (name == "path") {
      std::string_view p;
      if (value.get_string().get(p) != simdjson::SUCCESS || !p.starts_with('/')) {
        return LineError("\"path\" must be a string starting with '/'");
      }
      r.path = std::string(p);
    } else if (name == "headers") {
      od::object headers;
      if (value.get_object().get(headers) != simdjson::SUCCESS) {
        return LineError("\"headers\" must be an object of strings");
      }
      for (auto h : headers) {
        std::string_view k;
        std::string_view v;
        if (h.unescaped_key().get(k) != simdjson::SUCCESS ||
            h.value().get_string().get(v) != simdjson::SUCCESS) {
          return LineError("\"headers\" must be an object of strings");
        }
        r.headers.emplace_back(std::string(k), std::string(v));
      }
    } else if (name == "body") {
      od::json_type type;
      if (auto error = value.type().get(type); error) {
        return JsonError("body", error);
      }
      if (type == od::json_type::object) {
        // The exact bytes: from the object's '{' to its matching '}' in the line.
        const std::string_view token = value.raw_json_token();
        const size_t start = static_cast<size_t>(token.data() - padded.data());
        const size_t end = ObjectEnd(line, start);
        if (end == std::string_view::npos) return LineError("body: unterminated object");
        r.body = std::string(line.substr(start, end - start));
      } else if (type == od::json_type::string) {
        std::string_view s;
        if (auto error = value.get_string().get(s); error) {
          return JsonError("body", error);
        }
        r.body = std::string(s);
      } else {
        return LineError("\"body\" must be a JSON object, or a string holding the exact bytes");
      }
      has_body = true;
    } else if (name == "delay_ms") {
      double ms = 0;
      if (value.get_double().get(ms) != simdjson::SUCCESS || ms < 0 || ms > 86400e3) {
        return LineError("\"delay_ms\" must be a number of milliseconds >= 0");
      }
      r.delay = absl::Milliseconds(ms);
    } else {
      return LineError(
          fmt::format("unknown key \"{}\" (known: platform, source, method, path, "
                      "headers, body, delay_ms)",
                      name));
    }
  }
  if (!has_platform) return LineError("\"platform\" is missing");
  if (!has_body) return LineError("\"body\" is missing");
  // The route of a generic source names it (/webhooks/generic/<source>); no other route does.
  const bool needs_source = Sources().Find(r.platform)->route_needs_account();
  if (needs_source && r.source.empty()) {
    return LineError(fmt::format("a {0} recording needs \"source\" (its {0} source)", r.platform));
  }
  if (!needs_source && !r.source.empty()) {
    std::vector<std::string_view> with_source;
    for (const auto& s : Sources().sources()) {
      if (s->route_needs_account()) with_source.push_back(s->name());
    }
    return LineError(
        fmt::format("\"source\" is only for {} recordings", fmt::join(with_source, ", ")));
  }
  return r;
}

}  // namespace

absl::StatusOr<Recording> ParseRecording(std::string_view line, int line_number) {
  auto r = ParseLine(line, line_number);
  if (!r.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("line {}: {}", line_number, ToStd(r.status().message())));
  }
  return r;
}

absl::StatusOr<std::vector<Recording>> ParseRecordings(std::string_view text,
                                                       std::string_view source_name) {
  std::vector<Recording> out;
  std::vector<std::string> errors;
  int line_number = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view trimmed = ToStd(absl::StripAsciiWhitespace(ToAbsl(line)));
    if (trimmed.empty() || trimmed.starts_with('#')) continue;
    auto r = ParseLine(trimmed, line_number);
    if (!r.ok()) {
      errors.push_back(
          fmt::format("{}:{}: {}", source_name, line_number, ToStd(r.status().message())));
      if (static_cast<int>(errors.size()) >= kMaxErrors) break;
      continue;
    }
    out.push_back(std::move(*r));
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  return out;
}

absl::StatusOr<std::vector<Recording>> LoadRecordings(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseRecordings(ss.str(), path);
}

}  // namespace earshot::replay
