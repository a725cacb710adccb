// `tune run --nproc_per_node G [--nnodes N --node_rank R --master_addr A --master_port P]`:
// torchrun's launch contract for the processes of one node. Each of the G workers gets
//   RANK = R * G + local, WORLD_SIZE = N * G, LOCAL_RANK = local, LOCAL_WORLD_SIZE = G,
//   GROUP_RANK = R, MASTER_ADDR, MASTER_PORT
// (--rdzv_endpoint H:P sets the master too). The launcher forwards SIGINT/SIGTERM to every
// worker (so all of them save at the next step and stop), and when a worker fails it stops
// the others (SIGTERM, then SIGKILL after a grace period) and exits with that worker's status
// after naming it. If the launcher itself is killed outright (SIGKILL), its workers receive
// SIGTERM from the kernel (PR_SET_PDEATHSIG) and stop the same way. A multi-node job runs one
// launcher per node.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tt::distributed {

struct LaunchOptions {
  int64_t nnodes = 1;
  int64_t nproc_per_node = 1;
  int64_t node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  double grace_seconds = 30.0;  // between SIGTERM and SIGKILL when stopping the others

  int64_t world_size() const { return nnodes * nproc_per_node; }
};

// From the launcher flags as `tune run` collected them ("nproc_per_node" -> "2", ...);
// unknown or malformed values are tt::Errors naming the flag.
LaunchOptions launch_options_from(const std::map<std::string, std::string>& flags);

// Runs argv (argv[0] the program) as this node's workers; returns 0 when all succeed, else
// the first failing worker's exit status (128 + signal when killed).
int run_workers(const LaunchOptions& options, const std::vector<std::string>& argv);

}  // namespace tt::distributed
