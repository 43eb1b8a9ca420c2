// What a stream subscriber controls, and what the stream service reads from Kafka: a cursor
// string (EARSHOT_FUZZ_STREAM_CURSOR), or a SubscribeRequest's filter applied to records made
// from any payload (EARSHOT_FUZZ_STREAM_FILTER; the payload is what MakeRecord parses from the
// routed and alerts topics).
//
// Beyond not crashing: a cursor that decodes encodes back to one that decodes to the same
// positions, and a record whose payload did not parse matches no filter.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdlib>
#include <string>

#include "services/stream/cursor.h"
#include "services/stream/filter.h"
#include "services/stream/record.h"

namespace st = earshot::stream;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
#if EARSHOT_FUZZ_STREAM_CURSOR
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto positions = st::DecodeCursor(text);
  if (!positions.ok()) return 0;
  auto again = st::DecodeCursor(st::EncodeCursor(*positions));
  if (!again.ok() || *again != *positions) std::abort();
#else
  FuzzedDataProvider in(data, size);
  earshot::v1::SubscribeRequest request;
  if (!request.ParseFromString(in.ConsumeRandomLengthString(512))) return 0;
  st::Access access;
  access.team = "care-team";
  access.all_queues = in.ConsumeBool();
  access.queues = {"care", "escalation"};
  auto filter = st::Filter::Create(request, access);
  const auto topic =
      in.ConsumeBool() ? earshot::v1::STREAM_TOPIC_ROUTED : earshot::v1::STREAM_TOPIC_ALERTS;
  auto record =
      st::MakeRecord({topic, in.ConsumeIntegral<int32_t>()}, in.ConsumeIntegral<int64_t>(),
                     in.ConsumeIntegral<int64_t>(), in.ConsumeRemainingBytesAsString());
  if (!filter.ok()) return 0;
  const bool matches = filter->Matches(*record);
  if (matches && !record->valid) std::abort();
  // A team limited to some queues never receives another queue's record.
  if (matches && !access.all_queues && !access.queues.contains(record->queue)) std::abort();
#endif
  return 0;
}
