// Where this process sits in a multi-process run, read from its launcher's environment, so a
// recipe runs the same under any of them:
//   torchrun / `tune run --nproc_per_node`   RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
//                                            MASTER_ADDR, MASTER_PORT
//   Open MPI's mpirun                        OMPI_COMM_WORLD_{RANK,SIZE,LOCAL_RANK,LOCAL_SIZE}
//   SLURM's srun                             SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID,
//                                            SLURM_NTASKS_PER_NODE; the master is MASTER_ADDR
//                                            or the first node of SLURM_JOB_NODELIST
// MASTER_ADDR / MASTER_PORT, when set, always win (127.0.0.1:29500 otherwise, as torchrun's
// standalone default). No launcher variables at all: a single process.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace tt::distributed {

struct DistributedEnv {
  int64_t rank = 0, world_size = 1;
  int64_t local_rank = 0, local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  std::string launcher = "none";  // "torchrun", "mpirun", "slurm" or "none"

  bool distributed() const { return world_size > 1; }
};

using GetEnv = std::function<const char*(const char*)>;

// Reads the variables above; inconsistent values (rank outside the world, a port that is not
// a number) are tt::Errors naming the variable.
DistributedEnv read_distributed_env(const GetEnv& getenv);
DistributedEnv read_distributed_env();

// The first host of a SLURM node list: "gpu[07-09,12],cpu01" -> "gpu07".
std::string first_slurm_host(const std::string& nodelist);

}  // namespace tt::distributed
