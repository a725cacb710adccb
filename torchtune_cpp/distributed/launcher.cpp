// Local worker processes with torchrun's environment; see launcher.h.
#include "torchtune_cpp/distributed/launcher.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "torchtune_cpp/utils/check.h"

namespace tt::distributed {

namespace {

int64_t flag_number(const std::map<std::string, std::string>& flags, const std::string& name,
                    int64_t fallback, int64_t minimum) {
  auto it = flags.find(name);
  if (it == flags.end()) return fallback;
  char* end = nullptr;
  const long long n = std::strtoll(it->second.c_str(), &end, 10);
  TT_CHECK(end != nullptr && *end == '\0' && n >= minimum, "tune run --" + name, "'", it->second,
           "' must be an integer of at least ", minimum);
  return n;
}

// The workers, reachable from the signal handler.
constexpr int kMaxWorkers = 1024;
pid_t g_workers[kMaxWorkers];
std::atomic<int> g_num_workers{0};
std::atomic<int> g_forwarded{0};

void forward_signal(int sig) {
  g_forwarded.store(sig);
  for (int i = 0; i < g_num_workers.load(); ++i)
    if (g_workers[i] > 0) ::kill(g_workers[i], sig);
}

int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

LaunchOptions launch_options_from(const std::map<std::string, std::string>& flags) {
  LaunchOptions o;
  o.nnodes = flag_number(flags, "nnodes", 1, 1);
  o.nproc_per_node = flag_number(flags, "nproc_per_node", 1, 1);
  o.node_rank = flag_number(flags, "node_rank", 0, 0);
  TT_CHECK(o.node_rank < o.nnodes, "tune run --node_rank", "node rank ", o.node_rank,
           " is not below --nnodes ", o.nnodes, "; number the nodes 0 to ", o.nnodes - 1);
  TT_CHECK(o.nproc_per_node <= kMaxWorkers, "tune run --nproc_per_node", "at most ", kMaxWorkers,
           " processes per node");
  if (auto it = flags.find("master_addr"); it != flags.end()) o.master_addr = it->second;
  o.master_port = flag_number(flags, "master_port", 29500, 1);
  if (auto it = flags.find("rdzv_endpoint"); it != flags.end()) {
    const size_t colon = it->second.rfind(':');
    TT_CHECK(colon != std::string::npos && colon > 0, "tune run --rdzv_endpoint", "'", it->second,
             "' must be host:port");
    o.master_addr = it->second.substr(0, colon);
    o.master_port =
        flag_number({{"rdzv_endpoint", it->second.substr(colon + 1)}}, "rdzv_endpoint", 29500, 1);
  }
  if (auto it = flags.find("rdzv_backend"); it != flags.end())
    TT_CHECK(it->second == "c10d" || it->second == "static", "tune run --rdzv_backend", "'",
             it->second, "' is not supported; use c10d (the default)");
  TT_CHECK(flag_number(flags, "max_restarts", 0, 0) == 0, "tune run --max_restarts",
           "restarting failed workers is not supported; a failed run resumes from its last "
           "checkpoint with "
           "resume_from_checkpoint=True");
  return o;
}

int run_workers(const LaunchOptions& o, const std::vector<std::string>& argv) {
  TT_CHECK(!argv.empty(), "tune run", "no program to launch");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::cout.flush();
  std::cerr.flush();
  g_num_workers = 0;
  g_forwarded = 0;
  struct sigaction forward {
  }, old_int{}, old_term{};
  forward.sa_handler = forward_signal;
  sigemptyset(&forward.sa_mask);
  ::sigaction(SIGINT, &forward, &old_int);
  ::sigaction(SIGTERM, &forward, &old_term);
  std::vector<pid_t> pids;
  const pid_t launcher = ::getpid();
  for (int64_t local = 0; local < o.nproc_per_node; ++local) {
    const pid_t pid = ::fork();
    TT_CHECK(pid >= 0, "tune run", "cannot start worker ", local, ": ", std::strerror(errno));
    if (pid == 0) {
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      // A launcher killed outright (SIGKILL, OOM) cannot forward anything: the kernel sends
      // each worker SIGTERM instead, so they save at the next step and stop rather than
      // train on unattended. The setting survives execv; a launcher that died before it was
      // made is caught by the parent check.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != launcher) std::_Exit(128 + SIGTERM);
      const int64_t rank = o.node_rank * o.nproc_per_node + local;
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(o.world_size()).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(local).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(o.nproc_per_node).c_str(), 1);
      ::setenv("GROUP_RANK", std::to_string(o.node_rank).c_str(), 1);
      ::setenv("MASTER_ADDR", o.master_addr.c_str(), 1);
      ::setenv("MASTER_PORT", std::to_string(o.master_port).c_str(), 1);
      ::execv(args[0], args.data());
      std::fprintf(stderr, "tune run: cannot start %s: %s\n", args[0], std::strerror(errno));
      std::_Exit(127);
    }
    pids.push_back(pid);
    g_workers[local] = pid;
    g_num_workers = static_cast<int>(local + 1);
  }
  // Wait for all; the first failure stops the others.
  int result = 0;
  int64_t failed_rank = -1;
  size_t running = pids.size();
  auto stop_deadline = std::chrono::steady_clock::time_point::max();
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      --running;
      size_t local = 0;
      while (local < pids.size() && pids[local] != pid) ++local;
      if (local < pids.size()) {
        g_workers[local] = -1;
        pids[local] = -1;
      }
      const int code = exit_code(status);
      if (code != 0 && failed_rank < 0) {
        failed_rank = o.node_rank * o.nproc_per_node + static_cast<int64_t>(local);
        result = code;
        std::cerr << "tune run: rank " << failed_rank << " (local rank " << local
                  << ") exited with status " << code
                  << (WIFSIGNALED(status) ? str(" (signal ", WTERMSIG(status), ")") : std::string())
                  << "; stopping the other " << running << " worker(s)\n";
        for (pid_t p : pids)
          if (p > 0) ::kill(p, SIGTERM);
        stop_deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(o.grace_seconds * 1000));
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() > stop_deadline) {
      for (pid_t p : pids)
        if (p > 0) ::kill(p, SIGKILL);
      stop_deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  g_num_workers = 0;
  return result;
}

}  // namespace tt::distributed
