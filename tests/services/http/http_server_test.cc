// The HTTP server under concurrent clients, answers from other threads, refusals and a stop with
// requests in flight: what a gateway's callers see. Run under ThreadSanitizer by
// scripts/check.sh (label concurrency).
#include "services/common/http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "services/common/base/log.h"
#include "services/common/http/client.h"

namespace earshot::http {
namespace {

// Answers every request from its own worker thread, after the request's "delay_ms" query, as the
// gateway answers after Kafka acknowledged: the body echoes the request's body and path.
class DeferredEcho : public Handler {
 public:
  DeferredEcho() : worker_([this] { Run(); }) {}
  ~DeferredEcho() override {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
    }
    worker_.join();
  }
  void Handle(Request request, Responder respond) override {
    handled_.fetch_add(1);
    std::string body = request.path + ":" + std::string(request.body());
    int delay_ms = 0;
    if (request.query.starts_with("delay_ms=")) delay_ms = std::stoi(request.query.substr(9));
    absl::MutexLock lock(&mu_);
    queue_.push_back(
        {absl::Now() + absl::Milliseconds(delay_ms), std::move(body), std::move(respond)});
  }
  int handled() const { return handled_.load(); }

 private:
  struct Pending {
    absl::Time due;
    std::string body;
    Responder respond;
  };
  void Run() {
    for (;;) {
      std::vector<Pending> ready;
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(
            absl::Condition(
                +[](DeferredEcho* self) { return self->done_ || !self->queue_.empty(); }, this),
            absl::Milliseconds(5));
        if (done_ && queue_.empty()) return;
        const absl::Time now = absl::Now();
        for (auto it = queue_.begin(); it != queue_.end();) {
          if (it->due <= now) {
            ready.push_back(std::move(*it));
            it = queue_.erase(it);
          } else {
            ++it;
          }
        }
      }
      for (auto& p : ready) std::move(p.respond)(Response::Text(200, p.body));
    }
  }

  absl::Mutex mu_;
  std::deque<Pending> queue_;
  bool done_ = false;
  std::atomic<int> handled_{0};
  std::thread worker_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions o) {
    log::SetLevel("error");
    o.addr = "127.0.0.1:0";
    server_ = std::make_unique<Server>(o, &echo_);
    ASSERT_TRUE(server_->Start().ok());
  }
  // The whole answer to raw bytes written on a fresh connection whose write side is then shut.
  std::string Raw(const std::string& bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(server_->port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) out.append(buf, n);
    ::close(fd);
    return out;
  }

  DeferredEcho echo_;
  std::unique_ptr<Server> server_;
};

TEST_F(HttpServerTest, ConcurrentKeepAliveClientsEachGetTheirOwnAnswers) {
  ServerOptions o;
  o.threads = 2;
  Start(o);
  constexpr int kClients = 8, kRequests = 150;
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Client client("127.0.0.1", server_->port(), absl::Seconds(20));
      for (int i = 0; i < kRequests; ++i) {
        const std::string body = "c" + std::to_string(c) + "-r" + std::to_string(i);
        auto r = client.Send("POST",
                             "/p" + std::to_string(c) + "?delay_ms=" + std::to_string(i % 3), body);
        if (!r.ok() || r->status != 200) {
          failed.fetch_add(1);
        } else if (r->body != "/p" + std::to_string(c) + ":" + body) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0) << "an answer went to another request";
  EXPECT_EQ(echo_.handled(), kClients * kRequests);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start(ServerOptions{});
  std::string out =
      Raw("POST /a?delay_ms=30 HTTP/1.1\r\nContent-Length: 1\r\n\r\n1"
          "POST /b HTTP/1.1\r\nContent-Length: 1\r\n\r\n2"
          "GET /c HTTP/1.1\r\n\r\n");
  const auto a = out.find("/a:1"), b = out.find("/b:2"), c = out.find("/c:");
  ASSERT_NE(a, std::string::npos) << out;
  ASSERT_NE(b, std::string::npos) << out;
  ASSERT_NE(c, std::string::npos) << out;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
}

TEST_F(HttpServerTest, RefusalsNameTheLimitAndNeverReachTheHandler) {
  ServerOptions o;
  o.body_limit = 100;
  o.header_limit = 512;
  Start(o);
  std::string big = Raw("POST /x HTTP/1.1\r\nContent-Length: 101\r\n\r\n" + std::string(101, 'a'));
  EXPECT_TRUE(big.starts_with("HTTP/1.1 413 ")) << big;
  EXPECT_NE(big.find("100 bytes"), std::string::npos) << big;
  std::string chunked =
      Raw("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
          "c8\r\n" +
          std::string(200, 'b') + "\r\n0\r\n\r\n");
  EXPECT_TRUE(chunked.starts_with("HTTP/1.1 413 ")) << chunked;
  std::string header = Raw("GET /x HTTP/1.1\r\nX-Big: " + std::string(600, 'h') + "\r\n\r\n");
  EXPECT_TRUE(header.starts_with("HTTP/1.1 431 ")) << header;
  std::string malformed = Raw("GET /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n");
  EXPECT_TRUE(malformed.starts_with("HTTP/1.1 400 ")) << malformed;
  EXPECT_EQ(echo_.handled(), 0);
}

TEST_F(HttpServerTest, BeyondMaxInFlightAnswers503WithRetryAfter) {
  ServerOptions o;
  o.max_in_flight = 2;
  Start(o);
  std::vector<std::thread> slow;
  for (int i = 0; i < 2; ++i) {
    slow.emplace_back([&] {
      Client c("127.0.0.1", server_->port());
      auto r = c.Send("GET", "/slow?delay_ms=800");
      EXPECT_TRUE(r.ok() && r->status == 200);
    });
  }
  while (server_->in_flight() < 2) absl::SleepFor(absl::Milliseconds(2));
  Client c("127.0.0.1", server_->port());
  auto r = c.Send("GET", "/more");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("Retry-After"), "1");
  for (auto& t : slow) t.join();
}

TEST_F(HttpServerTest, StopAnswersWhatIsInFlightWithinTheDrain) {
  Start(ServerOptions{});
  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      Client c("127.0.0.1", server_->port(), absl::Seconds(10));
      auto r = c.Send("POST", "/late?delay_ms=300", "x");
      if (r.ok() && r->status == 200) answered.fetch_add(1);
    });
  }
  while (server_->in_flight() < 4) absl::SleepFor(absl::Milliseconds(2));
  server_->Stop(absl::Seconds(5));
  for (auto& t : clients) t.join();
  EXPECT_EQ(answered.load(), 4) << "a request in flight at the stop went unanswered";
  EXPECT_EQ(server_->in_flight(), 0);
}

}  // namespace
}  // namespace earshot::http
