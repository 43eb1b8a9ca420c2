#include "services/common/base/yaml_errors.h"

#include <set>

#include "fmt/format.h"

namespace earshot {

YAML::Node YamlErrors::At(const YamlEntry& e) {
  return e.value.IsNull() || Line(e.value) == 0 ? e.key_node : e.value;
}

std::string YamlErrors::Shown(const YAML::Node& node) {
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  if (node.IsScalar()) return "\"" + node.Scalar() + "\"";
  return "nothing";
}

std::optional<std::vector<YAML::Node>> YamlErrors::OneOrList(const YAML::Node& value) {
  std::vector<YAML::Node> items;
  if (value.IsScalar()) {
    items.push_back(value);
  } else if (value.IsSequence()) {
    for (const YAML::Node& item : value) items.push_back(item);
  } else {
    return std::nullopt;
  }
  return items;
}

int YamlErrors::Line(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

void YamlErrors::Error(const YAML::Node& at, std::string_view reason) {
  ErrorAtLine(Line(at), reason);
}

void YamlErrors::ErrorAtLine(int line, std::string_view reason) {
  if (errors_.size() >= kMaxErrors) return;
  std::string where = line > 0 ? fmt::format("{}:{}: ", source_, line) : source_ + ": ";
  if (!context_.empty()) where += context_ + ": ";
  errors_.push_back(where + std::string(reason));
  if (errors_.size() == kMaxErrors) errors_.push_back(source_ + ": too many errors, stopping");
}

absl::Status YamlErrors::Result() const {
  std::string message;
  for (const std::string& e : errors_) {
    if (!message.empty()) message += "\n";
    message += e;
  }
  return absl::InvalidArgumentError(message);
}

std::vector<YamlEntry> YamlErrors::Entries(const YAML::Node& map) {
  std::vector<YamlEntry> out;
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) {
      Error(it->first, "keys must be plain names");
      continue;
    }
    const std::string key = it->first.Scalar();
    if (!seen.insert(key).second) {
      Error(it->first, fmt::format("duplicate key \"{}\"", key));
      continue;
    }
    out.push_back(YamlEntry{key, it->first, it->second});
  }
  return out;
}

}  // namespace earshot
