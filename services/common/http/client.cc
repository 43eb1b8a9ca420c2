#include "services/common/http/client.h"

#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"

namespace earshot::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

std::string ClientResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return "";
}

struct Client::Conn {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool open = false;
};

Client::Client(std::string host, int port, absl::Duration timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout), conn_(std::make_unique<Conn>()) {}

Client::~Client() {
  beast::error_code ec;
  if (conn_->open) conn_->stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
}

absl::StatusOr<ClientResponse> Client::Send(
    std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  // One retry on a connection the server closed while idle.
  for (int attempt = 0; attempt < 2; ++attempt) {
    beast::error_code ec;
    if (!conn_->open) {
      conn_->stream.expires_after(absl::ToChronoNanoseconds(timeout_));
      asio::ip::tcp::endpoint ep(asio::ip::make_address(host_, ec),
                                 static_cast<unsigned short>(port_));
      if (ec) return absl::InvalidArgumentError("bad host " + host_);
      conn_->stream.connect(ep, ec);
      if (ec) {
        conn_->stream.close();
        return absl::UnavailableError("connect to " + host_ + ":" + std::to_string(port_) + ": " +
                                      ec.message());
      }
      conn_->buffer.clear();
      conn_->open = true;
    }
    bhttp::request<bhttp::string_body> req;
    req.method_string(beast::string_view(method.data(), method.size()));
    req.target(beast::string_view(target.data(), target.size()));
    req.version(11);
    req.set(bhttp::field::host, host_ + ":" + std::to_string(port_));
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = std::string(body);
    req.keep_alive(true);
    req.prepare_payload();
    conn_->stream.expires_after(absl::ToChronoNanoseconds(timeout_));
    bhttp::write(conn_->stream, req, ec);
    bhttp::response<bhttp::string_body> res;
    // A server may answer (413, 401) and stop reading before the whole body is written; its
    // answer is still there to read.
    const bool write_failed = static_cast<bool>(ec);
    beast::error_code read_ec;
    bhttp::read(conn_->stream, conn_->buffer, res, read_ec);
    if (!write_failed || !read_ec) ec = read_ec;
    if (write_failed && !read_ec) {
      ClientResponse early;
      early.status = static_cast<int>(res.result_int());
      early.body = std::move(res.body());
      for (const auto& f : res) {
        early.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      }
      conn_->stream.close();
      conn_->open = false;
      return early;
    }
    if (ec) {
      conn_->stream.close();
      conn_->open = false;
      if (attempt == 0 && (ec == bhttp::error::end_of_stream ||
                           ec == asio::error::connection_reset || ec == asio::error::broken_pipe)) {
        continue;
      }
      return absl::UnavailableError("http " + std::string(method) + " " + std::string(target) +
                                    ": " + ec.message());
    }
    ClientResponse out;
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    for (const auto& f : res) {
      out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    if (!res.keep_alive()) {
      conn_->stream.close();
      conn_->open = false;
    }
    return out;
  }
  return absl::UnavailableError("http: connection closed");
}

}  // namespace earshot::http
