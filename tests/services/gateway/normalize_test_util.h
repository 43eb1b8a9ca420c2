#pragma once
// Helpers for the normaliser tests: reading fixtures from tests/fixtures, one fixed request
// context, and comparing a whole earshot.v1.Event against a text-format expectation so that every
// field (including the ones that must stay empty) is asserted.
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "absl/time/time.h"
#include "earshot/v1/event.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/gateway/normalize.h"

namespace earshot::gateway::testing {

// The gateway clock in every test: 2025-06-15T15:06:40Z, after every platform time used.
inline constexpr int64_t kReceivedAtSeconds = 1750000000;

inline RequestContext Context(std::string account = "") {
  return RequestContext{absl::FromUnixSeconds(kReceivedAtSeconds), std::move(account)};
}

// Contents of tests/fixtures/<relative>; fails the test when the file is missing.
inline std::string Fixture(std::string_view relative) {
  const std::string path = std::string(EARSHOT_FIXTURES_DIR) + "/" + std::string(relative);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "missing fixture " << path;
    return "";
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Compares `actual` with the event written in text format. received_at is always the test
// context's clock, so the expectation may leave it out.
inline ::testing::AssertionResult EventIs(const earshot::v1::Event& actual,
                                          const std::string& expected_text) {
  earshot::v1::Event expected;
  if (!google::protobuf::TextFormat::ParseFromString(expected_text, &expected)) {
    return ::testing::AssertionFailure() << "bad expected text proto:\n" << expected_text;
  }
  if (!expected.has_received_at()) {
    expected.mutable_received_at()->set_seconds(kReceivedAtSeconds);
  }
  google::protobuf::util::MessageDifferencer differencer;
  std::string diff;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, actual)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "event differs (expected vs actual):\n"
                                       << diff << "actual:\n"
                                       << actual.DebugString();
}

}  // namespace earshot::gateway::testing
