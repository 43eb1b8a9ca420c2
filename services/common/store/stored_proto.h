#pragma once
// ParseStored: reads back a protobuf a service stored. An unreadable one (a damaged copy, or
// one written by an incompatible version) is never silently taken for an empty record: it is
// logged with what it was, and the caller decides (most read it as absent, which the changelog
// restore or the next event repairs).
#include <string_view>

#include "services/common/base/log.h"

namespace earshot::store {

template <typename Proto>
bool ParseStored(Proto* out, std::string_view bytes, std::string_view what) {
  if (out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return true;
  out->Clear();
  log::Error("store", "unreadable stored record; read as absent",
             {{"record", what}, {"bytes", static_cast<int64_t>(bytes.size())}});
  return false;
}

}  // namespace earshot::store
