#pragma once
// librdkafka error codes become absl::Status here and nowhere else.
#include <string_view>

#include "absl/status/status.h"
#include "librdkafka/rdkafka.h"

namespace earshot::kafka {

// Transport, time-out and queue-full errors become Unavailable (retryable, HTTP 503);
// authorisation errors PermissionDenied; unknown topics NotFound; the rest Internal.
absl::Status FromKafkaError(rd_kafka_resp_err_t err, std::string_view context = "");

}  // namespace earshot::kafka
