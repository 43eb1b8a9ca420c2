// The HTTP server's request parsing and connection handling (services/common/http/server.h) on
// any bytes a client can send: one real server on 127.0.0.1 with small limits, one connection
// per input, the input written whole and the write side shut. Beyond not crashing or leaking:
// the server answers only with well-formed HTTP responses whose statuses it documents, and a
// request it refuses never reaches the handler.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http/empty_body.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/string_body.hpp"
#include "services/common/base/log.h"
#include "services/common/http/server.h"

namespace {

namespace bhttp = boost::beast::http;

// Echoes the method, path and body length; "/slow" answers from another thread later, as the
// gateway answers after Kafka.
class Echo : public earshot::http::Handler {
 public:
  void Handle(earshot::http::Request request, earshot::http::Responder respond) override {
    std::string body = std::string(request.method()) + " " + request.path + " " +
                       std::to_string(request.body().size());
    if (request.path == "/slow") {
      std::thread([respond = std::move(respond), body]() mutable {
        std::move(respond)(earshot::http::Response::Text(202, body));
      }).detach();
      return;
    }
    std::move(respond)(earshot::http::Response::Text(200, body));
  }
};

struct Fixture {
  Echo echo;
  std::unique_ptr<earshot::http::Server> server;
  Fixture() {
    earshot::log::SetLevel("error");
    earshot::http::ServerOptions o;
    o.addr = "127.0.0.1:0";
    o.threads = 2;
    o.body_limit = 4096;
    o.header_limit = 1024;
    o.read_timeout = absl::Seconds(2);
    o.idle_timeout = absl::Seconds(2);
    o.max_in_flight = 64;
    server = std::make_unique<earshot::http::Server>(o, &echo);
    if (!server->Start().ok()) std::abort();
  }
};

Fixture& Get() {
  static Fixture* f = new Fixture();
  return *f;
}

std::string Exchange(int port, const uint8_t* data, size_t size) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  // A refused or failed connect is retried briefly (the listener's backlog is shared with the
  // inputs before); one that never succeeds means the server stopped accepting.
  // Each connection from another loopback source address (127.0.0.2 up): every address has its
  // own ephemeral ports, so the TIME_WAITs of earlier inputs never exhaust them.
  static std::atomic<uint32_t> next_source{0};
  auto bind_source = [&] {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl((127u << 24) | (2 + next_source.fetch_add(1) % 60000));
    ::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src));
  };
  bind_source();
  int attempts = 0;
  while (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    if (++attempts == 200) {
      std::fprintf(stderr, "connect to the server failed: %s\n", std::strerror(errno));
      std::abort();
    }
    ::close(fd);
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    bind_source();
    ::usleep(10000);
  }
  size_t off = 0;
  while (off < size) {
    ssize_t n = ::send(fd, data + off, size - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server closed after refusing the request
    off += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  auto& f = Get();
  std::string answers = Exchange(f.server->port(), data, size);
  // Every answer parses as a response with a status the server documents.
  boost::beast::error_code ec;
  std::string_view rest = answers;
  while (!rest.empty()) {
    bhttp::response_parser<bhttp::string_body> p;
    p.eager(true);
    size_t used = p.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (ec || !p.is_done()) std::abort();
    switch (p.get().result_int()) {
      case 100:
      case 200:
      case 202:
      case 400:
      case 413:
      case 431:
      case 503:
        break;
      default:
        std::abort();
    }
    rest.remove_prefix(used);
  }
  return 0;
}
