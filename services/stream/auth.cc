#include "services/stream/auth.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "fmt/format.h"
#include "openssl/sha.h"
#include "services/common/base/strings.h"
#include "yaml-cpp/yaml.h"

namespace earshot::stream {
namespace {

std::string Digest(std::string_view token) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof(md));
}

absl::Status AtLine(const YAML::Node& node, const std::string& path, std::string_view reason) {
  return absl::InvalidArgumentError(fmt::format("{}:{}: {}", path, node.Mark().line + 1, reason));
}

}  // namespace

std::unique_ptr<TokenAuth> TokenAuth::Open() {
  auto auth = std::unique_ptr<TokenAuth>(new TokenAuth());
  auth->open_ = true;
  return auth;
}

absl::StatusOr<std::unique_ptr<TokenAuth>> TokenAuth::Load(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError("cannot read stream tokens file " + path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}", path, e.mark.line + 1, e.msg));
  }
  auto auth = std::unique_ptr<TokenAuth>(new TokenAuth());
  const YAML::Node teams = root["teams"];
  if (!teams || !teams.IsSequence()) return AtLine(root, path, "expected a list `teams:`");
  for (const auto& t : teams) {
    if (!t.IsMap()) return AtLine(t, path, "a team is a map with name, token and queues");
    Access access;
    if (!t["name"] || !t["name"].IsScalar() || t["name"].Scalar().empty()) {
      return AtLine(t, path, "team without a name");
    }
    access.team = t["name"].Scalar();
    std::string token;
    if (t["token"] && t["token_file"]) {
      return AtLine(t, path, "team " + access.team + ": give token or token_file, not both");
    }
    if (t["token"]) {
      token = t["token"].Scalar();
    } else if (t["token_file"]) {
      std::ifstream in(t["token_file"].Scalar());
      if (!in) {
        return AtLine(t["token_file"], path, "cannot read token_file " + t["token_file"].Scalar());
      }
      std::stringstream ss;
      ss << in.rdbuf();
      token = std::string(ToStd(absl::StripAsciiWhitespace(ss.str())));
    }
    if (token.size() < 8) {
      return AtLine(t, path,
                    "team " + access.team + ": token missing or shorter than 8 characters");
    }
    const YAML::Node queues = t["queues"];
    if (!queues || !queues.IsSequence() || queues.size() == 0) {
      return AtLine(t, path, "team " + access.team + ": `queues` must list queues or \"*\"");
    }
    access.all_queues = false;
    for (const auto& q : queues) {
      if (q.Scalar() == "*") {
        access.all_queues = true;
      } else {
        access.queues.insert(q.Scalar());
      }
    }
    if (!auth->by_digest_.emplace(Digest(token), std::move(access)).second) {
      return AtLine(t, path, "the same token is listed twice");
    }
  }
  return auth;
}

absl::StatusOr<Access> TokenAuth::Authenticate(std::string_view authorization) const {
  if (open_) return Access{"open", true, {}};
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.empty()) {
    return absl::UnauthenticatedError("missing `authorization: Bearer <token>` metadata");
  }
  if (authorization.size() <= kBearer.size() ||
      !absl::StartsWithIgnoreCase(ToAbsl(authorization), ToAbsl(kBearer))) {
    return absl::UnauthenticatedError("authorization metadata must be `Bearer <token>`");
  }
  auto it = by_digest_.find(Digest(authorization.substr(kBearer.size())));
  if (it == by_digest_.end()) return absl::UnauthenticatedError("unknown token");
  return it->second;
}

}  // namespace earshot::stream
