#pragma once
// The six topics Earshot uses and what it needs of them on a real cluster, checked (and, where
// allowed, created) once at every start, before any service runs.
//
// Record size. A webhook body of up to http.body_limit_bytes becomes a raw record (the body,
// its kept headers and metadata), events and a routed event, each at most the body plus a small
// envelope. Three limits must agree, or a webhook the gateway accepted for reading is answered
// 503 at every retry: the body limit, each producer's message.max.bytes (librdkafka refuses
// larger records itself, 1,000,000 bytes by default) and each topic's max.message.bytes (the
// broker refuses larger batches, 1,048,588 bytes by default). All three follow from
// http.body_limit_bytes: producers are set from it, topics are created with it, and a topic
// that exists with less is an error at start.
//
// Retention and cleanup. Event topics are logs (cleanup.policy=delete), kept for
// kafka.topics.retention (14 days: the dedup window of 7 days and a week to recover); a
// compacted event topic would keep only the last event of each conversation, so it is an error.
// Three topics keep their records for their own time (kafka.topics.<topic>_retention), since an
// erase does not rewrite them (docs/security.md): raw webhooks, whole bodies with every
// customer detail, 7 days (the replay window); dead letters 30 days (time to fix a normaliser
// and replay them); audit records, which hold no customer data, 3 years.
// The state changelogs are the opposite: compacted (the latest value of every key, kept for as
// long as the key lives), and one whose records expire by time is an error.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/base/config.h"

namespace earshot::kafka {

inline constexpr int64_t kDefaultBodyLimitBytes = 4 << 20;
// Room for what a record holds besides the body: the raw record's kept headers (the HTTP
// server takes 16 KiB of headers at most), an event's or routed event's other fields.
inline constexpr int64_t kRecordEnvelopeBytes = 64 << 10;

// http.body_limit_bytes (default 4 MiB).
int64_t BodyLimitBytes(const Config& config);
// The largest record any Earshot producer writes: the body limit plus the envelope.
int64_t MaxRecordBytes(const Config& config);

// kafka.topics.*: names and the settings of topics Earshot creates.
struct TopicSettings {
  std::vector<std::string> names;  // kafka.topics.{raw,events,routed,alerts,deadletter,audit}
  bool create = true;              // kafka.topics.create: create the missing ones
  int partitions = 12;             // kafka.topics.partitions
  int replication_factor = -1;     // kafka.topics.replication_factor; -1: the broker's default
  int min_insync_replicas = -1;    // kafka.topics.min_insync_replicas; -1: the broker's default
  absl::Duration retention = absl::Hours(14 * 24);  // kafka.topics.retention
  // kafka.topics.{raw,deadletter,audit}_retention, by topic name; the others keep `retention`.
  std::map<std::string, absl::Duration> retention_of;
  int64_t max_message_bytes = 0;                    // MaxRecordBytes
  // The state changelogs (kafka.topics.{router_state,sla_state}), each with the input topic
  // whose partitions it mirrors: compacted, never deleted by time, as many partitions as it.
  std::vector<std::pair<std::string, std::string>> changelogs;
};
TopicSettings TopicSettingsFromConfig(const Config& config);

// The state changelogs, kafka.topics.router_state and kafka.topics.sla_state. By default each
// is named after its service's consumer group ("<group>.state.v1"), as Kafka Streams names a
// changelog after its application id: two deployments with groups of their own never share
// state.
std::string RouterStateTopic(const Config& config);
std::string SlaStateTopic(const Config& config);

// What is wrong with topics that exist, one line each, from their settings as the cluster
// applies them (Admin::DescribeTopics): records smaller than `record_bytes`, compaction.
std::vector<std::string> TopicProblems(
    const std::map<std::string, std::map<std::string, std::string>>& described,
    int64_t record_bytes, const std::set<std::string>& changelogs = {});

// Makes sure every topic exists with what Earshot needs: creates the missing ones when allowed,
// then checks each one's settings. FailedPrecondition lists every problem and what to change.
// A cluster that cannot be asked for settings (no DescribeConfigs, or not allowed) is logged
// and passes: the producer still refuses records it cannot send.
absl::Status EnsureTopics(const std::string& bootstrap,
                          const std::map<std::string, std::string>& client_settings,
                          const TopicSettings& settings);

}  // namespace earshot::kafka
