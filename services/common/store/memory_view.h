#pragma once
// MemoryView: a KvView over ordinary maps, for logic tests and benchmarks that need no RocksDB.
#include <map>
#include <string>

#include "services/common/store/kv_view.h"

namespace earshot::store {

class MemoryView : public KvView {
 public:
  std::optional<std::string> Get(std::string_view cf, std::string_view key) override {
    auto& m = data_[std::string(cf)];
    auto it = m.find(std::string(key));
    if (it == m.end()) return std::nullopt;
    return it->second;
  }
  void Put(std::string_view cf, std::string_view key, std::string_view value) override {
    data_[std::string(cf)][std::string(key)] = std::string(value);
  }
  void Delete(std::string_view cf, std::string_view key) override {
    data_[std::string(cf)].erase(std::string(key));
  }
  absl::Status Scan(std::string_view cf, std::string_view prefix, std::string_view from,
                    Store::Visit visit) override {
    auto& m = data_[std::string(cf)];
    for (auto it = m.lower_bound(std::string(from.empty() ? prefix : from));
         it != m.end() && it->first.starts_with(prefix) && visit(it->first, it->second); ++it) {
    }
    return absl::OkStatus();
  }
  // Every key of a column family, in order.
  std::map<std::string, std::string>& Data(std::string_view cf) { return data_[std::string(cf)]; }

 private:
  std::map<std::string, std::map<std::string, std::string>> data_;
};

}  // namespace earshot::store
