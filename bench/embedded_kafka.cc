// embedded_kafka: the standalone mode's embedded Kafka-protocol broker (kafka::EmbeddedBroker,
// the same code and settings `earshot --target=all` starts) in a process of its own, so that a
// benchmark can run one service alone against it (`earshot --target=gateway` with
// EARSHOT_KAFKA_BOOTSTRAP) without the other services of `all` sharing the cores.
//
//   embedded_kafka --bootstrap_file=FILE [--brokers=1] [--partitions=4]
// Writes the bootstrap list to FILE once the broker listens; runs until SIGTERM or SIGINT.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "services/common/kafka/embedded_broker.h"

ABSL_FLAG(std::string, bootstrap_file, "", "where to write the bootstrap list (required)");
ABSL_FLAG(int, brokers, 1, "brokers in the cluster (kafka.embedded.brokers)");
ABSL_FLAG(int, partitions, 4, "partitions per topic (kafka.embedded.partitions)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("embedded_kafka --bootstrap_file=FILE [--partitions=4]");
  absl::ParseCommandLine(argc, argv);
  const std::string path = absl::GetFlag(FLAGS_bootstrap_file);
  if (path.empty()) {
    std::fprintf(stderr, "embedded_kafka: --bootstrap_file is required\n");
    return 2;
  }
  // Taken by sigwait below; librdkafka's threads, started later, inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto broker = earshot::kafka::EmbeddedBroker::Start(absl::GetFlag(FLAGS_brokers),
                                                      absl::GetFlag(FLAGS_partitions),
                                                      earshot::kafka::StandardTopics());
  if (!broker.ok()) {
    std::fprintf(stderr, "embedded_kafka: %s\n", broker.status().ToString().c_str());
    return 1;
  }
  // Written whole, then renamed, so a reader never sees half a line.
  {
    std::ofstream out(path + ".tmp");
    out << (*broker)->bootstrap() << "\n";
  }
  std::rename((path + ".tmp").c_str(), path.c_str());
  int sig = 0;
  sigwait(&signals, &sig);
  return 0;
}
