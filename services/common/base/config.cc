#include "services/common/base/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/common/base/strings.h"

namespace earshot {
namespace {

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::optional<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  // Secret files written by editors and `echo` end with a newline that is not part of it.
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Recursion with const nodes: yaml-cpp's Node::operator= would re-point the tree it walks.
YAML::Node WalkParts(const YAML::Node& node, const std::vector<std::string>& parts, size_t i) {
  if (i == parts.size()) return node;
  if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node child = node[parts[i]];
  if (!child.IsDefined() || child.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
  return WalkParts(child, parts, i + 1);
}

YAML::Node Walk(const YAML::Node& root, std::string_view key) {
  return WalkParts(root, absl::StrSplit(ToAbsl(key), '.'), 0);
}

}  // namespace

Config::Config(YAML::Node root) : root_(std::move(root)), env_(ProcessEnv) {}

absl::StatusOr<Config> Config::LoadFile(const std::string& path) {
  if (path.empty()) return Config(YAML::Node(YAML::NodeType::Map));
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(path + ": the top level must be a map of keys");
    }
    return Config(root);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError("cannot read config file " + path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

absl::StatusOr<Config> Config::FromYaml(std::string_view yaml) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) return absl::InvalidArgumentError("the top level must be a map of keys");
    return Config(root);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError("line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

std::string Config::EnvName(std::string_view key) {
  std::string name = "EARSHOT_";
  for (char c : key) {
    name.push_back(c == '.' || c == '-' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

std::optional<std::string> Config::Lookup(std::string_view key) const {
  const std::string env = EnvName(key);
  if (auto v = env_(env)) return v;
  if (auto file = env_(env + "_FILE")) {
    secret_files_.insert(*file);
    if (auto v = ReadSecretFile(*file)) return v;
    RecordError(env + "_FILE: cannot read " + *file);
    return std::nullopt;
  }
  YAML::Node node = Walk(root_, key);
  if (!node.IsDefined()) return std::nullopt;
  if (node.IsScalar()) return node.Scalar();
  if (node.IsSequence()) {
    std::vector<std::string> items;
    for (const auto& item : node) {
      if (item.IsScalar()) items.push_back(item.Scalar());
    }
    return absl::StrJoin(items, ",");
  }
  return std::nullopt;
}

std::vector<std::string> Config::secret_files() const {
  return {secret_files_.begin(), secret_files_.end()};
}

void Config::RecordError(std::string message) const { errors_.push_back(std::move(message)); }

absl::Status Config::status() const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError("config: " + absl::StrJoin(errors_, "; "));
}

bool Config::Has(std::string_view key) const { return Lookup(key).has_value(); }

void Config::SetDefault(std::string_view key, const std::string& value) {
  if (Has(key)) return;
  // YAML::Node is a handle: operator[] on a non-const node creates the path in root_.
  std::vector<std::string> parts = absl::StrSplit(ToAbsl(key), '.');
  std::vector<YAML::Node> path = {root_};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = path.back()[parts[i]];
    if (!next.IsMap()) next = YAML::Node(YAML::NodeType::Map);
    path.push_back(next);
  }
  path.back()[parts.back()] = value;
  for (size_t i = path.size() - 1; i > 0; --i) path[i - 1][parts[i - 1]] = path[i];
}

std::string Config::GetString(std::string_view key, std::string_view def) const {
  auto v = Lookup(key);
  return v ? *v : std::string(def);
}

int64_t Config::GetInt(std::string_view key, int64_t def) const {
  auto v = Lookup(key);
  if (!v) return def;
  int64_t out;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*v), &out)) {
    RecordError(std::string(key) + ": \"" + *v + "\" is not an integer");
    return def;
  }
  return out;
}

double Config::GetDouble(std::string_view key, double def) const {
  auto v = Lookup(key);
  if (!v) return def;
  double out;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(*v), &out)) {
    RecordError(std::string(key) + ": \"" + *v + "\" is not a number");
    return def;
  }
  return out;
}

bool Config::GetBool(std::string_view key, bool def) const {
  auto v = Lookup(key);
  if (!v) return def;
  bool out;
  if (!absl::SimpleAtob(absl::StripAsciiWhitespace(*v), &out)) {
    RecordError(std::string(key) + ": \"" + *v + "\" is not true or false");
    return def;
  }
  return out;
}

absl::Duration Config::GetDuration(std::string_view key, absl::Duration def) const {
  auto v = Lookup(key);
  if (!v) return def;
  const std::string s(absl::StripAsciiWhitespace(*v));
  absl::Duration out;
  double seconds;
  int64_t days;
  if (absl::string_view d = s; absl::ConsumeSuffix(&d, "d") && absl::SimpleAtoi(d, &days)) {
    return absl::Hours(24 * days);
  }
  if (absl::ParseDuration(s, &out)) return out;
  if (absl::SimpleAtod(s, &seconds)) return absl::Seconds(seconds);
  RecordError(std::string(key) + ": \"" + *v + "\" is not a duration (like 250ms, 5s, 2m, 7d)");
  return def;
}

std::vector<std::string> Config::GetList(std::string_view key) const {
  auto v = Lookup(key);
  if (!v) return {};
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(*v, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

std::vector<int64_t> Config::GetIntList(std::string_view key) const {
  std::vector<int64_t> out;
  for (const std::string& item : GetList(key)) {
    int64_t n;
    if (absl::SimpleAtoi(item, &n)) {
      out.push_back(n);
    } else {
      RecordError(std::string(key) + ": \"" + item + "\" is not an integer");
    }
  }
  return out;
}

std::vector<std::string> Config::ChildKeys(std::string_view key) const {
  std::vector<std::string> out;
  YAML::Node node = Walk(root_, key);
  if (!node.IsDefined() || !node.IsMap()) return out;
  for (const auto& kv : node) out.push_back(kv.first.as<std::string>());
  return out;
}

YAML::Node Config::Node(std::string_view key) const { return Walk(root_, key); }

}  // namespace earshot
