#pragma once
// PartitionStates: the input partitions' state records (next offset, counts) for one batch of
// events, read from the view once, changed in memory and written once by Flush(). A service
// applies up to a thousand events a batch; reading, changing and writing the record at every
// event parsed and serialised it a thousand times (about 1 KB with a few dozen SLA queues) and
// wrote as many versions of it (bench/README.md, SLA). Discarded with a batch that is not
// committed. One thread. Keys: PartitionPrefix(partition), in column family `cf`.
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "services/common/store/kv_view.h"
#include "services/common/store/store.h"
#include "services/common/store/stored_proto.h"

namespace earshot::store {

template <typename State>
class PartitionStates {
 public:
  explicit PartitionStates(std::string cf) : cf_(std::move(cf)) {}

  // The record of `partition`, read from `view` on first use.
  State* Load(int32_t partition, KvView& view) {
    auto [it, inserted] = states_.try_emplace(partition);
    if (inserted) {
      if (auto v = view.Get(cf_, PartitionPrefix(partition))) {
        ParseStored(&it->second, *v, cf_ + " record of partition " + std::to_string(partition));
      }
    }
    return &it->second;
  }

  // Writes every record loaded since the last Flush into `view`.
  void Flush(KvView& view) {
    for (const auto& [partition, state] : states_) {
      view.Put(cf_, PartitionPrefix(partition), state.SerializeAsString());
    }
    states_.clear();
  }

 private:
  std::string cf_;
  std::map<int32_t, State> states_;
};

}  // namespace earshot::store
