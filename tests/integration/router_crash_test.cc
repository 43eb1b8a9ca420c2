// Crash safety of the router as an operator runs it: a separate `earshot --target=router`
// process over more than 100,000 events, killed with SIGKILL at random points and restarted on
// the same data folder. After the last run its thread state must equal that of one clean run
// over the same input (state exactly-once), and its output must hold every input event id:
// exactly once on Kafka (transactions, read_committed), at least once with stable ids on the
// embedded broker. The clean run applies on one thread, the crashed one
// on three lanes (router.apply_threads): splitting a batch by partition changes no state.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "earshot/v1/event.pb.h"
#include "earshot/v1/routing.pb.h"
#include "earshot/v1/threads.grpc.pb.h"
#include "fmt/format.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "librdkafka/rdkafka.h"
#include "rocksdb/db.h"
#include "services/common/base/strings.h"
#include "services/common/http/client.h"
#include "services/common/kafka/admin.h"
#include "services/common/kafka/consumer.h"
#include "services/common/kafka/embedded_broker.h"
#include "services/common/kafka/producer.h"
#include "services/common/kafka/records.h"
#include "services/common/store/store.h"
#include "services/router/router_core.h"
#include "tests/integration/router_child.h"
#include "tests/integration/test_folder.h"
#include "tests/integration/test_kafka.h"
#include "tests/support/care_stream.h"
#include "tests/support/earshot_child.h"

namespace earshot {
namespace {

using earshot::v1::Event;
using earshot::v1::Platform;
using earshot::v1::RouterPartitionState;
using earshot::v1::Thread;
using router::Cf;
using router::CfName;

constexpr uint64_t kSeed = 20250303;  // the input stream and the kill times follow from it
constexpr size_t kMinRecords = 100000;
constexpr int kThreadCount = 6000;
constexpr int kPartitions = 4;
constexpr int kKills = 5;     // kills that must land while the router is still applying
constexpr int kMaxRuns = 16;  // runs to get them; a run that ends the stream counts not
constexpr char kEventsTopic[] = "earshot.events.v1";
constexpr char kCleanRoutedTopic[] = "earshot.routed.clean";  // the reference run's output
constexpr char kCrashRoutedTopic[] = "earshot.routed.v1";

using testing::FromTs;
using testing::SetTs;
using testing::Stream;
using testing::StreamGenerator;

// ---------------------------------------------------------------------------------------------
// Reading what the routers wrote.

// Reads one routed topic from the start on its own thread while a router writes it: the
// embedded broker keeps only about 5 MB per partition, so the test must not wait until the end.
// Keeps, per event id, how often it came and a hash of the first copy; notes problems, such as
// offset gaps, which mean the broker dropped records before they were read.
class RoutedReader {
 public:
  struct Seen {
    int copies = 0;
    size_t hash = 0;
    bool copies_differ = false;
  };

  RoutedReader(const std::string& bootstrap, const std::string& topic) : topic_(topic) {
    kafka::ConsumerOptions o;
    o.bootstrap = bootstrap;
    o.group_id = "crash-test-reader-" + topic;
    auto consumer = kafka::Consumer::Create(o);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    consumer_ = std::move(*consumer);
    // A topic just created may not be in the broker's metadata yet (real Kafka under load):
    // asked again for up to 30 s.
    absl::Status st;
    for (int attempt = 0; attempt < 150; ++attempt) {
      st = consumer_->AssignAll(topic);
      if (st.ok()) break;
      absl::SleepFor(absl::Milliseconds(200));
    }
    EXPECT_TRUE(st.ok()) << st;
    // The log's end including open transactions: a killed router's transaction holds the
    // read_committed end (the last stable offset) back until Kafka aborts it, and what later
    // runs committed after it is read only then.
    o.group_id += "-ends";
    o.extra["isolation.level"] = "read_uncommitted";
    auto ends = kafka::Consumer::Create(o);
    EXPECT_TRUE(ends.ok()) << ends.status();
    ends_ = std::move(*ends);
    thread_ = std::thread([this] { Run(); });
  }
  ~RoutedReader() {
    stop_.Notify();
    thread_.join();
  }

  // Waits until every record up to the topic's current end was read.
  bool WaitCaughtUp(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      bool done = true;
      for (int p = 0; p < kPartitions && done; ++p) {
        int64_t low = 0;
        int64_t high = 0;
        if (rd_kafka_query_watermark_offsets(ends_->handle(), topic_.c_str(), p, &low, &high,
                                             5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
          done = false;
          break;
        }
        // The reader's position passes transaction markers, which it never hands out.
        const int64_t at = kafka::Position(consumer_->handle(), topic_, p);
        absl::MutexLock lock(&mu_);
        done = std::max(next_[p], at) >= high;
      }
      if (done) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  std::map<std::string, Seen> seen() const {
    absl::MutexLock lock(&mu_);
    return seen_;
  }
  int64_t records() const {
    absl::MutexLock lock(&mu_);
    return records_;
  }
  std::vector<std::string> problems() const {
    absl::MutexLock lock(&mu_);
    return problems_;
  }

 private:
  void Run() {
    while (!stop_.HasBeenNotified()) {
      auto batch = consumer_->Poll(2000, absl::Milliseconds(100));
      if (!batch.ok()) {
        absl::MutexLock lock(&mu_);
        problems_.push_back("consume error: " + batch.status().ToString());
        continue;
      }
      absl::MutexLock lock(&mu_);
      for (const auto& m : *batch) {
        // On the embedded broker a gap means records dropped before they were read; on Kafka
        // the routers write in transactions, whose markers (and aborted records) take offsets.
        if (!testing::TestKafka::Real() && m.offset != next_[m.partition]) {
          problems_.push_back(fmt::format("{} [{}]: expected offset {}, got {}", topic_,
                                          m.partition, next_[m.partition], m.offset));
        }
        next_[m.partition] = m.offset + 1;
        ++records_;
        earshot::v1::RoutedEvent routed;
        if (!routed.ParseFromString(m.value) || routed.event().event_id().empty()) {
          problems_.push_back(
              fmt::format("{} [{}] @{}: not a RoutedEvent", topic_, m.partition, m.offset));
          continue;
        }
        Seen& s = seen_[routed.event().event_id()];
        const size_t hash = std::hash<std::string>{}(m.value);
        if (s.copies++ == 0) {
          s.hash = hash;
        } else if (s.hash != hash) {
          s.copies_differ = true;
        }
      }
    }
  }

  const std::string topic_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::unique_ptr<kafka::Consumer> ends_;  // watermarks only
  absl::Notification stop_;
  mutable absl::Mutex mu_;
  std::map<int32_t, int64_t> next_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Seen> seen_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> problems_ ABSL_GUARDED_BY(mu_);
  int64_t records_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// Reading the routers' RocksDB folders.

std::string ShowKey(std::string_view key) {
  if (key.size() < 4) return absl::CHexEscape(ToAbsl(key));
  return fmt::format("p{}/{}", store::ReadBigEndian32(key.substr(0, 4)),
                     absl::CHexEscape(ToAbsl(key.substr(4))));
}

// The next offset of every input partition a killed router had written, read without
// recovering its database: the next router must do that itself.
std::map<int32_t, int64_t> WrittenOffsets(const std::string& path) {
  std::map<int32_t, int64_t> out;
  if (!std::filesystem::exists(path + "/CURRENT")) return out;  // killed before it opened
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {{rocksdb::kDefaultColumnFamilyName, {}},
                                                      {CfName(Cf::kPartitions), {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status st =
      rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, cfs, &handles, &raw);
  if (!st.ok()) {
    ADD_FAILURE() << "cannot read " << path << ": " << st.ToString();
    return out;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[1]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      RouterPartitionState s;
      s.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()));
      out[static_cast<int32_t>(store::ReadBigEndian32(it->key().ToStringView()))] = s.next_offset();
    }
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  return out;
}

int64_t Sum(const std::map<int32_t, int64_t>& m) {
  int64_t s = 0;
  for (const auto& [_, v] : m) s += v;
  return s;
}

absl::StatusOr<std::unique_ptr<store::Store>> OpenRouterStore(const std::string& path) {
  store::StoreOptions o;
  o.path = path;
  o.column_families = router::ColumnFamilies(nullptr);  // no dedup filter: only reading
  o.column_families.push_back({"changelog"});           // the changelog's checkpoints
  return store::Store::Open(o);
}

std::map<std::string, std::string> ReadCf(store::Store& s, Cf cf) {
  std::map<std::string, std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(
      s.rocksdb_for_tools()->NewIterator(rocksdb::ReadOptions(), s.cf(CfName(cf))));
  for (it->SeekToFirst(); it->Valid(); it->Next())
    out[it->key().ToString()] = it->value().ToString();
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return out;
}

// How a value of the clean run and one of the crashed run differ; "" when they do not.
using ValueDiff = std::function<std::string(const std::string&, const std::string&)>;

std::string BytesDiff(const std::string& clean, const std::string& crashed) {
  return clean == crashed ? "" : "values differ";
}

// Compared as messages: map fields serialise in no fixed order.
template <typename Message>
std::string MessageDiff(const std::string& clean, const std::string& crashed) {
  Message a;
  Message b;
  if (!a.ParseFromString(clean) || !b.ParseFromString(crashed)) return "unparsable value";
  google::protobuf::util::MessageDifferencer diff;
  std::string delta;
  diff.ReportDifferencesToString(&delta);
  return diff.Compare(a, b) ? "" : "clean → crashed:\n" + delta;
}

// Compares one column family of the clean and the crashed router key by key.
void CompareCf(const std::map<std::string, std::string>& clean,
               const std::map<std::string, std::string>& crashed, const char* cf,
               const ValueDiff& value_diff) {
  int differences = 0;
  std::ostringstream report;
  auto note = [&](const std::string& key, const std::string& what) {
    if (++differences <= 8) report << "  " << ShowKey(key) << ": " << what << "\n";
  };
  for (const auto& [key, value] : clean) {
    auto it = crashed.find(key);
    if (it == crashed.end()) {
      note(key, "only in the clean run");
    } else if (std::string d = value_diff(value, it->second); !d.empty()) {
      note(key, d);
    }
  }
  for (const auto& [key, _] : crashed) {
    if (clean.count(key) == 0) note(key, "only in the crashed run");
  }
  EXPECT_EQ(differences, 0) << "column family " << cf << ": " << differences
                            << " differences (clean " << clean.size() << " keys, crashed "
                            << crashed.size() << " keys), the first ones:\n"
                            << report.str();
}

// The dedup keys a record received at `at` would still find.
std::map<std::string, std::string> LiveDedupKeys(std::map<std::string, std::string> keys,
                                                 absl::Time at) {
  std::erase_if(keys, [at](const auto& kv) { return router::DedupExpired(kv.second, at); });
  return keys;
}

// ---------------------------------------------------------------------------------------------

// The router's log line for an assignment; Positive() accepts one that gave it partitions.
constexpr char kAssigned[] = R"re("msg":"partitions assigned","topic":"[^"]*","count":(\d+))re";
bool Positive(const std::string& n) { return std::stoi(n) > 0; }

class RouterCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> topics = kafka::StandardTopics();
    topics.push_back(kCleanRoutedTopic);
    // The state changelogs of the two routers' groups (kafka::RouterStateTopic).
    topics.push_back("g-clean.state.v1");
    topics.push_back("g-crash.state.v1");
    topics.push_back("g-static.state.v1");
    kafka_ = std::make_unique<earshot::testing::KafkaWithTopics>(topics, kPartitions);
    bootstrap_ = kafka_->bootstrap;
    ASSERT_FALSE(bootstrap_.empty());
  }

  void TearDown() override {
    child_.reset();  // SIGKILL, if one still runs
    clean_reader_.reset();
    crash_reader_.reset();
    kafka_.reset();
  }

  std::unique_ptr<RouterChild> NewRouter(const std::string& data_dir, const std::string& group,
                                         const std::string& routed_topic,
                                         const std::string& log_name, int apply_threads,
                                         std::vector<std::string> extra_env = {}) {
    // Routed records LZ4-compressed, as the input is: the embedded broker keeps about 5 MB per
    // partition, and the readers must not fall that far behind a router at full speed.
    const std::string config = dir_ + "/router.yaml";
    std::ofstream(config) << "kafka:\n  properties:\n    compression.type: lz4\n";
    std::vector<std::string> env{
        "EARSHOT_KAFKA_BOOTSTRAP=" + bootstrap_,
        "EARSHOT_GRPC_ADDR=127.0.0.1:0",
        "EARSHOT_ADMIN_ADDR=127.0.0.1:0",
        "EARSHOT_ROUTER_SESSION_TIMEOUT_MS=3000",
        "EARSHOT_ROUTER_GROUP_ID=" + group,
        "EARSHOT_KAFKA_TOPICS_ROUTED=" + routed_topic,
        "EARSHOT_ROUTER_APPLY_THREADS=" + std::to_string(apply_threads),
        // The input's receive times are fixed, long past: with a TTL its threads would expire at
        // wall-clock moments that differ between the runs compared.
        "EARSHOT_ROUTER_THREAD_TTL=0",
        std::string("EARSHOT_ROUTER_RULES_FILE=") + EARSHOT_FIXTURES_DIR +
            "/../../config/rules.example.yaml",
    };
    // The extra settings replace the defaults above.
    for (const std::string& e : extra_env) {
      const std::string name = e.substr(0, e.find('=') + 1);
      std::erase_if(env, [&](const std::string& d) { return d.starts_with(name); });
      env.push_back(e);
    }
    return std::make_unique<RouterChild>(data_dir, dir_ + "/" + log_name, config, std::move(env),
                                         kPartitions);
  }

  // Writes the stream to earshot.events.v1 as the gateway would; returns the end offset of
  // every partition.
  std::map<int32_t, int64_t> Produce(const Stream& stream) {
    kafka::ProducerOptions o;
    o.bootstrap = bootstrap_;
    o.client_id = "crash-test-producer";
    o.delivery_timeout = absl::Seconds(60);
    // The embedded broker keeps about 5 MB per partition; compressed, the stream fits.
    o.extra = {{"compression.type", "lz4"}, {"linger.ms", "20"}};
    auto producer = kafka::Producer::Create(o, nullptr);
    EXPECT_TRUE(producer.ok()) << producer.status();
    if (!producer.ok()) return {};
    constexpr size_t kChunk = 20000;
    for (size_t begin = 0; begin < stream.records.size(); begin += kChunk) {
      std::vector<kafka::Record> records;
      for (size_t i = begin; i < std::min(begin + kChunk, stream.records.size()); ++i) {
        records.push_back(kafka::EventRecord(stream.records[i], kEventsTopic));
      }
      absl::Notification done;
      absl::Status status;
      (*producer)->ProduceBatch(std::move(records), [&](absl::Status st) {
        status = std::move(st);
        done.Notify();
      });
      done.WaitForNotification();  // bounded by the delivery time-out
      EXPECT_TRUE(status.ok()) << status;
      if (!status.ok()) return {};
    }
    kafka::ConsumerOptions co;
    co.bootstrap = bootstrap_;
    co.group_id = "crash-test-watermarks";
    auto consumer = kafka::Consumer::Create(co);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    std::map<int32_t, int64_t> ends;
    for (int p = 0; p < kPartitions; ++p) {
      int64_t low = -1;
      int64_t high = -1;
      EXPECT_EQ(rd_kafka_query_watermark_offsets((*consumer)->handle(), kEventsTopic, p, &low,
                                                 &high, 10000),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      EXPECT_EQ(low, 0) << "the embedded broker dropped the start of partition " << p;
      ends[p] = high;
    }
    return ends;
  }

  // Router logs and data: removed once the test passed, kept and named when it failed.
  earshot::testing::TestFolder folder_{"earshot-router-crash"};
  std::string dir_ = folder_.path();
  std::unique_ptr<earshot::testing::KafkaWithTopics> kafka_;
  std::string bootstrap_;
  std::unique_ptr<RouterChild> child_;
  std::unique_ptr<RoutedReader> clean_reader_;
  std::unique_ptr<RoutedReader> crash_reader_;
};

TEST_F(RouterCrashTest, StateAfterRepeatedKillsEqualsOneCleanRunAndNoEventIsLost) {
  const absl::Time test_start = absl::Now();
  Stream stream = StreamGenerator(kSeed).Generate(kMinRecords, kThreadCount);
  ASSERT_GE(stream.records.size(), kMinRecords);
  const int64_t total = static_cast<int64_t>(stream.records.size());
  const std::map<int32_t, int64_t> ends = Produce(stream);
  ASSERT_EQ(Sum(ends), total) << "not every input record reached the broker";
  std::cout << fmt::format(
      "input: {} records, {} distinct event ids, {} threads; customer messages {}, brand "
      "replies {}, edits {}, deletes {}, resolves {}, redeliveries {}; per partition",
      total, stream.ids.size(), stream.threads, stream.counts["customer"], stream.counts["brand"],
      stream.counts["edit"], stream.counts["delete"], stream.counts["resolve"],
      stream.counts["redelivery"]);
  for (const auto& [p, end] : ends) std::cout << " " << end;
  std::cout << "\n  threads by platform:";
  for (const char* p :
       {"x", "x_dm", "facebook", "instagram", "messenger", "whatsapp", "telegram"}) {
    std::cout << " " << p << "=" << stream.counts[p];
  }
  std::cout << "\n  produced in " << absl::FormatDuration(absl::Now() - test_start) << std::endl;

  // The reference: one router that is never interrupted.
  const std::string clean_dir = dir_ + "/clean";
  clean_reader_ = std::make_unique<RoutedReader>(bootstrap_, kCleanRoutedTopic);
  child_ = NewRouter(clean_dir, "g-clean", kCleanRoutedTopic, "clean.log", /*apply_threads=*/1);
  child_->Start();
  ASSERT_TRUE(child_->WaitForLog(kAssigned, absl::Seconds(60), Positive).has_value())
      << child_->LogTail();
  const absl::Time clean_start = absl::Now();
  auto clean = child_->WaitCaughtUp(absl::Seconds(150));
  ASSERT_TRUE(clean.has_value()) << "the clean run did not finish; log " << child_->log_path()
                                 << ":\n"
                                 << child_->LogTail();
  EXPECT_EQ(clean->consumed, static_cast<double>(total))
      << "the clean run consumed every record once";
  // Its speed keeps the kills below inside the stream.
  const double clean_seconds = absl::ToDoubleSeconds(clean->since - clean_start);
  double rate = static_cast<double>(total) / std::max(1.0, clean_seconds);
  child_->Kill(SIGTERM);
  auto status = child_->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value()) << "the clean router did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << child_->LogTail();
  child_.reset();
  std::cout << fmt::format("clean run: {} records in about {:.1f} s ({:.0f} records/s)\n",
                           clean->consumed, clean_seconds, rate)
            << std::flush;

  // The crashed router: killed at random points, restarted on the same data folder.
  const std::string crash_dir = dir_ + "/crashed";
  crash_reader_ = std::make_unique<RoutedReader>(bootstrap_, kCrashRoutedTopic);
  std::mt19937_64 rng(kSeed + 1);
  std::uniform_real_distribution<double> unit(0, 1);
  int landed = 0;
  int64_t before = 0;
  std::vector<std::string> kills;
  for (int run = 0; landed < kKills && run < kMaxRuns; ++run) {
    child_ = NewRouter(crash_dir, "g-crash", kCrashRoutedTopic, fmt::format("crash-{}.log", run),
                       /*apply_threads=*/3);
    child_->Start();
    // Wait until it consumes again (a restarted router first waits for its killed predecessor
    // to leave the group), then let it work for a random while.
    ASSERT_TRUE(child_->WaitForLog(kAssigned, absl::Seconds(60), Positive).has_value())
        << "run " << run << " never got partitions:\n"
        << child_->LogTail();
    // A random 0.3 to 3 s, shortened when the kills still due would not fit in what is left.
    const double fit = static_cast<double>(total - before) / rate / (kKills - landed + 1);
    const double delay = 0.3 + (std::clamp(fit, 0.3, 3.0) - 0.3) * unit(rng);
    const absl::Time assigned = absl::Now();
    absl::SleepFor(absl::Seconds(delay));
    child_->Kill(SIGKILL);
    ASSERT_TRUE(child_->Wait(absl::Seconds(10)).has_value());
    child_.reset();
    const double worked = absl::ToDoubleSeconds(absl::Now() - assigned);
    const int64_t after = Sum(WrittenOffsets(crash_dir + "/router"));
    const bool mid_stream = after > before && after < total;
    rate = std::max(rate, static_cast<double>(after - before) / worked);
    if (mid_stream) ++landed;
    kills.push_back(fmt::format("{:.2f} s after assignment at {}/{} ({:.1f}%){}", delay, after,
                                total, 100.0 * static_cast<double>(after) / total,
                                mid_stream ? "" : " (not counted)"));
    std::cout << "kill " << run + 1 << ": " << kills.back() << std::endl;
    before = after;
    if (after >= total) break;  // the stream is through: later kills cannot land mid-stream
  }
  ASSERT_GE(landed, kKills) << "too few kills landed while the router was still applying";

  // The final run goes to the end.
  child_ = NewRouter(crash_dir, "g-crash", kCrashRoutedTopic, "crash-final.log",
                     /*apply_threads=*/3);
  child_->Start();
  ASSERT_TRUE(child_->WaitCaughtUp(absl::Seconds(150)).has_value())
      << "the final run did not finish:\n"
      << child_->LogTail();
  child_->Kill(SIGTERM);
  status = child_->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value()) << "the final router did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << child_->LogTail();
  child_.reset();

  // Output: every input event id, from the clean run exactly once, from the crashed one at
  // least once, and every copy the same as the clean run's.
  ASSERT_TRUE(clean_reader_->WaitCaughtUp(absl::Seconds(30)));
  ASSERT_TRUE(crash_reader_->WaitCaughtUp(absl::Seconds(90)));
  EXPECT_TRUE(clean_reader_->problems().empty()) << clean_reader_->problems().front();
  EXPECT_TRUE(crash_reader_->problems().empty()) << crash_reader_->problems().front();
  const auto clean_out = clean_reader_->seen();
  const auto crash_out = crash_reader_->seen();
  int missing = 0;
  int missing_clean = 0;
  std::string first_missing;
  for (const std::string& id : stream.ids) {
    if (crash_out.count(id) == 0 && missing++ == 0) first_missing = id;
    if (clean_out.count(id) == 0) ++missing_clean;
  }
  EXPECT_EQ(missing, 0) << "input event ids missing from the crashed router's output, e.g. "
                        << first_missing;
  EXPECT_EQ(missing_clean, 0) << "input event ids missing from the clean router's output";
  EXPECT_EQ(clean_out.size(), stream.ids.size()) << "the clean run routed ids not in the input";
  EXPECT_EQ(crash_out.size(), stream.ids.size()) << "the crashed run routed ids not in the input";
  int64_t clean_copies = 0;
  int64_t reemitted = 0;
  int differ = 0;
  std::string first_differ;
  for (const auto& [id, seen] : clean_out) clean_copies += seen.copies - 1;
  for (const auto& [id, seen] : crash_out) {
    reemitted += seen.copies - 1;
    auto it = clean_out.find(id);
    if (seen.copies_differ || (it != clean_out.end() && it->second.hash != seen.hash)) {
      if (differ++ == 0) first_differ = id;
    }
  }
  EXPECT_EQ(clean_copies, 0) << "the uninterrupted run emitted duplicates";
  if (testing::TestKafka::Real()) {
    // Kafka transactions: a killed batch's output is aborted with its state and offsets.
    EXPECT_EQ(reemitted, 0) << "routed events read twice (read_committed) after SIGKILLs";
  }
  EXPECT_EQ(differ, 0) << "routed events of the crashed run that differ from the clean run's, "
                          "e.g. "
                       << first_differ;

  // State: equal key by key and value by value.
  auto clean_store = OpenRouterStore(clean_dir + "/router");
  ASSERT_TRUE(clean_store.ok()) << clean_store.status();
  auto crash_store = OpenRouterStore(crash_dir + "/router");
  ASSERT_TRUE(crash_store.ok()) << crash_store.status();
  const auto clean_threads = ReadCf(**clean_store, Cf::kThreads);
  const auto crash_threads = ReadCf(**crash_store, Cf::kThreads);
  CompareCf(clean_threads, crash_threads, "threads", MessageDiff<Thread>);
  CompareCf(ReadCf(**clean_store, Cf::kMessages), ReadCf(**crash_store, Cf::kMessages), "messages",
            BytesDiff);
  CompareCf(ReadCf(**clean_store, Cf::kQueueIndex), ReadCf(**crash_store, Cf::kQueueIndex),
            "queue_index", BytesDiff);
  CompareCf(ReadCf(**clean_store, Cf::kRefs), ReadCf(**crash_store, Cf::kRefs), "thread_refs",
            BytesDiff);
  const auto clean_parts = ReadCf(**clean_store, Cf::kPartitions);
  CompareCf(clean_parts, ReadCf(**crash_store, Cf::kPartitions), "partitions",
            MessageDiff<RouterPartitionState>);
  for (const auto& [key, value] : clean_parts) {
    RouterPartitionState s;
    s.ParseFromString(value);
    const int32_t p = static_cast<int32_t>(store::ReadBigEndian32(key));
    EXPECT_EQ(s.next_offset(), ends.at(p)) << "partition " << p << " not applied to its end";
  }
  // The deduplication window a next record would meet: the same keys with the same expiry.
  absl::Time last_received = absl::InfinitePast();
  for (const Event& e : stream.records)
    last_received = std::max(last_received, FromTs(e.received_at()));
  const auto clean_dedup = LiveDedupKeys(ReadCf(**clean_store, Cf::kDedup), last_received);
  const auto crash_dedup = LiveDedupKeys(ReadCf(**crash_store, Cf::kDedup), last_received);
  EXPECT_EQ(clean_dedup.size(), stream.ids.size());
  CompareCf(clean_dedup, crash_dedup, "dedup", BytesDiff);
  std::map<std::string, int> by_status;
  for (const auto& [_, value] : clean_threads) {
    Thread t;
    t.ParseFromString(value);
    ++by_status[earshot::v1::ThreadStatus_Name(t.status())];
  }

  std::cout << fmt::format("crashed run: {} kills that landed mid-stream, {} runs in all\n", landed,
                           kills.size());
  std::cout << fmt::format(
      "output: clean run {} records for {} ids; crashed run {} records for {} ids, {} "
      "duplicates re-emitted\n",
      clean_reader_->records(), clean_out.size(), crash_reader_->records(), crash_out.size(),
      reemitted);
  std::cout << fmt::format(
      "state: {} threads (crashed run {}), {} dedup keys (crashed run {}):", clean_threads.size(),
      crash_threads.size(), clean_dedup.size(), crash_dedup.size());
  for (const auto& [s, n] : by_status) std::cout << " " << s << "=" << n;
  std::cout << "\ntotal time " << absl::FormatDuration(absl::Now() - test_start) << std::endl;
}

// Every thread key of a listing, page by page, through one replica.
absl::StatusOr<std::vector<std::string>> ListAll(earshot::v1::Threads::Stub& stub, bool local) {
  std::vector<std::string> keys;
  earshot::v1::ListThreadsRequest req;
  req.set_page_size(97);  // pages end inside every replica's share
  req.set_local(local);
  for (int pages = 0; pages < 10000; ++pages) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    earshot::v1::ListThreadsResponse resp;
    grpc::Status st = stub.ListThreads(&ctx, req, &resp);
    if (!st.ok()) return absl::UnavailableError(st.error_message());
    for (const auto& t : resp.threads()) keys.push_back(t.thread_key());
    if (resp.next_page_token().empty()) return keys;
    req.set_page_token(resp.next_page_token());
  }
  return absl::InternalError("listing did not end");
}

// The records [begin, end) of a stream, to produce it in parts.
Stream Slice(const Stream& s, size_t begin, size_t end) {
  Stream part;
  part.records.assign(s.records.begin() + static_cast<std::ptrdiff_t>(begin),
                      s.records.begin() + static_cast<std::ptrdiff_t>(end));
  for (const Event& e : part.records) part.ids.insert(e.event_id());
  return part;
}

// Two replicas in one group: the second takes half the partitions from the first, then all of
// them when the first is killed. Each partition it takes must continue from its last owner's
// state and position (restored from the changelog; no input read again), and the outcome must
// equal one replica that read everything alone.
TEST_F(RouterCrashTest, PartitionsMoveBetweenReplicasWithoutReplayOrLoss) {
  Stream stream = StreamGenerator(kSeed + 7).Generate(kMinRecords / 5, kThreadCount / 5);
  const size_t n = stream.records.size();
  const size_t third = n / 3;
  crash_reader_ = std::make_unique<RoutedReader>(bootstrap_, kCrashRoutedTopic);
  auto routed_all = [&](const std::set<std::string>& ids) {
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    while (absl::Now() < deadline) {
      const auto seen = crash_reader_->seen();
      bool all = true;
      for (const auto& id : ids) all = all && seen.count(id) > 0;
      if (all) return true;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return false;
  };
  std::set<std::string> produced;
  auto produce = [&](size_t begin, size_t end) {
    Stream part = Slice(stream, begin, end);
    produced.insert(part.ids.begin(), part.ids.end());
    Produce(part);
  };

  // Each replica knows both (router.peers), so either answers the Threads API for every thread.
  const int port_a = testing::FreeLoopbackPort();
  const int port_b = testing::FreeLoopbackPort();
  const std::string peers =
      fmt::format("EARSHOT_ROUTER_PEERS=127.0.0.1:{},127.0.0.1:{}", port_a, port_b);

  // Replica A alone routes the first third.
  auto a = NewRouter(dir_ + "/a", "g-crash", kCrashRoutedTopic, "a.log", /*apply_threads=*/2,
                     {fmt::format("EARSHOT_GRPC_ADDR=127.0.0.1:{}", port_a), peers});
  a->Start();
  ASSERT_TRUE(a->WaitForLog(kAssigned, absl::Seconds(60), Positive).has_value()) << a->LogTail();
  produce(0, third);
  ASSERT_TRUE(routed_all(produced)) << "replica A did not route the first third\n" << a->LogTail();

  // Replica B joins: it takes some of A's partitions and restores their state.
  auto b = NewRouter(dir_ + "/b", "g-crash", kCrashRoutedTopic, "b.log", /*apply_threads=*/2,
                     {fmt::format("EARSHOT_GRPC_ADDR=127.0.0.1:{}", port_b), peers});
  b->Start();
  ASSERT_TRUE(b->WaitForLog(kAssigned, absl::Seconds(60), Positive).has_value()) << b->LogTail();
  produce(third, 2 * third);
  ASSERT_TRUE(routed_all(produced)) << "the two replicas did not route the second third\nA:\n"
                                    << a->LogTail() << "\nB:\n"
                                    << b->LogTail();

  // Both replicas own partitions now. Each answers for every thread, and a listing through
  // either is the whole queue: each replica's own share, merged, with no thread twice.
  {
    auto stub_a = earshot::v1::Threads::NewStub(grpc::CreateChannel(
        fmt::format("127.0.0.1:{}", port_a), grpc::InsecureChannelCredentials()));
    auto stub_b = earshot::v1::Threads::NewStub(grpc::CreateChannel(
        fmt::format("127.0.0.1:{}", port_b), grpc::InsecureChannelCredentials()));
    std::set<std::string> thread_keys;
    for (size_t i = 0; i < 2 * third; ++i) thread_keys.insert(stream.records[i].thread_key());
    int answered = 0;
    int unequal = 0;
    std::string failed;
    for (const std::string& key : thread_keys) {
      earshot::v1::GetThreadRequest req;
      req.set_thread_key(key);
      earshot::v1::Thread via_a;
      earshot::v1::Thread via_b;
      grpc::ClientContext ca;
      grpc::ClientContext cb;
      const grpc::Status sa = stub_a->GetThread(&ca, req, &via_a);
      const grpc::Status sb = stub_b->GetThread(&cb, req, &via_b);
      if (!sa.ok() || !sb.ok()) {
        if (failed.empty()) failed = key + ": " + sa.error_message() + " / " + sb.error_message();
        continue;
      }
      ++answered;
      if (via_a.SerializeAsString() != via_b.SerializeAsString()) ++unequal;
    }
    EXPECT_EQ(answered, static_cast<int>(thread_keys.size()))
        << "threads one replica could not answer, e.g. " << failed;
    EXPECT_EQ(unequal, 0) << "the two replicas answered differently for the same thread";
    auto local_a = ListAll(*stub_a, /*local=*/true);
    auto local_b = ListAll(*stub_b, /*local=*/true);
    auto all_a = ListAll(*stub_a, /*local=*/false);
    auto all_b = ListAll(*stub_b, /*local=*/false);
    ASSERT_TRUE(local_a.ok() && local_b.ok() && all_a.ok() && all_b.ok());
    EXPECT_FALSE(local_a->empty());
    EXPECT_FALSE(local_b->empty()) << "B owns no waiting thread: the listing proves nothing";
    std::set<std::string> shares(local_a->begin(), local_a->end());
    shares.insert(local_b->begin(), local_b->end());
    EXPECT_EQ(all_a->size(), shares.size()) << "a listing through A is not the whole queue";
    EXPECT_EQ(std::set<std::string>(all_a->begin(), all_a->end()), shares);
    EXPECT_EQ(*all_a, *all_b) << "the two replicas list the queue differently";
    std::cout << fmt::format(
                     "threads API: {} threads answered by both replicas; waiting threads: A owns "
                     "{}, B owns {}, either lists {}\n",
                     answered, local_a->size(), local_b->size(), all_a->size())
              << std::flush;
  }

  // A dies; B gets every partition and routes the rest.
  a->Kill(SIGKILL);
  ASSERT_TRUE(a->Wait(absl::Seconds(10)).has_value());
  produce(2 * third, n);
  auto caught_up = b->WaitCaughtUp(absl::Seconds(150));
  ASSERT_TRUE(caught_up.has_value()) << "B did not take over every partition\n" << b->LogTail();
  ASSERT_TRUE(routed_all(produced));
  const std::string b_metrics = b->Metrics();
  b->Kill(SIGTERM);
  ASSERT_TRUE(b->Wait(absl::Seconds(30)).has_value());

  // The reference: one replica over the same input.
  clean_reader_ = std::make_unique<RoutedReader>(bootstrap_, kCleanRoutedTopic);
  child_ = NewRouter(dir_ + "/clean", "g-clean", kCleanRoutedTopic, "clean.log", 1);
  child_->Start();
  ASSERT_TRUE(child_->WaitCaughtUp(absl::Seconds(150)).has_value()) << child_->LogTail();
  child_->Kill(SIGTERM);
  ASSERT_TRUE(child_->Wait(absl::Seconds(30)).has_value());
  child_.reset();
  ASSERT_TRUE(clean_reader_->WaitCaughtUp(absl::Seconds(30)));
  ASSERT_TRUE(crash_reader_->WaitCaughtUp(absl::Seconds(90)));

  // Every event routed once, as the single replica routed it: a partition that had started
  // empty or from offset 0 would route events again, or route them with other thread state.
  const auto clean_out = clean_reader_->seen();
  const auto moved_out = crash_reader_->seen();
  int64_t copies = 0;
  int differ = 0;
  std::string first_differ;
  for (const auto& [id, seen] : moved_out) {
    copies += seen.copies - 1;
    auto it = clean_out.find(id);
    if (it == clean_out.end() || it->second.hash != seen.hash || seen.copies_differ) {
      if (differ++ == 0) first_differ = id;
    }
  }
  EXPECT_EQ(moved_out.size(), stream.ids.size()) << "events missing from the replicas' output";
  EXPECT_EQ(clean_out.size(), stream.ids.size());
  EXPECT_EQ(copies, 0) << "events routed more than once: input read again";
  EXPECT_EQ(differ, 0) << "routed events that differ from the single replica's, e.g. "
                       << first_differ;

  // B never read the first third (A had routed it) and read no partition from the start.
  const double b_consumed = MetricSum(b_metrics, "earshot_router_events_total");
  EXPECT_LE(b_consumed, static_cast<double>(n - third))
      << "replica B consumed input its partitions' last owner had applied";
  EXPECT_EQ(MetricSum(b_metrics, "earshot_router_input_resets_total"), 0);
  const auto restores = MetricByLabel(b_metrics, "earshot_router_state_restores_total", "reason");
  EXPECT_GT(restores.count("no_local_copy") ? restores.at("no_local_copy") : 0, 0)
      << "B restored no partition from the changelog";

  // B's state, restored and continued, equals the single replica's key by key.
  auto clean_store = OpenRouterStore(dir_ + "/clean/router");
  ASSERT_TRUE(clean_store.ok()) << clean_store.status();
  auto b_store = OpenRouterStore(dir_ + "/b/router");
  ASSERT_TRUE(b_store.ok()) << b_store.status();
  CompareCf(ReadCf(**clean_store, Cf::kThreads), ReadCf(**b_store, Cf::kThreads), "threads",
            MessageDiff<Thread>);
  CompareCf(ReadCf(**clean_store, Cf::kMessages), ReadCf(**b_store, Cf::kMessages), "messages",
            BytesDiff);
  CompareCf(ReadCf(**clean_store, Cf::kQueueIndex), ReadCf(**b_store, Cf::kQueueIndex),
            "queue_index", BytesDiff);
  CompareCf(ReadCf(**clean_store, Cf::kRefs), ReadCf(**b_store, Cf::kRefs), "thread_refs",
            BytesDiff);
  CompareCf(ReadCf(**clean_store, Cf::kPartitions), ReadCf(**b_store, Cf::kPartitions),
            "partitions", MessageDiff<RouterPartitionState>);
  std::cout << fmt::format(
      "moved: {} records, {} ids; B consumed {} (A routed the first {}), restores by reason:", n,
      stream.ids.size(), b_consumed, third);
  for (const auto& [reason, count] : restores) std::cout << " " << reason << "=" << count;
  std::cout << fmt::format("; {} restored records\n",
                           MetricSum(b_metrics, "earshot_router_state_restored_records_total"))
            << std::flush;
}

// Static membership (router.instance_id, the pod's name in the chart): a replica that restarts
// within its session gets its partitions back, and the other replica is not rebalanced at all.
TEST_F(RouterCrashTest, AStaticMemberRestartsWithoutMovingPartitions) {
  if (!earshot::testing::TestKafka::Real()) {
    // Its group coordinator treats a returning static member as a new one (a rebalance of every
    // member), so this runs in the real_kafka variant only.
    GTEST_SKIP() << "librdkafka's mock broker does not implement static membership (KIP-345)";
  }
  constexpr char kRevoked[] = R"re("msg":"partitions revoked","topic":"[^"]*","count":(\d+))re";
  auto count = [](const RouterChild& r, const char* pattern) {
    const std::string log = r.Log();
    const std::regex re(pattern);
    return std::distance(std::sregex_iterator(log.begin(), log.end(), re), std::sregex_iterator());
  };
  auto replica = [&](const std::string& name, const std::string& log) {
    return NewRouter(
        dir_ + "/" + name, "g-static", kCrashRoutedTopic, log, 1,
        {"EARSHOT_ROUTER_INSTANCE_ID=" + name, "EARSHOT_ROUTER_SESSION_TIMEOUT_MS=30000"});
  };
  auto a = replica("a", "a.log");
  a->Start();
  ASSERT_TRUE(a->WaitForLog(kAssigned, absl::Seconds(60), Positive).has_value()) << a->LogTail();
  auto b = replica("b", "b.log");
  b->Start();
  ASSERT_TRUE(b->WaitForLog(kAssigned, absl::Seconds(90), Positive).has_value()) << b->LogTail();
  absl::SleepFor(absl::Seconds(3));  // the assignment settled
  const auto b_assigned = count(*b, kAssigned);
  const auto b_revoked = count(*b, kRevoked);

  // A stops (a static member does not leave the group) and comes back under its name.
  a->Kill(SIGTERM);
  ASSERT_TRUE(a->Wait(absl::Seconds(30)).has_value());
  a = replica("a", "a-again.log");
  a->Start();
  ASSERT_TRUE(a->WaitForLog(kAssigned, absl::Seconds(60), Positive).has_value()) << a->LogTail();
  Stream stream = StreamGenerator(kSeed + 11).Generate(2000, 200);
  crash_reader_ = std::make_unique<RoutedReader>(bootstrap_, kCrashRoutedTopic);
  Produce(stream);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (crash_reader_->seen().size() < stream.ids.size() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(crash_reader_->seen().size(), stream.ids.size()) << "the two replicas stopped routing";
  EXPECT_EQ(count(*b, kAssigned), b_assigned) << "B was rebalanced by A's restart\n"
                                              << b->LogTail();
  EXPECT_EQ(count(*b, kRevoked), b_revoked) << "B lost partitions to A's restart\n" << b->LogTail();
}

}  // namespace
}  // namespace earshot
