#include "services/common/http/admin.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/base/status.h"

namespace earshot::http {
namespace {

// 200 {"status":"<good>"}, or 503 {"status":"<bad>","failing":[names]}.
Response Checked(const std::vector<std::string>& failing, const char* good, const char* bad) {
  if (failing.empty()) return Response::Json(200, absl::StrCat("{\"status\":\"", good, "\"}"));
  std::vector<std::string> quoted;
  for (const auto& f : failing) quoted.push_back(JsonQuote(f));
  return Response::Json(503, absl::StrCat("{\"status\":\"", bad, "\",\"failing\":[",
                                          absl::StrJoin(quoted, ","), "]}"));
}

}  // namespace

void AdminHandler::Handle(Request request, Responder respond) {
  if (request.method() != "GET" && request.method() != "HEAD") {
    return std::move(respond)(Response::Json(405, "{\"error\":\"method not allowed\"}"));
  }
  if (request.path == "/metrics") {
    health_.Refresh();
    if (process_ != nullptr) process_->Refresh();
    return std::move(respond)(
        Response{200, "text/plain; version=0.0.4; charset=utf-8", SerializeMetrics(registry_), {}});
  }
  if (request.path == "/healthz") {
    return std::move(respond)(Checked(health_.FailingLivenessChecks(), "alive", "not alive"));
  }
  if (request.path == "/readyz") {
    return std::move(respond)(Checked(health_.FailingChecks(), "ready", "not ready"));
  }
  std::move(respond)(Response::Json(404, "{\"error\":\"not found\"}"));
}

}  // namespace earshot::http
