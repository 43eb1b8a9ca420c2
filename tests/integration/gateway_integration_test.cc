// The gateway end to end: real HTTP requests on real sockets, the embedded Kafka-protocol
// broker, a real Kafka consumer reading back what was acknowledged.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/synchronization/notification.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"
#include "earshot/v1/ingest.grpc.pb.h"
#include "fmt/format.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "services/gateway/normalize.h"
#include "tests/integration/stack.h"

namespace earshot {
namespace {

using earshot::testing::ReadFixture;
using earshot::testing::TestStack;
using earshot::v1::Event;

struct Case {
  std::string platform;  // x | meta | telegram
  std::string fixture;
  // Canonical fields a user relies on, written out by hand from the payload.
  std::string event_id;
  std::string thread_key;
  earshot::v1::Direction direction;
  earshot::v1::Kind kind;
};

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"x", "x/mention_reply.json", "x:4000000001:1896871234567890123", "x:4000000001:u:7777001",
       earshot::v1::DIRECTION_INBOUND, earshot::v1::KIND_REPLY},
      {"x", "x/brand_reply.json", "x:4000000001:1896872640000000777", "x:4000000001:u:7777001",
       earshot::v1::DIRECTION_OUTBOUND, earshot::v1::KIND_REPLY},
      {"x", "x/dm_incoming.json", "x:4000000001:dm:1896890000000001111", "x:4000000001:dm:7777001",
       earshot::v1::DIRECTION_INBOUND, earshot::v1::KIND_DIRECT_MESSAGE},
      {"meta", "meta/fb_comment.json", "fb:901234567890123_1122334455667788",
       "fb:105550000000001:c:901234567890123_1122334455667788", earshot::v1::DIRECTION_INBOUND,
       earshot::v1::KIND_COMMENT},
      {"meta", "meta/fb_page_reply.json", "fb:901234567890123_1122334455669999",
       "fb:105550000000001:c:901234567890123_1122334455667788", earshot::v1::DIRECTION_OUTBOUND,
       earshot::v1::KIND_REPLY},
      {"meta", "meta/messenger_message.json", "fbm:m_Qk9fZXhhbXBsZV9taWRfMDAx",
       "fbm:105550000000001:7300000000000042", earshot::v1::DIRECTION_INBOUND,
       earshot::v1::KIND_DIRECT_MESSAGE},
      {"meta", "meta/messenger_echo.json", "fbm:m_Qk9fZXhhbXBsZV9taWRfMDAy",
       "fbm:105550000000001:7300000000000042", earshot::v1::DIRECTION_OUTBOUND,
       earshot::v1::KIND_DIRECT_MESSAGE},
      {"meta", "meta/ig_comment.json", "ig:18012345678900001",
       "fb:17841400000000001:c:18012345678900001", earshot::v1::DIRECTION_INBOUND,
       earshot::v1::KIND_COMMENT},
      {"meta", "meta/ig_dm.json", "igm:aWdfZXhhbXBsZV9taWRfMTIz",
       "igm:17841400000000001:6200000000000077", earshot::v1::DIRECTION_INBOUND,
       earshot::v1::KIND_DIRECT_MESSAGE},
      {"meta", "meta/wa_text.json",
       "wa:wamid.RVhBTVBMRV9JTkJPVU5EXzAwMDE=", "wa:410000000000222:4915112345678",
       earshot::v1::DIRECTION_INBOUND, earshot::v1::KIND_DIRECT_MESSAGE},
      {"meta", "meta/wa_status_read.json", "wa:wamid.RVhBTVBMRV9PVVRCT1VORF8wMDEw:read",
       "wa:410000000000222:4915112345678", earshot::v1::DIRECTION_OUTBOUND,
       earshot::v1::KIND_STATUS},
      {"telegram", "telegram/private_reply.json", "tg:7000000001:5123456789:2817",
       "tg:7000000001:5123456789", earshot::v1::DIRECTION_INBOUND,
       earshot::v1::KIND_DIRECT_MESSAGE},
  };
  return cases;
}

class GatewayIntegrationTest : public ::testing::Test {
 protected:
  http::ClientResponse Send(const Case& c, const std::string& body) {
    if (c.platform == "x") return stack_.PostX(body);
    if (c.platform == "meta") return stack_.PostMeta(body);
    return stack_.PostTelegram(body);
  }
  TestStack stack_;
};

TEST_F(GatewayIntegrationTest, EveryPlatformBecomesExactCanonicalEventsInKafka) {
  std::map<std::string, Event> expected;  // by event_id, from the normaliser on the same bytes
  for (const Case& c : Cases()) {
    const std::string body = ReadFixture(c.fixture);
    auto r = Send(c, body);
    ASSERT_EQ(r.status, 200) << c.fixture << ": " << r.body;
    gateway::RequestContext ctx{absl::Now(), c.platform == "telegram" ? testing::kTelegramBot : ""};
    auto n = c.platform == "x"      ? gateway::NormalizeX(body, ctx)
             : c.platform == "meta" ? gateway::NormalizeMeta(body, ctx)
                                    : gateway::NormalizeTelegram(body, ctx);
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_EQ(n->events.size(), 1u) << c.fixture;
    expected[n->events[0].event_id()] = n->events[0];
  }
  auto messages = stack_.ReadTopic("earshot.events.v1", Cases().size());
  ASSERT_EQ(messages.size(), Cases().size());
  std::map<std::string, std::pair<Event, kafka::Message>> got;
  for (const auto& m : messages) {
    Event e;
    ASSERT_TRUE(e.ParseFromString(m.value));
    got[e.event_id()] = {e, m};
  }
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.fixture);
    ASSERT_EQ(got.count(c.event_id), 1u) << "event " << c.event_id << " not in Kafka";
    const auto& [event, message] = got[c.event_id];
    EXPECT_EQ(event.thread_key(), c.thread_key);
    EXPECT_EQ(message.key, c.thread_key);
    EXPECT_EQ(event.direction(), c.direction);
    EXPECT_EQ(event.kind(), c.kind);
    EXPECT_EQ(message.header("ce_id"), c.event_id);
    EXPECT_EQ(message.header("ce_specversion"), "1.0");
    EXPECT_EQ(message.header("ce_type"), "earshot.v1.Event");
    EXPECT_EQ(message.header("content-type"), "application/protobuf");
    EXPECT_GT(event.received_at().seconds(), 1700000000);
    // Apart from the gateway's receive time, the event in Kafka is exactly the normalised one.
    Event want = expected[c.event_id];
    want.clear_received_at();
    Event have = event;
    have.clear_received_at();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(want, have))
        << "want " << want.ShortDebugString() << "\nhave " << have.ShortDebugString();
  }
  // Every request is also kept raw, with its exact bytes, under its request id (ce_id) and
  // without a key: raw requests belong to no one thread.
  std::multiset<std::string> sent, kept;
  for (const Case& c : Cases()) sent.insert(ReadFixture(c.fixture));
  auto raws = stack_.ReadTopic("earshot.raw.v1", Cases().size());
  ASSERT_EQ(raws.size(), Cases().size());
  for (const auto& m : raws) {
    earshot::v1::RawWebhook raw;
    ASSERT_TRUE(raw.ParseFromString(m.value));
    EXPECT_TRUE(m.key.empty()) << m.key;
    EXPECT_FALSE(raw.request_id().empty());
    EXPECT_EQ(m.header("ce_id"), raw.request_id());
    EXPECT_EQ(m.header("ce_type"), "earshot.v1.RawWebhook");
    kept.insert(raw.body());
  }
  EXPECT_EQ(kept, sent);
}

TEST_F(GatewayIntegrationTest, RedeliveryYieldsTheSameEventId) {
  const std::string body = ReadFixture("meta/fb_comment.json");
  ASSERT_EQ(stack_.PostMeta(body).status, 200);
  ASSERT_EQ(stack_.PostMeta(body).status, 200);
  auto events = TestStack::Events(stack_.ReadTopic("earshot.events.v1", 2));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event_id(), events[1].event_id());
  EXPECT_EQ(events[0].thread_key(), events[1].thread_key());
}

TEST_F(GatewayIntegrationTest, GenericSourceSignedEvent) {
  const std::string body =
      R"({"id":"rev-991","thread_id":"review-991","kind":"review","text":"Kettle broke after a week","author":{"id":"u-5","name":"M. Ortiz"},"created_at":"2025-03-05T08:10:00Z","rating":2})";
  auto r = stack_.PostGeneric("reviews", body, "msg_1");
  ASSERT_EQ(r.status, 200) << r.body;
  auto events = TestStack::Events(stack_.ReadTopic("earshot.events.v1", 1));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event_id(), "gen:reviews:rev-991");
  EXPECT_EQ(events[0].thread_key(), "gen:reviews:review-991");
  EXPECT_EQ(events[0].kind(), earshot::v1::KIND_REVIEW);
  EXPECT_EQ(events[0].text(), "Kettle broke after a week");
  EXPECT_EQ(events[0].created_at().seconds(), 1741162200);
}

// A Meta app secret rotated the way a Kubernetes Secret update does it: the mounted file
// (EARSHOT_META_APP_SECRET_FILE) is swapped while the gateway runs. A platform that signs with
// the old secret is never refused until the overlap ends, one that signs with the new secret is
// accepted once the file watch saw it, and every 200 answered was written.
TEST(GatewaySecretRotationTest, OldAndNewSecretsOverlapThenOnlyTheNewPasses) {
  testing::TestFolder dir("earshot-secrets");
  const std::string file = dir.path() + "/app_secret";
  auto write = [&](const std::string& secret) {
    const std::string tmp = file + ".new";
    std::ofstream(tmp) << secret << "\n";
    std::filesystem::rename(tmp, file);  // atomic, as the kubelet swaps a Secret's files
  };
  write("secret-one");
  const absl::Duration overlap = absl::Seconds(3);
  testing::StackOptions options;
  options.extra_config = "reload: {watch_interval: 100ms}\ngateway: {secret_overlap: 3s}\n";
  options.env["EARSHOT_META_APP_SECRET_FILE"] = file;
  TestStack stack(options);
  const std::string body = testing::ReadFixture("meta/fb_comment.json");
  int accepted = 0;
  auto post = [&](const std::string& secret) {
    auto r = stack.Post("/webhooks/meta", body,
                        {{"X-Hub-Signature-256", gateway::MetaSignature(body, secret)}});
    accepted += r.status == 200;
    return r.status;
  };
  ASSERT_EQ(post("secret-one"), 200);
  ASSERT_EQ(post("secret-two"), 401);

  write("secret-two");
  const absl::Time written = absl::Now();
  // Until the watch rotates, the old secret is the one in use; from then on both pass.
  bool rotated = false;
  while (!rotated && absl::Now() < written + absl::Seconds(5)) {
    ASSERT_EQ(post("secret-one"), 200) << "the old secret was refused before the overlap ended";
    rotated = post("secret-two") == 200;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(rotated) << "the new secret was not taken within 5 s";
  const absl::Time overlap_ends_no_earlier = written + overlap;
  while (absl::Now() + absl::Milliseconds(300) < overlap_ends_no_earlier) {
    ASSERT_EQ(post("secret-one"), 200) << "the old secret was refused inside the overlap";
    ASSERT_EQ(post("secret-two"), 200);
    absl::SleepFor(absl::Milliseconds(50));
  }
  // The overlap counts from the rotation, at most one watch interval and a reload after the
  // write.
  absl::SleepFor(overlap_ends_no_earlier + absl::Seconds(1) - absl::Now());
  EXPECT_EQ(post("secret-one"), 401);
  EXPECT_EQ(post("secret-two"), 200);
  EXPECT_EQ(stack.ReadTopic("earshot.events.v1", accepted).size(), static_cast<size_t>(accepted));
}

TEST_F(GatewayIntegrationTest, BadInputGetsItsAnswerAndProducesNothing) {
  const std::string body = ReadFixture("meta/fb_comment.json");
  // 401: wrong and missing signatures, on every platform.
  EXPECT_EQ(
      stack_.Post("/webhooks/meta", body, {{"X-Hub-Signature-256", "sha256=deadbeef"}}).status,
      401);
  EXPECT_EQ(stack_.Post("/webhooks/meta", body, {}).status, 401);
  EXPECT_EQ(
      stack_.Post("/webhooks/x", body, {{"x-twitter-webhooks-signature", "sha256=AAAA"}}).status,
      401);
  EXPECT_EQ(
      stack_.Post("/webhooks/telegram", body, {{"X-Telegram-Bot-Api-Secret-Token", "no"}}).status,
      401);
  EXPECT_EQ(stack_.Post("/webhooks/generic/reviews", body, {}).status, 401);
  // 400: signed, but not JSON.
  auto bad = stack_.PostMeta("{\"object\": \"page\", \"entry\": [");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("\"error\""), std::string::npos);
  // 415: signed JSON with the wrong content type.
  {
    http::Client client("127.0.0.1", stack_.http_port());
    auto r =
        client.Send("POST", "/webhooks/meta", body,
                    {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"X-Hub-Signature-256", gateway::MetaSignature(body, testing::kMetaSecret)}});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 415);
  }
  // 413: over the configured 2 MiB, refused before the body is read.
  {
    http::Client client("127.0.0.1", stack_.http_port());
    auto r = client.Send("POST", "/webhooks/meta", std::string(3 << 20, 'x'),
                         {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 413);
  }
  // A valid request afterwards still works, and is the only thing in Kafka.
  ASSERT_EQ(stack_.PostMeta(body).status, 200);
  EXPECT_EQ(stack_.ReadTopic("earshot.events.v1", 1).size(), 1u);
  EXPECT_EQ(stack_.ReadTopic("earshot.raw.v1", 1).size(), 1u);
  EXPECT_EQ(stack_.ReadTopic("earshot.deadletter.v1", 0, absl::Seconds(1)).size(), 0u);
  const std::string metrics = stack_.Metrics();
  EXPECT_NE(metrics.find("earshot_gateway_signature_failures_total{platform=\"meta\"} 2"),
            std::string::npos);
  EXPECT_NE(metrics.find("earshot_gateway_requests_total{code=\"401\",platform=\"meta\"} 2"),
            std::string::npos);
}

TEST_F(GatewayIntegrationTest, UnknownShapeIsAcknowledgedAndDeadLettered) {
  const std::string body =
      R"({"object":"page","entry":[{"id":"1","time":1,"changes":[{"field":"ratings","value":{"reviewer_id":"9"}}]}]})";
  ASSERT_EQ(stack_.PostMeta(body).status, 200);
  auto dead = stack_.ReadTopic("earshot.deadletter.v1", 1);
  ASSERT_EQ(dead.size(), 1u);
  earshot::v1::DeadLetter dl;
  ASSERT_TRUE(dl.ParseFromString(dead[0].value));
  EXPECT_EQ(dl.raw().body(), body);
  EXPECT_FALSE(dl.reason().empty());
  EXPECT_EQ(dead[0].header("earshot_reason"), dl.reason());
  EXPECT_EQ(dead[0].header("ce_id"), dl.raw().request_id());
  EXPECT_TRUE(dead[0].key.empty()) << dead[0].key;
  EXPECT_EQ(stack_.ReadTopic("earshot.events.v1", 0, absl::Seconds(1)).size(), 0u);
}

TEST_F(GatewayIntegrationTest, KafkaDownMeans503AndNotReadyThenRecovers) {
  if (testing::TestKafka::Real()) {
    GTEST_SKIP() << "the embedded broker's outage; kafka_failure_test stops a real cluster";
  }
  const std::string body = ReadFixture("meta/wa_text.json");
  stack_.process().embedded_broker()->SetAllDown(true);
  ASSERT_TRUE(stack_.WaitReady(false, absl::Seconds(15))) << "/readyz stayed 200";
  auto down = stack_.PostMeta(body);
  EXPECT_EQ(down.status, 503);
  EXPECT_FALSE(down.header("Retry-After").empty());

  stack_.process().embedded_broker()->SetAllDown(false);
  ASSERT_TRUE(stack_.WaitReady(true, absl::Seconds(20))) << "/readyz stayed 503";
  auto up = stack_.PostMeta(body);
  EXPECT_EQ(up.status, 200) << up.body;
  auto events = TestStack::Events(stack_.ReadTopic("earshot.events.v1", 1));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event_id(), "wa:wamid.RVhBTVBMRV9JTkJPVU5EXzAwMDE=");
}

TEST_F(GatewayIntegrationTest, MetaBatchOfThousandEntriesInOneRequest) {
  std::string body = R"({"object":"whatsapp_business_account","entry":[)";
  for (int i = 0; i < 1000; ++i) {
    if (i > 0) body += ',';
    body +=
        R"({"id":"300000000000111","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"4930123456789","phone_number_id":"410000000000222"},"contacts":[{"profile":{"name":"C)" +
        std::to_string(i) + R"("},"wa_id":"49151)" + std::to_string(1000000 + i) +
        R"("}],"messages":[{"from":"49151)" + std::to_string(1000000 + i) +
        R"(","id":"wamid.batch)" + std::to_string(i) +
        R"(","timestamp":"1741173000","type":"text","text":{"body":"hallo"}}]}}]})";
  }
  body += "]}";
  auto r = stack_.PostMeta(body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"accepted\":1000"), std::string::npos) << r.body;
  EXPECT_EQ(stack_.ReadTopic("earshot.events.v1", 1000).size(), 1000u);
}

// How a request arrives on the wire is the client's choice: in pieces with pauses between them,
// chunked, or several in one write. Every way gets the same answers; a chunked body over the
// limit gets 413. A plain socket, so each byte goes out exactly as written here.
TEST_F(GatewayIntegrationTest, RequestsArriveInPiecesChunkedOrPipelined) {
  namespace asio = boost::asio;
  namespace bhttp = boost::beast::http;
  const std::string body = ReadFixture("meta/fb_comment.json");
  const std::string head =
      "POST /webhooks/meta HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
      "X-Hub-Signature-256: " +
      gateway::MetaSignature(body, testing::kMetaSecret) + "\r\n";
  const std::string whole =
      head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  asio::io_context ioc;
  auto connect = [&] {
    asio::ip::tcp::socket socket(ioc);
    socket.connect(
        {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(stack_.http_port())});
    return socket;
  };
  boost::beast::flat_buffer buffer;
  auto answer = [&](asio::ip::tcp::socket& socket) {
    bhttp::response<bhttp::string_body> res;
    boost::system::error_code ec;
    bhttp::read(socket, buffer, res, ec);
    EXPECT_FALSE(ec) << ec.message();
    return res;
  };

  // In pieces: the head alone, then the body in two halves, with pauses.
  auto socket = connect();
  const size_t cut = whole.size() - body.size();
  asio::write(socket, asio::buffer(whole.substr(0, cut)));
  absl::SleepFor(absl::Milliseconds(50));
  asio::write(socket, asio::buffer(whole.substr(cut, body.size() / 2)));
  absl::SleepFor(absl::Milliseconds(50));
  asio::write(socket, asio::buffer(whole.substr(cut + body.size() / 2)));
  auto r = answer(socket);
  EXPECT_EQ(r.result_int(), 200) << r.body();

  // Pipelined: two requests in one write on the same connection, answered in order.
  asio::write(socket, asio::buffer(whole + whole));
  EXPECT_EQ(answer(socket).result_int(), 200);
  EXPECT_EQ(answer(socket).result_int(), 200);

  // Chunked, in three chunks.
  const size_t third = body.size() / 3;
  std::string chunked = head + "Transfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < body.size(); at += third) {
    const std::string part = body.substr(at, third);
    chunked += fmt::format("{:x}\r\n{}\r\n", part.size(), part);
  }
  chunked += "0\r\n\r\n";
  asio::write(socket, asio::buffer(chunked));
  EXPECT_EQ(answer(socket).result_int(), 200);
  EXPECT_EQ(stack_.ReadTopic("earshot.raw.v1", 4).size(), 4u);

  // Chunked past the 2 MiB limit, which no Content-Length announced: 413.
  auto big = connect();
  buffer.clear();
  std::string over = head + "Transfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(256 << 10, ' ');
  for (int i = 0; i < 12; ++i) over += fmt::format("{:x}\r\n{}\r\n", chunk.size(), chunk);
  over += "0\r\n\r\n";
  boost::system::error_code ec;
  asio::write(big, asio::buffer(over), ec);  // the server may stop reading once it answered
  EXPECT_EQ(answer(big).result_int(), 413);
}

TEST_F(GatewayIntegrationTest, HandshakesOverRealSockets) {
  http::Client client("127.0.0.1", stack_.http_port());
  auto crc = client.Get("/webhooks/x?crc_token=crc-token-123");
  ASSERT_TRUE(crc.ok());
  EXPECT_EQ(crc->body,
            R"({"response_token":"sha256=m3yscIcSwL62BbDuWy/k/ml4+4Yfj3c0hep3IWko1Ws="})");
  auto hub = client.Get(
      "/webhooks/meta?hub.mode=subscribe&hub.challenge=987654&hub.verify_token=verify-me");
  ASSERT_TRUE(hub.ok());
  EXPECT_EQ(hub->status, 200);
  EXPECT_EQ(hub->body, "987654");
}

TEST_F(GatewayIntegrationTest, GrpcIngestPublishesAfterKafkaAck) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(stack_.process().grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = earshot::v1::Ingest::NewStub(channel);
  earshot::v1::PublishRequest req;
  for (int i = 0; i < 3; ++i) {
    Event* e = req.add_events();
    e->set_event_id("gen:poller:" + std::to_string(i));
    e->set_platform(earshot::v1::PLATFORM_GENERIC);
    e->set_thread_key("gen:poller:t1");
    e->set_direction(earshot::v1::DIRECTION_INBOUND);
    e->set_kind(earshot::v1::KIND_COMMENT);
    e->set_text("polled comment " + std::to_string(i));
  }
  earshot::v1::PublishResponse resp;
  grpc::ClientContext ctx;
  auto st = stub->Publish(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.accepted(), 3);
  auto events = TestStack::Events(stack_.ReadTopic("earshot.events.v1", 3));
  ASSERT_EQ(events.size(), 3u);
  for (const auto& e : events) {
    EXPECT_EQ(e.thread_key(), "gen:poller:t1");
    EXPECT_GT(e.received_at().seconds(), 0);  // stamped by the gateway
  }
  // An event without a thread key is refused as a whole.
  earshot::v1::PublishRequest bad;
  bad.add_events()->set_event_id("gen:poller:x");
  grpc::ClientContext ctx2;
  auto st2 = stub->Publish(&ctx2, bad, &resp);
  EXPECT_EQ(st2.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GatewayIntegrationTest, GrpcHealthServesWhileReady) {
  // grpc.health.v1.Health/Check with an empty request (service ""), without generated stubs:
  // the answer HealthCheckResponse{status: SERVING} is the two bytes 08 01. gRPC health follows
  // /readyz within a second.
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(stack_.process().grpc_port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  auto check = [&]() -> std::string {
    grpc::ClientContext ctx;
    grpc::Slice empty("", 0);
    grpc::ByteBuffer request(&empty, 1);
    grpc::ByteBuffer response;
    grpc::Status status;
    absl::Notification done;
    stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                   [&](grpc::Status st) {
                     status = st;
                     done.Notify();
                   });
    if (!done.WaitForNotificationWithTimeout(absl::Seconds(10)) || !status.ok()) return "error";
    std::vector<grpc::Slice> slices;
    if (!response.Dump(&slices).ok()) return "error";
    std::string bytes;
    for (const auto& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    return bytes;
  };
  std::string last;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        last = check();
        return last == std::string("\x08\x01", 2);
      },
      absl::Seconds(10)))
      << "health answered " << last.size() << " bytes";
}

TEST_F(GatewayIntegrationTest, KcatSeesWhatTheGatewayWrote) {
  ASSERT_EQ(stack_.PostMeta(ReadFixture("meta/fb_comment.json")).status, 200);
  const std::string out = ::testing::TempDir() + "/kcat.out";
  const std::string cmd = "kcat -b " + stack_.bootstrap() +
                          " -C -t earshot.events.v1 -o beginning -e -q -f '%k\\n' > " + out +
                          " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "fb:105550000000001:c:901234567890123_1122334455667788");
}

}  // namespace
}  // namespace earshot
