#pragma once
// The gateway's names for the shared canonical records (services/common/kafka/records.h): the
// webhook and gRPC Ingest paths write events, raw requests and dead letters.
#include "services/common/kafka/records.h"

namespace earshot::gateway {

using Topics = kafka::RecordTopics;
using kafka::DeadLetterRecord;
using kafka::EventRecord;
using kafka::RawRecord;

}  // namespace earshot::gateway
