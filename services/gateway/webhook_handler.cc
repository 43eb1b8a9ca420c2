#include "services/gateway/webhook_handler.h"

#include <array>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fmt/format.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "services/common/base/log.h"
#include "services/common/base/metrics.h"
#include "services/common/base/status.h"
#include "services/common/base/strings.h"
#include "services/gateway/normalize.h"
#include "services/gateway/signature.h"

namespace earshot::gateway {
namespace {

using earshot::v1::Platform;

constexpr char kLogger[] = "gateway";

// The request-level label of a route; events carry their own platform (facebook, instagram...).
enum RouteKind { kX = 0, kMeta, kTelegram, kGeneric, kOther, kRouteKinds };
constexpr std::array<const char*, kRouteKinds> kRouteNames = {"x", "meta", "telegram", "generic",
                                                              "other"};
constexpr std::array<int, 14> kCodes = {200, 400, 401, 403, 404, 405, 413,
                                        415, 429, 431, 500, 501, 503, 504};

int CodeIndex(int code) {
  for (size_t i = 0; i < kCodes.size(); ++i) {
    if (kCodes[i] == code) return static_cast<int>(i);
  }
  return 10;  // counted as 500
}

std::string RandomId() {
  thread_local absl::BitGen gen;
  return fmt::format("{:016x}{:016x}", absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
}

// The gateway's HTTP edge. Sources and normalisers report canonical codes in their canonical
// meaning (INVALID_ARGUMENT bad input, UNAUTHENTICATED bad signature, NOT_FOUND no such source,
// UNAVAILABLE Kafka away), which map to HTTP by the shared table; the answers HTTP has a finer
// code for are given explicitly where the handler refuses the request.
http::Response ErrorResponse(int http_status, const absl::Status& status) {
  return http::Response::Json(http_status, StatusToJson(status));
}

http::Response ErrorResponse(const absl::Status& status) {
  return ErrorResponse(HttpStatusFromStatus(status), status);
}

bool IsJson(std::string_view content_type) {
  absl::string_view media =
      absl::StripAsciiWhitespace(ToAbsl(content_type.substr(0, content_type.find(';'))));
  return absl::EqualsIgnoreCase(media, "application/json") ||
         (absl::StartsWithIgnoreCase(media, "application/") &&
          absl::EndsWithIgnoreCase(media, "+json"));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The headers kept with a raw request: enough to verify and replay it.
constexpr std::array<const char*, 12> kKeptHeaders = {
    "content-type",
    "user-agent",
    "x-twitter-webhooks-signature",
    "x-twitter-webhooks-signature-oauth2",
    "x-hub-signature-256",
    "x-hub-signature",
    "x-telegram-bot-api-secret-token",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-request-id",
    "x-forwarded-for",
};

}  // namespace

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  for (absl::string_view apair : absl::StrSplit(ToAbsl(query), '&', absl::SkipEmpty())) {
    std::string_view pair = ToStd(apair);
    auto eq = pair.find('=');
    std::string key = UrlDecode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : UrlDecode(pair.substr(eq + 1));
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

absl::StatusOr<WebhookOptions> WebhookOptions::FromConfig(const Config& config) {
  WebhookOptions o;
  std::vector<std::string> consumer = config.GetList("x.consumer_secret");
  std::vector<std::string> client = config.GetList("x.client_secret");
  o.x_crc_secret = !client.empty() ? client.front() : (!consumer.empty() ? consumer.front() : "");
  o.x_secrets = client;
  o.x_secrets.insert(o.x_secrets.end(), consumer.begin(), consumer.end());
  o.meta_app_secrets = config.GetList("meta.app_secret");
  o.meta_verify_tokens = config.GetList("meta.verify_token");
  o.telegram_tokens = config.GetList("telegram.secret_token");
  o.telegram_bot_id = config.GetString("telegram.bot_id", "bot");
  for (const auto& source : config.ChildKeys("generic.sources")) {
    auto secrets = config.GetList("generic.sources." + source + ".secret");
    if (secrets.empty()) {
      return absl::InvalidArgumentError("generic.sources." + source + ".secret is not set");
    }
    o.generic_sources[source] = std::move(secrets);
  }
  o.generic_tolerance = config.GetDuration("generic.tolerance", o.generic_tolerance);
  o.raw_enabled = config.GetBool("gateway.raw_enabled", o.raw_enabled);
  o.retry_after = config.GetDuration("gateway.retry_after", o.retry_after);
  o.topics.events = config.GetString("kafka.topics.events", o.topics.events);
  o.topics.raw = config.GetString("kafka.topics.raw", o.topics.raw);
  o.topics.deadletter = config.GetString("kafka.topics.deadletter", o.topics.deadletter);
  if (auto st = config.status(); !st.ok()) return st;
  return o;
}

struct WebhookHandler::Metrics {
  explicit Metrics(prometheus::Registry& r) {
    auto& requests = prometheus::BuildCounter()
                         .Name("earshot_gateway_requests_total")
                         .Help("Webhook requests answered, by route platform and HTTP status code")
                         .Register(r);
    auto& sig = prometheus::BuildCounter()
                    .Name("earshot_gateway_signature_failures_total")
                    .Help("Webhook requests rejected for a bad or missing signature")
                    .Register(r);
    auto& dead =
        prometheus::BuildCounter()
            .Name("earshot_gateway_deadletters_total")
            .Help("Signed requests with parts of unknown shape, sent to the dead-letter topic")
            .Register(r);
    auto& ignored_f = prometheus::BuildCounter()
                          .Name("earshot_gateway_ignored_parts_total")
                          .Help("Known webhook parts that carry no message (typing, read receipts)")
                          .Register(r);
    auto& duration = prometheus::BuildHistogram()
                         .Name("earshot_gateway_request_duration_seconds")
                         .Help("Time from request read to answer written, by route platform")
                         .Register(r);
    for (int p = 0; p < kRouteKinds; ++p) {
      for (size_t c = 0; c < kCodes.size(); ++c) {
        this->requests[p][c] =
            &requests.Add({{"platform", kRouteNames[p]}, {"code", std::to_string(kCodes[c])}});
      }
      signature_failures[p] = &sig.Add({{"platform", kRouteNames[p]}});
      deadletters[p] = &dead.Add({{"platform", kRouteNames[p]}});
      ignored[p] = &ignored_f.Add({{"platform", kRouteNames[p]}});
      this->duration[p] = &duration.Add({{"platform", kRouteNames[p]}}, LatencyBuckets());
    }
    auto& events_f = prometheus::BuildCounter()
                         .Name("earshot_gateway_events_total")
                         .Help("Canonical events acknowledged by Kafka, by platform and kind")
                         .Register(r);
    for (int p = 0; p < earshot::v1::Platform_ARRAYSIZE; ++p) {
      for (int k = 0; k < earshot::v1::Kind_ARRAYSIZE; ++k) {
        std::string kind = earshot::v1::Kind_Name(k);
        events[p][k] =
            &events_f.Add({{"platform", std::string(PlatformName(static_cast<Platform>(p)))},
                           {"kind", absl::AsciiStrToLower(absl::StripPrefix(kind, "KIND_"))}});
      }
    }
    in_flight = &prometheus::BuildGauge()
                     .Name("earshot_gateway_requests_in_flight")
                     .Help("Webhook requests waiting for Kafka's acknowledgement")
                     .Register(r)
                     .Add({});
  }

  void Answered(int route, int code, absl::Duration took) {
    requests[route][CodeIndex(code)]->Increment();
    duration[route]->Observe(absl::ToDoubleSeconds(took));
  }

  std::array<std::array<prometheus::Counter*, kCodes.size()>, kRouteKinds> requests;
  std::array<prometheus::Counter*, kRouteKinds> signature_failures;
  std::array<prometheus::Counter*, kRouteKinds> deadletters;
  std::array<prometheus::Counter*, kRouteKinds> ignored;
  std::array<prometheus::Histogram*, kRouteKinds> duration;
  std::array<std::array<prometheus::Counter*, earshot::v1::Kind_ARRAYSIZE>,
             earshot::v1::Platform_ARRAYSIZE>
      events;
  prometheus::Gauge* in_flight;
};

// What a path names: the platform and, for Telegram and generic sources, the account.
struct WebhookHandler::Route {
  RouteKind kind = kOther;
  std::string account;
};

WebhookHandler::WebhookHandler(WebhookOptions options, kafka::RecordSink* sink,
                               prometheus::Registry& registry, const Clock& clock)
    : options_(std::move(options)),
      sink_(sink),
      clock_(clock),
      metrics_(std::make_unique<Metrics>(registry)) {}

WebhookHandler::~WebhookHandler() = default;

void WebhookHandler::Handle(http::Request request, http::Responder respond) {
  const absl::Time start = clock_.Now();
  Route route;
  std::string_view path = request.path;
  if (path.starts_with("/webhooks/")) {
    path.remove_prefix(10);
    if (path == "x") {
      route.kind = kX;
    } else if (path == "meta") {
      route.kind = kMeta;
    } else if (path == "telegram" || path.starts_with("telegram/")) {
      route.kind = kTelegram;
      route.account = path.size() > 9 ? std::string(path.substr(9)) : options_.telegram_bot_id;
    } else if (path.starts_with("generic/") && path.size() > 8 &&
               path.find('/', 8) == std::string_view::npos) {
      route.kind = kGeneric;
      route.account = std::string(path.substr(8));
    }
  }
  // Every answer passes through here, so each is counted once with its latency.
  http::Responder counted = [this, kind = route.kind, start,
                             respond = std::move(respond)](http::Response r) mutable {
    metrics_->Answered(kind, r.status, clock_.Now() - start);
    std::move(respond)(std::move(r));
  };
  if (route.kind == kOther) {
    return std::move(counted)(
        ErrorResponse(absl::NotFoundError("no webhook route " + request.path)));
  }
  const std::string_view method = request.method();
  if (method == "GET" && (route.kind == kX || route.kind == kMeta)) {
    return HandleGet(route, request, std::move(counted));
  }
  if (method == "POST") return HandlePost(route, std::move(request), std::move(counted));
  http::Response r =
      ErrorResponse(405, absl::UnimplementedError("method not allowed on " + request.path));
  r.headers.emplace_back("Allow", route.kind == kX || route.kind == kMeta ? "GET, POST" : "POST");
  std::move(counted)(std::move(r));
}

void WebhookHandler::HandleGet(const Route& route, const http::Request& request,
                               http::Responder respond) {
  auto query = ParseQuery(request.query);
  if (route.kind == kX) {
    auto it = query.find("crc_token");
    if (it == query.end() || it->second.empty()) {
      return std::move(respond)(
          ErrorResponse(absl::InvalidArgumentError("missing crc_token query parameter")));
    }
    if (options_.x_crc_secret.empty()) {
      return std::move(respond)(
          ErrorResponse(absl::NotFoundError("x webhooks are not configured (no secret)")));
    }
    return std::move(respond)(http::Response::Json(
        200, absl::StrCat("{\"response_token\":",
                          JsonQuote(XCrcResponseToken(it->second, options_.x_crc_secret)), "}")));
  }
  // Meta's subscription handshake: echo hub.challenge when the verify token matches.
  const std::string& mode = query["hub.mode"];
  const std::string& token = query["hub.verify_token"];
  const std::string& challenge = query["hub.challenge"];
  bool token_ok = false;
  for (const auto& t : options_.meta_verify_tokens) token_ok |= ConstantTimeEquals(token, t);
  if (mode != "subscribe" || !token_ok || challenge.empty()) {
    metrics_->signature_failures[kMeta]->Increment();
    return std::move(respond)(ErrorResponse(
        absl::PermissionDeniedError("hub.mode must be subscribe and hub.verify_token must match")));
  }
  std::move(respond)(http::Response::Text(200, challenge));
}

void WebhookHandler::HandlePost(const Route& route, http::Request request,
                                http::Responder respond) {
  if (!IsJson(request.header("content-type"))) {
    return std::move(respond)(ErrorResponse(
        415, absl::FailedPreconditionError("content type must be application/json, got \"" +
                                           std::string(request.header("content-type")) + "\"")));
  }
  const std::string_view body = request.body();
  const absl::Time now = clock_.Now();
  absl::Status verified;
  Platform platform = earshot::v1::PLATFORM_UNSPECIFIED;
  switch (route.kind) {
    case kX:
      platform = earshot::v1::PLATFORM_X;
      verified =
          options_.x_secrets.empty()
              ? absl::NotFoundError("x webhooks are not configured (no secret)")
              : VerifyX(body, request.header("x-twitter-webhooks-signature"),
                        request.header("x-twitter-webhooks-signature-oauth2"), options_.x_secrets);
      break;
    case kMeta:
      platform = earshot::v1::PLATFORM_FACEBOOK;
      verified =
          options_.meta_app_secrets.empty()
              ? absl::NotFoundError("meta webhooks are not configured (no app secret)")
              : VerifyMeta(body, request.header("x-hub-signature-256"), options_.meta_app_secrets);
      break;
    case kTelegram:
      platform = earshot::v1::PLATFORM_TELEGRAM;
      verified = options_.telegram_tokens.empty()
                     ? absl::NotFoundError("telegram webhooks are not configured (no token)")
                     : VerifyTelegram(request.header("x-telegram-bot-api-secret-token"),
                                      options_.telegram_tokens);
      break;
    case kGeneric: {
      platform = earshot::v1::PLATFORM_GENERIC;
      auto it = options_.generic_sources.find(route.account);
      if (it == options_.generic_sources.end()) {
        verified = absl::NotFoundError("unknown generic source \"" + route.account + "\"");
        break;
      }
      auto h = [&](std::string_view std_name, std::string_view svix_name) {
        std::string_view v = request.header(std_name);
        return v.empty() ? request.header(svix_name) : v;
      };
      verified = VerifyStandardWebhook(
          h("webhook-id", "svix-id"), h("webhook-timestamp", "svix-timestamp"), body,
          h("webhook-signature", "svix-signature"), it->second, now, options_.generic_tolerance);
      break;
    }
    default:
      break;
  }
  if (!verified.ok()) {
    if (verified.code() == absl::StatusCode::kUnauthenticated) {
      metrics_->signature_failures[route.kind]->Increment();
      log::Info(kLogger, "signature rejected",
                {{"platform", kRouteNames[route.kind]},
                 {"reason", verified.message()},
                 {"remote", request.remote}});
    }
    return std::move(respond)(ErrorResponse(verified));
  }

  RequestContext ctx{now, route.account};
  absl::StatusOr<Normalized> normalized;
  switch (route.kind) {
    case kX:
      normalized = NormalizeX(body, ctx);
      break;
    case kMeta:
      normalized = NormalizeMeta(body, ctx);
      break;
    case kTelegram:
      normalized = NormalizeTelegram(body, ctx);
      break;
    default:
      normalized = NormalizeGeneric(body, ctx);
      break;
  }
  if (!normalized.ok()) return std::move(respond)(ErrorResponse(normalized.status()));

  earshot::v1::RawWebhook raw;
  raw.set_request_id(RandomId());
  raw.set_platform(platform);
  if (route.kind == kGeneric) raw.set_source(route.account);
  raw.set_method(std::string(request.method()));
  raw.set_path(request.path);
  raw.set_query(request.query);
  // One pass over the request's fields (a lookup per kept name scanned them twelve times); the
  // first of repeated fields is kept.
  for (const auto& field : request.message) {
    const std::string_view name = field.name_string();
    for (const char* kept : kKeptHeaders) {
      if (absl::EqualsIgnoreCase(ToAbsl(name), kept)) {
        if (!field.value().empty()) {
          raw.mutable_headers()->insert({kept, std::string(field.value())});
        }
        break;
      }
    }
  }
  raw.set_body(std::move(request.message.body()));  // `body` is not read after this
  raw.mutable_received_at()->set_seconds(absl::ToUnixSeconds(now));
  raw.mutable_received_at()->set_nanos(static_cast<int32_t>(
      (now - absl::FromUnixSeconds(absl::ToUnixSeconds(now))) / absl::Nanoseconds(1)));

  std::vector<kafka::Record> records;
  records.reserve(normalized->events.size() + 2);
  for (const auto& event : normalized->events) {
    records.push_back(EventRecord(event, options_.topics.events));
  }
  std::string deadletter_reason;
  if (!normalized->unknown.empty()) {
    deadletter_reason = absl::StrJoin(normalized->unknown, "; ");
  } else if (normalized->events.empty() && normalized->ignored == 0) {
    deadletter_reason = "no known webhook content";
  }
  if (!deadletter_reason.empty()) {
    records.push_back(DeadLetterRecord(raw, deadletter_reason, options_.topics.deadletter));
  }
  if (options_.raw_enabled) records.push_back(RawRecord(raw, options_.topics.raw));

  const int route_kind = route.kind;
  auto unavailable = [this](absl::Status st) {
    http::Response r = ErrorResponse(absl::UnavailableError(st.message()));
    r.headers.emplace_back("Retry-After",
                           std::to_string(absl::ToInt64Seconds(options_.retry_after)));
    return r;
  };
  if (!sink_->reachable()) {
    return std::move(respond)(unavailable(absl::UnavailableError("kafka is unreachable")));
  }
  if (records.empty()) {
    metrics_->ignored[route_kind]->Increment(normalized->ignored);
    return std::move(respond)(http::Response::Json(200, "{\"accepted\":0}"));
  }

  // Counted only once Kafka acknowledged; captured by value since the request is gone by then.
  std::vector<std::pair<int, int>> kinds;
  kinds.reserve(normalized->events.size());
  for (const auto& e : normalized->events) kinds.emplace_back(e.platform(), e.kind());
  const int accepted = static_cast<int>(normalized->events.size());
  const int ignored = normalized->ignored;
  const bool deadlettered = !deadletter_reason.empty();
  metrics_->in_flight->Increment();
  sink_->ProduceBatch(
      std::move(records),
      [this, respond = std::move(respond), kinds = std::move(kinds), accepted, ignored,
       deadlettered, route_kind, unavailable](absl::Status st) mutable {
        metrics_->in_flight->Decrement();
        if (!st.ok()) {
          log::Warn(kLogger, "kafka did not acknowledge; answering 503",
                    {{"platform", kRouteNames[route_kind]}, {"error", st.message()}});
          return std::move(respond)(unavailable(st));
        }
        for (auto [p, k] : kinds) metrics_->events[p][k]->Increment();
        metrics_->ignored[route_kind]->Increment(ignored);
        if (deadlettered) metrics_->deadletters[route_kind]->Increment();
        std::move(respond)(http::Response::Json(
            200, absl::StrCat("{\"accepted\":", accepted, ",\"ignored\":", ignored,
                              ",\"deadlettered\":", deadlettered ? "true" : "false", "}")));
      });
}

}  // namespace earshot::gateway
