// gateway_load: drives signed webhook traffic at the gateway (or at any HTTP server answering
// 2xx, such as the nginx ceiling in run_gateway_bench.sh) over N keep-alive connections for a
// fixed time, and prints requests/s, events/s and latency percentiles.
//
//   gateway_load --port=8080 --corpus=single|mixed|meta-batch-1000 [--rate=R] [--json]
//
// Every request of the corpus is rendered and signed once, before the clock starts, so the
// client spends its time on I/O, not on HMACs. Connections are spread over --threads
// io_contexts, one thread each; a connection lives on one thread, so nothing is shared between
// threads while the load runs except two atomics (request cap and stop).
//
// Two modes:
//   --rate=0  closed loop: each connection sends its next request as soon as the previous answer
//             arrived; latency is measured from the send. This finds the maximum rate.
//   --rate=R  R requests/s in total on a fixed schedule (R / connections per connection, phases
//             staggered). Latency is measured from the scheduled time, not from the actual send,
//             so a server that falls behind is charged for the wait it caused (no coordinated
//             omission). Slots scheduled in the window but never sent count as failures.
//
// Only 2xx answers count as served: throughput, events and latency are figures over 2xx
// answers, and non-2xx answers and I/O failures are reported separately as errors.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "fmt/format.h"
#include "services/common/base/config.h"
#include "services/common/crypto/encoding.h"
#include "services/gateway/normalize.h"
#include "services/gateway/signature.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "server address (an IP address)");
ABSL_FLAG(int, port, 8080, "server port");
ABSL_FLAG(int, connections, 32, "keep-alive connections, one request in flight on each");
ABSL_FLAG(int, threads, 2, "client I/O threads; connections are spread over them");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "measured time");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1),
          "load before the measured time, not counted (connections, caches, Kafka batches)");
ABSL_FLAG(double, rate, 0,
          "total requests/s on a fixed schedule, latency from the scheduled time; 0 = as fast as "
          "the server answers (closed loop)");
ABSL_FLAG(int64_t, requests, 0,
          "stop after this many measured requests (0 = only --duration bounds the run)");
ABSL_FLAG(
    std::string, corpus, "single",
    "single: every fixture that makes exactly one event; mixed: every valid fixture of every "
    "platform plus a 100-entry Meta batch; meta-batch-1000: one Meta request of 1000 entries");
ABSL_FLAG(std::string, secrets, "config/earshot.dev.yaml",
          "the gateway's YAML config (or any YAML with the same secret keys) to sign with; "
          "EARSHOT_* environment variables override it as they do for the gateway");
ABSL_FLAG(std::string, fixtures, EARSHOT_FIXTURES_DIR,
          "folder with {x,meta,telegram,generic}/*.json payloads");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10),
          "time-out of one request; an unanswered request counts as a failure");
ABSL_FLAG(std::string, label, "server", "name printed with the figures (nginx, gateway, ...)");
ABSL_FLAG(bool, json, false, "also print a one-line JSON summary (the last line of output)");
ABSL_FLAG(bool, list, false, "print the corpus (name, events, bytes on the wire) and exit");

namespace earshot::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

// One request of the corpus, fully rendered: the bytes on the wire and what the gateway makes
// of them (the event count comes from the gateway's own normaliser, run once at start-up).
struct CorpusRequest {
  std::string name;
  std::string wire;
  int events = 0;
};

struct Secrets {
  std::string x;
  std::string meta;
  std::string telegram;
  std::string telegram_bot_id;
  std::string generic_source;
  std::string generic_secret;
};

absl::StatusOr<Secrets> LoadSecrets(const std::string& path) {
  auto config = Config::LoadFile(path);
  if (!config.ok()) return config.status();
  Secrets s;
  // The first secret of each list signs; the gateway accepts any of them.
  auto first = [&](std::string_view key) {
    auto list = config->GetList(key);
    return list.empty() ? std::string() : list.front();
  };
  s.x = first("x.consumer_secret");
  if (s.x.empty()) s.x = first("x.client_secret");
  s.meta = first("meta.app_secret");
  s.telegram = first("telegram.secret_token");
  s.telegram_bot_id = config->GetString("telegram.bot_id", "bot");
  auto sources = config->ChildKeys("generic.sources");
  if (!sources.empty()) {
    s.generic_source = sources.front();
    s.generic_secret = first("generic.sources." + s.generic_source + ".secret");
  }
  if (s.x.empty() || s.meta.empty() || s.telegram.empty() || s.generic_secret.empty()) {
    return absl::InvalidArgumentError(
        path +
        ": want x.consumer_secret, meta.app_secret, telegram.secret_token and one "
        "generic.sources.<name>.secret, as the gateway is configured");
  }
  return s;
}

enum class Platform { kX, kMeta, kTelegram, kGeneric };

std::string RenderRequest(std::string_view target, std::string_view host_header,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          std::string_view body) {
  std::string wire = fmt::format(
      "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: earshot-gateway-load\r\n"
      "Content-Type: application/json\r\nContent-Length: {}\r\n",
      target, host_header, body.size());
  for (const auto& [k, v] : headers) wire += fmt::format("{}: {}\r\n", k, v);
  wire += "\r\n";
  wire += body;
  return wire;
}

// Signs `body` the way the platform does and renders the request for its webhook route.
std::string SignedRequest(Platform platform, std::string_view body, const Secrets& secrets,
                          std::string_view host_header, int index) {
  using crypto::Base64Encode;
  using crypto::HmacSha256;
  switch (platform) {
    case Platform::kX:
      return RenderRequest(
          "/webhooks/x", host_header,
          {{"x-twitter-webhooks-signature", "sha256=" + Base64Encode(HmacSha256(secrets.x, body))}},
          body);
    case Platform::kMeta:
      return RenderRequest("/webhooks/meta", host_header,
                           {{"X-Hub-Signature-256", gateway::MetaSignature(body, secrets.meta)}},
                           body);
    case Platform::kTelegram:
      return RenderRequest("/webhooks/telegram", host_header,
                           {{"X-Telegram-Bot-Api-Secret-Token", secrets.telegram}}, body);
    case Platform::kGeneric: {
      // Signed now: the gateway accepts a timestamp within its tolerance (5 minutes by
      // default), far longer than a run.
      const std::string id = fmt::format("msg_bench_{}", index);
      const std::string ts = std::to_string(absl::ToUnixSeconds(absl::Now()));
      return RenderRequest("/webhooks/generic/" + secrets.generic_source, host_header,
                           {{"webhook-id", id},
                            {"webhook-timestamp", ts},
                            {"webhook-signature",
                             gateway::SignStandardWebhook(id, ts, body, secrets.generic_secret)}},
                           body);
    }
  }
  return {};
}

absl::StatusOr<gateway::Normalized> Normalize(Platform platform, std::string_view body,
                                              const Secrets& secrets) {
  gateway::RequestContext ctx{absl::Now(), ""};
  switch (platform) {
    case Platform::kX:
      return gateway::NormalizeX(body, ctx);
    case Platform::kMeta:
      return gateway::NormalizeMeta(body, ctx);
    case Platform::kTelegram:
      ctx.account = secrets.telegram_bot_id;
      return gateway::NormalizeTelegram(body, ctx);
    case Platform::kGeneric:
      ctx.account = secrets.generic_source;
      return gateway::NormalizeGeneric(body, ctx);
  }
  return absl::InternalError("unknown platform");
}

// A Meta "page" delivery of `entries` entries, as Meta batches them (up to 1000 per request):
// Facebook comments and Messenger messages alternating, every id distinct.
std::string MetaBatch(int entries) {
  std::string body = R"({"object":"page","entry":[)";
  for (int i = 0; i < entries; ++i) {
    if (i > 0) body += ',';
    if (i % 2 == 0) {
      body += fmt::format(
          R"({{"id":"105550000000001","time":1741170000,"changes":[{{"field":"feed","value":{{)"
          R"("from":{{"id":"60{:014d}","name":"Customer {}"}},"item":"comment","verb":"add",)"
          R"("post_id":"105550000000001_901234567890123","comment_id":"901234567890123_{:016d}",)"
          R"("parent_id":"105550000000001_901234567890123",)"
          R"("message":"Is the spring sale also valid in stores? Question {}",)"
          R"("created_time":1741169990}}}}]}})",
          i, i, i, i);
    } else {
      body += fmt::format(R"({{"id":"105550000000001","time":1741171000456,"messaging":[{{)"
                          R"("sender":{{"id":"73{:014d}"}},"recipient":{{"id":"105550000000001"}},)"
                          R"("timestamp":1741171000321,"message":{{"mid":"m_bench_{:08d}",)"
                          R"("text":"Can I change the delivery address of order {}?"}}}}]}})",
                          i, i, i);
    }
  }
  body += "]}";
  return body;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::StatusOr<std::vector<CorpusRequest>> BuildCorpus(const std::string& kind,
                                                       const std::string& fixtures,
                                                       const Secrets& secrets,
                                                       std::string_view host_header) {
  std::vector<CorpusRequest> corpus;
  int index = 0;
  auto add = [&](Platform platform, std::string name, const std::string& body) -> absl::Status {
    auto normalized = Normalize(platform, body, secrets);
    if (!normalized.ok()) return normalized.status();
    corpus.push_back({std::move(name), SignedRequest(platform, body, secrets, host_header, index++),
                      static_cast<int>(normalized->events.size())});
    return absl::OkStatus();
  };

  if (kind == "meta-batch-1000") {
    std::string body = MetaBatch(1000);
    if (auto st = add(Platform::kMeta, "meta-batch-1000", body); !st.ok()) return st;
    if (corpus.back().events != 1000) {
      return absl::InternalError(fmt::format(
          "the 1000-entry Meta batch normalises to {} events, want 1000", corpus.back().events));
    }
    return corpus;
  }
  if (kind != "single" && kind != "mixed") {
    return absl::InvalidArgumentError("--corpus must be single, mixed or meta-batch-1000");
  }

  const std::pair<const char*, Platform> folders[] = {{"x", Platform::kX},
                                                      {"meta", Platform::kMeta},
                                                      {"telegram", Platform::kTelegram},
                                                      {"generic", Platform::kGeneric}};
  for (const auto& [folder, platform] : folders) {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(fixtures + "/" + folder, ec)) {
      if (e.path().extension() == ".json") files.push_back(e.path());
    }
    if (ec) return absl::NotFoundError("cannot read fixtures in " + fixtures + "/" + folder);
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
      const std::string body = ReadFile(path);
      // Only traffic a platform really sends and the gateway accepts as it is: malformed and
      // unknown-shape fixtures (400, dead-letter) test other paths.
      auto normalized = Normalize(platform, body, secrets);
      if (!normalized.ok() || !normalized->unknown.empty()) continue;
      const int events = static_cast<int>(normalized->events.size());
      if (events == 0 && normalized->ignored == 0) continue;
      if (kind == "single" && events != 1) continue;
      corpus.push_back({std::string(folder) + "/" + path.filename().string(),
                        SignedRequest(platform, body, secrets, host_header, index++), events});
    }
  }
  if (kind == "mixed") {
    if (auto st = add(Platform::kMeta, "meta-batch-100", MetaBatch(100)); !st.ok()) return st;
  }
  if (corpus.empty()) return absl::NotFoundError("no usable fixture under " + fixtures);
  return corpus;
}

// What one I/O thread observed; merged after the run.
struct ThreadStats {
  int64_t ok = 0;                   // 2xx answers
  int64_t non_2xx = 0;              // answers with another status
  int64_t failed = 0;               // I/O errors, time-outs, scheduled slots never sent
  int64_t events = 0;               // events in 2xx-answered requests
  std::vector<int64_t> latency_ns;  // of 2xx answers: exact sample, sorted at the end
  std::vector<int64_t> by_status = std::vector<int64_t>(600, 0);
  TimePoint last_done{};
};

class Connection;

// One client I/O thread: its io_context, its connections and what they observed. Only that
// thread touches it while the load runs.
struct Worker {
  asio::io_context ioc{1};
  ThreadStats stats;
  std::vector<std::shared_ptr<Connection>> connections;
  int active = 0;  // connections not finished yet
  // Fires at the hard deadline; cancelled once every connection has finished by itself.
  asio::steady_timer stopper{ioc};
};

// The run's shared, read-only plan plus the two atomics every connection consults.
struct Plan {
  const std::vector<CorpusRequest>* corpus = nullptr;
  tcp::endpoint endpoint;
  TimePoint start;    // warm-up begins
  TimePoint measure;  // measured window begins
  TimePoint end;      // measured window ends: nothing is scheduled at or after it
  std::chrono::nanoseconds interval{0};  // per connection; 0 = closed loop
  std::chrono::nanoseconds timeout{0};
  int64_t max_requests = 0;
  std::atomic<int64_t> issued{0};  // measured requests sent so far (for --requests)
  std::atomic<bool> cap_reached{false};
};

// One keep-alive connection with one request in flight. Lives on one io_context; every
// callback runs on that context's thread.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Worker& worker, Plan& plan, int id, int connections)
      : plan_(plan),
        worker_(worker),
        stats_(worker.stats),
        stream_(worker.ioc),
        timer_(worker.ioc),
        id_(id),
        connections_(connections),
        cursor_(id) {}

  // Connects synchronously before the clock starts, so set-up cost is not measured.
  absl::Status Connect() {
    beast::error_code ec;
    stream_.socket().connect(plan_.endpoint, ec);
    if (ec) return absl::UnavailableError("connect: " + ec.message());
    stream_.socket().set_option(tcp::no_delay(true), ec);
    return absl::OkStatus();
  }

  // Called on the connection's thread once the plan's times are set.
  void Start() {
    if (plan_.interval.count() > 0) {
      // Stagger the connections' phases so the total rate is smooth, not bursts of N.
      next_ = plan_.start + plan_.interval * id_ / connections_;
    }
    Next();
  }

  // Ends the connection at the hard deadline: what is still outstanding or unsent fails.
  void Abort() {
    if (done_) return;
    if (in_flight_ && measured_) ++stats_.failed;
    if (plan_.interval.count() > 0 && next_ < plan_.end && !plan_.cap_reached.load()) {
      stats_.failed +=
          (plan_.end - next_ + plan_.interval - std::chrono::nanoseconds(1)) / plan_.interval;
    }
    Finish();
  }

 private:
  void Finish() {
    if (done_) return;
    done_ = true;
    beast::error_code ec;
    timer_.cancel();
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    // The last one lets the thread's run() return once the cancelled handlers have run.
    if (--worker_.active == 0) worker_.stopper.cancel();
  }

  void Next() {
    if (done_) return;
    const TimePoint now = SteadyClock::now();
    TimePoint intended = now;
    if (plan_.interval.count() > 0) {
      intended = next_;
      if (intended >= plan_.end) return Finish();
      if (intended > now) {
        timer_.expires_at(intended);
        timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
          if (!ec) self->Send();
        });
        return;
      }
    } else if (now >= plan_.end) {
      return Finish();
    }
    Send();
  }

  void Send() {
    if (done_) return;
    const TimePoint now = SteadyClock::now();
    intended_ = plan_.interval.count() > 0 ? next_ : now;
    if (plan_.interval.count() > 0) next_ += plan_.interval;
    measured_ = intended_ >= plan_.measure && intended_ < plan_.end;
    if (measured_ && plan_.max_requests > 0 && plan_.issued.fetch_add(1) >= plan_.max_requests) {
      plan_.cap_reached = true;
      return Finish();
    }
    request_ = &(*plan_.corpus)[cursor_++ % plan_.corpus->size()];
    in_flight_ = true;
    stream_.expires_after(plan_.timeout);
    asio::async_write(stream_, asio::buffer(request_->wire),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->OnError();
                        self->Read();
                      });
  }

  void Read() {
    parser_.emplace();
    parser_->body_limit(1 << 20);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->OnError();
                        self->OnResponse();
                      });
  }

  void OnResponse() {
    const TimePoint now = SteadyClock::now();
    in_flight_ = false;
    const auto& res = parser_->get();
    const int status = static_cast<int>(res.result_int());
    if (measured_) {
      if (status >= 0 && status < 600) ++stats_.by_status[status];
      if (status >= 200 && status < 300) {
        ++stats_.ok;
        stats_.events += request_->events;
        stats_.latency_ns.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - intended_).count());
      } else {
        ++stats_.non_2xx;
      }
      stats_.last_done = std::max(stats_.last_done, now);
    }
    if (!res.keep_alive()) return Reconnect();
    Next();
  }

  void OnError() {
    if (done_) return;
    in_flight_ = false;
    if (measured_) {
      ++stats_.failed;
      stats_.last_done = std::max(stats_.last_done, SteadyClock::now());
    }
    Reconnect();
  }

  // After an error or a close by the server; a short pause so that a server that is down does
  // not turn the client into a busy loop.
  void Reconnect() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    buffer_.clear();
    if (SteadyClock::now() >= plan_.end) return Finish();
    timer_.expires_after(std::chrono::milliseconds(10));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->done_) return;
      self->stream_.expires_after(self->plan_.timeout);
      self->stream_.async_connect(self->plan_.endpoint, [self](beast::error_code ec) {
        if (ec) return self->OnError();
        beast::error_code ignored;
        self->stream_.socket().set_option(tcp::no_delay(true), ignored);
        self->Next();
      });
    });
  }

  Plan& plan_;
  Worker& worker_;
  ThreadStats& stats_;
  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  const int id_;
  const int connections_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
  std::size_t cursor_;
  const CorpusRequest* request_ = nullptr;
  TimePoint next_{};      // rate mode: the next slot of this connection's schedule
  TimePoint intended_{};  // when the request in flight should have been sent
  bool measured_ = false;
  bool in_flight_ = false;
  bool done_ = false;
};

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest sample with at least q of the samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1e6;  // ms
}

int Run() {
  const std::string host = absl::GetFlag(FLAGS_host);
  const int port = absl::GetFlag(FLAGS_port);
  const int connections = std::max(1, absl::GetFlag(FLAGS_connections));
  const int threads = std::clamp(absl::GetFlag(FLAGS_threads), 1, connections);
  const double rate = absl::GetFlag(FLAGS_rate);
  const std::string corpus_kind = absl::GetFlag(FLAGS_corpus);
  const std::string label = absl::GetFlag(FLAGS_label);

  auto secrets = LoadSecrets(absl::GetFlag(FLAGS_secrets));
  if (!secrets.ok()) {
    std::fprintf(stderr, "gateway_load: %s\n", secrets.status().ToString().c_str());
    return 2;
  }
  const std::string host_header = fmt::format("{}:{}", host, port);
  auto corpus = BuildCorpus(corpus_kind, absl::GetFlag(FLAGS_fixtures), *secrets, host_header);
  if (!corpus.ok()) {
    std::fprintf(stderr, "gateway_load: %s\n", corpus.status().ToString().c_str());
    return 2;
  }
  int64_t corpus_events = 0;
  std::size_t corpus_bytes = 0;
  for (const auto& r : *corpus) {
    corpus_events += r.events;
    corpus_bytes += r.wire.size();
  }
  if (absl::GetFlag(FLAGS_list)) {
    for (const auto& r : *corpus)
      std::printf("%-40s %5d events %8zu bytes\n", r.name.c_str(), r.events, r.wire.size());
    std::printf("%zu requests, %lld events, %zu bytes\n", corpus->size(),
                static_cast<long long>(corpus_events), corpus_bytes);
    return 0;
  }

  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    std::fprintf(stderr, "gateway_load: --host must be an IP address, got %s\n", host.c_str());
    return 2;
  }

  Plan plan;
  plan.corpus = &*corpus;
  plan.endpoint = tcp::endpoint(address, static_cast<unsigned short>(port));
  plan.timeout = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_timeout));
  plan.max_requests = absl::GetFlag(FLAGS_requests);
  if (rate > 0) {
    plan.interval = std::chrono::nanoseconds(
        static_cast<int64_t>(1e9 * static_cast<double>(connections) / rate));
    if (plan.interval.count() <= 0) plan.interval = std::chrono::nanoseconds(1);
  }

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < threads; ++t) workers.push_back(std::make_unique<Worker>());
  for (int c = 0; c < connections; ++c) {
    Worker& w = *workers[c % threads];
    w.connections.push_back(std::make_shared<Connection>(w, plan, c, connections));
    ++w.active;
  }
  for (auto& w : workers) {
    for (auto& c : w->connections) {
      if (auto st = c->Connect(); !st.ok()) {
        std::fprintf(stderr, "gateway_load: %s:%d: %s\n", host.c_str(), port,
                     std::string(st.message()).c_str());
        return 1;
      }
    }
  }
  // The schedule starts a little later so every thread is running when the first slot comes.
  plan.start = SteadyClock::now() + std::chrono::milliseconds(20);
  plan.measure = plan.start + absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_warmup));
  plan.end = plan.measure + absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_duration));
  for (auto& w : workers) {
    // Answers still missing a time-out after the window closed are failures; the run ends.
    w->stopper.expires_at(plan.end + plan.timeout);
    w->stopper.async_wait([w = w.get()](beast::error_code ec) {
      if (ec) return;
      for (auto& c : w->connections) c->Abort();
    });
    for (auto& c : w->connections) asio::post(w->ioc, [c] { c->Start(); });
  }

  const double cpu_before = CpuSeconds();
  const TimePoint wall_before = SteadyClock::now();
  std::vector<std::thread> threads_running;
  for (auto& w : workers) threads_running.emplace_back([w = w.get()] { w->ioc.run(); });
  for (auto& t : threads_running) t.join();
  const double cpu = CpuSeconds() - cpu_before;
  const double wall = std::chrono::duration<double>(SteadyClock::now() - wall_before).count();

  ThreadStats total;
  for (auto& w : workers) {
    const ThreadStats& s = w->stats;
    total.ok += s.ok;
    total.non_2xx += s.non_2xx;
    total.failed += s.failed;
    total.events += s.events;
    total.latency_ns.insert(total.latency_ns.end(), s.latency_ns.begin(), s.latency_ns.end());
    for (std::size_t i = 0; i < s.by_status.size(); ++i) total.by_status[i] += s.by_status[i];
    total.last_done = std::max(total.last_done, s.last_done);
  }
  std::sort(total.latency_ns.begin(), total.latency_ns.end());
  // Answers to requests sent late in the window arrive after it, and a server that fell behind
  // a --rate schedule is still answering well after it: the rate is over the time until the
  // last answer. A run that hit --requests ends with its last answer.
  double elapsed = std::chrono::duration<double>(plan.end - plan.measure).count();
  if (total.last_done > plan.measure) {
    const double until_last = std::chrono::duration<double>(total.last_done - plan.measure).count();
    elapsed = plan.cap_reached.load() ? until_last : std::max(elapsed, until_last);
  }
  const double rps = static_cast<double>(total.ok) / elapsed;
  const double eps = static_cast<double>(total.events) / elapsed;
  const double p50 = Percentile(total.latency_ns, 0.50);
  const double p99 = Percentile(total.latency_ns, 0.99);
  const double p999 = Percentile(total.latency_ns, 0.999);
  const double max = total.latency_ns.empty() ? 0 : total.latency_ns.back() / 1e6;
  const double client_cpu = wall > 0 ? cpu / wall : 0;

  std::string mode =
      rate > 0 ? fmt::format("{:.0f} requests/s scheduled", rate) : "max (closed loop)";
  std::printf(
      "[%s] corpus=%s (%zu requests, %lld events, %.1f KiB) connections=%d threads=%d "
      "rate=%s measured=%.1fs\n",
      label.c_str(), corpus_kind.c_str(), corpus->size(), static_cast<long long>(corpus_events),
      static_cast<double>(corpus_bytes) / 1024.0, connections, threads, mode.c_str(), elapsed);
  std::string codes;
  for (std::size_t i = 0; i < total.by_status.size(); ++i) {
    if (total.by_status[i] > 0) codes += fmt::format(" {}x{}", i, total.by_status[i]);
  }
  std::printf(
      "  answers     %lld 2xx, %lld non-2xx, %lld failed (I/O, time-out, unsent) [status:%s]\n",
      static_cast<long long>(total.ok), static_cast<long long>(total.non_2xx),
      static_cast<long long>(total.failed), codes.empty() ? " none" : codes.c_str());
  std::printf("  throughput  %.0f requests/s, %.0f events/s (2xx only)\n", rps, eps);
  std::printf("  latency     p50 %.3f ms, p99 %.3f ms, p999 %.3f ms, max %.3f ms (%s)\n", p50, p99,
              p999, max, rate > 0 ? "from the scheduled send time" : "from the send");
  std::printf("  client      %.0f%% of one core over %.1fs (the server shares this machine)\n",
              100 * client_cpu, wall);
  if (absl::GetFlag(FLAGS_json)) {
    std::printf(
        "{\"label\":\"%s\",\"corpus\":\"%s\",\"connections\":%d,\"threads\":%d,\"rate\":%.1f,"
        "\"seconds\":%.3f,\"ok\":%lld,\"non_2xx\":%lld,\"failed\":%lld,\"errors\":%lld,"
        "\"requests_per_s\":%.1f,\"events_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
        "\"p999_ms\":%.3f,\"max_ms\":%.3f,\"client_cpu\":%.2f,\"client_cpu_s\":%.2f}\n",
        label.c_str(), corpus_kind.c_str(), connections, threads, rate, elapsed,
        static_cast<long long>(total.ok), static_cast<long long>(total.non_2xx),
        static_cast<long long>(total.failed), static_cast<long long>(total.non_2xx + total.failed),
        rps, eps, p50, p99, p999, max, client_cpu, cpu);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace earshot::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "gateway_load --port=N [--corpus=single|mixed|meta-batch-1000] [--rate=R] [--json]\n"
      "Signed webhook load over keep-alive connections; prints requests/s, events/s, latency.");
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  return earshot::bench::Run();
}
