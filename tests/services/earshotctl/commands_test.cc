// The commands against fake gRPC services on loopback: what a user sees on stdout and stderr
// and the exit code.
#include <cstdio>
#include <fstream>

#include "absl/synchronization/mutex.h"
#include "earshot/v1/stream.grpc.pb.h"
#include "earshot/v1/threads.grpc.pb.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "services/earshotctl/erase_cmd.h"
#include "services/earshotctl/replay_cmd.h"
#include "services/earshotctl/stream_cmd.h"
#include "services/earshotctl/thread_cmd.h"
#include "tests/services/earshotctl/captured.h"

namespace earshot::ctl {
namespace {

using earshot::testing::Captured;

using earshot::v1::Delivery;
using earshot::v1::SubscribeRequest;

Delivery Routed(int i, std::string cursor) {
  Delivery d;
  d.set_cursor(std::move(cursor));
  d.set_topic(earshot::v1::STREAM_TOPIC_ROUTED);
  auto* e = d.mutable_routed()->mutable_event();
  e->set_platform(earshot::v1::PLATFORM_X);
  e->set_thread_key("x:1:u:" + std::to_string(i));
  e->set_text("message " + std::to_string(i));
  d.mutable_routed()->mutable_decision()->set_queue("care-en");
  return d;
}

Delivery Heartbeat(std::string cursor) {
  Delivery d;
  d.set_cursor(std::move(cursor));
  d.mutable_heartbeat()->mutable_at()->set_seconds(1);
  return d;
}

// Writes the scripted deliveries, then ends with `end` (and the earshot-cursor trailer when
// set), or waits for the client to go away when `hold` is set.
class FakeStream final : public earshot::v1::Stream::Service {
 public:
  grpc::Status Subscribe(grpc::ServerContext* ctx, const SubscribeRequest* req,
                         grpc::ServerWriter<Delivery>* writer) override {
    {
      absl::MutexLock lock(&mu);
      request = *req;
      auto it = ctx->client_metadata().find("authorization");
      authorization = it == ctx->client_metadata().end()
                          ? ""
                          : std::string(it->second.data(), it->second.size());
    }
    for (const auto& d : script) writer->Write(d);
    if (hold) {
      while (!ctx->IsCancelled()) absl::SleepFor(absl::Milliseconds(10));
      return grpc::Status::CANCELLED;
    }
    if (!trailer_cursor.empty()) ctx->AddTrailingMetadata("earshot-cursor", trailer_cursor);
    return end;
  }

  absl::Mutex mu;
  SubscribeRequest request;
  std::string authorization;
  std::vector<Delivery> script;
  bool hold = false;
  grpc::Status end = grpc::Status::OK;
  std::string trailer_cursor;
};

class FakeThreads final : public earshot::v1::Threads::Service {
 public:
  grpc::Status GetThread(grpc::ServerContext*, const earshot::v1::GetThreadRequest* req,
                         earshot::v1::Thread* out) override {
    if (req->thread_key() != "x:1:u:7") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "thread " + req->thread_key() + " not found");
    }
    out->set_thread_key("x:1:u:7");
    out->set_status(earshot::v1::THREAD_STATUS_ANSWERED);
    out->set_queue("care-en");
    return grpc::Status::OK;
  }
  grpc::Status ListThreads(grpc::ServerContext*, const earshot::v1::ListThreadsRequest* req,
                           earshot::v1::ListThreadsResponse* out) override {
    last_list = *req;
    for (int i = 0; i < 2; ++i) {
      auto* t = out->add_threads();
      t->set_thread_key("x:1:u:" + std::to_string(i));
      t->set_status(earshot::v1::THREAD_STATUS_AWAITING_REPLY);
    }
    out->set_next_page_token("page2");
    return grpc::Status::OK;
  }
  grpc::Status Resolve(grpc::ServerContext*, const earshot::v1::ResolveRequest* req,
                       earshot::v1::ResolveResponse* out) override {
    last_resolve = *req;
    out->set_event_id("control:1");
    return grpc::Status::OK;
  }
  grpc::Status Erase(grpc::ServerContext*, const earshot::v1::EraseRequest* req,
                     earshot::v1::EraseResponse* out) override {
    if (!req->customer().starts_with("whatsapp:")) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "customer is not <platform>:<id>");
    }
    last_erase = *req;
    out->set_threads_erased(2);
    out->set_audit_id("erase-1");
    return grpc::Status::OK;
  }
  earshot::v1::ListThreadsRequest last_list;
  earshot::v1::ResolveRequest last_resolve;
  earshot::v1::EraseRequest last_erase;
};

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(&stream_);
    b.RegisterService(&threads_);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now()); }

  StreamArgs Stream() {
    StreamArgs a;
    a.connect.addr = "127.0.0.1:" + std::to_string(port_);
    a.connect.timeout = absl::Seconds(20);
    return a;
  }
  int Run(earshot::v1::StreamTopic topic, const StreamArgs& a) {
    Canceller c;
    return RunStream(topic, a, Io{out_.file(), err_.file()}, &c);
  }

  FakeStream stream_;
  FakeThreads threads_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  Captured out_, err_;
};

TEST_F(CommandsTest, TailPrintsDeliveriesSkipsHeartbeatsAndEndsWithTheCursor) {
  stream_.script = {Routed(1, "c1"), Heartbeat("c2"), Routed(2, "c3"), Heartbeat("c4")};
  StreamArgs a = Stream();
  a.connect.token = "secret-token";
  a.queues = {"care-en"};
  a.platforms = {"x", "telegram"};
  a.min_priority = "high";
  a.from = "earliest";
  EXPECT_EQ(Run(earshot::v1::STREAM_TOPIC_ROUTED, a), kExitOk);
  const std::string out = out_.Text();
  EXPECT_NE(out.find("x:1:u:1"), std::string::npos) << out;
  EXPECT_NE(out.find("\"message 2\""), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  // The last heartbeat moved the cursor past the filtered-out records.
  EXPECT_EQ(err_.Text(), "cursor: c4\n");
  absl::MutexLock lock(&stream_.mu);
  EXPECT_EQ(stream_.authorization, "Bearer secret-token");
  EXPECT_TRUE(stream_.request.earliest());
  ASSERT_EQ(stream_.request.topics_size(), 1);
  EXPECT_EQ(stream_.request.topics(0), earshot::v1::STREAM_TOPIC_ROUTED);
  EXPECT_EQ(stream_.request.filter().queues(0), "care-en");
  EXPECT_EQ(stream_.request.filter().platforms_size(), 2);
  EXPECT_EQ(stream_.request.filter().min_priority(), earshot::v1::PRIORITY_HIGH);
}

TEST_F(CommandsTest, CountStopsAFollowingStreamAndJsonLinesParse) {
  stream_.script = {Routed(1, "c1"), Routed(2, "c2"), Routed(3, "c3")};
  stream_.hold = true;
  StreamArgs a = Stream();
  a.count = 2;
  a.json = true;
  a.cursor = "c0";
  EXPECT_EQ(Run(earshot::v1::STREAM_TOPIC_ROUTED, a), kExitOk);
  const std::string out = out_.Text();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  EXPECT_TRUE(out.starts_with(R"({"cursor":"c1","topic":"STREAM_TOPIC_ROUTED","routed":)")) << out;
  EXPECT_EQ(err_.Text(), "cursor: c2\n");
  absl::MutexLock lock(&stream_.mu);
  EXPECT_EQ(stream_.request.cursor(), "c0");
}

TEST_F(CommandsTest, TimeoutWithoutCountIsANormalEndAndWithCountAnError) {
  stream_.script = {Routed(1, "c1")};
  stream_.hold = true;
  StreamArgs a = Stream();
  a.connect.timeout = absl::Milliseconds(500);
  EXPECT_EQ(Run(earshot::v1::STREAM_TOPIC_ALERTS, a), kExitOk);
  a.count = 5;
  EXPECT_EQ(Run(earshot::v1::STREAM_TOPIC_ALERTS, a), kExitError);
  EXPECT_NE(err_.Text().find("DEADLINE_EXCEEDED: 1 of 5 deliveries within 500ms"),
            std::string::npos)
      << err_.Text();
}

TEST_F(CommandsTest, SlowSubscriberGetsTheCursorFromTheTrailer) {
  stream_.script = {Routed(1, "c1")};
  stream_.end = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "subscriber too slow");
  stream_.trailer_cursor = "c-trailer";
  EXPECT_EQ(Run(earshot::v1::STREAM_TOPIC_ROUTED, Stream()), kExitError);
  const std::string err = err_.Text();
  EXPECT_NE(err.find("cursor: c-trailer\n"), std::string::npos) << err;
  EXPECT_NE(err.find("RESOURCE_EXHAUSTED: subscriber too slow"), std::string::npos) << err;
  EXPECT_NE(err.find("--cursor=c-trailer"), std::string::npos) << err;
}

TEST_F(CommandsTest, RefusedCallsShowTheStatusName) {
  stream_.end = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no or unknown token");
  EXPECT_EQ(Run(earshot::v1::STREAM_TOPIC_ROUTED, Stream()), kExitError);
  EXPECT_NE(err_.Text().find("UNAUTHENTICATED: no or unknown token (no token: pass --token or "
                             "set EARSHOT_TOKEN)"),
            std::string::npos)
      << err_.Text();
}

TEST_F(CommandsTest, CtrlCEndsTheStreamCleanly) {
  stream_.script = {Routed(1, "c1")};
  stream_.hold = true;
  Canceller c;
  std::thread stopper([&c] {
    absl::SleepFor(absl::Milliseconds(300));
    c.Cancel();
  });
  EXPECT_EQ(RunStream(earshot::v1::STREAM_TOPIC_ROUTED, Stream(), Io{out_.file(), err_.file()}, &c),
            kExitOk);
  stopper.join();
  EXPECT_EQ(err_.Text(), "cursor: c1\n");
}

TEST_F(CommandsTest, BadFiltersAreUsageErrors) {
  StreamArgs a = Stream();
  a.kinds = {"tweet"};
  EXPECT_EQ(Run(earshot::v1::STREAM_TOPIC_ROUTED, a), kExitUsage);
  EXPECT_NE(err_.Text().find("unknown kind \"tweet\" (known: mention, comment"), std::string::npos)
      << err_.Text();
}

TEST(BuildSubscribeRequestTest, StartPoints) {
  StreamArgs a;
  const absl::Time now = absl::FromUnixSeconds(1795400000);
  auto r = BuildSubscribeRequest(a, earshot::v1::STREAM_TOPIC_ROUTED, now);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->latest());
  a.from = "2026-11-23T02:00:00.5Z";
  r = BuildSubscribeRequest(a, earshot::v1::STREAM_TOPIC_ROUTED, now);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->time().seconds(), 1795399200);
  EXPECT_EQ(r->time().nanos(), 500000000);
  a.from = "-10m";
  r = BuildSubscribeRequest(a, earshot::v1::STREAM_TOPIC_ROUTED, now);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->time().seconds(), 1795400000 - 600);
  a.from = "yesterday";
  EXPECT_FALSE(BuildSubscribeRequest(a, earshot::v1::STREAM_TOPIC_ROUTED, now).ok());
  a.from = "earliest";
  a.cursor = "c";
  EXPECT_FALSE(BuildSubscribeRequest(a, earshot::v1::STREAM_TOPIC_ROUTED, now).ok());
  a = StreamArgs();
  a.kinds = {"mention"};
  EXPECT_TRUE(BuildSubscribeRequest(a, earshot::v1::STREAM_TOPIC_ROUTED, now).ok());
  EXPECT_FALSE(BuildSubscribeRequest(a, earshot::v1::STREAM_TOPIC_ALERTS, now).ok());
  a = StreamArgs();
  a.min_priority = "critical";
  EXPECT_FALSE(BuildSubscribeRequest(a, earshot::v1::STREAM_TOPIC_ALERTS, now).ok());
}

TEST_F(CommandsTest, ThreadGetListResolve) {
  ThreadArgs a;
  a.connect.addr = "127.0.0.1:" + std::to_string(port_);
  const Io io{out_.file(), err_.file()};
  EXPECT_EQ(RunThread({"get", "x:1:u:7"}, a, io), kExitOk);
  EXPECT_NE(out_.Text().find("status        answered"), std::string::npos) << out_.Text();

  EXPECT_EQ(RunThread({"get", "x:1:u:8"}, a, io), kExitError);
  EXPECT_NE(err_.Text().find("NOT_FOUND: thread x:1:u:8 not found"), std::string::npos);

  a.queue = "care-en";
  a.status = "answered";
  a.page_size = 2;
  EXPECT_EQ(RunThread({"list"}, a, io), kExitOk);
  EXPECT_NE(out_.Text().find("x:1:u:1  awaiting_reply"), std::string::npos) << out_.Text();
  EXPECT_NE(err_.Text().find("more: --page-token=page2"), std::string::npos);
  EXPECT_EQ(threads_.last_list.queue(), "care-en");
  EXPECT_EQ(threads_.last_list.status(), earshot::v1::THREAD_STATUS_ANSWERED);
  EXPECT_EQ(threads_.last_list.page_size(), 2);

  EXPECT_EQ(RunThread({"resolve", "x:1:u:7"}, a, io), kExitUsage);  // no --reason
  a.reason = "answered by phone";
  a.actor = "ana";
  EXPECT_EQ(RunThread({"resolve", "x:1:u:7"}, a, io), kExitOk);
  EXPECT_NE(out_.Text().find("resolved x:1:u:7 (control event control:1)"), std::string::npos);
  EXPECT_EQ(threads_.last_resolve.reason(), "answered by phone");
  EXPECT_EQ(threads_.last_resolve.actor(), "ana");

  EXPECT_EQ(RunThread({"close", "x"}, a, io), kExitUsage);
  EXPECT_EQ(RunThread({"get"}, a, io), kExitUsage);
  a.status = "open";
  EXPECT_EQ(RunThread({"list"}, a, io), kExitUsage);
}

TEST_F(CommandsTest, EraseNeverEchoesTheCustomer) {
  ThreadArgs a;
  a.connect.addr = "127.0.0.1:" + std::to_string(port_);
  const Io io{out_.file(), err_.file()};
  EXPECT_EQ(RunErase({}, a, io), kExitUsage);  // no --customer
  a.customer = "whatsapp:4915112345678";
  EXPECT_EQ(RunErase({"x"}, a, io), kExitUsage);  // no operands
  a.reason = "ticket 4711";
  EXPECT_EQ(RunErase({}, a, io), kExitOk);
  EXPECT_NE(out_.Text().find("erasing 2 threads (audit record erase-1)"), std::string::npos);
  EXPECT_EQ(out_.Text().find("4915112345678"), std::string::npos);
  EXPECT_EQ(threads_.last_erase.customer(), "whatsapp:4915112345678");
  EXPECT_EQ(threads_.last_erase.reason(), "ticket 4711");
  a.json = true;
  EXPECT_EQ(RunErase({}, a, io), kExitOk);
  EXPECT_NE(out_.Text().find(R"({"threadsErased":2,"auditId":"erase-1"})"), std::string::npos)
      << out_.Text();
  a.customer = "fax:1";
  EXPECT_EQ(RunErase({}, a, io), kExitError);
  EXPECT_NE(err_.Text().find("INVALID_ARGUMENT"), std::string::npos);
}

TEST(ReplayCommandTest, RatesAndUsage) {
  EXPECT_EQ(*ParseRate(""), 0);
  EXPECT_EQ(*ParseRate("50"), 50);
  EXPECT_EQ(*ParseRate("50/s"), 50);
  EXPECT_EQ(*ParseRate("600/m"), 10);
  EXPECT_DOUBLE_EQ(*ParseRate("0.5/s"), 0.5);
  EXPECT_FALSE(ParseRate("fast").ok());
  EXPECT_FALSE(ParseRate("5/d").ok());

  Captured out, err;
  Canceller c;
  const Io io{out.file(), err.file()};
  ReplayArgs a;
  EXPECT_EQ(RunReplay({}, a, io, &c), kExitUsage);
  EXPECT_EQ(RunReplay({"/nonexistent.jsonl"}, a, io, &c), kExitUsage);
  EXPECT_NE(err.Text().find("cannot read /nonexistent.jsonl"), std::string::npos);

  // A recording that needs a secret the config does not have: refused before sending.
  const std::string file = ::testing::TempDir() + "/one.jsonl";
  std::ofstream(file) << R"({"platform":"telegram","body":{"update_id":1}})"
                      << "\n";
  a.gateway = "http://127.0.0.1:1";
  EXPECT_EQ(RunReplay({file}, a, io, &c), kExitUsage);
  EXPECT_NE(err.Text().find("telegram.secret_token is not set"), std::string::npos) << err.Text();
}

TEST(ReplayCommandTest, Summary) {
  replay::Summary s;
  s.total = 15;
  s.sent = 15;
  s.status_2xx = 14;
  s.status_4xx = 1;
  s.events_accepted = 14;
  s.elapsed = absl::Seconds(25);
  s.latency_p50 = absl::Microseconds(3200);
  s.latency_p99 = absl::Microseconds(12100);
  s.latency_max = absl::Microseconds(12100);
  EXPECT_EQ(FormatSummary(s, "scenario.jsonl", "http://127.0.0.1:8080"),
            "replayed 15 of 15 requests from scenario.jsonl to http://127.0.0.1:8080 in 25.0s "
            "(0.6/s)\n"
            "  answers   2xx 14  3xx 0  4xx 1  5xx 0  no answer 0\n"
            "  gateway   events accepted 14, parts ignored 0, dead-lettered 0\n"
            "  latency   p50 3.2ms  p99 12.1ms  max 12.1ms\n");
}

}  // namespace
}  // namespace earshot::ctl
