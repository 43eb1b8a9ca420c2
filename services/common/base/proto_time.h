#pragma once
// The one conversion between google.protobuf.Timestamp and absl::Time, for every service.
// Header-only: the callers link protobuf with their generated messages.
#include <algorithm>
#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace earshot {

inline absl::Time FromProtoTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// Clamped to the range a Timestamp may hold (years 1 to 9999): a calendar that never opens
// gives the SLA monitor an infinite deadline, stored as 9999-12-31.
inline void SetProtoTime(absl::Time t, google::protobuf::Timestamp* out) {
  t = std::clamp(t, absl::FromUnixSeconds(-62135596800), absl::FromUnixSeconds(253402300799));
  const int64_t s = absl::ToUnixSeconds(t);  // floors, so the nanos are never negative
  out->set_seconds(s);
  out->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(s)) / absl::Nanoseconds(1)));
}

}  // namespace earshot
