// The router end to end: signed webhooks into the gateway, the router on the embedded broker,
// routed events read back from earshot.routed.v1, thread state through gRPC Threads.
#include <filesystem>
#include <fstream>

#include "earshot/v1/ingest.grpc.pb.h"
#include "earshot/v1/routing.pb.h"
#include "earshot/v1/threads.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/router/router_app.h"
#include "tests/integration/stack.h"

namespace earshot {
namespace {

using earshot::testing::ReadFixture;
using earshot::testing::TestStack;
using earshot::v1::RoutedEvent;

const std::string kRulesConfig = std::string("router: {rules_file: \"") + EARSHOT_FIXTURES_DIR +
                                 "/../../config/rules.example.yaml\"}\n";

class RouterIntegrationTest : public ::testing::Test {
 protected:
  RouterIntegrationTest() : stack_(kRulesConfig) {
    auto* router = static_cast<router::RouterApp*>(stack_.process().service("router"));
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (router->OwnedPartitions().size() < 4 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_EQ(router->OwnedPartitions().size(), 4u) << "router never got its partitions";
    stub_ = earshot::v1::Threads::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(stack_.process().grpc_port()),
                            grpc::InsecureChannelCredentials()));
  }

  std::vector<RoutedEvent> Routed(size_t want) {
    std::vector<RoutedEvent> out;
    for (const auto& m : stack_.ReadTopic("earshot.routed.v1", want)) {
      RoutedEvent r;
      EXPECT_TRUE(r.ParseFromString(m.value));
      EXPECT_EQ(m.key, r.event().thread_key());
      out.push_back(std::move(r));
    }
    return out;
  }

  grpc::Status GetThread(const std::string& key, earshot::v1::Thread* out) {
    grpc::ClientContext ctx;
    earshot::v1::GetThreadRequest req;
    req.set_thread_key(key);
    return stub_->GetThread(&ctx, req, out);
  }

  // Polls GetThread until `pred` holds (the router applies asynchronously).
  earshot::v1::Thread WaitThread(const std::string& key,
                                 const std::function<bool(const earshot::v1::Thread&)>& pred) {
    earshot::v1::Thread t;
    const absl::Time deadline = absl::Now() + absl::Seconds(15);
    while (absl::Now() < deadline) {
      t.Clear();
      if (GetThread(key, &t).ok() && pred(t)) return t;
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << "thread " << key
                  << " never reached the expected state: " << t.ShortDebugString();
    return t;
  }

  TestStack stack_;
  std::unique_ptr<earshot::v1::Threads::Stub> stub_;
};

constexpr char kFbThread[] = "fb:105550000000001:c:901234567890123_1122334455667788";
constexpr char kWaThread[] = "wa:410000000000222:4915112345678";

TEST_F(RouterIntegrationTest, DuplicatesDroppedThreadsFollowRepliesAndRoutingApplies) {
  const std::string comment = ReadFixture("meta/fb_comment.json");
  ASSERT_EQ(stack_.PostMeta(comment).status, 200);
  ASSERT_EQ(stack_.PostMeta(comment).status, 200);  // the platform's redelivery
  ASSERT_EQ(stack_.PostMeta(ReadFixture("meta/wa_text.json")).status, 200);
  ASSERT_EQ(stack_.PostMeta(ReadFixture("meta/fb_page_reply.json")).status, 200);

  auto routed = Routed(3);
  ASSERT_EQ(routed.size(), 3u) << "the redelivered comment must be dropped";
  std::map<std::string, RoutedEvent> by_id;
  for (auto& r : routed) by_id[r.event().event_id()] = r;
  const auto& customer = by_id.at("fb:901234567890123_1122334455667788");
  EXPECT_EQ(customer.thread().status(), earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  EXPECT_TRUE(customer.decision().is_question());  // "Is the spring sale also valid in stores?"
  EXPECT_FALSE(customer.decision().queue().empty());
  EXPECT_FALSE(customer.decision().ignore());
  const auto& reply = by_id.at("fb:901234567890123_1122334455669999");
  EXPECT_EQ(reply.thread().thread_key(), kFbThread);
  EXPECT_EQ(reply.thread().status(), earshot::v1::THREAD_STATUS_ANSWERED);
  EXPECT_TRUE(reply.decision().ignore());  // the brand's own message starts no clock
  EXPECT_EQ(reply.thread().message_count(), 2);

  auto fb = WaitThread(
      kFbThread, [](const auto& t) { return t.status() == earshot::v1::THREAD_STATUS_ANSWERED; });
  EXPECT_EQ(fb.last_outbound().seconds(), 1741170395);
  auto wa = WaitThread(kWaThread, [](const auto& t) {
    return t.status() == earshot::v1::THREAD_STATUS_AWAITING_REPLY;
  });
  EXPECT_EQ(wa.oldest_unanswered().seconds(), 1741173000);
  EXPECT_EQ(wa.unanswered_count(), 1);

  // Only the WhatsApp customer waits.
  grpc::ClientContext ctx;
  earshot::v1::ListThreadsRequest req;
  earshot::v1::ListThreadsResponse resp;
  ASSERT_TRUE(stub_->ListThreads(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.threads_size(), 1);
  EXPECT_EQ(resp.threads(0).thread_key(), kWaThread);
}

// Threads in three queues (the example rules: English desk, German desk by default, escalation
// for cancellations), waiting since distinct times. A listing of every queue, page by page,
// shows each waiting thread once, oldest first; a queue's listing shows exactly its threads.
TEST_F(RouterIntegrationTest, ListThreadsPagesEveryQueueOldestFirst) {
  auto ingest = earshot::v1::Ingest::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(stack_.process().grpc_port()),
                          grpc::InsecureChannelCredentials()));
  constexpr int kThreads = 12;
  earshot::v1::PublishRequest publish;
  for (int i = 0; i < kThreads; ++i) {
    earshot::v1::Event* e = publish.add_events();
    e->set_event_id("gen:list:" + std::to_string(i));
    e->set_platform(earshot::v1::PLATFORM_GENERIC);
    e->set_account_id("list");
    e->set_thread_key("gen:list:t" + std::to_string(i));
    e->set_message_id("m" + std::to_string(i));
    e->set_direction(earshot::v1::DIRECTION_INBOUND);
    e->set_kind(earshot::v1::KIND_COMMENT);
    // Published newest first, so that listing order is not publishing order.
    e->mutable_created_at()->set_seconds(1741170000 + 60 * (kThreads - i));
    switch (i % 3) {
      case 0:
        e->set_lang("en");
        e->set_text("Lovely colours this season");
        break;
      case 1:
        e->set_text("Ok");
        break;
      case 2:
        e->set_text("I want to cancel my order right now");
        break;
    }
  }
  grpc::ClientContext publish_ctx;
  earshot::v1::PublishResponse published;
  ASSERT_TRUE(ingest->Publish(&publish_ctx, publish, &published).ok());
  ASSERT_EQ(Routed(kThreads).size(), static_cast<size_t>(kThreads));

  // Where each thread went, and the order a listing must give.
  std::map<std::string, std::vector<std::string>> by_queue;
  std::vector<std::pair<int64_t, std::string>> oldest_first;
  for (int i = 0; i < kThreads; ++i) {
    const std::string key = "gen:list:t" + std::to_string(i);
    auto t = WaitThread(
        key, [](const auto& t) { return t.status() == earshot::v1::THREAD_STATUS_AWAITING_REPLY; });
    by_queue[t.queue()].push_back(key);
    oldest_first.emplace_back(t.oldest_unanswered().seconds(), key);
  }
  ASSERT_EQ(by_queue.size(), 3u) << "the fixture meant three queues";
  EXPECT_EQ(by_queue.count("escalation"), 1u);
  std::sort(oldest_first.begin(), oldest_first.end());

  auto list_all = [&](const std::string& queue, int page_size) {
    std::vector<std::string> keys;
    std::string token;
    for (int pages = 0; pages < 20; ++pages) {
      grpc::ClientContext ctx;
      earshot::v1::ListThreadsRequest req;
      req.set_queue(queue);
      req.set_page_size(page_size);
      req.set_page_token(token);
      earshot::v1::ListThreadsResponse resp;
      EXPECT_TRUE(stub_->ListThreads(&ctx, req, &resp).ok());
      EXPECT_LE(resp.threads_size(), page_size);
      for (const auto& t : resp.threads()) keys.push_back(t.thread_key());
      token = resp.next_page_token();
      if (token.empty()) break;
    }
    return keys;
  };
  std::vector<std::string> want;
  for (const auto& [at, key] : oldest_first) want.push_back(key);
  EXPECT_EQ(list_all("", 5), want);
  EXPECT_EQ(list_all("", 100), want);
  for (const auto& [queue, keys] : by_queue) {
    std::vector<std::string> listed = list_all(queue, 2);
    std::vector<std::string> sorted_listed = listed;
    std::sort(sorted_listed.begin(), sorted_listed.end());
    std::vector<std::string> expected = keys;
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(sorted_listed, expected) << "queue " << queue;
    std::vector<std::string> in_order;
    for (const auto& key : want) {
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) in_order.push_back(key);
    }
    EXPECT_EQ(listed, in_order) << "queue " << queue;
  }
}

TEST_F(RouterIntegrationTest, ResolveThroughGrpcIsAppliedInOrder) {
  ASSERT_EQ(stack_.PostMeta(ReadFixture("meta/wa_text.json")).status, 200);
  WaitThread(kWaThread,
             [](const auto& t) { return t.status() == earshot::v1::THREAD_STATUS_AWAITING_REPLY; });
  grpc::ClientContext ctx;
  earshot::v1::ResolveRequest req;
  req.set_thread_key(kWaThread);
  req.set_reason("answered by phone");
  req.set_actor("agent-7");
  earshot::v1::ResolveResponse resp;
  auto st = stub_->Resolve(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(resp.event_id().empty());
  auto t = WaitThread(
      kWaThread, [](const auto& t) { return t.status() == earshot::v1::THREAD_STATUS_RESOLVED; });
  EXPECT_EQ(t.resolve_reason(), "answered by phone");
  auto routed = Routed(2);
  ASSERT_EQ(routed.size(), 2u);
  EXPECT_EQ(routed[1].event().event_id(), resp.event_id());
  EXPECT_EQ(routed[1].event().kind(), earshot::v1::KIND_CONTROL);
}

TEST_F(RouterIntegrationTest, ClearErrorsForUnknownThreads) {
  earshot::v1::Thread t;
  auto st = GetThread("wa:410000000000222:0000000000", &t);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetThread("", &t).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext ctx;
  earshot::v1::ResolveRequest req;
  req.set_thread_key("x:1:u:2");
  earshot::v1::ResolveResponse resp;
  EXPECT_EQ(stub_->Resolve(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace earshot

namespace earshot {
namespace {

// Rules reloaded on SIGHUP (Process::Reload): the next event uses the new file; a broken file
// is refused and the old rules stay.
TEST(RouterReloadTest, NewRulesApplyToTheNextEventAndBadFilesAreRefused) {
  const std::string path = ::testing::TempDir() + "/reload-rules.yaml";
  auto write = [&](const std::string& queue) {
    std::ofstream(path) << "rules:\n  - name: everything\n    then: {queue: " << queue << "}\n";
  };
  write("first-queue");
  testing::TestStack stack("router: {rules_file: \"" + path + "\"}\n");
  ASSERT_EQ(stack.PostMeta(testing::ReadFixture("meta/wa_text.json")).status, 200);
  auto first = stack.ReadTopic("earshot.routed.v1", 1);
  ASSERT_EQ(first.size(), 1u);

  write("second-queue");
  stack.process().Reload();
  ASSERT_EQ(stack.PostMeta(testing::ReadFixture("meta/messenger_message.json")).status, 200);
  std::ofstream(path) << "rules:\n  - name: broken\n    when: {folowers_min: 3}\n";
  stack.process().Reload();
  ASSERT_EQ(stack.PostMeta(testing::ReadFixture("meta/ig_dm.json")).status, 200);

  std::map<std::string, std::string> queue_by_event;
  for (const auto& m : stack.ReadTopic("earshot.routed.v1", 3)) {
    earshot::v1::RoutedEvent r;
    ASSERT_TRUE(r.ParseFromString(m.value));
    queue_by_event[r.event().event_id()] = r.decision().queue();
  }
  EXPECT_EQ(queue_by_event["wa:wamid.RVhBTVBMRV9JTkJPVU5EXzAwMDE="], "first-queue");
  EXPECT_EQ(queue_by_event["fbm:m_Qk9fZXhhbXBsZV9taWRfMDAx"], "second-queue");
  EXPECT_EQ(queue_by_event["igm:aWdfZXhhbXBsZV9taWRfMTIz"], "second-queue");
  EXPECT_NE(stack.Metrics().find("earshot_router_rules 1"), std::string::npos);
}

TEST(RouterReloadTest, AnEditedRulesFileTakesEffectWithoutASignal) {
  // As Kubernetes updates a mounted ConfigMap: the new file is written aside and renamed over.
  const std::string path = ::testing::TempDir() + "/watched-rules.yaml";
  auto write = [&](const std::string& queue, int rules) {
    std::ofstream out(path + ".new");
    out << "rules:\n";
    for (int i = 1; i < rules; ++i) {
      out << "  - name: unused-" << i << "\n    when: {keywords: [\"zzz" << i
          << "\"]}\n    then: {queue: unused}\n";
    }
    out << "  - name: everything\n    then: {queue: " << queue << "}\n";
    out.close();
    std::filesystem::rename(path + ".new", path);
  };
  write("before-edit", 1);
  testing::TestStack stack("router: {rules_file: \"" + path +
                           "\"}\nreload: {watch_interval: 100ms}\n");
  ASSERT_NE(stack.Metrics().find("earshot_router_rules 1"), std::string::npos);
  write("after-edit", 3);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (stack.Metrics().find("earshot_router_rules 3") == std::string::npos &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_NE(stack.Metrics().find("earshot_router_rules 3"), std::string::npos)
      << "the edited rules file was not reloaded";
  ASSERT_EQ(stack.PostMeta(testing::ReadFixture("meta/wa_text.json")).status, 200);
  auto routed = stack.ReadTopic("earshot.routed.v1", 1);
  ASSERT_EQ(routed.size(), 1u);
  earshot::v1::RoutedEvent r;
  ASSERT_TRUE(r.ParseFromString(routed[0].value));
  EXPECT_EQ(r.decision().queue(), "after-edit");
}

}  // namespace
}  // namespace earshot
