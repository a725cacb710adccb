// The launcher environments a recipe understands (distributed/environment.h): torchrun's,
// Open MPI's and SLURM's variables, the master address and port, and errors for
// inconsistent values.
#include <gtest/gtest.h>

#include <map>

#include "test_util.h"
#include "torchtune_cpp/distributed/environment.h"

namespace tt::distributed {
namespace {

DistributedEnv read(const std::map<std::string, std::string>& vars) {
  return read_distributed_env([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(DistributedEnv, EachLauncher) {
  DistributedEnv none = read({});
  EXPECT_FALSE(none.distributed());
  EXPECT_EQ(none.launcher, "none");
  DistributedEnv t = read({{"RANK", "3"},
                           {"WORLD_SIZE", "8"},
                           {"LOCAL_RANK", "1"},
                           {"LOCAL_WORLD_SIZE", "2"},
                           {"MASTER_ADDR", "node0"},
                           {"MASTER_PORT", "29400"}});
  EXPECT_EQ(t.launcher, "torchrun");
  EXPECT_EQ(t.rank, 3);
  EXPECT_EQ(t.world_size, 8);
  EXPECT_EQ(t.local_rank, 1);
  EXPECT_EQ(t.local_world_size, 2);
  EXPECT_EQ(t.master_addr, "node0");
  EXPECT_EQ(t.master_port, 29400);
  DistributedEnv m = read({{"OMPI_COMM_WORLD_RANK", "5"},
                           {"OMPI_COMM_WORLD_SIZE", "16"},
                           {"OMPI_COMM_WORLD_LOCAL_RANK", "5"},
                           {"OMPI_COMM_WORLD_LOCAL_SIZE", "8"},
                           {"MASTER_ADDR", "10.0.0.1"}});
  EXPECT_EQ(m.launcher, "mpirun");
  EXPECT_EQ(m.rank, 5);
  EXPECT_EQ(m.local_world_size, 8);
  EXPECT_EQ(m.master_port, 29500);
  DistributedEnv s = read({{"SLURM_PROCID", "9"},
                           {"SLURM_NTASKS", "16"},
                           {"SLURM_LOCALID", "1"},
                           {"SLURM_NTASKS_PER_NODE", "8(x2)"},
                           {"SLURM_JOB_NODELIST", "gpu[07-08]"}});
  EXPECT_EQ(s.launcher, "slurm");
  EXPECT_EQ(s.rank, 9);
  EXPECT_EQ(s.local_rank, 1);
  EXPECT_EQ(s.local_world_size, 8);
  EXPECT_EQ(s.master_addr, "gpu07");
}

TEST(DistributedEnv, SlurmNodeListsAndBadValues) {
  EXPECT_EQ(first_slurm_host("gpu[07-09,12],cpu01"), "gpu07");
  EXPECT_EQ(first_slurm_host("node3,node4"), "node3");
  EXPECT_EQ(first_slurm_host("single"), "single");
  EXPECT_EQ(first_slurm_host("a[1,3]"), "a1");
  testing::expect_error(
      [] {
        read({{"RANK", "4"}, {"WORLD_SIZE", "4"}});
      },
      {"RANK", "outside a world of 4"});
  testing::expect_error(
      [] {
        read({{"RANK", "x"}, {"WORLD_SIZE", "4"}});
      },
      {"RANK", "'x' is not a non-negative integer"});
  testing::expect_error(
      [] {
        read({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "http"}});
      },
      {"MASTER_PORT", "'http'"});
}

}  // namespace
}  // namespace tt::distributed
