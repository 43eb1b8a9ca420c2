#include "services/common/auth/authenticator.h"

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "fmt/format.h"
#include "grpc/grpc_security_constants.h"
#include "openssl/sha.h"
#include "services/common/base/strings.h"
#include "services/common/base/yaml_errors.h"
#include "yaml-cpp/yaml.h"

namespace earshot::auth {
namespace {

constexpr size_t kMinTokenLength = 8;

std::string Digest(std::string_view token) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof(md));
}

std::optional<std::string> ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return std::string(ToStd(absl::StripAsciiWhitespace(ss.str())));
}

bool IsScalar(const YAML::Node& n) { return n && n.IsScalar() && !n.Scalar().empty(); }

}  // namespace

const Grant* Principal::Find(std::string_view scope) const {
  static const Grant kAll{true, {}};
  if (everything) return &kAll;
  auto it = scopes.find(ToAbsl(scope));
  return it == scopes.end() ? nullptr : &it->second;
}

bool Principal::Holds(std::string_view scope, std::string_view resource) const {
  const Grant* grant = Find(scope);
  return grant != nullptr && grant->Covers(resource);
}

// One load of both files into a new Authenticator; every error collected with its line.
class Authenticator::Loader : public YamlErrors {
 public:
  Loader(Authenticator* auth, const std::string& path) : YamlErrors(path), auth_(auth) {}

  void Principals(const YAML::Node& root) {
    const YAML::Node list = root["principals"];
    if (!list || !list.IsSequence()) return Error(root, "expected a list `principals:`");
    for (const auto& p : list) {
      if (!p.IsMap() || !IsScalar(p["name"])) {
        Error(p, "a principal is a map with name, tokens, certificate and scopes");
        continue;
      }
      const std::string name = p["name"].Scalar();
      set_context("principal " + name);
      if (auth_->by_name_.contains(name)) {
        Error(p["name"], "the name is listed twice");
        continue;
      }
      Principal* principal = Add(name);
      for (const auto& e : Entries(p)) {
        if (e.key == "tokens") {
          Tokens(e.value, principal);
        } else if (e.key == "certificate") {
          Certificate(e.value, principal);
        } else if (e.key == "scopes") {
          Scopes(e.value, principal);
        } else if (e.key != "name") {
          Error(e.key_node, "unknown key `" + e.key + "` (name, tokens, certificate, scopes)");
        }
      }
      if (principal->scopes.empty()) Error(p, "no scopes: the principal could do nothing");
    }
    set_context("");
  }

  // The deprecated stream.tokens_file: each team a principal holding stream:read.
  void Teams(const YAML::Node& root) {
    const YAML::Node teams = root["teams"];
    if (!teams || !teams.IsSequence()) return Error(root, "expected a list `teams:`");
    for (const auto& t : teams) {
      if (!t.IsMap() || !IsScalar(t["name"])) {
        Error(t, "a team is a map with name, token or token_file, and queues");
        continue;
      }
      const std::string name = t["name"].Scalar();
      set_context("team " + name);
      Principal* principal = nullptr;
      if (auto it = auth_->by_name_.find(name); it == auth_->by_name_.end()) {
        principal = Add(name);
      } else if (team_names_.contains(name)) {
        principal = const_cast<Principal*>(it->second);
      } else {
        Error(t["name"], "a principal of auth.principals_file has this name");
        continue;
      }
      team_names_.insert(name);
      if (t["token"] && t["token_file"]) {
        Error(t, "give token or token_file, not both");
      } else if (t["token"]) {
        Token(t["token"], t["token"].Scalar(), principal);
      } else if (t["token_file"]) {
        TokenFile(t["token_file"], principal);
      } else {
        Error(t, "token or token_file is required");
      }
      Resources(t["queues"], t, &principal->scopes["stream:read"]);
    }
    set_context("");
  }

 private:
  Principal* Add(const std::string& name) {
    auth_->principals_.push_back(std::make_unique<Principal>());
    Principal* p = auth_->principals_.back().get();
    p->name = name;
    auth_->by_name_[name] = p;
    return p;
  }

  void Tokens(const YAML::Node& list, Principal* principal) {
    if (!list.IsSequence()) return Error(list, "tokens is a list of `file:` or `value:`");
    for (const auto& t : list) {
      if (t.IsMap() && t.size() == 1 && IsScalar(t["value"])) {
        Token(t["value"], t["value"].Scalar(), principal);
      } else if (t.IsMap() && t.size() == 1 && IsScalar(t["file"])) {
        TokenFile(t["file"], principal);
      } else {
        Error(t, "a token is `file: <path>` or `value: <token>`");
      }
    }
  }

  void TokenFile(const YAML::Node& at, Principal* principal) {
    auth_->token_files_.push_back(at.Scalar());
    auto token = ReadTrimmed(at.Scalar());
    if (!token) return Error(at, "cannot read token file " + at.Scalar());
    Token(at, *token, principal);
  }

  void Token(const YAML::Node& at, const std::string& token, Principal* principal) {
    if (token.size() < kMinTokenLength) {
      return Error(at, fmt::format("token shorter than {} characters", kMinTokenLength));
    }
    if (!auth_->by_digest_.emplace(Digest(token), principal).second) {
      Error(at, "the same token is listed twice");
    }
  }

  void Certificate(const YAML::Node& map, Principal* principal) {
    static constexpr std::pair<std::string_view, std::string_view> kKinds[] = {
        {"common_name", "cn:"}, {"dns_name", "dns:"}, {"uri", "uri:"}};
    if (!map.IsMap() || map.size() != 1) {
      return Error(map, "certificate names one of common_name, dns_name, uri");
    }
    const std::string key = map.begin()->first.Scalar();
    const YAML::Node value = map.begin()->second;
    auto kind = std::find_if(std::begin(kKinds), std::end(kKinds),
                             [&](const auto& k) { return k.first == key; });
    if (kind == std::end(kKinds) || !IsScalar(value)) {
      return Error(map, "certificate names one of common_name, dns_name, uri");
    }
    const std::string identity = std::string(kind->second) + value.Scalar();
    if (!auth_->by_identity_.emplace(identity, principal).second) {
      Error(value, "another principal has this certificate identity");
    }
  }

  void Scopes(const YAML::Node& map, Principal* principal) {
    if (!map.IsMap()) return Error(map, "scopes is a map of scope: [queues or sources]");
    for (const auto& e : Entries(map)) {
      if (std::find(std::begin(kScopes), std::end(kScopes), e.key) == std::end(kScopes)) {
        Error(e.key_node, "unknown scope `" + e.key +
                              "` (stream:read, threads:read, threads:resolve, threads:erase, "
                              "ingest:publish, threads:forward)");
        continue;
      }
      Resources(e.value, At(e), &principal->scopes[e.key]);
    }
  }

  void Resources(const YAML::Node& list, const YAML::Node& at, Grant* grant) {
    if (!list || !list.IsSequence() || list.size() == 0) {
      return Error(list ? list : at, "expected a list of names, or [\"*\"] for every one");
    }
    for (const auto& r : list) {
      if (!IsScalar(r)) {
        Error(r, "expected a name, got " + Shown(r));
      } else if (r.Scalar() == "*") {
        grant->all = true;
      } else {
        grant->names.insert(r.Scalar());
      }
    }
  }

  Authenticator* auth_;
  absl::flat_hash_set<std::string> team_names_;
};

std::shared_ptr<const Authenticator> Authenticator::Open() {
  auto auth = std::make_shared<Authenticator>();
  auth->open_ = true;
  auto anonymous = std::make_unique<Principal>();
  anonymous->name = "anonymous";
  anonymous->everything = true;
  auth->principals_.push_back(std::move(anonymous));
  return auth;
}

absl::StatusOr<std::shared_ptr<const Authenticator>> Authenticator::Load(
    const std::string& principals_file, const std::string& teams_file) {
  auto auth = std::make_shared<Authenticator>();
  for (const std::string* path : {&principals_file, &teams_file}) {
    if (path->empty()) continue;
    YAML::Node root;
    try {
      root = YAML::LoadFile(*path);
    } catch (const YAML::BadFile&) {
      return absl::NotFoundError("cannot read " + *path);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: {}", *path, e.mark.line + 1, e.msg));
    }
    Loader loader(auth.get(), *path);
    if (path == &principals_file) {
      loader.Principals(root);
    } else {
      loader.Teams(root);
    }
    if (loader.error_count() > 0) return loader.Result();
  }
  if (auth->principals_.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: no principals", principals_file.empty() ? teams_file : principals_file));
  }
  return std::shared_ptr<const Authenticator>(std::move(auth));
}

absl::StatusOr<const Principal*> Authenticator::Authenticate(
    const grpc::ServerContextBase& ctx) const {
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  return Authenticate(
      it == md.end() ? std::string_view() : std::string_view(it->second.data(), it->second.size()),
      ctx.auth_context().get());
}

absl::StatusOr<const Principal*> Authenticator::Authenticate(std::string_view value,
                                                             const grpc::AuthContext* peer) const {
  if (open_) return principals_.front().get();
  if (!value.empty()) {
    constexpr std::string_view kBearer = "Bearer ";
    if (value.size() <= kBearer.size() ||
        !absl::StartsWithIgnoreCase(ToAbsl(value), ToAbsl(kBearer))) {
      return absl::UnauthenticatedError("authorization metadata must be `Bearer <token>`");
    }
    auto found = by_digest_.find(Digest(value.substr(kBearer.size())));
    if (found == by_digest_.end()) return absl::UnauthenticatedError("unknown token");
    return found->second;
  }
  // The transport verified the certificate against grpc.tls.client_ca_file before any call.
  if (peer != nullptr && peer->IsPeerAuthenticated()) {
    for (const auto& [property, prefix] : {std::pair{GRPC_PEER_DNS_PROPERTY_NAME, "dns:"},
                                           std::pair{GRPC_PEER_URI_PROPERTY_NAME, "uri:"},
                                           std::pair{GRPC_X509_CN_PROPERTY_NAME, "cn:"}}) {
      for (const auto& v : peer->FindPropertyValues(property)) {
        auto found = by_identity_.find(std::string(prefix) + std::string(v.data(), v.size()));
        if (found != by_identity_.end()) return found->second;
      }
    }
    return absl::UnauthenticatedError("the client certificate names no principal");
  }
  return absl::UnauthenticatedError(
      "missing `authorization: Bearer <token>` metadata (or a client certificate)");
}

const Principal* Authenticator::Find(std::string_view name) const {
  auto it = by_name_.find(ToAbsl(name));
  return it == by_name_.end() ? nullptr : it->second;
}

}  // namespace earshot::auth
