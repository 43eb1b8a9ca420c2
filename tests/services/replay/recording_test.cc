#include "services/replay/recording.h"

#include "gtest/gtest.h"

namespace earshot::replay {
namespace {

TEST(RecordingTest, ParsesEveryFieldAndKeepsTheBodyBytes) {
  // Odd spacing and key order inside the body must survive: the signature covers the bytes.
  const std::string line =
      R"({"platform":"generic","source":"reviews","method":"post","path":"/webhooks/generic/reviews",)"
      R"("headers":{"User-Agent":"svix","webhook-id":"msg_1"},)"
      R"("body":{ "b":1,  "a":"x\"y}{" , "n":[1,{"c":2}] },"delay_ms":250})";
  auto r = ParseRecording(line, 7);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->line, 7);
  EXPECT_EQ(r->platform, "generic");
  EXPECT_EQ(r->source, "reviews");
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->path, "/webhooks/generic/reviews");
  ASSERT_EQ(r->headers.size(), 2u);
  EXPECT_EQ(r->headers[0].first, "User-Agent");
  EXPECT_EQ(r->headers[1].second, "msg_1");
  EXPECT_EQ(r->body, R"({ "b":1,  "a":"x\"y}{" , "n":[1,{"c":2}] })");
  EXPECT_EQ(r->delay, absl::Milliseconds(250));
}

TEST(RecordingTest, StringBodyIsTheExactBytes) {
  auto r =
      ParseRecording(R"({"platform":"meta","body":"{\"object\":\"page\",\n\"entry\":[]}"})", 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "{\"object\":\"page\",\n\"entry\":[]}");
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->delay, absl::ZeroDuration());
}

TEST(RecordingTest, DefaultPathsPerPlatform) {
  Recording r;
  r.platform = "meta";
  EXPECT_EQ(RequestPath(r), "/webhooks/meta");
  r.platform = "x";
  EXPECT_EQ(RequestPath(r), "/webhooks/x");
  r.platform = "telegram";
  EXPECT_EQ(RequestPath(r), "/webhooks/telegram");
  r.platform = "generic";
  r.source = "blog";
  EXPECT_EQ(RequestPath(r), "/webhooks/generic/blog");
  r.path = "/webhooks/telegram/7000000001";
  EXPECT_EQ(RequestPath(r), "/webhooks/telegram/7000000001");
}

TEST(RecordingTest, RefusesBadLinesWithTheReason) {
  struct Case {
    const char* line;
    const char* reason;
  };
  const Case cases[] = {
      {R"({"platform":"meta","body":{}} trailing)", "not JSON"},
      {R"([1,2])", "one JSON object a line"},
      {R"({"body":{}})", "\"platform\" is missing"},
      {R"({"platform":"myspace","body":{}})", "must be one of meta, x, telegram, generic"},
      {R"({"platform":"x"})", "\"body\" is missing"},
      {R"({"platform":"x","body":[1]})", "must be a JSON object, or a string"},
      {R"({"platform":"generic","body":{}})", "needs \"source\""},
      {R"({"platform":"x","source":"a","body":{}})", "only for generic"},
      {R"({"platform":"x","body":{},"delay_ms":-1})", "delay_ms"},
      {R"({"platform":"x","body":{},"headers":{"a":1}})", "object of strings"},
      {R"({"platform":"x","body":{},"path":"webhooks"})", "starting with '/'"},
      {R"({"platform":"x","body":{},"bdy":{}})", "unknown key \"bdy\""},
  };
  for (const auto& c : cases) {
    auto r = ParseRecording(c.line, 3);
    ASSERT_FALSE(r.ok()) << c.line;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("line 3: "), absl::string_view::npos) << r.status();
    EXPECT_NE(r.status().message().find(c.reason), absl::string_view::npos)
        << c.line << " -> " << r.status();
  }
}

TEST(RecordingTest, FileSkipsCommentsAndBlankLinesAndListsEveryError) {
  const std::string text =
      "# a comment\n"
      "\n"
      "{\"platform\":\"meta\",\"body\":{}}\r\n"
      "{\"platform\":\"nope\",\"body\":{}}\n"
      "   # indented comment\n"
      "{\"platform\":\"x\"}\n"
      "{\"platform\":\"telegram\",\"body\":{}}";
  auto bad = ParseRecordings(text, "s.jsonl");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("s.jsonl:4: \"platform\""), absl::string_view::npos)
      << bad.status();
  EXPECT_NE(bad.status().message().find("s.jsonl:6: \"body\" is missing"), absl::string_view::npos)
      << bad.status();

  auto good = ParseRecordings(
      "# c\n{\"platform\":\"meta\",\"body\":{}}\n\n"
      "{\"platform\":\"telegram\",\"body\":{}}\n",
      "s.jsonl");
  ASSERT_TRUE(good.ok()) << good.status();
  ASSERT_EQ(good->size(), 2u);
  EXPECT_EQ((*good)[0].line, 2);
  EXPECT_EQ((*good)[1].line, 4);
}

TEST(RecordingTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadRecordings("/nonexistent/x.jsonl").status().code(), absl::StatusCode::kNotFound);
}

TEST(RecordingTest, TheDemoScenarioParses) {
  auto r = LoadRecordings(std::string(EARSHOT_SOURCE_DIR) + "/config/demo/scenario.jsonl");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(r->size(), 12u);
}

}  // namespace
}  // namespace earshot::replay
