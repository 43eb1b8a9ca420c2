#pragma once
// A blocking HTTP/1.1 client over one keep-alive connection (Boost.Beast). Used by tests, the
// load generator and earshotctl replay; one instance per thread.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace earshot::http {

struct ClientResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(std::string_view name) const;
};

class Client {
 public:
  // host may be "127.0.0.1"; the connection opens on first use and reopens after a close.
  Client(std::string host, int port, absl::Duration timeout = absl::Seconds(30));
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::StatusOr<ClientResponse> Send(
      std::string_view method, std::string_view target, std::string_view body = "",
      const std::vector<std::pair<std::string, std::string>>& headers = {});

  absl::StatusOr<ClientResponse> Get(std::string_view target) { return Send("GET", target); }

 private:
  struct Conn;
  std::string host_;
  int port_;
  absl::Duration timeout_;
  std::unique_ptr<Conn> conn_;
};

}  // namespace earshot::http
