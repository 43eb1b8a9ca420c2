#include "services/common/kafka/records.h"

#include <array>
#include <string_view>

#include "services/common/kafka/cloud_event.h"
#include "services/common/names/names.h"

namespace earshot::kafka {
namespace {

// ce_source: "/earshot/gateway/<platform>", built once per platform.
std::string_view SourceOf(earshot::v1::Platform platform) {
  static const auto* const sources = [] {
    auto* out = new std::array<std::string, earshot::v1::Platform_ARRAYSIZE>;
    for (int p = 0; p < earshot::v1::Platform_ARRAYSIZE; ++p) {
      (*out)[p] = "/earshot/gateway/" +
                  std::string(names::NameOf(names::kPlatforms,
                                            static_cast<earshot::v1::Platform>(p), "unspecified"));
    }
    return out;
  }();
  const int p = static_cast<int>(platform);
  // Both branches are string_views: with a std::string on one side the conditional made a
  // temporary copy, and the view returned pointed into it after it was freed (found by ASan).
  if (p < 0 || p >= earshot::v1::Platform_ARRAYSIZE) return "/earshot/gateway";
  return std::string_view((*sources)[p]);
}

}  // namespace

Record EventRecord(const earshot::v1::Event& event, const std::string& topic) {
  return ProtoRecord(topic, event.thread_key(), event,
                     {event.event_id(), SourceOf(event.platform()), "earshot.v1.Event",
                      event.has_created_at() ? event.created_at() : event.received_at()});
}

// Raw requests and dead letters belong to no one thread and need no order among themselves:
// they go without a key, so librdkafka's sticky partitioner fills one partition per linger
// window instead of spreading every window's few records over all partitions (one produce
// request a window instead of one per partition: 11% less CPU per request for gateway and
// broker, bench/README.md). The request id stays in ce_id and in the value.
Record RawRecord(const earshot::v1::RawWebhook& raw, const std::string& topic) {
  return ProtoRecord(
      topic, /*key=*/"", raw,
      {raw.request_id(), SourceOf(raw.platform()), "earshot.v1.RawWebhook", raw.received_at()});
}

Record DeadLetterRecord(const earshot::v1::RawWebhook& raw, const std::string& reason,
                        const std::string& topic) {
  earshot::v1::DeadLetter dl;
  dl.set_reason(reason);
  *dl.mutable_raw() = raw;
  Record r = ProtoRecord(
      topic, /*key=*/"", dl,
      {raw.request_id(), SourceOf(raw.platform()), "earshot.v1.DeadLetter", raw.received_at()});
  r.headers.emplace_back("earshot_reason", reason);
  return r;
}

}  // namespace earshot::kafka
