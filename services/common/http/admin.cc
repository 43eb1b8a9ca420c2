#include "services/common/http/admin.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/base/status.h"

namespace earshot::http {

void AdminHandler::Handle(Request request, Responder respond) {
  if (request.method() != "GET" && request.method() != "HEAD") {
    return std::move(respond)(Response::Json(405, "{\"error\":\"method not allowed\"}"));
  }
  if (request.path == "/metrics") {
    return std::move(respond)(
        Response{200, "text/plain; version=0.0.4; charset=utf-8", SerializeMetrics(registry_), {}});
  }
  if (request.path == "/healthz") {
    return std::move(respond)(Response::Json(200, "{\"status\":\"alive\"}"));
  }
  if (request.path == "/readyz") {
    auto failing = health_.FailingChecks();
    if (failing.empty()) return std::move(respond)(Response::Json(200, "{\"status\":\"ready\"}"));
    std::vector<std::string> quoted;
    for (const auto& f : failing) quoted.push_back(JsonQuote(f));
    return std::move(respond)(Response::Json(
        503,
        absl::StrCat("{\"status\":\"not ready\",\"failing\":[", absl::StrJoin(quoted, ","), "]}")));
  }
  std::move(respond)(Response::Json(404, "{\"error\":\"not found\"}"));
}

}  // namespace earshot::http
