#include "services/replay/replayer.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "fmt/format.h"
#include "services/common/base/strings.h"
#include "services/common/http/client.h"
#include "services/replay/template.h"
#include "simdjson.h"

namespace earshot::replay {
namespace {

// Resolves a host name to a numeric address (the HTTP client connects to addresses).
absl::StatusOr<std::string> Resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), "80", &hints, &res); rc != 0 || res == nullptr) {
    return absl::NotFoundError(fmt::format("cannot resolve {}: {}", host, gai_strerror(rc)));
  }
  // Prefer IPv4 (a gateway on 127.0.0.1 is not on ::1).
  const addrinfo* pick = res;
  for (const addrinfo* a = res; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  }
  char buf[NI_MAXHOST];
  const int rc =
      getnameinfo(pick->ai_addr, pick->ai_addrlen, buf, sizeof(buf), nullptr, 0, NI_NUMERICHOST);
  freeaddrinfo(res);
  if (rc != 0) return absl::NotFoundError(fmt::format("cannot resolve {}", host));
  return std::string(buf);
}

// Counts of the gateway's JSON answer; zeros for anything else.
void AddAnswerCounts(std::string_view body, Summary* s) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size(), true).get(root) != simdjson::SUCCESS) return;
  int64_t n = 0;
  if (root["accepted"].get(n) == simdjson::SUCCESS) s->events_accepted += n;
  if (root["ignored"].get(n) == simdjson::SUCCESS) s->parts_ignored += n;
  bool dead = false;
  if (root["deadlettered"].get(dead) == simdjson::SUCCESS && dead) s->deadlettered += 1;
}

absl::Duration Percentile(const std::vector<absl::Duration>& sorted, double q) {
  if (sorted.empty()) return absl::ZeroDuration();
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(q * (sorted.size() - 1) + 0.5));
  return sorted[i];
}

// One request as it goes out: placeholders filled in the path, the body and the recorded header
// values (before signing, so a recorded webhook-id with {{run}} is signed as sent), then signed.
struct Request {
  std::string path;
  std::string body;
  Headers headers;
};

absl::StatusOr<Request> Prepare(const Recording& r, const TemplateValues& values,
                                const SigningSecrets& secrets, bool keep_signatures) {
  Recording filled = r;
  auto path = FillPlaceholders(RequestPath(r), values);
  if (!path.ok()) return path.status();
  filled.path = std::move(*path);
  auto body = FillPlaceholders(r.body, values);
  if (!body.ok()) return body.status();
  for (auto& [name, value] : filled.headers) {
    auto v = FillPlaceholders(value, values);
    if (!v.ok()) return v.status();
    value = std::move(*v);
  }
  auto headers = SignRequest(filled, *body, secrets, keep_signatures, absl::Now());
  if (!headers.ok()) return headers.status();
  return Request{std::move(filled.path), std::move(*body), std::move(*headers)};
}

}  // namespace

absl::StatusOr<Endpoint> ParseGatewayUrl(std::string_view url) {
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    return absl::InvalidArgumentError(
        "https is not supported: replay sends plain HTTP to the gateway (or its sidecar)");
  }
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") {
      return absl::InvalidArgumentError(fmt::format(
          "--gateway {}: give the gateway's address only; each recording has its route", url));
    }
    rest = rest.substr(0, slash);
  }
  if (rest.empty()) return absl::InvalidArgumentError("--gateway is empty");
  std::string host;
  int port = 80;
  if (rest.starts_with('[')) {  // [::1]:8080
    const size_t end = rest.find(']');
    if (end == std::string_view::npos)
      return absl::InvalidArgumentError("bad --gateway " + std::string(url));
    host = std::string(rest.substr(1, end - 1));
    rest.remove_prefix(end + 1);
    if (rest.starts_with(':') && !absl::SimpleAtoi(ToAbsl(rest.substr(1)), &port)) {
      return absl::InvalidArgumentError("bad port in --gateway " + std::string(url));
    }
  } else {
    const size_t colon = rest.rfind(':');
    host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos &&
        !absl::SimpleAtoi(ToAbsl(rest.substr(colon + 1)), &port)) {
      return absl::InvalidArgumentError("bad port in --gateway " + std::string(url));
    }
  }
  if (port <= 0 || port > 65535) {
    return absl::InvalidArgumentError("bad port in --gateway " + std::string(url));
  }
  auto address = Resolve(host);
  if (!address.ok()) return address.status();
  return Endpoint{*address, port};
}

Replayer::Replayer(ReplayOptions options, SigningSecrets secrets)
    : options_(std::move(options)), secrets_(std::move(secrets)) {
  options_.concurrency = std::max(1, options_.concurrency);
}

Progress Replayer::progress() const {
  return Progress{done_.load(), failed_.load(), total_.load()};
}

void Replayer::Cancel() {
  if (!cancel_.HasBeenNotified()) cancel_.Notify();
}

absl::StatusOr<Summary> Replayer::Run(const std::vector<Recording>& recordings) {
  // Refuse before sending anything when a line can never be signed.
  for (const auto& r : recordings) {
    if (options_.keep_signatures) continue;
    if (auto st = secrets_.CanSign(r); !st.ok()) return st;
  }
  total_ = static_cast<int64_t>(recordings.size());
  const absl::Time start = absl::Now();
  const std::string run_id =
      !options_.run_id.empty() ? options_.run_id : std::to_string(absl::ToUnixSeconds(start));
  const absl::Duration interval =
      options_.rate > 0 ? absl::Seconds(1.0 / options_.rate) : absl::ZeroDuration();

  // The dispatcher state: which line is next, when it may go, what is in flight.
  absl::Mutex mu;
  size_t next = 0;
  absl::Time next_slot = start;
  absl::Duration scheduled = absl::ZeroDuration();  // sum of delays so far
  int in_flight = 0;
  bool barrier = false;  // a worker waits out a line's delay_ms
  auto barrier_free = [&] { return !barrier; };
  auto idle = [&] { return in_flight == 0; };
  Summary summary;
  summary.total = total_;
  std::vector<absl::Duration> latencies;
  latencies.reserve(recordings.size());

  auto worker = [&] {
    http::Client client(options_.gateway.host, options_.gateway.port, options_.timeout);
    for (;;) {
      const Recording* r = nullptr;
      absl::Time slot;
      absl::Time line_time;
      {
        absl::MutexLock lock(&mu);
        mu.Await(absl::Condition(&barrier_free));
        if (next >= recordings.size() || cancel_.HasBeenNotified()) return;
        r = &recordings[next];
        if (r->delay > absl::ZeroDuration()) {
          // A barrier: every earlier line answered, then the delay. The other workers wait
          // for the barrier meanwhile, so nothing later overtakes this line.
          barrier = true;
          mu.Await(absl::Condition(&idle));
          mu.Unlock();
          const bool cancelled =
              cancel_.WaitForNotificationWithTimeout(r->delay * options_.delay_scale);
          mu.Lock();
          barrier = false;
          if (cancelled) return;
          next_slot = std::max(next_slot, absl::Now());
          scheduled += r->delay;
        }
        ++next;
        slot = std::max(next_slot, absl::Now());
        next_slot = slot + interval;
        line_time = start + scheduled;
        ++in_flight;
      }
      if (slot > absl::Now() && cancel_.WaitForNotificationWithTimeout(slot - absl::Now())) {
        absl::MutexLock lock(&mu);
        --in_flight;
        return;
      }

      int status = 0;
      std::string message;
      absl::Duration latency = absl::ZeroDuration();
      auto request =
          Prepare(*r, TemplateValues{line_time, run_id}, secrets_, options_.keep_signatures);
      if (!request.ok()) {
        message = std::string(request.status().message());
      } else {
        const absl::Time sent_at = absl::Now();
        auto response = client.Send(r->method, request->path, request->body, request->headers);
        latency = absl::Now() - sent_at;
        if (response.ok()) {
          status = response->status;
          message = std::move(response->body);
        } else {
          message = std::string(response.status().message());
        }
      }

      absl::MutexLock lock(&mu);
      --in_flight;
      const bool ok = status >= 200 && status < 300;
      ++summary.sent;
      if (status == 0) {
        ++summary.errors;
      } else {
        latencies.push_back(latency);
        if (ok) {
          ++summary.status_2xx;
          AddAnswerCounts(message, &summary);
        } else if (status < 400) {
          ++summary.status_3xx;
        } else if (status < 500) {
          ++summary.status_4xx;
        } else {
          ++summary.status_5xx;
        }
      }
      if (!ok) {
        failed_.fetch_add(1);
        if (static_cast<int>(summary.failures.size()) < options_.max_failures_kept) {
          if (message.size() > 300) message = message.substr(0, 300) + "...";
          summary.failures.push_back(Failure{r->line, status, std::move(message)});
        }
      }
      done_.fetch_add(1);
    }
  };

  std::vector<std::thread> workers;
  const int n = std::min<int>(options_.concurrency, std::max<size_t>(1, recordings.size()));
  workers.reserve(n);
  for (int i = 0; i < n; ++i) workers.emplace_back(worker);
  for (auto& w : workers) w.join();

  summary.elapsed = absl::Now() - start;
  summary.cancelled = cancel_.HasBeenNotified() && summary.sent < summary.total;
  std::sort(summary.failures.begin(), summary.failures.end(),
            [](const Failure& a, const Failure& b) { return a.line < b.line; });
  std::sort(latencies.begin(), latencies.end());
  summary.latency_p50 = Percentile(latencies, 0.50);
  summary.latency_p99 = Percentile(latencies, 0.99);
  summary.latency_max = latencies.empty() ? absl::ZeroDuration() : latencies.back();
  return summary;
}

}  // namespace earshot::replay
