#include "services/common/http/server.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include "absl/strings/numbers.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/posix/stream_descriptor.hpp"
#include "boost/asio/post.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "fmt/format.h"
#include "services/common/base/log.h"
#include "services/common/base/status.h"
#include "services/common/base/strings.h"

namespace earshot::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string_view Request::header(std::string_view name) const {
  auto it = message.find(beast::string_view(name.data(), name.size()));
  if (it == message.end()) return {};
  auto v = it->value();
  return {v.data(), v.size()};
}

absl::Status SplitHostPort(std::string_view addr, std::string* host, int* port) {
  auto colon = addr.rfind(':');
  std::string_view h = colon == std::string_view::npos ? "" : addr.substr(0, colon);
  std::string_view p = colon == std::string_view::npos ? addr : addr.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (!absl::SimpleAtoi(ToAbsl(p), port) || *port < 0 || *port > 65535) {
    return absl::InvalidArgumentError("bad listen address \"" + std::string(addr) +
                                      "\": want host:port");
  }
  *host = h.empty() ? "0.0.0.0" : std::string(h);
  return absl::OkStatus();
}

namespace {

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

}  // namespace

// One io_context per I/O thread, like nginx's workers: a connection lives on one thread for its
// whole life, so its handlers need no strand and its stream a concrete executor (Beast's
// type-erased executor over a strand cost a shared-pointer copy and an allocation per step).
// Answers from other threads (Kafka's acknowledgements) are posted to the connection's thread.
class Server::Impl {
 public:
  using Executor = asio::io_context::executor_type;
  using Socket = asio::basic_stream_socket<tcp, Executor>;
  using Stream = beast::basic_stream<tcp, Executor>;

  Impl(Server* server, int threads) : server_(server) {
    for (int i = 0; i < std::max(1, threads); ++i) {
      iocs_.push_back(std::make_unique<asio::io_context>(1));  // 1: one thread runs it
    }
    acceptor_.emplace(*iocs_[0]);
  }

  std::vector<std::unique_ptr<asio::io_context>>& iocs() { return iocs_; }

  // A descriptor watched on the first thread (Server::Watch).
  struct Watcher {
    Watcher(asio::io_context& ioc, int fd, absl::AnyInvocable<void()> cb)
        : descriptor(ioc, fd), on_readable(std::move(cb)) {}
    void Arm() {
      descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                            [this](beast::error_code ec) {
                              if (ec) return;  // closed: the server is going away
                              on_readable();
                              Arm();
                            });
    }
    asio::posix::stream_descriptor descriptor;
    absl::AnyInvocable<void()> on_readable;
  };
  std::vector<std::unique_ptr<Watcher>>& watchers() { return watchers_; }
  tcp::acceptor& acceptor() { return *acceptor_; }

  void DoAccept() {
    // Connections are spread over the threads in turn.
    asio::io_context& target = *iocs_[next_++ % iocs_.size()];
    acceptor_->async_accept(target, [this](beast::error_code ec, Socket s) {
      if (ec) {
        if (ec != asio::error::operation_aborted) {
          log::Warn(server_->options_.name, "accept failed", {{"error", ec.message()}});
          DoAccept();
        }
        return;
      }
      std::make_shared<Session>(server_, std::move(s))->Start();
      DoAccept();
    });
  }

  static constexpr std::size_t kReadChunk = 8192;

  // One connection: reads a request, hands it over, writes the answer, reads the next.
  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(Server* server, Socket socket) : server_(server), stream_(std::move(socket)) {
      // Beast reads at most the buffer's free capacity (at least 512 bytes) per call: from an
      // empty buffer a 1-2 KB webhook took two or three recvmsg calls.
      buffer_.reserve(kReadChunk);
      beast::error_code ec;
      auto ep = stream_.socket().remote_endpoint(ec);
      if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    }

    void Start() {
      asio::post(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
    }

   private:
    const ServerOptions& opts() const { return server_->options_; }

    void ReadHeader() {
      parser_.emplace();
      parser_->header_limit(static_cast<std::uint32_t>(opts().header_limit));
      parser_->body_limit(opts().body_limit);
      stream_.expires_after(ToChrono(first_request_ ? opts().read_timeout : opts().idle_timeout));
      bhttp::async_read_header(
          stream_, buffer_, *parser_,
          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
    }

    void OnHeader(beast::error_code ec) {
      first_request_ = false;
      if (ec) return OnReadError(ec);
      stream_.expires_after(ToChrono(opts().read_timeout));
      const auto& req = parser_->get();
      if (auto len = parser_->content_length(); len && *len > opts().body_limit) {
        return Fail(413, absl::OutOfRangeError("request body over the limit of " +
                                               std::to_string(opts().body_limit) + " bytes"));
      }
      auto expect = req[bhttp::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                         req.version());
        bhttp::async_write(stream_, *cont,
                           [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
                             if (ec) return self->Close();
                             self->ReadBody();
                           });
        return;
      }
      ReadBody();
    }

    void ReadBody() {
      // A webhook usually arrives whole in the header's read: parse the body from the buffer
      // and answer without another asynchronous round through Beast's read operation.
      if (buffer_.size() > 0 && !parser_->is_done()) {
        beast::error_code ec;
        parser_->eager(true);
        buffer_.consume(parser_->put(buffer_.data(), ec));
        if (ec && ec != bhttp::error::need_more) return OnReadError(ec);
      }
      if (parser_->is_done()) return OnBody({});
      bhttp::async_read(
          stream_, buffer_, *parser_,
          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnBody(ec); });
    }

    void OnReadError(beast::error_code ec) {
      if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::connection_reset || ec == asio::error::eof ||
          ec == asio::error::operation_aborted) {
        return Close();
      }
      if (ec == bhttp::error::body_limit) {
        return Fail(413, absl::OutOfRangeError("request body over the limit of " +
                                               std::to_string(opts().body_limit) + " bytes"));
      }
      if (ec == bhttp::error::header_limit) {
        return Fail(431, absl::InvalidArgumentError("request header too large"));
      }
      // A malformed request: answer once, then close (the stream cannot be trusted).
      Fail(400, absl::InvalidArgumentError("malformed HTTP request: " + ec.message()));
    }

    void OnBody(beast::error_code ec) {
      if (ec) return OnReadError(ec);
      stream_.expires_never();  // the handler may wait for Kafka; its own time-outs apply
      Request request;
      request.message = parser_->release();
      std::string_view target(request.message.target().data(), request.message.target().size());
      auto q = target.find('?');
      request.path = std::string(target.substr(0, q));
      if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
      request.remote = remote_;
      keep_alive_ = request.message.keep_alive();
      version_ = request.message.version();

      if (server_->in_flight_.fetch_add(1) >= opts().max_in_flight) {
        server_->in_flight_.fetch_sub(1);
        Response r = Response::Json(
            503, StatusToJson(absl::UnavailableError("too many requests in flight")));
        r.headers.emplace_back("Retry-After", "1");
        return Write(std::move(r), /*counted=*/false);
      }
      server_->handler_->Handle(
          std::move(request), [self = shared_from_this()](Response response) mutable {
            auto* s = self.get();
            // On the connection's own thread (the gateway's acknowledgements arrive there, and
            // error answers come back inside Handle, after which nothing here runs): write now.
            if (s->stream_.get_executor().running_in_this_thread()) {
              return s->Write(std::move(response), true);
            }
            asio::post(s->stream_.get_executor(),
                       [self = std::move(self), response = std::move(response)]() mutable {
                         self->Write(std::move(response), true);
                       });
          });
    }

    void Fail(int status, const absl::Status& error) {
      if (opts().on_refused) opts().on_refused(status);
      keep_alive_ = false;
      lingering_ = true;
      version_ = parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
      Write(Response::Json(status, StatusToJson(error)), /*counted=*/false);
    }

    // The answer's head is formatted here rather than by Beast's serializer, which cost about a
    // tenth of the gateway's instructions per request for a head of five lines (bench/README.md,
    // Gateway).
    // Header names and values are the server's own, never a client's.
    void Write(Response r, bool counted) {
      head_.clear();
      auto out = std::back_inserter(head_);
      const auto status = static_cast<bhttp::status>(r.status);
      fmt::format_to(out, "HTTP/{}.{} {} {}\r\nServer: earshot\r\nContent-Type: {}\r\n",
                     version_ / 10, version_ % 10, r.status, bhttp::obsolete_reason(status),
                     r.content_type);
      for (const auto& [k, v] : r.headers) fmt::format_to(out, "{}: {}\r\n", k, v);
      // HTTP/1.1 keeps the connection unless told; HTTP/1.0 closes it unless told.
      if (!keep_alive_) {
        head_.append("Connection: close\r\n");
      } else if (version_ < 11) {
        head_.append("Connection: keep-alive\r\n");
      }
      fmt::format_to(out, "Content-Length: {}\r\n\r\n", r.body.size());
      body_ = std::move(r.body);
      stream_.expires_after(ToChrono(opts().read_timeout));
      asio::async_write(stream_, std::array{asio::buffer(head_), asio::buffer(body_)},
                        [self = shared_from_this(), counted](beast::error_code ec, std::size_t) {
                          if (counted) self->server_->in_flight_.fetch_sub(1);
                          if (ec) return self->Close();
                          if (self->lingering_) return self->LingeringClose();
                          if (!self->keep_alive_) return self->Close();
                          self->ReadHeader();
                        });
    }

    // After an error answer the client may still be sending its body; closing at once would
    // reset the connection before it reads the answer. Like nginx's lingering close: stop
    // writing, read and discard for a short while, then close.
    void LingeringClose() {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      stream_.expires_after(std::chrono::seconds(2));
      Discard();
    }

    void Discard() {
      stream_.async_read_some(asio::buffer(discard_),
                              [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                if (ec) return self->Close();
                                self->Discard();
                              });
    }

    void Close() {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.close();
    }

    Server* server_;
    Stream stream_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    std::string head_;  // the answer being written: its head and body
    std::string body_;
    std::string remote_;
    std::array<char, 16384> discard_;
    bool keep_alive_ = true;
    bool lingering_ = false;
    bool first_request_ = true;
    unsigned version_ = 11;
  };

 private:
  Server* server_;
  std::vector<std::unique_ptr<asio::io_context>> iocs_;
  std::optional<tcp::acceptor> acceptor_;
  std::size_t next_ = 0;  // accept handler only (on the first thread)
  std::vector<std::unique_ptr<Watcher>> watchers_;
};

Server::Server(ServerOptions options, Handler* handler)
    : options_(std::move(options)), handler_(handler) {}

Server::~Server() { Stop(absl::ZeroDuration()); }

absl::Status Server::Start() {
  std::string host;
  int port;
  if (auto st = SplitHostPort(options_.addr, &host, &port); !st.ok()) return st;
  for (int cpu : options_.cpu_affinity) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) {
      return absl::InvalidArgumentError(options_.name + ": cpu_affinity: no CPU " +
                                        std::to_string(cpu));
    }
  }
  impl_ = std::make_unique<Impl>(this, options_.threads);
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError("bad listen host \"" + host + "\": " + ec.message());
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  auto& acc = impl_->acceptor();
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError("cannot listen on " + options_.addr + ": " + ec.message());
  }
  port_ = acc.local_endpoint().port();
  impl_->DoAccept();
  for (size_t i = 0; i < impl_->iocs().size(); ++i) {
    threads_.emplace_back([ioc = impl_->iocs()[i].get()] {
      auto work = asio::make_work_guard(*ioc);  // runs until Stop(), even with no connection
      ioc->run();
    });
    // "<name>-<i>" (at most 15 characters) in top, perf and /proc/<pid>/task/*/comm.
    pthread_setname_np(threads_.back().native_handle(),
                       (options_.name.substr(0, 12) + "-" + std::to_string(i)).c_str());
    if (!options_.cpu_affinity.empty()) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(options_.cpu_affinity[i % options_.cpu_affinity.size()], &set);
      if (int err = pthread_setaffinity_np(threads_.back().native_handle(), sizeof(set), &set)) {
        log::Warn(options_.name, "cpu_affinity not applied", {{"error", std::strerror(err)}});
      }
    }
  }
  running_ = true;
  log::Info(options_.name, "listening", {{"addr", host + ":" + std::to_string(port_)}});
  return absl::OkStatus();
}

absl::Status Server::Watch(int fd, absl::AnyInvocable<void()> on_readable) {
  if (!running_) return absl::FailedPreconditionError("the HTTP server is not running");
  const int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return absl::InternalError(std::string("dup: ") + std::strerror(errno));
  auto watcher = std::make_unique<Impl::Watcher>(*impl_->iocs()[0], own, std::move(on_readable));
  asio::post(*impl_->iocs()[0], [this, w = std::move(watcher)]() mutable {
    impl_->watchers().push_back(std::move(w));  // on the thread that serves it
    impl_->watchers().back()->Arm();
  });
  return absl::OkStatus();
}

void Server::Stop(absl::Duration drain) {
  if (!running_) return;
  running_ = false;
  asio::post(*impl_->iocs()[0], [this] {
    beast::error_code ec;
    impl_->acceptor().close(ec);
  });
  const absl::Time deadline = absl::Now() + drain;
  while (in_flight_.load() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  for (auto& ioc : impl_->iocs()) ioc->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  log::Info(options_.name, "stopped", {{"unanswered", in_flight_.load()}});
}

}  // namespace earshot::http
