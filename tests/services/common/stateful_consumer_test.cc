// Where a stateful service resumes an input partition: the stored offset only when the
// partition's log is the log it was counted in.
#include "services/common/kafka/stateful_consumer.h"

#include "gtest/gtest.h"

namespace earshot::kafka {
namespace {

constexpr char kCluster[] = "cluster-a";

// The state of a service that applied records up to offset 49 (next: 50) of a log.
StoredPosition Stored(int64_t next, std::string cluster = kCluster) {
  StoredPosition s;
  s.next_offset = next;
  s.last_record = MarkRecord(cluster, next - 1, 1700000000000 + next, "thread-key",
                             "event " + std::to_string(next - 1));
  return s;
}

// A log of `high` records (offsets low..high-1) that holds the same record at the mark.
LogState SameLog(const StoredPosition& s, int64_t low, int64_t high) {
  LogState log;
  log.cluster_id = kCluster;
  log.low = low;
  log.high = high;
  if (s.last_record && s.last_record->offset() >= low && s.last_record->offset() < high) {
    log.at_mark = *s.last_record;
  }
  return log;
}

TEST(DecideResumeTest, ResumesFromTheStoredOffsetInTheSameLog) {
  const StoredPosition s = Stored(50);
  for (int64_t high : {50, 51, 1000}) {
    const Resume r = DecideResume(s, SameLog(s, 0, high));
    EXPECT_EQ(r.reason, ResumeReason::kStored) << high;
    EXPECT_EQ(r.offset, 50) << high;
  }
}

TEST(DecideResumeTest, ALogThatStartedAgainIsReadFromItsStart) {
  // The embedded broker starts empty at every start; the gateway may already have written
  // past the stored offset when the router is assigned the partition.
  const StoredPosition s = Stored(50);
  LogState empty = SameLog(s, 0, 0);
  EXPECT_EQ(DecideResume(s, empty).reason, ResumeReason::kAheadOfLog);
  EXPECT_EQ(DecideResume(s, empty).offset, 0);

  LogState refilled = SameLog(s, 0, 120);
  refilled.at_mark = MarkRecord(kCluster, 49, 1700000999000, "other-key", "another event");
  EXPECT_EQ(DecideResume(s, refilled).reason, ResumeReason::kLogChanged);
  EXPECT_EQ(DecideResume(s, refilled).offset, 0);
}

TEST(DecideResumeTest, AnyDifferenceInTheMarkedRecordIsAChangedLog) {
  const StoredPosition s = Stored(50);
  const auto& m = *s.last_record;
  std::vector<earshot::v1::InputMark> others;
  others.push_back(MarkRecord(kCluster, 49, m.timestamp_ms() + 1, "thread-key", "event 49"));
  others.push_back(MarkRecord(kCluster, 49, m.timestamp_ms(), "thread-key", "event 49!"));
  others.push_back(MarkRecord(kCluster, 49, m.timestamp_ms(), "thread-kez", "event 49"));
  // A compacted or transactional log handing over a later record.
  others.push_back(MarkRecord(kCluster, 50, m.timestamp_ms(), "thread-key", "event 49"));
  for (const auto& other : others) {
    LogState log = SameLog(s, 0, 120);
    log.at_mark = other;
    EXPECT_EQ(DecideResume(s, log).reason, ResumeReason::kLogChanged) << other.DebugString();
  }
  LogState missing = SameLog(s, 0, 120);
  missing.at_mark.reset();
  EXPECT_EQ(DecideResume(s, missing).reason, ResumeReason::kLogChanged);
}

TEST(DecideResumeTest, AnotherClusterIsReadFromTheStartEvenWithAMatchingRecord) {
  const StoredPosition s = Stored(50, "old-cluster");
  LogState log = SameLog(s, 10, 120);
  EXPECT_EQ(DecideResume(s, log).reason, ResumeReason::kClusterChanged);
  EXPECT_EQ(DecideResume(s, log).offset, 10);
  // A cluster that names no id is judged by its records alone.
  log.cluster_id.clear();
  EXPECT_EQ(DecideResume(s, log).reason, ResumeReason::kStored);
}

TEST(DecideResumeTest, RetentionPastTheStoredOffsetIsReported) {
  const StoredPosition s = Stored(50);
  const Resume r = DecideResume(s, SameLog(s, 80, 200));
  EXPECT_EQ(r.reason, ResumeReason::kDeletedByRetention);
  EXPECT_EQ(r.offset, 80);
  // Retention up to exactly the stored offset loses nothing: the mark is gone, the rest is there.
  EXPECT_EQ(DecideResume(s, SameLog(s, 50, 200)).reason, ResumeReason::kStored);
}

TEST(DecideResumeTest, StateWithoutAMarkIsCheckedAgainstTheLogsRange) {
  StoredPosition s;
  s.next_offset = 50;  // written before marks were kept
  LogState log;
  log.cluster_id = kCluster;
  log.high = 120;
  EXPECT_EQ(DecideResume(s, log).reason, ResumeReason::kStored);
  log.high = 20;
  EXPECT_EQ(DecideResume(s, log).reason, ResumeReason::kAheadOfLog);
  EXPECT_EQ(DecideResume(s, log).offset, 0);
}

TEST(MarkRecordTest, SplitsOfKeyAndValueDoNotCollide) {
  EXPECT_NE(MarkRecord(kCluster, 1, 2, "ab", "c").fingerprint(),
            MarkRecord(kCluster, 1, 2, "a", "bc").fingerprint());
  EXPECT_EQ(MarkRecord(kCluster, 1, 2, "a", "bc").fingerprint(),
            MarkRecord("other", 7, 9, "a", "bc").fingerprint());
}

}  // namespace
}  // namespace earshot::kafka
