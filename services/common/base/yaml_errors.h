#pragma once
// YamlErrors: what a parser of a user's YAML file (routing rules, SLA policies) shares: every
// error collected with its line ("<source>:<line>: <context>: <reason>", at most kMaxErrors),
// so that a user fixes a file in one go, and the entries of a map with plain, unique keys.
// A parser derives from it; one per load, on the loading thread.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "yaml-cpp/yaml.h"

namespace earshot {

// One entry of a YAML map, with the key as a string.
struct YamlEntry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

class YamlErrors {
 public:
  static constexpr size_t kMaxErrors = 20;

  explicit YamlErrors(std::string_view source) : source_(source) {}

  // 1-based line of a node, 0 when it has none.
  static int Line(const YAML::Node& node);
  void Error(const YAML::Node& at, std::string_view reason);
  void ErrorAtLine(int line, std::string_view reason);
  // What is being parsed ("rule \"x\"", "calendar \"y\""), put before each error; "" for none.
  void set_context(std::string context) { context_ = std::move(context); }
  size_t error_count() const { return errors_.size(); }
  // InvalidArgument with every error, a line each.
  absl::Status Result() const;
  // The entries of a map; a key that is not a scalar, or is repeated, is reported and skipped.
  std::vector<YamlEntry> Entries(const YAML::Node& map);
  // The node to blame for an entry's value: the value, or its key when the value is empty
  // (yaml-cpp places an empty value on the line after its key).
  static YAML::Node At(const YamlEntry& e);
  // How a value is named in an error: "a map", "a list", "nothing", or the quoted text.
  static std::string Shown(const YAML::Node& node);
  // The items of a value a user may give as one scalar or as a list: the scalar alone, or the
  // list's items (maybe none); nullopt for anything else (the caller says what it expected).
  static std::optional<std::vector<YAML::Node>> OneOrList(const YAML::Node& value);

 protected:
  const std::string source_;

 private:
  std::string context_;
  std::vector<std::string> errors_;
};

}  // namespace earshot
