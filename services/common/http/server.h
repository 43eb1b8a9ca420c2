#pragma once
// A small HTTP/1.1 server on Boost.Beast: keep-alive, several I/O threads, asynchronous
// handlers. A handler answers by calling its Responder once, from any thread and at any later
// time (the gateway answers only after Kafka acknowledged), so no I/O thread ever waits.
//
// Limits are settings (ServerOptions): body size (413 before the body is read), header size,
// read and idle time-outs, and requests in flight (503 beyond it). Owned by an App; Start() and
// Stop() are called from the main thread.
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/string_body.hpp"

namespace earshot::http {

struct Request {
  boost::beast::http::request<boost::beast::http::string_body> message;
  std::string path;   // target before '?', not decoded
  std::string query;  // after '?', not decoded
  std::string remote;

  std::string_view method() const { return message.method_string(); }
  std::string_view body() const { return message.body(); }
  // The header's value, or "" when absent (names are case-insensitive).
  std::string_view header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response Json(int status, std::string body) {
    return Response{status, "application/json", std::move(body), {}};
  }
  static Response Text(int status, std::string body) {
    return Response{status, "text/plain; charset=utf-8", std::move(body), {}};
  }
};

using Responder = absl::AnyInvocable<void(Response) &&>;

class Handler {
 public:
  virtual ~Handler() = default;
  // Called on an I/O thread; must not block. `respond` must be called exactly once.
  virtual void Handle(Request request, Responder respond) = 0;
};

struct ServerOptions {
  std::string addr = "0.0.0.0:8080";  // host:port; port 0 picks a free one
  int threads = 2;
  std::size_t body_limit = 1 << 20;
  std::size_t header_limit = 16 << 10;
  absl::Duration read_timeout = absl::Seconds(30);  // one request, header and body
  absl::Duration idle_timeout = absl::Seconds(75);  // keep-alive without a request
  int max_in_flight = 10000;                        // requests handled at once
  std::string name = "http";                        // for logs and thread names
  // CPUs the I/O threads are pinned to, in turn (thread i on cpu_affinity[i % size]); empty:
  // the scheduler places them. Like nginx's worker_cpu_affinity.
  std::vector<int> cpu_affinity;
  // Called on the I/O thread with the status of each request the server refuses before it
  // reaches the handler (400 malformed, 413 body over the limit, 431 header too large), so the
  // owner can count them. Must not block.
  std::function<void(int status)> on_refused;
};

class Server {
 public:
  Server(ServerOptions options, Handler* handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  absl::Status Start();
  // Stops accepting, waits up to `drain` for answers in flight, then closes every connection.
  void Stop(absl::Duration drain = absl::Seconds(10));
  int port() const { return port_; }
  int in_flight() const { return in_flight_.load(); }

  // Calls `on_readable` on the first I/O thread each time `fd` turns readable, from now until
  // Stop(); `on_readable` must leave it unreadable (read it empty) and must not block. The
  // server watches a duplicate of `fd`. After Start().
  absl::Status Watch(int fd, absl::AnyInvocable<void()> on_readable);

  class Impl;

 private:
  ServerOptions options_;
  Handler* handler_;
  std::unique_ptr<Impl> impl_;
  std::vector<std::thread> threads_;
  std::atomic<int> in_flight_{0};
  int port_ = 0;
  bool running_ = false;
};

// Splits "host:port" ("[::1]:80", ":8080" and "8080" work too).
absl::Status SplitHostPort(std::string_view addr, std::string* host, int* port);

}  // namespace earshot::http
