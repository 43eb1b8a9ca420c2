#include "services/gateway/sources/rotation.h"

#include <utility>
#include <vector>

namespace earshot::gateway {
namespace {

// What a newer secret may still fix: a bad signature (UNAUTHENTICATED) or a wrong verify token
// (PERMISSION_DENIED). Not NOT_FOUND: a source the new config drops stays dropped.
bool Refused(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnauthenticated ||
         status.code() == absl::StatusCode::kPermissionDenied;
}

}  // namespace

std::vector<std::string> AllSecrets(const SourceRegistry& sources) {
  std::vector<std::string> out;
  for (const auto& source : sources.sources()) {
    out.emplace_back(source->name());  // a separator: the same secret moved between sources
    for (auto& s : source->Secrets()) out.push_back(std::move(s));
  }
  return out;
}

RotatingSources::RotatingSources(std::shared_ptr<const SourceRegistry> sources,
                                 absl::Duration overlap)
    : overlap_(overlap), current_(sources.get()), generations_{std::move(sources)} {}

const SourceRegistry* RotatingSources::Previous(absl::Time now) const {
  if (absl::ToUnixNanos(now) >= previous_until_ns_.load(std::memory_order_acquire)) return nullptr;
  return previous_.load(std::memory_order_acquire);
}

absl::Status RotatingSources::Verify(int index, const http::Request& request,
                                     std::string_view account, absl::Time now) const {
  absl::Status st = current()->sources()[index]->Verify(request, account, now);
  if (st.ok() || !Refused(st)) return st;
  if (auto previous = Previous(now); previous != nullptr) {
    if (previous->sources()[index]->Verify(request, account, now).ok()) return absl::OkStatus();
  }
  return st;
}

absl::StatusOr<http::Response> RotatingSources::Handshake(
    int index, const std::map<std::string, std::string>& query, absl::Time now) const {
  auto answer = current()->sources()[index]->Handshake(query);
  if (answer.ok() || !Refused(answer.status())) return answer;
  if (auto previous = Previous(now); previous != nullptr) {
    if (auto old = previous->sources()[index]->Handshake(query); old.ok()) return old;
  }
  return answer;
}

bool RotatingSources::Rotate(std::shared_ptr<const SourceRegistry> next, absl::Time now) {
  const std::vector<std::string> secrets = AllSecrets(*next);
  absl::MutexLock lock(&mu_);
  const SourceRegistry* current = current_.load();
  if (secrets == AllSecrets(*current)) return false;
  previous_.store(current, std::memory_order_release);
  previous_until_ns_.store(absl::ToUnixNanos(now + overlap_), std::memory_order_release);
  current_.store(next.get(), std::memory_order_release);
  generations_.push_back(std::move(next));
  generation_.fetch_add(1);
  return true;
}

int64_t RotatingSources::generation() const { return generation_.load(); }

}  // namespace earshot::gateway
