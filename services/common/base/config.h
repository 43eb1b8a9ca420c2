#pragma once
// Config: one YAML document (one file per service, or one for standalone), where every key can
// be overridden by an environment variable and read from a file, in this order:
//   EARSHOT_<KEY>        e.g. key "kafka.bootstrap" -> EARSHOT_KAFKA_BOOTSTRAP
//   EARSHOT_<KEY>_FILE   path of a file holding the value (Kubernetes Secret mounts)
//   the YAML value
//   the default given by the caller
// <KEY> is the dotted key in upper case with '.' and '-' turned into '_'.
//
// Typed getters never throw: a value that does not parse is recorded, the default is returned,
// and status() reports every such error at once, so start-up fails with the whole list.
// Built once at start-up on the main thread; const afterwards and safe to share.
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "yaml-cpp/yaml.h"

namespace earshot {

class Config {
 public:
  using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

  // An empty path means: no file, only environment and defaults.
  static absl::StatusOr<Config> LoadFile(const std::string& path);
  static absl::StatusOr<Config> FromYaml(std::string_view yaml);

  // Replaces the process environment (tests).
  void set_env_lookup(EnvLookup lookup) { env_ = std::move(lookup); }

  bool Has(std::string_view key) const;
  // Sets `key` (dotted path) unless the file or the environment gives it: a default that
  // depends on how the process runs (the embedded broker's shorter fetch waits).
  void SetDefault(std::string_view key, const std::string& value);
  std::string GetString(std::string_view key, std::string_view def = "") const;
  int64_t GetInt(std::string_view key, int64_t def) const;
  double GetDouble(std::string_view key, double def) const;
  bool GetBool(std::string_view key, bool def) const;
  // "250ms", "5s", "2m", "1h", "7d"; a bare number is seconds.
  absl::Duration GetDuration(std::string_view key, absl::Duration def) const;
  // A YAML sequence, or a comma-separated string (the only form the environment can give);
  // empty items are dropped. Several secrets at once during rotation use this.
  std::vector<std::string> GetList(std::string_view key) const;
  // GetList whose items are integers; an item that is not records an error and is left out.
  std::vector<int64_t> GetIntList(std::string_view key) const;
  // Child keys of a YAML map (e.g. the names under generic.sources).
  std::vector<std::string> ChildKeys(std::string_view key) const;
  // The raw YAML subtree, for structured sections (rules, policies). Null if absent.
  YAML::Node Node(std::string_view key) const;

  // Errors recorded by the typed getters so far.
  absl::Status status() const;
  // How many: a reload that reads keys again compares it before and after.
  size_t error_count() const { return errors_.size(); }

  static std::string EnvName(std::string_view key);

  // The files EARSHOT_<KEY>_FILE named for the keys read so far: a process watches them, since
  // a Kubernetes Secret's update swaps them while it runs.
  std::vector<std::string> secret_files() const;

 private:
  explicit Config(YAML::Node root);
  std::optional<std::string> Lookup(std::string_view key) const;
  void RecordError(std::string message) const;

  YAML::Node root_;
  EnvLookup env_;
  mutable std::vector<std::string> errors_;
  mutable std::set<std::string> secret_files_;
};

}  // namespace earshot
