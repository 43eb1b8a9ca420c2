#include "services/gateway/sources/registry.h"

#include <array>

#include "absl/strings/match.h"
#include "services/common/base/strings.h"
#include "services/gateway/sources/generic_source.h"
#include "services/gateway/sources/meta_source.h"
#include "services/gateway/sources/telegram_source.h"
#include "services/gateway/sources/x_source.h"

namespace earshot::gateway {
namespace {

struct Registration {
  std::string_view name;
  absl::StatusOr<std::unique_ptr<WebhookSource>> (*from_config)(const Config&);
  std::unique_ptr<WebhookSource> (*unconfigured)();
};

template <typename Source>
constexpr Registration Register() {
  return {Source::kName, &Source::FromConfig, +[]() -> std::unique_ptr<WebhookSource> {
            return std::make_unique<Source>(typename Source::Options{});
          }};
}

// Every webhook source, one line each. The order is the one messages list them in.
constexpr std::array kSources = {
    Register<MetaSource>(),
    Register<XSource>(),
    Register<TelegramSource>(),
    Register<GenericSource>(),
};

constexpr std::array<std::string_view, kSources.size()> kNames = [] {
  std::array<std::string_view, kSources.size()> out{};
  for (size_t i = 0; i < kSources.size(); ++i) out[i] = kSources[i].name;
  return out;
}();

// Kept with every raw request whatever its route: how it was sent, and by whom.
constexpr std::array<std::string_view, 4> kCommonKeptHeaders = {"content-type", "user-agent",
                                                                "x-request-id", "x-forwarded-for"};

}  // namespace

absl::StatusOr<SourceRegistry> SourceRegistry::FromConfig(const Config& config) {
  std::vector<std::unique_ptr<WebhookSource>> sources;
  for (const Registration& r : kSources) {
    auto source = r.from_config(config);
    if (!source.ok()) return source.status();
    sources.push_back(*std::move(source));
  }
  if (auto st = config.status(); !st.ok()) return st;
  return SourceRegistry(std::move(sources));
}

SourceRegistry::SourceRegistry(std::vector<std::unique_ptr<WebhookSource>> sources)
    : sources_(std::move(sources)) {
  for (std::string_view h : kCommonKeptHeaders) kept_headers_.emplace_back(h);
  for (const auto& source : sources_) {
    for (std::string_view h : source->kept_headers()) kept_headers_.emplace_back(h);
  }
}

const SourceRegistry& SourceRegistry::Unconfigured() {
  static const SourceRegistry* const registry = [] {
    std::vector<std::unique_ptr<WebhookSource>> sources;
    for (const Registration& r : kSources) sources.push_back(r.unconfigured());
    return new SourceRegistry(std::move(sources));
  }();
  return *registry;
}

std::span<const std::string_view> SourceRegistry::Names() { return kNames; }

int SourceRegistry::Route(std::string_view path, std::string* account) const {
  if (!path.starts_with("/webhooks/")) return -1;
  path.remove_prefix(10);
  for (size_t i = 0; i < sources_.size(); ++i) {
    if (sources_[i]->MatchPath(path, account)) return static_cast<int>(i);
  }
  return -1;
}

const WebhookSource* SourceRegistry::Find(std::string_view name) const {
  for (const auto& source : sources_) {
    if (source->name() == name) return source.get();
  }
  return nullptr;
}

bool SourceRegistry::IsSignatureHeader(std::string_view name) const {
  for (const auto& source : sources_) {
    for (std::string_view h : source->signature_headers()) {
      if (absl::EqualsIgnoreCase(ToAbsl(name), ToAbsl(h))) return true;
    }
  }
  return false;
}

}  // namespace earshot::gateway
