// Launcher environments; see environment.h.
#include "torchtune_cpp/distributed/environment.h"

#include <cstdlib>

#include "torchtune_cpp/utils/check.h"

namespace tt::distributed {

namespace {

int64_t number(const GetEnv& getenv, const char* name, int64_t fallback) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  TT_CHECK(end != nullptr && *end == '\0' && n >= 0, name, "'", v,
           "' is not a non-negative integer; fix the ", name,
           " environment variable (set by the launcher)");
  return n;
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  const size_t bracket = nodelist.find('['), comma = nodelist.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket))
    return nodelist.substr(0, comma);
  const std::string prefix = nodelist.substr(0, bracket);
  const size_t end = nodelist.find_first_of(",-]", bracket + 1);
  return prefix + nodelist.substr(bracket + 1, end - bracket - 1);
}

DistributedEnv read_distributed_env(const GetEnv& getenv) {
  DistributedEnv e;
  auto has = [&](const char* n) { return getenv(n) != nullptr && *getenv(n) != '\0'; };
  if (has("RANK") || has("WORLD_SIZE")) {
    e.launcher = "torchrun";
    e.rank = number(getenv, "RANK", 0);
    e.world_size = number(getenv, "WORLD_SIZE", 1);
    e.local_rank = number(getenv, "LOCAL_RANK", 0);
    e.local_world_size = number(getenv, "LOCAL_WORLD_SIZE", e.world_size);
  } else if (has("OMPI_COMM_WORLD_RANK")) {
    e.launcher = "mpirun";
    e.rank = number(getenv, "OMPI_COMM_WORLD_RANK", 0);
    e.world_size = number(getenv, "OMPI_COMM_WORLD_SIZE", 1);
    e.local_rank = number(getenv, "OMPI_COMM_WORLD_LOCAL_RANK", 0);
    e.local_world_size = number(getenv, "OMPI_COMM_WORLD_LOCAL_SIZE", e.world_size);
  } else if (has("SLURM_PROCID") && has("SLURM_NTASKS")) {
    e.launcher = "slurm";
    e.rank = number(getenv, "SLURM_PROCID", 0);
    e.world_size = number(getenv, "SLURM_NTASKS", 1);
    e.local_rank = number(getenv, "SLURM_LOCALID", 0);
    // SLURM_NTASKS_PER_NODE may read "4" or "4(x2)"; the leading count is this node's.
    const char* per_node = getenv("SLURM_NTASKS_PER_NODE");
    e.local_world_size = per_node && *per_node ? std::strtoll(per_node, nullptr, 10) : e.world_size;
    if (const char* nodes = getenv("SLURM_JOB_NODELIST"); nodes && *nodes)
      e.master_addr = first_slurm_host(nodes);
  }
  if (has("MASTER_ADDR")) e.master_addr = getenv("MASTER_ADDR");
  e.master_port = number(getenv, "MASTER_PORT", 29500);
  TT_CHECK(e.world_size >= 1 && e.rank < e.world_size, "RANK", "rank ", e.rank,
           " is outside a world of ", e.world_size,
           " processes; check the launcher's RANK / WORLD_SIZE");
  TT_CHECK(e.local_world_size >= 1 && e.local_rank < e.local_world_size, "LOCAL_RANK",
           "local rank ", e.local_rank, " is outside ", e.local_world_size,
           " local processes; check LOCAL_RANK / LOCAL_WORLD_SIZE");
  return e;
}

DistributedEnv read_distributed_env() {
  return read_distributed_env([](const char* n) { return std::getenv(n); });
}

}  // namespace tt::distributed
