#pragma once
// WebhookSource: everything the gateway knows about one kind of webhook sender, behind one
// interface, so that adding a platform is one new class plus one line in registry.cc (README.md,
// "Adding a webhook source"). A source owns its route, its GET handshake (if any), how it
// verifies a request's signature, which pure normalize_*.cc function turns the body into
// events, which headers are kept with the raw request, and how a sender signs a request so that
// the gateway accepts it (earshotctl replay, tests, bench).
//
// Built from the YAML config by a factory (one per source, same keys as always); immutable
// after that, so every method may run on any thread at once.
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "earshot/v1/event.pb.h"
#include "services/common/base/config.h"
#include "services/common/http/server.h"
#include "services/gateway/normalize.h"

namespace earshot::gateway {

// Request headers in order, as a sender writes them or a recording holds them.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// What a sender signs.
struct SignInput {
  std::string_view account;  // what the route names: the generic source; empty for the others
  std::string_view body;     // the exact bytes that go out
  absl::Time now;            // for signatures that carry a time (Standard Webhooks)
  // The headers a recording already has: a Standard Webhooks message id found here is kept, so
  // a redelivery keeps its id.
  const HeaderList* recorded = nullptr;
};

class WebhookSource {
 public:
  virtual ~WebhookSource() = default;

  // The route's label in metrics and logs, and the platform name of replay recordings:
  // "meta", "x", "telegram", "generic".
  virtual std::string_view name() const = 0;
  // The platform of the request's raw record (its events carry their own: facebook, whatsapp...).
  virtual earshot::v1::Platform platform() const = 0;

  // Whether a secret is configured; without one every POST on the route gets 404.
  virtual bool configured() const = 0;
  // Every secret the source checks requests with, in a stable order: a reload compares them to
  // tell a rotation from a re-read of the same secrets.
  virtual std::vector<std::string> Secrets() const = 0;

  // --- Route ---
  // Whether `rest`, the path after "/webhooks/", is this source's route. On a match, `account`
  // is what the path names (Telegram bot id, generic source name) or the configured default.
  virtual bool MatchPath(std::string_view rest, std::string* account) const = 0;
  // The path a sender posts to ("/webhooks/meta", "/webhooks/generic/<account>").
  virtual std::string PathFor(std::string_view account) const = 0;
  // Whether the route names an account that senders must give (the generic source name).
  virtual bool route_needs_account() const { return false; }

  // --- Handshake (GET on the route) ---
  virtual bool has_handshake() const { return false; }
  // The answer to a GET with this query. PERMISSION_DENIED (a wrong verify token) is counted as
  // a signature failure by the handler.
  virtual absl::StatusOr<http::Response> Handshake(
      const std::map<std::string, std::string>& query) const;

  // --- Verify, normalise (POST on the route) ---
  // OK when the request is signed by a configured secret. NOT_FOUND when the source (or the
  // account) has no secret configured, UNAUTHENTICATED for a missing or wrong signature.
  virtual absl::Status Verify(const http::Request& request, std::string_view account,
                              absl::Time now) const = 0;
  // The verified body as canonical events (one of the pure normalize_*.cc functions).
  virtual absl::StatusOr<Normalized> Normalize(std::string_view body,
                                               const RequestContext& ctx) const = 0;
  // The raw record's `source` field for a request on this account; empty for none.
  virtual std::string RawSource(std::string_view /*account*/) const { return ""; }

  // --- Headers ---
  // Lower-case names of the headers this source's senders sign with. The raw record keeps them
  // (with a few common ones, registry.h) so the request can be verified and replayed later.
  virtual std::span<const std::string_view> kept_headers() const = 0;
  // Lower-case names a re-signing sender drops from a recorded request: the kept signature
  // headers and any alternative spellings (svix-*). Never a message id, which is reused.
  virtual std::span<const std::string_view> signature_headers() const = 0;

  // --- Sign ---
  // The config key to set before this source can sign for `account` ("meta.app_secret"); empty
  // when it can.
  virtual std::string MissingSecret(std::string_view account) const = 0;
  // The headers that make the gateway accept `in.body` on this source's route (with the first
  // configured secret). FAILED_PRECONDITION when MissingSecret is not empty.
  virtual absl::StatusOr<HeaderList> Sign(const SignInput& in) const = 0;
  // Whether `headers` already carry what Verify reads (replay --keep-signatures).
  virtual bool CarriesSignature(const HeaderList& headers) const = 0;
};

// Helpers for the sources.

// The value of the first header named `name` (case-insensitive), or "".
std::string_view FindHeader(const HeaderList& headers, std::string_view name);
// Whether a header named `name` has a non-empty value.
bool HasHeader(const HeaderList& headers, std::string_view name);
// "cannot sign: <key> is not set" as FAILED_PRECONDITION.
absl::Status MissingSecretError(std::string_view key);
// The first of a list, "" when empty (a sender signs with the first of rotated secrets).
std::string FirstOf(const std::vector<std::string>& list);

}  // namespace earshot::gateway
