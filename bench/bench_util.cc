#include "bench/bench_util.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "fmt/format.h"
#include "services/common/base/strings.h"
#include "services/common/http/client.h"
#include "services/common/kafka/admin.h"
#include "services/common/kafka/embedded_broker.h"
#include "services/common/kafka/topics.h"

namespace earshot::bench {

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double LoadAverage() {
  double load = 0;
  std::ifstream("/proc/loadavg") >> load;
  return load;
}

double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  int64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return static_cast<double>(user + nice + system + irq + softirq + steal) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string Machine() {
  std::string cpu = "?";
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  const double mem_gib =
      static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE) / (1 << 30);
  return fmt::format("{} cores (nproc), {}, {:.1f} GiB memory, load average {:.2f}",
                     sysconf(_SC_NPROCESSORS_ONLN), cpu, mem_gib, LoadAverage());
}

void SetTs(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t us = absl::ToUnixMicros(t);
  ts->set_seconds(us / 1000000);
  ts->set_nanos(static_cast<int32_t>(us % 1000000) * 1000);
}

double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, idx == 0 ? 0 : idx - 1)];
}

double MetricValue(const std::string& text, std::string_view sample) {
  for (absl::string_view piece : absl::StrSplit(ToAbsl(text), '\n')) {
    const std::string_view line = ToStd(piece);
    if (line.size() > sample.size() && line.compare(0, sample.size(), sample) == 0 &&
        line[sample.size()] == ' ') {
      double v = -1;
      if (absl::SimpleAtod(ToAbsl(line.substr(sample.size() + 1)), &v)) return v;
    }
  }
  return -1;
}

std::string Scrape(int admin_port) {
  http::Client admin("127.0.0.1", admin_port, absl::Seconds(5));
  auto r = admin.Get("/metrics");
  return r.ok() ? r->body : "";
}

void Verdicts::Add(const std::string& name, bool pass, const std::string& text) {
  failed |= !pass;
  lines.push_back(fmt::format("{}  {}: {}", pass ? "PASS" : "FAIL", name, text));
  if (echo) {
    std::printf("  => %s\n", lines.back().c_str());
    std::fflush(stdout);
  }
}

void Verdicts::PrintSummary() const {
  std::printf("\n== summary\n");
  for (const auto& line : lines) std::printf("  %s\n", line.c_str());
  std::fflush(stdout);
}

TempFolder::TempFolder(std::string given, std::string_view prefix, bool keep) : keep_(keep) {
  if (given.empty()) {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + ".XXXXXX")).string();
    if (mkdtemp(tmpl.data()) == nullptr) return;
    given = tmpl;
  }
  std::error_code ec;
  std::filesystem::create_directories(given, ec);
  path_ = std::move(given);
}

TempFolder::~TempFolder() {
  if (path_.empty()) return;
  if (keep_) {
    std::printf("kept %s\n", path_.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

SyntheticThread ThreadOf(int64_t i) {
  constexpr char kXBrand[] = "1500000000000000001";
  constexpr char kPage[] = "105550000000001";
  constexpr char kIgAccount[] = "17841400000000001";
  constexpr char kWaPhone[] = "410000000000222";
  constexpr char kTgBot[] = "7000000001";
  SyntheticThread t;
  switch (i % 10) {
    case 0:
    case 1:
    case 2:
      t = {earshot::v1::PLATFORM_X, kXBrand, fmt::format("x:{}:u:{}", kXBrand, 1000000000 + i),
           true};
      break;
    case 3:
      t = {earshot::v1::PLATFORM_X, kXBrand, fmt::format("x:{}:dm:{}", kXBrand, 1000000000 + i),
           false};
      break;
    case 4:
    case 5:
      t = {earshot::v1::PLATFORM_FACEBOOK, kPage,
           fmt::format("fb:{}:c:{}_{}", kPage, 901234567890123 + i % 97, 1122334455000000 + i),
           true};
      break;
    case 6:
      t = {earshot::v1::PLATFORM_MESSENGER, kPage,
           fmt::format("fbm:{}:{}", kPage, 6000000000000000 + i), false};
      break;
    case 7:
      t = {earshot::v1::PLATFORM_INSTAGRAM, kIgAccount,
           fmt::format("igm:{}:{}", kIgAccount, 17000000000000000 + i), false};
      break;
    case 8:
      t = {earshot::v1::PLATFORM_WHATSAPP, kWaPhone,
           fmt::format("wa:{}:49151{}", kWaPhone, 10000000 + i), false};
      break;
    default:
      t = {earshot::v1::PLATFORM_TELEGRAM, kTgBot, fmt::format("tg:{}:{}", kTgBot, 500000000 + i),
           false};
      break;
  }
  return t;
}

std::string TelegramUpdate(int64_t update_id, int64_t chat, int64_t message_id,
                           std::string_view from_bot) {
  const std::string from =
      from_bot.empty()
          ? absl::StrCat(R"({"id":)", chat,
                         R"(,"is_bot":false,"first_name":"Kim","language_code":"de"})")
          : absl::StrCat(R"({"id":)", ToAbsl(from_bot), R"(,"is_bot":true,"first_name":"Acme"})");
  const std::string_view text =
      from_bot.empty() ? kCustomerTexts[static_cast<size_t>(update_id) % std::size(kCustomerTexts)]
                       : "Danke für Ihre Nachricht, wir kümmern uns darum.";
  return absl::StrCat(R"({"update_id":)", update_id, R"(,"message":{"message_id":)", message_id,
                      R"(,"from":)", from, R"(,"chat":{"id":)", chat,
                      R"(,"type":"private","first_name":"Kim"},"date":)",
                      absl::ToUnixSeconds(absl::Now()), R"(,"text":")", ToAbsl(text), R"("}})");
}

bool TelegramEventIds(std::string_view event_id, int64_t* chat, int64_t* message_id) {
  std::vector<absl::string_view> parts = absl::StrSplit(ToAbsl(event_id), ':');
  return parts.size() == 4 && parts[0] == "tg" && absl::SimpleAtoi(parts[2], chat) &&
         absl::SimpleAtoi(parts[3], message_id);
}

Turns::Turns() {
  if (pipe(go_) != 0 || pipe(done_) != 0) std::perror("pipe");
  std::signal(SIGPIPE, SIG_IGN);  // a side that is gone shows as a failed write, not a signal
}

Turns::~Turns() { Close(); }

void Turns::Close() {
  for (int* fd : {&go_[0], &go_[1], &done_[0], &done_[1]}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

void Turns::ChildSide() {
  close(go_[1]);
  close(done_[0]);
  go_[1] = done_[0] = -1;
}

void Turns::ParentSide() {
  close(go_[0]);
  close(done_[1]);
  go_[0] = done_[1] = -1;
}

namespace {
bool ReadByte(int fd) {
  char c;
  return read(fd, &c, 1) == 1;
}
bool WriteByte(int fd) { return write(fd, "t", 1) == 1; }
}  // namespace

bool Turns::Await() { return ReadByte(go_[0]); }
void Turns::End() { WriteByte(done_[1]); }
bool Turns::Ready() { return ReadByte(done_[0]); }
bool Turns::Give() { return WriteByte(go_[1]) && ReadByte(done_[0]); }

std::unique_ptr<BenchKafka> BenchKafka::Start(int partitions,
                                              const std::vector<std::string>& topics,
                                              const std::string& real_bootstrap,
                                              std::string* error) {
  std::unique_ptr<BenchKafka> k(new BenchKafka());
  if (real_bootstrap.empty()) {
    auto started = kafka::EmbeddedBroker::Start(1, partitions, topics);
    if (!started.ok()) {
      *error = "embedded broker: " + started.status().ToString();
      return nullptr;
    }
    k->embedded_ = std::move(*started);
    k->bootstrap_ = k->embedded_->bootstrap();
    return k;
  }
  k->bootstrap_ = real_bootstrap;
  auto admin = kafka::Admin::Create(real_bootstrap, {});
  if (!admin.ok()) {
    *error = admin.status().ToString();
    return nullptr;
  }
  if (auto st = (*admin)->DeleteTopics(topics, absl::Seconds(30)); !st.ok()) {
    *error = "delete topics: " + st.ToString();
    return nullptr;
  }
  const std::string record_bytes =
      std::to_string(kafka::kDefaultBodyLimitBytes + kafka::kRecordEnvelopeBytes);
  std::vector<kafka::NewTopic> news;
  for (const auto& t : topics) {
    news.push_back({t, partitions, -1, {{"max.message.bytes", record_bytes}}});
    // State changelogs are compacted (kafka/topics.h); earshot refuses them otherwise.
    if (t.ends_with(".state.v1")) news.back().configs["cleanup.policy"] = "compact";
  }
  // Deletion completes in the background; a topic of the same name can be created after it.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  absl::Status created;
  do {
    absl::SleepFor(absl::Milliseconds(500));
    created = (*admin)->CreateTopics(news, absl::Seconds(30));
    auto listed = (*admin)->ListTopics(absl::Seconds(10));
    bool led = created.ok() && listed.ok();
    for (const auto& t : topics) led = led && listed->contains(t) && listed->at(t).led;
    if (led) return k;
  } while (absl::Now() < deadline);
  *error = "topics not created and led within 30 s: " + created.ToString();
  return nullptr;
}

BenchKafka::~BenchKafka() = default;

std::string BenchKafka::name() const { return real() ? "Apache Kafka" : "embedded broker"; }

}  // namespace earshot::bench
