#pragma once
// EarshotChild: one `earshot --target=<service>` as a separate process, as an operator runs it,
// for tests and benchmarks that kill, restart and scale replicas. Its output goes to a log file
// the caller names; it never outlives the process that started it (PR_SET_PDEATHSIG). Its
// environment is this process's without any EARSHOT_* variable, plus `env`. Free of GoogleTest,
// so that benchmarks use it too.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/http/client.h"

extern char** environ;

namespace earshot::testing {

// Prometheus text: the sum of every series of `name`.
inline double MetricSum(const std::string& text, const std::string& name) {
  double sum = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    const char next = line[name.size()];
    if (next != '{' && next != ' ') continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// Prometheus text: the series of `name` by the value of one of their labels.
inline std::map<std::string, double> MetricByLabel(const std::string& text, const std::string& name,
                                                   const std::string& label) {
  std::map<std::string, double> out;
  const std::regex re("^" + name + R"(\{.*)" + label + R"(="([^"]*)\".*\} (\S+)$)");
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, re)) out[m[1].str()] = std::stod(m[2].str());
  }
  return out;
}

class EarshotChild {
 public:
  // `binary`: the earshot executable; `target`: router, sla, stream, gateway or all.
  EarshotChild(std::string binary, std::string target, std::string data_dir, std::string log,
               std::string config, std::vector<std::string> env)
      : binary_(std::move(binary)),
        target_(std::move(target)),
        data_dir_(std::move(data_dir)),
        log_(std::move(log)),
        config_(std::move(config)),
        env_(std::move(env)) {}
  EarshotChild(const EarshotChild&) = delete;
  EarshotChild& operator=(const EarshotChild&) = delete;
  ~EarshotChild() {
    Kill(SIGKILL);
    Wait(absl::Seconds(10));
  }

  absl::Status Start() {
    // Everything the child needs is built before fork: the calling process has threads.
    std::vector<std::string> args = {binary_, "--target=" + target_, "--data-dir=" + data_dir_,
                                     "--config=" + config_};
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string_view(*e).rfind("EARSHOT_", 0) != 0) env.emplace_back(*e);
    }
    env.insert(env.end(), env_.begin(), env_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    // Appends: a restarted replica's log follows its earlier runs'.
    const int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return absl::InternalError("cannot open " + log_ + ": " + std::strerror(errno));
    log_start_ = LogSize();
    admin_port_ = 0;
    pid_ = fork();
    if (pid_ < 0) {
      close(fd);
      return absl::InternalError(std::string("fork: ") + std::strerror(errno));
    }
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the parent
      if (file_size_limit_ > 0) {
        signal(SIGXFSZ, SIG_IGN);  // kept across exec
        const rlimit limit{file_size_limit_, file_size_limit_};
        setrlimit(RLIMIT_FSIZE, &limit);
      }
      dup2(fd, 1);
      dup2(fd, 2);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(fd);
    return absl::OkStatus();
  }

  // Limits the size of every file the next Start()'s process writes (RLIMIT_FSIZE), as a full
  // disk would: a write past it fails with EFBIG instead of raising SIGXFSZ. 0: no limit.
  void set_file_size_limit(uint64_t bytes) { file_size_limit_ = bytes; }

  void Kill(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  bool running() const { return pid_ > 0; }
  // The process id of the current run (for /proc), or -1.
  pid_t pid() const { return pid_; }

  // The wait status, or nullopt when the child did not exit in time.
  std::optional<int> Wait(absl::Duration timeout) {
    if (pid_ <= 0) return std::nullopt;
    const absl::Time deadline = absl::Now() + timeout;
    int status = 0;
    while (true) {
      const pid_t done = waitpid(pid_, &status, WNOHANG);
      if (done == pid_) break;
      if (absl::Now() >= deadline) return std::nullopt;
      absl::SleepFor(absl::Milliseconds(20));
    }
    pid_ = -1;
    return status;
  }

  // The log of the current run (since the last Start).
  std::string Log() const {
    std::ifstream in(log_);
    in.seekg(static_cast<std::streamoff>(log_start_));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string LogTail(size_t chars = 3000) const {
    const std::string log = Log();
    return log.size() <= chars ? log : "..." + log.substr(log.size() - chars);
  }
  const std::string& log_path() const { return log_; }
  const std::string& data_dir() const { return data_dir_; }

  // Waits for a line of the current run matching `pattern` whose first capture (or whole match)
  // satisfies `accept`.
  std::optional<std::string> WaitForLog(
      const std::string& pattern, absl::Duration timeout,
      const std::function<bool(const std::string&)>& accept = nullptr) {
    const std::regex re(pattern);
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline && pid_ > 0) {
      const std::string log = Log();
      for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator();
           ++it) {
        const std::string v = it->size() > 1 ? (*it)[1].str() : (*it)[0].str();
        if (!accept || accept(v)) return v;
      }
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;  // exited early: the caller reports the log
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return std::nullopt;
  }

  // The admin port of the current run, from its log ("listening" of the admin server).
  int AdminPort(absl::Duration timeout = absl::Seconds(30)) {
    if (admin_port_ == 0) {
      auto port = WaitForLog(
          R"re("logger":"admin","msg":"listening","addr":"127\.0\.0\.1:(\d+)")re", timeout);
      if (port) admin_port_ = std::stoi(*port);
    }
    return admin_port_;
  }
  // The gRPC port of the current run, from its log.
  int GrpcPort(absl::Duration timeout = absl::Seconds(30)) {
    auto port = WaitForLog(R"re("msg":"grpc listening".*"port":(\d+))re", timeout);
    return port ? std::stoi(*port) : 0;
  }

  // /metrics of the current run, or "" when it does not answer.
  std::string Metrics() {
    const int port = AdminPort();
    if (port == 0) return "";
    http::Client admin("127.0.0.1", port, absl::Seconds(5));
    auto r = admin.Get("/metrics");
    return r.ok() && r->status == 200 ? r->body : "";
  }
  // /readyz of the current run answers 200.
  bool Ready() {
    const int port = AdminPort(absl::Seconds(1));
    if (port == 0) return false;
    http::Client admin("127.0.0.1", port, absl::Seconds(5));
    auto r = admin.Get("/readyz");
    return r.ok() && r->status == 200;
  }

 private:
  size_t LogSize() const {
    std::ifstream in(log_, std::ios::ate | std::ios::binary);
    return in ? static_cast<size_t>(in.tellg()) : 0;
  }

  std::string binary_;
  std::string target_;
  std::string data_dir_;
  std::string log_;
  std::string config_;
  std::vector<std::string> env_;
  pid_t pid_ = -1;
  uint64_t file_size_limit_ = 0;
  size_t log_start_ = 0;
  int admin_port_ = 0;
};

}  // namespace earshot::testing
