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
#include "services/common/base/proto_time.h"
#include "services/common/base/status.h"
#include "services/common/base/strings.h"
#include "services/gateway/normalize.h"

namespace earshot::gateway {
namespace {

using earshot::v1::Platform;

constexpr char kLogger[] = "gateway";

// The request-level label of a path that is no source's route (the sources' labels are their
// names); events carry their own platform (facebook, instagram...).
constexpr char kOtherRoute[] = "other";
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
  auto sources = SourceRegistry::FromConfig(config);
  if (!sources.ok()) return sources.status();
  o.sources = std::make_shared<const SourceRegistry>(*std::move(sources));
  o.raw_enabled = config.GetBool("gateway.raw_enabled", o.raw_enabled);
  o.retry_after = config.GetDuration("gateway.retry_after", o.retry_after);
  o.secret_overlap = config.GetDuration("gateway.secret_overlap", o.secret_overlap);
  o.topics.events = config.GetString("kafka.topics.events", o.topics.events);
  o.topics.raw = config.GetString("kafka.topics.raw", o.topics.raw);
  o.topics.deadletter = config.GetString("kafka.topics.deadletter", o.topics.deadletter);
  if (auto st = config.status(); !st.ok()) return st;
  return o;
}

struct WebhookHandler::Metrics {
  // One set per route label: each source's name, then "other".
  Metrics(prometheus::Registry& r, const std::vector<std::string>& routes) {
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
    const size_t n = routes.size();
    this->requests.resize(n);
    signature_failures.resize(n);
    deadletters.resize(n);
    ignored.resize(n);
    this->duration.resize(n);
    for (size_t p = 0; p < n; ++p) {
      for (size_t c = 0; c < kCodes.size(); ++c) {
        this->requests[p][c] =
            &requests.Add({{"platform", routes[p]}, {"code", std::to_string(kCodes[c])}});
      }
      signature_failures[p] = &sig.Add({{"platform", routes[p]}});
      deadletters[p] = &dead.Add({{"platform", routes[p]}});
      ignored[p] = &ignored_f.Add({{"platform", routes[p]}});
      this->duration[p] = &duration.Add({{"platform", routes[p]}}, LatencyBuckets());
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

  // Indexed by route: the source's index in the registry, or the last for "other".
  std::vector<std::array<prometheus::Counter*, kCodes.size()>> requests;
  std::vector<prometheus::Counter*> signature_failures;
  std::vector<prometheus::Counter*> deadletters;
  std::vector<prometheus::Counter*> ignored;
  std::vector<prometheus::Histogram*> duration;
  std::array<std::array<prometheus::Counter*, earshot::v1::Kind_ARRAYSIZE>,
             earshot::v1::Platform_ARRAYSIZE>
      events;
  prometheus::Gauge* in_flight;
};

// What a path names: its source (null for none) and, for Telegram and generic sources, the
// account. `index` is the source's index in the registry, the metrics' route label.
struct WebhookHandler::Route {
  const SourceRegistry* sources = nullptr;  // this request's generation (rotation.h)
  const WebhookSource* source = nullptr;
  int index = 0;
  std::string account;
};

namespace {

std::vector<std::string> RouteLabels(const SourceRegistry& sources) {
  std::vector<std::string> out;
  for (const auto& source : sources.sources()) out.emplace_back(source->name());
  out.emplace_back(kOtherRoute);
  return out;
}

}  // namespace

WebhookHandler::WebhookHandler(WebhookOptions options, kafka::RecordSink* sink,
                               prometheus::Registry& registry, const Clock& clock)
    : options_(std::move(options)), sink_(sink), clock_(clock) {
  if (options_.sources == nullptr) {
    options_.sources =
        std::make_shared<const SourceRegistry>(std::vector<std::unique_ptr<WebhookSource>>{});
  }
  route_labels_ = RouteLabels(*options_.sources);
  metrics_ = std::make_unique<Metrics>(registry, route_labels_);
  sources_ = std::make_unique<RotatingSources>(options_.sources, options_.secret_overlap);
  secrets_generation_ = &prometheus::BuildGauge()
                             .Name("earshot_gateway_secrets_generation")
                             .Help("Webhook secrets in use: 1 at start, one more per rotation")
                             .Register(registry)
                             .Add({});
  secrets_generation_->Set(1);
}

bool WebhookHandler::RotateSources(std::shared_ptr<const SourceRegistry> next) {
  const bool rotated = sources_->Rotate(std::move(next), clock_.Now());
  secrets_generation_->Set(static_cast<double>(sources_->generation()));
  return rotated;
}

WebhookHandler::~WebhookHandler() = default;

void WebhookHandler::Handle(http::Request request, http::Responder respond) {
  const absl::Time start = clock_.Now();
  Route route;
  route.sources = sources_->current();
  const int found = route.sources->Route(request.path, &route.account);
  if (found >= 0) {
    route.source = route.sources->sources()[found].get();
    route.index = found;
  } else {
    route.index = static_cast<int>(route_labels_.size()) - 1;  // "other"
  }
  // Every answer passes through here, so each is counted once with its latency.
  http::Responder counted = [this, index = route.index, start,
                             respond = std::move(respond)](http::Response r) mutable {
    metrics_->Answered(index, r.status, clock_.Now() - start);
    std::move(respond)(std::move(r));
  };
  if (route.source == nullptr) {
    return std::move(counted)(
        ErrorResponse(absl::NotFoundError("no webhook route " + request.path)));
  }
  const std::string_view method = request.method();
  if (method == "GET" && route.source->has_handshake()) {
    return HandleGet(route, request, std::move(counted));
  }
  if (method == "POST") return HandlePost(route, std::move(request), std::move(counted));
  http::Response r =
      ErrorResponse(405, absl::UnimplementedError("method not allowed on " + request.path));
  r.headers.emplace_back("Allow", route.source->has_handshake() ? "GET, POST" : "POST");
  std::move(counted)(std::move(r));
}

void WebhookHandler::HandleGet(const Route& route, const http::Request& request,
                               http::Responder respond) {
  absl::StatusOr<http::Response> answer =
      sources_->Handshake(route.index, ParseQuery(request.query), clock_.Now());
  if (!answer.ok()) {
    // A handshake with the wrong verify token is a failed signature check, as on POST.
    if (answer.status().code() == absl::StatusCode::kPermissionDenied) {
      metrics_->signature_failures[route.index]->Increment();
    }
    return std::move(respond)(ErrorResponse(answer.status()));
  }
  std::move(respond)(*std::move(answer));
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
  const absl::Status verified = sources_->Verify(route.index, request, route.account, now);
  if (!verified.ok()) {
    if (verified.code() == absl::StatusCode::kUnauthenticated) {
      metrics_->signature_failures[route.index]->Increment();
      log::Info(kLogger, "signature rejected",
                {{"platform", route.source->name()},
                 {"reason", verified.message()},
                 {"remote", request.remote}});
    }
    return std::move(respond)(ErrorResponse(verified));
  }

  RequestContext ctx{now, route.account};
  const absl::StatusOr<Normalized> normalized = route.source->Normalize(body, ctx);
  if (!normalized.ok()) return std::move(respond)(ErrorResponse(normalized.status()));

  earshot::v1::RawWebhook raw;
  raw.set_request_id(RandomId());
  raw.set_platform(route.source->platform());
  if (std::string source = route.source->RawSource(route.account); !source.empty()) {
    raw.set_source(std::move(source));
  }
  raw.set_method(std::string(request.method()));
  raw.set_path(request.path);
  raw.set_query(request.query);
  // One pass over the request's fields (a lookup per kept name scanned them once per name); the
  // first of repeated fields is kept.
  for (const auto& field : request.message) {
    const std::string_view name = field.name_string();
    for (const std::string& kept : route.sources->kept_headers()) {
      if (absl::EqualsIgnoreCase(ToAbsl(name), kept)) {
        if (!field.value().empty()) {
          raw.mutable_headers()->insert({kept, std::string(field.value())});
        }
        break;
      }
    }
  }
  raw.set_body(std::move(request.message.body()));  // `body` is not read after this
  SetProtoTime(now, raw.mutable_received_at());

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

  const int route_index = route.index;
  const std::string_view route_name = route.source->name();
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
    metrics_->ignored[route_index]->Increment(normalized->ignored);
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
       deadlettered, route_index, route_name, unavailable](absl::Status st) mutable {
        metrics_->in_flight->Decrement();
        if (!st.ok()) {
          log::Warn(kLogger, "kafka did not acknowledge; answering 503",
                    {{"platform", route_name}, {"error", st.message()}});
          return std::move(respond)(unavailable(st));
        }
        for (auto [p, k] : kinds) metrics_->events[p][k]->Increment();
        metrics_->ignored[route_index]->Increment(ignored);
        if (deadlettered) metrics_->deadletters[route_index]->Increment();
        std::move(respond)(http::Response::Json(
            200, absl::StrCat("{\"accepted\":", accepted, ",\"ignored\":", ignored,
                              ",\"deadlettered\":", deadlettered ? "true" : "false", "}")));
      });
}

}  // namespace earshot::gateway
