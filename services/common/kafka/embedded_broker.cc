#include "services/common/kafka/embedded_broker.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "librdkafka/rdkafka.h"
#include "librdkafka/rdkafka_mock.h"
#include "services/common/base/log.h"
#include "services/common/kafka/errors.h"

namespace earshot::kafka {

namespace {

// librdkafka 2.0's mock brokers do not set TCP_NODELAY, so a small answer written while an
// earlier one is unacknowledged waits for the client's delayed ACK (~40 ms on Linux): every
// produce acknowledgement, and with it every webhook answer, would. Kafka brokers set it. Linux
// hands the option on from a listening socket to the connections it accepts, so it is set on
// the mock brokers' listeners, found among this process's descriptors by their port.
int SetNoDelayOnListeners(const std::string& bootstrap) {
  std::set<int> ports;
  for (absl::string_view hostport : absl::StrSplit(bootstrap, ',')) {
    int port = 0;
    auto colon = hostport.rfind(':');
    if (colon != absl::string_view::npos && absl::SimpleAtoi(hostport.substr(colon + 1), &port)) {
      ports.insert(port);
    }
  }
  int set = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  while (dirent* entry = readdir(dir)) {
    const int fd = std::atoi(entry->d_name);
    if (fd <= 2) continue;
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    int listening = 0;
    socklen_t optlen = sizeof(listening);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        addr.sin_family != AF_INET || ports.count(ntohs(addr.sin_port)) == 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) != 0 || !listening) {
      continue;
    }
    int on = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == 0) ++set;
  }
  closedir(dir);
  return set;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(
    int brokers, int partitions, const std::vector<std::string>& topics) {
  std::unique_ptr<EmbeddedBroker> b(new EmbeddedBroker());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The mock cluster needs a handle to live in; this one never connects anywhere.
  rd_kafka_conf_set(conf, "bootstrap.servers", "", err, sizeof(err));
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  b->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (b->rk_ == nullptr) return absl::InternalError(std::string("embedded broker: ") + err);
  b->cluster_ = rd_kafka_mock_cluster_new(b->rk_, brokers);
  if (b->cluster_ == nullptr) return absl::InternalError("embedded broker: cannot start cluster");
  b->brokers_ = brokers;
  b->bootstrap_ = rd_kafka_mock_cluster_bootstraps(b->cluster_);
  const int nodelay = SetNoDelayOnListeners(b->bootstrap_);
  const int replication = std::min(brokers, 3);
  for (const auto& t : topics) {
    rd_kafka_resp_err_t e =
        rd_kafka_mock_topic_create(b->cluster_, t.c_str(), partitions, replication);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return FromKafkaError(e, "create topic " + t);
  }
  log::Info("kafka.embedded", "embedded Kafka-protocol broker started",
            {{"bootstrap", b->bootstrap_},
             {"brokers", brokers},
             {"partitions", partitions},
             {"tcp_nodelay_listeners", nodelay}});
  return b;
}

EmbeddedBroker::~EmbeddedBroker() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

void EmbeddedBroker::SetAllDown(bool down) {
  for (int id = 1; id <= brokers_; ++id) {
    if (down) {
      rd_kafka_mock_broker_set_down(cluster_, id);
    } else {
      rd_kafka_mock_broker_set_up(cluster_, id);
    }
  }
}

}  // namespace earshot::kafka
