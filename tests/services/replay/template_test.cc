#include "services/replay/template.h"

#include "gtest/gtest.h"

namespace earshot::replay {
namespace {

// 2025-03-05T12:00:01.250Z
const TemplateValues kValues{absl::FromUnixMillis(1741176001250), "1795400559"};

std::string Fill(std::string_view text) {
  auto r = FillPlaceholders(text, kValues);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : "";
}

TEST(TemplateTest, FillsTimesAndRun) {
  EXPECT_EQ(Fill("{{now_unix}}"), "1741176001");
  EXPECT_EQ(Fill("{{now_ms}}"), "1741176001250");
  EXPECT_EQ(Fill("{{now_iso}}"), "2025-03-05T12:00:01.250Z");
  EXPECT_EQ(Fill("{{now_x}}"), "Wed Mar 05 12:00:01 +0000 2025");
  EXPECT_EQ(Fill("id-{{run}}-7"), "id-1795400559-7");
}

TEST(TemplateTest, Offsets) {
  EXPECT_EQ(Fill("{{now_unix-120}}"), "1741175881");
  EXPECT_EQ(Fill("{{now_unix+2m}}"), "1741176121");
  EXPECT_EQ(Fill("{{now_ms-1s}}"), "1741176000250");
  EXPECT_EQ(Fill("{{now_iso-1h}}"), "2025-03-05T11:00:01.250Z");
  EXPECT_EQ(Fill("{{now_unix-1d}}"), "1741089601");
}

TEST(TemplateTest, NumFormReplacesTheWholeJsonString) {
  EXPECT_EQ(Fill(R"({"date": "{{num:now_unix-30}}", "id": "{{num:run}}", "s": "{{now_unix}}"})"),
            R"({"date": 1741175971, "id": 1795400559, "s": "1741176001"})");
}

TEST(TemplateTest, LeavesOtherBracesAlone) {
  EXPECT_EQ(Fill("customer wrote {{ hello }} and {{name}}; {{now_unix}}"),
            "customer wrote {{ hello }} and {{name}}; 1741176001");
  EXPECT_EQ(Fill("no placeholders at all"), "no placeholders at all");
  EXPECT_EQ(Fill("unclosed {{now_unix"), "unclosed {{now_unix");
}

TEST(TemplateTest, RefusesMalformedPlaceholdersOfOurs) {
  for (const char* bad : {"{{now_unx}}", "{{now_unix-}}", "{{now_unix-1y}}", "{{run+1}}",
                          "x{{num:now_unix}}", "\"{{num:now_iso}}\"", "\"{{num:now_unix}} \""}) {
    auto r = FillPlaceholders(bad, kValues);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace earshot::replay
