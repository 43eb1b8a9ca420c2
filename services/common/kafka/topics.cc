#include "services/common/kafka/topics.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "fmt/format.h"
#include "services/common/base/log.h"
#include "services/common/kafka/admin.h"

namespace earshot::kafka {
namespace {
constexpr char kLogger[] = "kafka.topics";
constexpr absl::Duration kAdminTimeout = absl::Seconds(15);
// The settings check is optional, and a broker answers DescribeConfigs in milliseconds; one that
// never answers it (librdkafka's mock cluster used as an external broker) would otherwise hold
// every start for the whole admin time-out.
constexpr absl::Duration kDescribeTimeout = absl::Seconds(3);
}  // namespace

int64_t BodyLimitBytes(const Config& config) {
  return config.GetInt("http.body_limit_bytes", kDefaultBodyLimitBytes);
}

int64_t MaxRecordBytes(const Config& config) {
  return BodyLimitBytes(config) + kRecordEnvelopeBytes;
}

TopicSettings TopicSettingsFromConfig(const Config& config) {
  TopicSettings s;
  for (const char* topic : {"raw", "events", "routed", "alerts", "deadletter", "audit"}) {
    s.names.push_back(config.GetString(fmt::format("kafka.topics.{}", topic),
                                       fmt::format("earshot.{}.v1", topic)));
  }
  s.create = config.GetBool("kafka.topics.create", s.create);
  s.partitions = static_cast<int>(config.GetInt("kafka.topics.partitions", s.partitions));
  s.replication_factor =
      static_cast<int>(config.GetInt("kafka.topics.replication_factor", s.replication_factor));
  s.min_insync_replicas =
      static_cast<int>(config.GetInt("kafka.topics.min_insync_replicas", s.min_insync_replicas));
  s.retention = config.GetDuration("kafka.topics.retention", s.retention);
  constexpr absl::Duration kDay = absl::Hours(24);
  s.retention_of[s.names[0]] = config.GetDuration("kafka.topics.raw_retention", 7 * kDay);
  s.retention_of[s.names[4]] = config.GetDuration("kafka.topics.deadletter_retention", 30 * kDay);
  s.retention_of[s.names[5]] = config.GetDuration("kafka.topics.audit_retention", 3 * 365 * kDay);
  s.max_message_bytes = MaxRecordBytes(config);
  s.changelogs = {{RouterStateTopic(config), s.names[1]}, {SlaStateTopic(config), s.names[2]}};
  return s;
}

std::string RouterStateTopic(const Config& config) {
  return config.GetString(
      "kafka.topics.router_state",
      fmt::format("{}.state.v1", config.GetString("router.group_id", "earshot-router")));
}

std::string SlaStateTopic(const Config& config) {
  return config.GetString(
      "kafka.topics.sla_state",
      fmt::format("{}.state.v1", config.GetString("sla.group_id", "earshot-sla")));
}

std::vector<std::string> TopicProblems(
    const std::map<std::string, std::map<std::string, std::string>>& described,
    int64_t record_bytes, const std::set<std::string>& changelogs) {
  std::vector<std::string> problems;
  for (const auto& [topic, configs] : described) {
    if (changelogs.contains(topic)) {
      if (auto it = configs.find("cleanup.policy");
          it != configs.end() && it->second.find("compact") == std::string::npos) {
        problems.push_back(fmt::format(
            "{} is a state changelog but not compacted (cleanup.policy={}): its state would "
            "expire with retention; use cleanup.policy=compact",
            topic, it->second));
      }
      continue;
    }
    int64_t bytes = 0;
    if (auto it = configs.find("max.message.bytes");
        it != configs.end() && absl::SimpleAtoi(it->second, &bytes) && bytes < record_bytes) {
      problems.push_back(fmt::format(
          "{} takes records of {} bytes (max.message.bytes), but http.body_limit_bytes needs {} "
          "(kafka-configs.sh --alter --entity-type topics --entity-name {} --add-config "
          "max.message.bytes={}, or a smaller http.body_limit_bytes)",
          topic, bytes, record_bytes, topic, record_bytes));
    }
    if (auto it = configs.find("cleanup.policy");
        it != configs.end() && it->second.find("compact") != std::string::npos) {
      problems.push_back(
          fmt::format("{} is compacted (cleanup.policy={}), which keeps only the last event of "
                      "each conversation: use cleanup.policy=delete",
                      topic, it->second));
    }
  }
  return problems;
}

absl::Status EnsureTopics(const std::string& bootstrap,
                          const std::map<std::string, std::string>& client_settings,
                          const TopicSettings& settings) {
  auto admin = Admin::Create(bootstrap, client_settings);
  if (!admin.ok()) return admin.status();
  auto existing = (*admin)->ListTopics(kAdminTimeout);
  if (!existing.ok()) {
    return absl::UnavailableError("cannot list Kafka's topics at " + bootstrap + ": " +
                                  existing.status().ToString());
  }
  std::vector<NewTopic> missing;
  for (const auto& name : settings.names) {
    if (existing->contains(name)) continue;
    NewTopic t;
    t.name = name;
    t.partitions = settings.partitions;
    t.replication_factor = settings.replication_factor;
    auto own = settings.retention_of.find(name);
    const absl::Duration retention =
        own != settings.retention_of.end() ? own->second : settings.retention;
    t.configs = {{"max.message.bytes", std::to_string(settings.max_message_bytes)},
                 {"retention.ms", std::to_string(absl::ToInt64Milliseconds(retention))},
                 {"cleanup.policy", "delete"}};
    if (settings.min_insync_replicas > 0) {
      t.configs["min.insync.replicas"] = std::to_string(settings.min_insync_replicas);
    }
    missing.push_back(std::move(t));
  }
  for (const auto& [name, input] : settings.changelogs) {
    if (existing->contains(name)) continue;
    NewTopic t;
    t.name = name;
    // Changelog partition p holds the state of input partition p.
    t.partitions = existing->contains(input) ? existing->at(input).partitions : settings.partitions;
    t.replication_factor = settings.replication_factor;
    t.configs = {{"max.message.bytes", std::to_string(settings.max_message_bytes)},
                 {"cleanup.policy", "compact"}};
    if (settings.min_insync_replicas > 0) {
      t.configs["min.insync.replicas"] = std::to_string(settings.min_insync_replicas);
    }
    missing.push_back(std::move(t));
  }
  if (!missing.empty()) {
    std::vector<std::string> names;
    for (const auto& t : missing) names.push_back(t.name);
    if (!settings.create) {
      return absl::FailedPreconditionError(fmt::format(
          "Kafka topics missing: {}. Create them (cleanup.policy=delete, max.message.bytes>={}) "
          "or set kafka.topics.create=true to let Earshot create them",
          absl::StrJoin(names, ", "), settings.max_message_bytes));
    }
    if (auto st = (*admin)->CreateTopics(missing, kAdminTimeout); !st.ok()) {
      return absl::FailedPreconditionError(
          fmt::format("cannot create the Kafka topics {}: {} (create them, or allow this client "
                      "to create topics)",
                      absl::StrJoin(names, ", "), st.ToString()));
    }
    log::Info(kLogger, "topics created",
              {{"topics", absl::StrJoin(names, ",")},
               {"partitions", settings.partitions},
               {"replication_factor", settings.replication_factor}});
    // Created topics reach every broker's metadata, and get their leaders, shortly after the
    // controller answers; a consumer that asks before is told "not leader for partition".
    const absl::Time deadline = absl::Now() + kAdminTimeout;
    for (;;) {
      auto now = (*admin)->ListTopics(kAdminTimeout);
      bool all = now.ok();
      for (const auto& n : names) all = all && now->contains(n) && now->at(n).led;
      if (all) break;
      if (absl::Now() > deadline) {
        return absl::UnavailableError("created topics did not appear in Kafka's metadata");
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  std::vector<std::string> problems;
  if (auto now = (*admin)->ListTopics(kAdminTimeout); now.ok()) {
    for (const auto& [name, input] : settings.changelogs) {
      if (now->contains(name) && now->contains(input) &&
          now->at(name).partitions != now->at(input).partitions) {
        problems.push_back(fmt::format(
            "{} has {} partitions and {} has {}: a state changelog needs as many partitions as "
            "its input (recreate it with {})",
            name, now->at(name).partitions, input, now->at(input).partitions,
            now->at(input).partitions));
      }
    }
  }
  std::vector<std::string> all = settings.names;
  std::set<std::string> changelog_names;
  for (const auto& [name, _] : settings.changelogs) {
    all.push_back(name);
    changelog_names.insert(name);
  }
  auto described = (*admin)->DescribeTopics(all, kDescribeTimeout);
  if (!described.ok()) {
    log::Warn(kLogger, "topic settings not checked",
              {{"topics", absl::StrJoin(all, ",")}, {"reason", described.status().ToString()}});
    if (problems.empty()) return absl::OkStatus();
    return absl::FailedPreconditionError("Kafka topics with the wrong settings: " +
                                         absl::StrJoin(problems, "; "));
  }
  for (auto& p : TopicProblems(*described, settings.max_message_bytes, changelog_names)) {
    problems.push_back(std::move(p));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError("Kafka topics with the wrong settings: " +
                                       absl::StrJoin(problems, "; "));
}

}  // namespace earshot::kafka
