#include "services/sla/alertmanager_sink.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "fmt/format.h"
#include "services/common/base/log.h"
#include "services/common/base/proto_time.h"
#include "services/common/base/status.h"
#include "services/common/base/strings.h"
#include "services/common/crypto/encoding.h"
#include "services/common/http/client.h"
#include "services/common/names/names.h"

namespace earshot::sla {
namespace {

constexpr char kLogger[] = "sla.alertmanager";

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string Severity(earshot::v1::AlertLevel level) {
  switch (level) {
    case earshot::v1::ALERT_LEVEL_WARNING:
    case earshot::v1::ALERT_LEVEL_SILENCE:
      return "warning";
    case earshot::v1::ALERT_LEVEL_ESCALATION:
      return "page";
    default:
      return "critical";
  }
}

}  // namespace

AlertmanagerSink::AlertmanagerSink(AlertmanagerOptions options, prometheus::Registry& registry,
                                   const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  auto& sent = prometheus::BuildCounter()
                   .Name("earshot_sla_alerts_sent_total")
                   .Help("Alerts delivered, by sink")
                   .Register(registry);
  auto& failed = prometheus::BuildCounter()
                     .Name("earshot_sla_alerts_failed_total")
                     .Help("Alert deliveries that failed (retried), by sink")
                     .Register(registry);
  sent_ = &sent.Add({{"sink", "alertmanager"}});
  failed_ = &failed.Add({{"sink", "alertmanager"}});
  dropped_ = &prometheus::BuildCounter()
                  .Name("earshot_sla_alertmanager_dropped_total")
                  .Help("Alerts dropped because the Alertmanager queue was full")
                  .Register(registry)
                  .Add({});
  // "http://host:port/prefix"
  std::string_view url = options_.url;
  if (url.starts_with("http://")) url.remove_prefix(7);
  auto slash = url.find('/');
  std::string_view hostport = url.substr(0, slash);
  path_ = slash == std::string_view::npos ? "" : std::string(url.substr(slash));
  while (!path_.empty() && path_.back() == '/') path_.pop_back();
  path_ += "/api/v2/alerts";
  auto colon = hostport.rfind(':');
  host_ = std::string(hostport.substr(0, colon));
  port_ = 9093;
  if (colon != std::string_view::npos) {
    absl::SimpleAtoi(ToAbsl(hostport.substr(colon + 1)), &port_);
  }
  if (host_ == "localhost") host_ = "127.0.0.1";
}

AlertmanagerSink::~AlertmanagerSink() { Stop(); }

void AlertmanagerSink::Start() {
  if (options_.url.empty()) return;
  thread_ = std::thread([this] { Run(); });
  log::Info(kLogger, "sending alerts", {{"url", options_.url}});
}

void AlertmanagerSink::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void AlertmanagerSink::Submit(const std::vector<earshot::v1::Alert>& alerts) {
  if (options_.url.empty() || alerts.empty()) return;
  absl::MutexLock lock(&mu_);
  for (const auto& a : alerts) {
    if (queue_.size() >= options_.queue_limit) {
      queue_.pop_front();  // the oldest news is the least useful
      dropped_->Increment();
    }
    queue_.push_back(a);
  }
}

void AlertmanagerSink::Restore(const std::vector<earshot::v1::Alert>& firing) { Submit(firing); }

size_t AlertmanagerSink::active() const {
  absl::MutexLock lock(&mu_);
  return active_.size();
}

std::string ThreadRef(std::string_view thread_key) {
  if (thread_key.empty()) return "";
  return crypto::HexEncode(crypto::Sha256(thread_key)).substr(0, 16);
}

std::string AlertmanagerSink::ToJson(const std::vector<earshot::v1::Alert>& alerts, absl::Time now,
                                     const AlertmanagerOptions& options) {
  std::string out = "[";
  for (const auto& a : alerts) {
    if (out.size() > 1) out += ',';
    const bool resolved = a.state() == earshot::v1::ALERT_STATE_RESOLVED;
    // A firing alert stays valid for a few re-send intervals, so a monitor that died lets it
    // expire instead of leaving it firing for ever.
    const absl::Time ends =
        resolved ? FromProtoTime(a.resolved_at()) : now + 4 * options.resend_interval;
    std::string platform(names::Platform(a.platform()));
    std::string priority(names::Priority(a.priority()));
    out += fmt::format(
        "{{\"labels\":{{\"alertname\":{},\"queue\":{},\"platform\":{},\"priority\":{},"
        "\"severity\":{},\"thread_ref\":{},\"policy\":{},\"account\":{}",
        JsonQuote(a.name()), JsonQuote(a.queue()), JsonQuote(platform), JsonQuote(priority),
        JsonQuote(Severity(a.level())), JsonQuote(ThreadRef(a.thread_key())), JsonQuote(a.policy()),
        JsonQuote(a.account_id()));
    if (options.customer_data) out += ",\"thread\":" + JsonQuote(a.thread_key());
    out += fmt::format("}},\"annotations\":{{\"summary\":{},\"waited\":{},\"deadline\":{}",
                       JsonQuote(a.summary()),
                       JsonQuote(absl::FormatDuration(
                           absl::Trunc(absl::Seconds(a.waited().seconds()), absl::Seconds(1)))),
                       JsonQuote(a.has_deadline() ? Rfc3339(FromProtoTime(a.deadline())) : ""));
    if (options.customer_data) {
      out +=
          ",\"excerpt\":" + JsonQuote(a.excerpt()) + ",\"permalink\":" + JsonQuote(a.permalink());
    }
    out += fmt::format("}},\"startsAt\":{},\"endsAt\":{}",
                       JsonQuote(Rfc3339(FromProtoTime(a.fired_at()))), JsonQuote(Rfc3339(ends)));
    if (!options.generator_url.empty()) {
      out += ",\"generatorURL\":" + JsonQuote(options.generator_url);
    }
    out += '}';
  }
  out += ']';
  return out;
}

bool AlertmanagerSink::Post(const std::string& body) {
  http::Client client(host_, port_, options_.timeout);
  auto r = client.Send("POST", path_, body, {{"Content-Type", "application/json"}});
  if (r.ok() && r->status >= 200 && r->status < 300) return true;
  log::Warn(
      kLogger, "alertmanager did not take the alerts; retrying",
      {{"error", r.ok() ? fmt::format("HTTP {}: {}", r->status, r->body) : r.status().ToString()}});
  return false;
}

void AlertmanagerSink::Run() {
  absl::Duration backoff = absl::Milliseconds(200);
  absl::Time next_resend = clock_.Now() + options_.resend_interval;
  std::vector<earshot::v1::Alert> unsent;  // new alerts and resolutions not yet delivered
  for (;;) {
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(this, &AlertmanagerSink::HasWork),
                           absl::Milliseconds(200));
      stopping = stop_;
      while (!queue_.empty()) {
        earshot::v1::Alert a = std::move(queue_.front());
        queue_.pop_front();
        if (a.state() == earshot::v1::ALERT_STATE_FIRING) {
          active_[a.alert_id()] = a;
        } else {
          active_.erase(a.alert_id());
        }
        unsent.push_back(std::move(a));
      }
    }
    const absl::Time now = clock_.Now();
    std::vector<earshot::v1::Alert> batch = std::move(unsent);
    unsent.clear();
    const bool resend = now >= next_resend;
    if (resend) {
      absl::MutexLock lock(&mu_);
      for (const auto& entry : active_) {
        if (std::none_of(batch.begin(), batch.end(),
                         [&](const auto& b) { return b.alert_id() == entry.first; })) {
          batch.push_back(entry.second);
        }
      }
    }
    if (!batch.empty()) {
      if (Post(ToJson(batch, now, options_))) {
        sent_->Increment(static_cast<double>(batch.size()));
        backoff = absl::Milliseconds(200);
        if (resend) next_resend = now + options_.resend_interval;
      } else {
        failed_->Increment(static_cast<double>(batch.size()));
        // Keep only the news (firing ones are re-sent from active_ anyway) and back off.
        for (auto& a : batch) {
          if (a.state() == earshot::v1::ALERT_STATE_RESOLVED) unsent.push_back(std::move(a));
        }
        next_resend = now;  // every firing alert goes out with the next attempt
        if (stopping) break;
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, options_.max_backoff);
        continue;
      }
    }
    if (stopping) break;
  }
}

}  // namespace earshot::sla
